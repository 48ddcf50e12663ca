"""GUDB (Howell & Porr, University of Glasgow, 2018): the project's target dataset, 25 people with an
Attys chest strap at 250 Hz, sitting / maths / walking / hand bike / jogging, 2 minutes each.

Its signals are not on these machines: it is read from a local copy of its
``experiment_data/`` folder named by ``$ECG_GUDB`` (or fetched from the
public mirror when online, on request only).  Its R-peak annotations, which
are here, test the heart rate.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...bridge.recording import Recording, to_rate
from .base import MODEL_RATE_HZ, Dataset

#: GUDB activity -> project class
GUDB_LABELS = {"sitting": "rest", "maths": "rest", "walking": "walk", "jogging": "run", "hand_bike": "arms"}


class Gudb(Dataset):
    """GUDB's chest strap (``cs_V2_V1``) from ``$ECG_GUDB`` (or ``gudb=`` a folder)."""

    name = "gudb"
    labels = frozenset({"rest", "walk", "run", "arms"})
    activities = GUDB_LABELS
    rate_hz = 250.0
    text = ("GUDB (Howell & Porr, CC BY 3.0): 25 people, Attys chest strap 250 Hz, sitting and maths "
            "(rest), walking, jogging (run), hand bike (arms)")
    citation = ("Howell L, Porr B. \"High precision ECG Database with annotated R peaks, recorded and filmed "
                "under realistic conditions\", University of Glasgow, 2018. CC BY 3.0.")

    def root(self, base: Path | None = None, gudb: str | os.PathLike | None = None) -> Path | None:
        root = gudb or os.environ.get("ECG_GUDB")
        return Path(root) if root and Path(root).is_dir() else None

    def files(self, base: Path | None = None, **kw) -> list[Path]:
        root = self.root(base, kw.get("gudb"))
        if root is None:
            return []
        return sorted(p for p in root.glob("subject_*/*/ECG.tsv") if p.parent.name in GUDB_LABELS)

    def subject_of(self, path: Path) -> str | None:
        return f"gudb-{int(Path(path).parent.parent.name.split('_')[1]):02d}"

    def load_file(self, path: Path, rate_hz: float = MODEL_RATE_HZ) -> Recording:
        path = Path(path)
        subject, activity = int(path.parent.parent.name.split("_")[1]), path.parent.name
        rec, _ = load_gudb(path.parent.parent.parent, subject, activity)
        rec.segments = [(a, b, GUDB_LABELS[activity]) for a, b, _ in rec.segments]
        return rec if rec.rate_hz == rate_hz else to_rate(rec, rate_hz)


GUDB_ACTIVITIES = ("sitting", "maths", "walking", "hand_bike", "jogging")
GUDB_CHANNELS = ("cs_V2_V1", "einthoven_II", "einthoven_III", "acc_x", "acc_y", "acc_z")
GUDB_RATE_HZ = 250.0
GUDB_MIRROR = "https://berndporr.github.io/ECG-GUDB/experiment_data"
GUDB_MV_PER_COUNT = 0.001            # the files hold volts; we keep integer microvolts


def gudb_path(root: Path, subject: int, activity: str) -> Path:
    """A GUDB recording's folder in a local copy."""
    return Path(root) / f"subject_{subject:02d}" / activity


def load_gudb(root: str | os.PathLike, subject: int, activity: str, channel: str = "cs_V2_V1",
              annotations_root: str | os.PathLike | None = None) -> tuple[Recording, np.ndarray]:
    """One GUDB recording from a local ``experiment_data/`` copy: (Recording, R-peak sample indices).

    ``channel`` is one of the file's columns or ``einthoven_I`` (= II − III).
    R-peaks come from ``annotation_cs.tsv`` (chest strap) or ``annotation_cables.tsv``
    (Einthoven), looked up beside the signal or under ``annotations_root``.
    """
    if activity not in GUDB_ACTIVITIES:
        raise ValueError(f"unknown GUDB activity {activity!r} (one of {', '.join(GUDB_ACTIVITIES)})")
    d = gudb_path(Path(root), subject, activity)
    data = np.loadtxt(d / "ECG.tsv", ndmin=2)
    if data.shape[1] != len(GUDB_CHANNELS):
        raise ValueError(f"{d / 'ECG.tsv'}: {data.shape[1]} columns, expected {len(GUDB_CHANNELS)}")
    if channel == "einthoven_I":
        volts = data[:, 1] - data[:, 2]
    elif channel in GUDB_CHANNELS[:3]:
        volts = data[:, GUDB_CHANNELS.index(channel)]
    else:
        raise ValueError(f"unknown GUDB ECG channel {channel!r}")
    counts = np.round(volts * 1000.0 / GUDB_MV_PER_COUNT).astype(np.int32)
    ann_name = "annotation_cs.tsv" if channel == "cs_V2_V1" else "annotation_cables.tsv"
    ann = d / ann_name
    if not ann.exists() and annotations_root is not None:
        ann = gudb_path(Path(annotations_root), subject, activity) / ann_name
    peaks = np.loadtxt(ann, dtype=int, ndmin=1) if ann.exists() else np.empty(0, dtype=int)
    rec = Recording(counts, GUDB_RATE_HZ, GUDB_MV_PER_COUNT, [(0, counts.size, activity)],
                    source=f"gudb/subject_{subject:02d}/{activity}/{channel}", subject=f"gudb-{subject:02d}")
    return rec, peaks


def fetch_gudb(dest: str | os.PathLike, subject: int, activity: str, base_url: str = GUDB_MIRROR,
               timeout_s: float = 60.0) -> Path:
    """Download one recording from the public mirror into ``dest`` (the same layout), when online.

    Never called by the tests (these machines are offline): training code calls it only
    when asked to, and ``load_gudb`` reads the local copy either way.
    """
    import urllib.request

    d = gudb_path(Path(dest), subject, activity)
    d.mkdir(parents=True, exist_ok=True)
    for name in ("ECG.tsv", "annotation_cs.tsv", "annotation_cables.tsv"):
        target = d / name
        if target.exists():
            continue
        url = f"{base_url}/subject_{subject:02d}/{activity}/{name}"
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            tmp = target.with_suffix(".part")
            tmp.write_bytes(r.read())
            tmp.replace(target)
    return d
