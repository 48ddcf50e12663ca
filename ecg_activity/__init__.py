"""ecg-activity: live physical-activity recognition from a wearable ECG.

Layers, each importing only those below it::

    ecg_activity.bridge   bytes -> sample blocks, captures      (bridge/)
    ecg_activity.edge     windows -> preprocessing -> int8       (edge/)
    ecg_activity.train    datasets, training, quantization      (train/)
    ecg_activity          the application: CLI, sessions, sinks (ecg_activity/)

Importing this package is cheap; the public names below load on first use.
"""

from __future__ import annotations

import importlib

from .bridge import __version__

_PUBLIC = {
    "open_source": "ecg_activity.bridge.sources",
    "make_decoder": "ecg_activity.bridge.protocols",
    "CaptureReader": "ecg_activity.bridge.capture",
    "CaptureWriter": "ecg_activity.bridge.capture",
    "SampleBlock": "ecg_activity.bridge.blocks",
    "ModelBundle": "ecg_activity.edge.model_bundle",
    "ActivityPipeline": "ecg_activity.edge.pipeline",
    "spectrogram": "ecg_activity.edge.preprocess",
    "PreprocessConfig": "ecg_activity.edge.preprocess",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'ecg_activity' has no attribute {name!r}")
