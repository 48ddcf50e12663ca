"""A folder of labelled captures is a dataset: what field testers record is what engineers train on.

Layout: ``DIR/SUBJECT/*.ecgcap`` (one folder per person) or ``DIR/*.ecgcap``
(each capture its own subject).  Labels come from ``record --label`` and from
the label events set during a session (keys 1..9 in the live view): each
stretch between label changes is its own labelled segment.  Gaps split a
capture into pieces; no window ever spans one, nor a label change, nor a pause.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bridge.capture_decode import iter_capture, label_track
from ..bridge.recording import Recording, to_rate


def capture_recordings(root: Path, rate_hz: float) -> list[Recording]:
    """Labelled captures under ``root`` (``PERSON/*.ecgcap``) as recordings whose segments are their labels,
    resampled to ``rate_hz``: a wearer's own sessions become training data.  Labels follow sample
    positions (``label_track``): each stretch between two label changes, pauses or gaps is its own
    recording, so no window spans one."""
    recs = []
    for path in sorted(Path(root).rglob("*.ecgcap")):
        tally, blocks = iter_capture(str(path))
        subject = path.parent.name if path.parent != Path(root) else path.stem
        blocks = list(blocks)                          # the tally's events are complete only now
        track = label_track(tally.header, tally.events, tally.event_index)
        runs: list[tuple[str, list[np.ndarray]]] = []
        last_end, last_label = None, None
        for b in blocks:
            for start, end, label in _pieces(b.first_index, b.first_index + b.n, track):
                if not label:
                    last_label = None
                    continue
                x = b.samples[start - b.first_index:end - b.first_index, 0]
                if runs and label == last_label and start == last_end:
                    runs[-1][1].append(x)
                else:
                    runs.append((label, [x]))
                last_end, last_label = end, label
        for k, (label, parts) in enumerate(runs):
            x = np.concatenate(parts)
            rec = Recording(x.astype(np.int32), tally.header.rate_hz, tally.header.mv_per_count or 1.0,
                            [(0, x.size, label)], source=f"{path.name}#{k}", subject=f"capture-{subject}")
            recs.append(rec if rec.rate_hz == rate_hz else to_rate(rec, rate_hz))
    return recs


def _pieces(start: int, end: int, track: list[tuple[int, str | None]]) -> list[tuple[int, int, str | None]]:
    """``[start, end)`` cut where the label track changes: (start, end, label) pieces."""
    cuts = [at for at, _ in track if start < at < end]
    edges = [start, *cuts, end]
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        label = None
        for at, lab in track:
            if at <= a:
                label = lab
        out.append((a, b, label))
    return out
