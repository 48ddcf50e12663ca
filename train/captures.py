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

from ..bridge.capture_decode import iter_capture
from ..bridge.recording import Recording, to_rate


def _label_now(tally, t_host: float, default: str | None) -> str | None:
    label = default
    for ev in tally.events:
        if ev.t_host > t_host:
            break
        if ev.kind == "label":
            label = ev.detail.get("label") or None
    return label


def capture_recordings(root: Path, rate_hz: float) -> list[Recording]:
    """Labelled captures under ``root`` (``PERSON/*.ecgcap``) as recordings whose segments are their labels,
    resampled to ``rate_hz``: a wearer's own sessions become training data."""
    recs = []
    for path in sorted(Path(root).rglob("*.ecgcap")):
        tally, blocks = iter_capture(str(path))
        subject = path.parent.name if path.parent != Path(root) else path.stem
        runs: list[tuple[str, list[np.ndarray]]] = []
        pauses = 0
        for b in blocks:
            label = _label_now(tally, b.t_host, tally.header.label)
            paused = sum(1 for e in tally.events if e.kind in ("pause", "resume")) != pauses
            pauses = sum(1 for e in tally.events if e.kind in ("pause", "resume"))
            if not label:
                continue
            if runs and runs[-1][0] == label and not b.gap_before and not paused:
                runs[-1][1].append(b.samples[:, 0])
            else:
                runs.append((label, [b.samples[:, 0]]))
        for k, (label, parts) in enumerate(runs):
            x = np.concatenate(parts)
            rec = Recording(x.astype(np.int32), tally.header.rate_hz, tally.header.mv_per_count or 1.0,
                            [(0, x.size, label)], source=f"{path.name}#{k}", subject=f"capture-{subject}")
            recs.append(rec if rec.rate_hz == rate_hz else to_rate(rec, rate_hz))
    return recs
