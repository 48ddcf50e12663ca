"""Loaders for the real ECG datasets; each returns Recordings at their native scale.

Every loader puts the signal on a uniform grid at the model rate with a
proper anti-aliasing resampler; nothing downstream sees jittery timestamps.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np

from ..bridge.recording import Recording, resample

MODEL_RATE_HZ = 250.0

# ecg-motion-artefacts: a 12-bit single-lead front end; the dataset states no
# scale.  This nominal value (3.3 V / 4096 / gain 100, an AD8232-class front
# end) is an assumption used only for display and export; the model is
# amplitude-normalised per window and does not depend on it.
MOTION_MV_PER_COUNT = 3300.0 / 4096.0 / 100.0
MOTION_ACTIVITIES = {"klud": "rest", "ruky": "arms", "chodza": "walk", "beh": "run", "drepy": "squats"}
MOTION_ELECTRODES = {"01": "AgAgCl", "02": "CrNi", "03": "textile"}
_MOTION_NAME = re.compile(r"^(\d\d)_(\d\d)_([a-z]+)\.csv(\.gz)?$")


def shared_datasets() -> Path:
    """``../shared/datasets`` beside the project, or $ECG_DATASETS."""
    env = os.environ.get("ECG_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path, "rt")


def read_motion_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since first sample, ADC counts) from ``YYYY-MM-DD HH:MM:SS.ffffff ; value`` lines."""
    path = Path(path)
    with _open_text(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    stamps = np.array([ln.split(";")[0].strip() for ln in lines], dtype="datetime64[us]")
    values = np.array([float(ln.split(";")[1]) for ln in lines])
    t = (stamps - stamps[0]).astype(np.int64) / 1e6
    return t, values


def uniform_from_timestamps(t: np.ndarray, x: np.ndarray, rate_hz: float) -> np.ndarray:
    """Linear interpolation of jittery samples onto a uniform grid at ``rate_hz``."""
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    keep = np.concatenate(([True], np.diff(t) > 0))
    grid = np.arange(0.0, t[keep][-1], 1.0 / rate_hz)
    return np.interp(grid, t[keep], x[keep])


def load_motion_file(path: str | os.PathLike, rate_hz: float = MODEL_RATE_HZ) -> Recording:
    path = Path(path)
    m = _MOTION_NAME.match(path.name)
    if not m:
        raise ValueError(f"{path.name}: not an ecg-motion-artefacts file name (NN_EE_ACT.csv.gz)")
    subject, _, act = m.group(1), m.group(2), m.group(3)
    t, x = read_motion_csv(path)
    native = (len(t) - 1) / t[-1]
    grid_hz = 500.0 if abs(native - 500.0) < 50 else round(native)
    u = uniform_from_timestamps(t, x, grid_hz)
    y = resample(u, grid_hz, rate_hz)
    label = MOTION_ACTIVITIES.get(act, act)
    counts = np.round(y).astype(np.int32)
    return Recording(counts, rate_hz, MOTION_MV_PER_COUNT, [(0, counts.size, label)],
                     source=f"ecg-motion-artefacts/{path.name}", subject=f"motion-{subject}")


def motion_files(root: Path | None = None) -> list[Path]:
    root = (root or shared_datasets()) / "ecg-motion-artefacts" / "data"
    return sorted(p for p in root.glob("*/*.csv.gz") if _MOTION_NAME.match(p.name))


def motion_file_info(path: Path) -> tuple[str, str, str]:
    m = _MOTION_NAME.match(path.name)
    return m.group(1), MOTION_ELECTRODES.get(m.group(2), m.group(2)), MOTION_ACTIVITIES.get(m.group(3), m.group(3))


WRIST_ACTIVITIES = {"walk": "walk", "run": "run", "low_resistance_bike": "bike_low", "high_resistance_bike": "bike_high"}
WRIST_MV_PER_COUNT = 0.001          # we store the EDF's physical mV as integer microvolts


def load_wrist_edf(path: str | os.PathLike, rate_hz: float = MODEL_RATE_HZ) -> Recording:
    """PhysioNet wrist-ppg-exercise: the ``chest_ecg`` channel (mV, 256 Hz) at ``rate_hz``."""
    import pyedflib

    path = Path(path)
    m = re.match(r"^s(\d+)_(.+)\.edf$", path.name)
    if not m:
        raise ValueError(f"{path.name}: not a wrist-ppg-exercise file name (sN_ACT.edf)")
    with pyedflib.EdfReader(str(path)) as f:
        labels = f.getSignalLabels()
        if "chest_ecg" not in labels:
            raise ValueError(f"{path.name}: no chest_ecg channel")
        i = labels.index("chest_ecg")
        fs = f.getSampleFrequency(i)
        mv = f.readSignal(i)
    y = resample(mv, fs, rate_hz)
    counts = np.round(y / WRIST_MV_PER_COUNT).astype(np.int32)
    label = WRIST_ACTIVITIES.get(m.group(2), m.group(2))
    return Recording(counts, rate_hz, WRIST_MV_PER_COUNT, [(0, counts.size, label)],
                     source=f"wrist-ppg-exercise/{path.name}", subject=f"wrist-{m.group(1)}")


def wrist_files(root: Path | None = None) -> list[Path]:
    return sorted(((root or shared_datasets()) / "wrist-ppg-exercise" / "edf").glob("s*_*.edf"))


# GUDB (Howell & Porr, 2018; CC BY 3.0): the project's target dataset, recorded with Attys amplifiers.
GUDB_ACTIVITIES = ("sitting", "maths", "walking", "hand_bike", "jogging")
GUDB_CHANNELS = ("cs_V2_V1", "einthoven_II", "einthoven_III", "acc_x", "acc_y", "acc_z")
GUDB_RATE_HZ = 250.0
GUDB_MIRROR = "https://berndporr.github.io/ECG-GUDB/experiment_data"
GUDB_MV_PER_COUNT = 0.001            # the files hold volts; we keep integer microvolts


def gudb_path(root: Path, subject: int, activity: str) -> Path:
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
