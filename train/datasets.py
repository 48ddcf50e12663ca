"""Loaders for the real ECG datasets; each returns Recordings at their native scale.

Every loader puts the signal on a uniform grid at the model rate with a
proper anti-aliasing resampler; nothing downstream sees jittery timestamps.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..bridge.recording import Recording
from ..bridge.recording_files import (  # noqa: F401  (the readers live in bridge: the simulator streams them too)
    MODEL_RATE_HZ, MOTION_ACTIVITIES, MOTION_ELECTRODES, MOTION_MV_PER_COUNT, MOTION_NAME, WRIST_ACTIVITIES,
    WRIST_MV_PER_COUNT, load_motion_file, load_wrist_edf, read_motion_csv, uniform_from_timestamps)


def shared_datasets() -> Path:
    """``../shared/datasets`` beside the project, or $ECG_DATASETS."""
    env = os.environ.get("ECG_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def motion_files(root: Path | None = None) -> list[Path]:
    """ecg-motion-artefacts' recording files, sorted."""
    root = (root or shared_datasets()) / "ecg-motion-artefacts" / "data"
    return sorted(p for p in root.glob("*/*.csv.gz") if MOTION_NAME.match(p.name))


def motion_file_info(path: Path) -> tuple[str, str, str]:
    """(subject, electrode type, activity) from an ecg-motion-artefacts file name."""
    m = MOTION_NAME.match(path.name)
    return m.group(1), MOTION_ELECTRODES.get(m.group(2), m.group(2)), MOTION_ACTIVITIES.get(m.group(3), m.group(3))


def wrist_files(root: Path | None = None) -> list[Path]:
    """wrist-ppg-exercise's EDF files, sorted."""
    return sorted(((root or shared_datasets()) / "wrist-ppg-exercise" / "edf").glob("s*_*.edf"))


# GUDB (Howell & Porr, 2018; CC BY 3.0): the project's target dataset, recorded with Attys amplifiers.
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
