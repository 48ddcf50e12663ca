"""Every labelled source we have, under one label set: the training corpus.

Each dataset states which of the project's classes it can show at all
(``DatasetInfo.labels``).  A dataset that never shows "rest" says nothing
about rest, so its windows are trained with the classes it lacks masked out
of the softmax (``WindowSet.allowed``): they are never learnt as absent.
Subjects are named per dataset (``motion-02``, ``wrist-3``, ``gudb-07``,
``capture-anna``), so a fold never splits a person and no two datasets share
a name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..bridge.recording import Recording
from . import datasets

#: every class any dataset can teach; tasks pick their subset
ALL_LABELS = ("rest", "arms", "walk", "run", "squats", "cycle")


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset's name, the classes it can show (so a class it lacks is not learnt as absent) and its
    description with licence."""

    name: str                       # the subject prefix, e.g. "motion" for "motion-02"
    labels: frozenset[str]          # classes this dataset can show
    text: str                       # what it is, with its licence (for cards and reports)


DATASETS = {
    "motion": DatasetInfo("motion", frozenset({"rest", "arms", "walk", "run", "squats"}),
                          "ecg-motion-artefacts (Kalouskova, GPL-3.0): 10 people x 3 electrode types x "
                          "rest/arms/walk/run(8 km/h)/squats, 12-bit wearable front end, ~500 Hz"),
    "wrist": DatasetInfo("wrist", frozenset({"walk", "run", "cycle"}),
                         "wrist-ppg-exercise (Jarchi & Casson, PhysioNet, ODC-By): 7 people, chest ECG 256 Hz, "
                         "treadmill walk/run and exercise bike (low and high resistance = cycle)"),
    "gudb": DatasetInfo("gudb", frozenset({"rest", "walk", "run", "arms"}),
                        "GUDB (Howell & Porr, CC BY 3.0): 25 people, Attys chest strap 250 Hz, sitting and maths "
                        "(rest), walking, jogging (run), hand bike (arms)"),
    "capture": DatasetInfo("capture", frozenset(ALL_LABELS),
                           "labelled ecg-activity captures (record --label, or labels set during a session)"),
}

#: GUDB activity -> project class
GUDB_LABELS = {"sitting": "rest", "maths": "rest", "walking": "walk", "jogging": "run", "hand_bike": "arms"}


def dataset_of(subject: str) -> str:
    """``motion-02`` -> ``motion``."""
    return subject.split("-", 1)[0]


def motion_recordings(rate_hz: float, subjects: set[str] | None = None, root: Path | None = None) -> list[Recording]:
    """ecg-motion-artefacts as labelled recordings at ``rate_hz``."""
    out = []
    for p in datasets.motion_files(root):
        subj, _, _ = datasets.motion_file_info(p)
        if subjects and subj not in subjects:
            continue
        out.append(datasets.load_motion_file(p, rate_hz))
    return out


def wrist_recordings(rate_hz: float, root: Path | None = None) -> list[Recording]:
    """wrist-ppg-exercise's chest ECG as labelled recordings at ``rate_hz``."""
    return [datasets.load_wrist_edf(p, rate_hz) for p in datasets.wrist_files(root)]


def gudb_recordings(rate_hz: float, root: str | os.PathLike | None = None) -> list[Recording]:
    """Every recording of a local GUDB ``experiment_data/`` copy ($ECG_GUDB), if one is given."""
    from ..bridge.recording import to_rate

    root = root or os.environ.get("ECG_GUDB")
    if not root or not Path(root).is_dir():
        return []
    out = []
    for d in sorted(Path(root).glob("subject_*/*/ECG.tsv")):
        subject, activity = int(d.parent.parent.name.split("_")[1]), d.parent.name
        if activity not in GUDB_LABELS:
            continue
        rec, _ = datasets.load_gudb(root, subject, activity)
        rec.segments = [(a, b, GUDB_LABELS[activity]) for a, b, _ in rec.segments]
        out.append(rec if rec.rate_hz == rate_hz else to_rate(rec, rate_hz))
    return out


LOADERS: dict[str, Callable[..., list[Recording]]] = {
    "motion": lambda rate, **kw: motion_recordings(rate, kw.get("subjects")),
    "wrist": lambda rate, **kw: wrist_recordings(rate),
    "gudb": lambda rate, **kw: gudb_recordings(rate, kw.get("gudb")),
}


def available(root: Path | None = None) -> list[str]:
    """The datasets present on this machine."""
    root = root or datasets.shared_datasets()
    out = []
    if (root / "ecg-motion-artefacts").is_dir():
        out.append("motion")
    if (root / "wrist-ppg-exercise" / "edf").is_dir():
        out.append("wrist")
    if os.environ.get("ECG_GUDB") and Path(os.environ["ECG_GUDB"]).is_dir():
        out.append("gudb")
    return out


def load(names: list[str], rate_hz: float, **kw) -> list[Recording]:
    """Recordings of the named datasets, each labelled with project classes."""
    recs: list[Recording] = []
    for n in names:
        if n == "capture":
            from .captures import capture_recordings

            if kw.get("captures"):
                recs += capture_recordings(Path(kw["captures"]), rate_hz)
            continue
        recs += LOADERS[n](rate_hz, **kw)
    return recs
