"""The wearer's own labelled captures (``record --label``, or labels set by keys during a session) as a
dataset: ``--datasets ... capture --captures DIR`` (``DIR/PERSON/*.ecgcap``)."""

from __future__ import annotations

from pathlib import Path

from ...bridge.recording import Recording
from ..tasks import ALL_LABELS
from .base import Dataset


class Captures(Dataset):
    """Labelled captures under the folder ``captures=`` names: any class a session can label."""

    name = "capture"
    labels = frozenset(ALL_LABELS)
    text = "labelled ecg-activity captures (record --label, or labels set during a session)"
    citation = "the wearer's own recordings"

    def files(self, base: Path | None = None, **kw) -> list[Path]:
        folder = kw.get("captures")
        return sorted(Path(folder).rglob("*.ecgcap")) if folder else []

    def load(self, rate_hz: float, subjects: set[str] | None = None, base: Path | None = None,
             **kw) -> list[Recording]:
        from ..captures import capture_recordings

        if not kw.get("captures"):
            return []
        recs = capture_recordings(Path(kw["captures"]), rate_hz)
        return [r for r in recs if not subjects or r.subject in subjects]
