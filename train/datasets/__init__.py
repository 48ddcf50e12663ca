"""The dataset registry: one class per dataset, carrying all its facts (``base.Dataset``).

A new dataset is one file ``train/datasets/<name>.py`` defining a
``Dataset`` subclass plus one entry in ``_REGISTERED`` below (see
``docs/architecture.md``).  Training, the cache, ``bench`` and the CLI's
``--datasets`` choices then know it.  Modules are imported when first asked
for, so listing the names (``--help``) costs nothing.

People are named per dataset (``motion-02``, ``wrist-3``, ``gudb-07``,
``capture-anna``), so a fold never splits a person and no two datasets share
a name.
"""

from __future__ import annotations

from pathlib import Path

from ...bridge.registry import registered_object

#: name -> "module:class" (a module of this package, or any importable module), in the order
#: ``--datasets`` offers them
_REGISTERED: dict[str, str] = {
    "motion": "motion:MotionArtefacts",
    "wrist": "wrist:WristPpgExercise",
    "gudb": "gudb:Gudb",
    "capture": "capture:Captures",
}

DATASET_NAMES: tuple[str, ...] = tuple(_REGISTERED)

_loaded: dict = {}


def get_dataset(name: str):
    """The ``Dataset`` object called ``name`` (ValueError naming the known ones)."""
    if name not in _REGISTERED:
        raise ValueError(f"unknown dataset {name!r} (choose from {', '.join(DATASET_NAMES)})")
    if name not in _loaded:
        _loaded[name] = registered_object(__name__, _REGISTERED[name])
    return _loaded[name]


def dataset_of(subject: str) -> str:
    """``motion-02`` -> ``motion``."""
    return subject.split("-", 1)[0]


def labels_of(name: str) -> frozenset[str]:
    """The classes dataset ``name`` can show (every class for a name no dataset registers)."""
    from ..tasks import ALL_LABELS

    return get_dataset(name).labels if name in _REGISTERED else frozenset(ALL_LABELS)


def available(base: Path | None = None, **kw) -> list[str]:
    """The datasets present on this machine (captures only when ``captures=`` names a folder)."""
    return [n for n in DATASET_NAMES if get_dataset(n).available(base, **kw)]


def load(names: list[str], rate_hz: float, subjects: set[str] | None = None, **kw) -> list:
    """Recordings of the named datasets at ``rate_hz``, each labelled with project classes."""
    recs: list = []
    for n in names:
        recs += get_dataset(n).load(rate_hz, subjects, **kw)
    return recs


def input_files(names: list[str], **kw) -> list[Path]:
    """Every file the named datasets would read (what a cache key hashes)."""
    files: list[Path] = []
    for n in names:
        files += get_dataset(n).files(None, **kw)
    return files


def load_file(path, rate_hz: float | None = None):
    """A single dataset file, read by the dataset that claims its name (the virtual wearable's
    ``--recording``); None when no dataset claims it."""
    from .base import MODEL_RATE_HZ

    for n in DATASET_NAMES:
        ds = get_dataset(n)
        if ds.claims(Path(path)):
            return ds.load_file(Path(path), rate_hz or MODEL_RATE_HZ)
    return None
