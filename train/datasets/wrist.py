"""Wrist PPG During Exercise (Jarchi & Casson, PhysioNet): another chest device, 7 people, treadmill walk
and run and an exercise bike (``edf/sN_ACT.edf``, channel ``chest_ecg`` in mV at 256 Hz)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...bridge.errors import SourceError
from ...bridge.recording import Recording, resample
from ...bridge.recording_files import MAX_SAMPLES
from .base import MODEL_RATE_HZ, Dataset

WRIST_ACTIVITIES = {"walk": "walk", "run": "run", "low_resistance_bike": "cycle", "high_resistance_bike": "cycle"}
WRIST_MV_PER_COUNT = 0.001          # we store the EDF's physical mV as integer microvolts
WRIST_NAME = re.compile(r"^s(\d+)_(.+)\.edf$")


class WristPpgExercise(Dataset):
    """wrist-ppg-exercise's chest ECG (its bikes are ``cycle``)."""

    name = "wrist"
    labels = frozenset({"walk", "run", "cycle"})
    activities = WRIST_ACTIVITIES
    rate_hz = 256.0
    text = ("wrist-ppg-exercise (Jarchi & Casson, PhysioNet, ODC-By): 7 people, chest ECG 256 Hz, "
            "treadmill walk/run and exercise bike (low and high resistance = cycle)")
    citation = ("Jarchi D, Casson AJ. \"Description of a Database Containing Wrist PPG Signals Recorded during "
                "Physical Exercise with Both Accelerometer and Gyroscope Measures of Motion.\" Data 2017, 2(1):1. "
                "PhysioNet, ODC Attribution v1.0.")

    def files(self, base: Path | None = None, **kw) -> list[Path]:
        return sorted((self.root(base) / "wrist-ppg-exercise" / "edf").glob("s*_*.edf"))

    def claims(self, path: Path) -> bool:
        return bool(WRIST_NAME.match(Path(path).name))

    def subject_of(self, path: Path) -> str | None:
        m = WRIST_NAME.match(Path(path).name)
        return f"wrist-{m.group(1)}" if m else None

    def load_file(self, path: Path, rate_hz: float = MODEL_RATE_HZ) -> Recording:
        return load_wrist_edf(path, rate_hz)


def load_wrist_edf(path, rate_hz: float = MODEL_RATE_HZ) -> Recording:
    """PhysioNet wrist-ppg-exercise: the ``chest_ecg`` channel (mV, 256 Hz) at ``rate_hz``."""
    import pyedflib

    path = Path(path)
    m = WRIST_NAME.match(path.name)
    if not m:
        raise SourceError(f"{path.name}: not a wrist-ppg-exercise file name (sN_ACT.edf)")
    try:
        with pyedflib.EdfReader(str(path)) as f:
            labels = f.getSignalLabels()
            if "chest_ecg" not in labels:
                raise SourceError(f"{path.name}: no chest_ecg channel")
            i = labels.index("chest_ecg")
            fs = f.getSampleFrequency(i)
            if not 10.0 <= fs <= 10_000.0 or f.getNSamples()[i] > MAX_SAMPLES:
                raise SourceError(f"{path.name}: {fs:g} Hz, {f.getNSamples()[i]} samples: not a plausible ECG")
            mv = f.readSignal(i)
    except OSError as e:
        raise SourceError(f"cannot read EDF recording {path.name}: {e}") from None
    y = resample(mv, fs, rate_hz)
    counts = np.round(y / WRIST_MV_PER_COUNT).astype(np.int32)
    label = WRIST_ACTIVITIES.get(m.group(2), m.group(2))
    return Recording(counts, rate_hz, WRIST_MV_PER_COUNT, [(0, counts.size, label)],
                     source=f"wrist-ppg-exercise/{path.name}", subject=f"wrist-{m.group(1)}")
