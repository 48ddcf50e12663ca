"""A folder of labelled captures is a dataset: what field testers record is what engineers train on.

Layout: ``DIR/SUBJECT/*.ecgcap`` (one folder per person) or ``DIR/*.ecgcap``
(each capture its own subject).  The label comes from ``record --label``.
Gaps split a capture into pieces; no window ever spans one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bridge.capture_decode import decode_capture
from ..bridge.recording import Recording, to_rate
from ..edge.preprocess import PreprocessConfig

from .windows import WindowSet, windows_from_recordings


def capture_recordings(root: Path, rate_hz: float) -> list[Recording]:
    recs = []
    for path in sorted(root.rglob("*.ecgcap")):
        cap = decode_capture(str(path))
        label = cap.header.label
        if not label or not cap.blocks:
            continue
        subject = path.parent.name if path.parent != root else path.stem
        # contiguous runs of blocks (gap_before == 0) become separate recordings
        runs, cur = [], []
        for b in cap.blocks:
            if b.gap_before and cur:
                runs.append(cur)
                cur = []
            cur.append(b.samples[:, 0])
        if cur:
            runs.append(cur)
        for k, run in enumerate(runs):
            x = np.concatenate(run)
            rec = Recording(x.astype(np.int32), cap.header.rate_hz, cap.header.mv_per_count or 1.0,
                            [(0, x.size, label)], source=f"{path.name}#{k}", subject=f"capture-{subject}")
            recs.append(rec if rec.rate_hz == rate_hz else to_rate(rec, rate_hz))
    return recs


def capture_windows(root: Path, labels: tuple[str, ...], cfg: PreprocessConfig) -> WindowSet:
    return windows_from_recordings(capture_recordings(root, cfg.rate_hz), labels, cfg)
