"""What every dataset states about itself: the ``Dataset`` base class.

A dataset is one class carrying all its facts, as a protocol is
(``bridge/protocol_base.py``): its name (the prefix of its people,
``motion-02``), the classes it can show (so a class it lacks is never learnt
as absent), the map from its own activity names to the project's, its
native rate, where its files lie and how one is read, whether it is present
on this machine, and its citation.  Registering it is one line in
``_REGISTERED`` (``train/datasets/__init__.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...bridge.recording import Recording

#: the rate every training recording is brought to (the shipped preprocessing's)
MODEL_RATE_HZ = 250.0


def shared_datasets() -> Path:
    """``../shared/datasets`` beside the project, or $ECG_DATASETS."""
    env = os.environ.get("ECG_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"


class Dataset:
    """One labelled dataset.  Subclasses set the facts and implement ``files`` and ``load_file``."""

    name: str = ""                      # the subject prefix: "motion" for "motion-02"
    labels: frozenset[str] = frozenset()  # project classes this dataset can show
    activities: dict[str, str] = {}     # its own activity names -> project classes
    rate_hz: float = 0.0                # native sampling rate
    text: str = ""                      # what it is, with its licence (cards and reports)
    citation: str = ""                  # how to cite it

    def root(self, base: Path | None = None) -> Path:
        """Where this dataset's files lie (under ``base`` or the shared datasets folder)."""
        return base or shared_datasets()

    def files(self, base: Path | None = None, **kw) -> list[Path]:
        """Its recording files present on this machine, sorted."""
        raise NotImplementedError

    def subject_of(self, path: Path) -> str | None:
        """The person a file holds, from its name when the name tells (None: only loading tells)."""
        return None

    def claims(self, path: Path) -> bool:
        """Whether ``path`` is one of this dataset's files (by its name), so ``load_file`` can read it."""
        return False

    def load_file(self, path: Path, rate_hz: float = MODEL_RATE_HZ) -> Recording:
        """One recording file at ``rate_hz``, its segments labelled with project classes."""
        raise NotImplementedError

    def available(self, base: Path | None = None, **kw) -> bool:
        """Present on this machine."""
        return bool(self.files(base, **kw))

    def load(self, rate_hz: float, subjects: set[str] | None = None, base: Path | None = None,
             **kw) -> list[Recording]:
        """Every recording (of ``subjects`` only, when given) at ``rate_hz``, labelled with project classes."""
        out = []
        for p in self.files(base, **kw):
            known = self.subject_of(p)
            if subjects and known is not None and known not in subjects:
                continue
            rec = self.load_file(p, rate_hz)
            if not subjects or rec.subject in subjects:
                out.append(rec)
        return out
