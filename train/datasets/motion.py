"""ecg-motion-artefacts (Kalouskova): one wearable's 12-bit front end, 10 people, 3 electrode types,
rest / arms / walk / run / squats, about 62 s each (``data/NN/NN_EE_ACT.csv.gz``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...bridge.errors import SourceError
from ...bridge.recording import Recording, resample
from ...bridge.recording_files import read_motion_csv, uniform_from_timestamps
from .base import MODEL_RATE_HZ, Dataset

#: the dataset states no scale.  This nominal value (3.3 V / 4096 / gain 100, an AD8232-class front end)
#: is an assumption used only for display and export; the model is amplitude-normalised per window.
MOTION_MV_PER_COUNT = 3300.0 / 4096.0 / 100.0
MOTION_ACTIVITIES = {"klud": "rest", "ruky": "arms", "chodza": "walk", "beh": "run", "drepy": "squats"}
MOTION_ELECTRODES = {"01": "AgAgCl", "02": "CrNi", "03": "textile"}
MOTION_NAME = re.compile(r"^(\d\d)_(\d\d)_([a-z]+)\.csv(\.gz)?$")


class MotionArtefacts(Dataset):
    """ecg-motion-artefacts: the files are ``YYYY-MM-DD HH:MM:SS.ffffff ; value`` lines at about 500 Hz
    with jittery stamps, put on a uniform grid before resampling."""

    name = "motion"
    labels = frozenset({"rest", "arms", "walk", "run", "squats"})
    activities = MOTION_ACTIVITIES
    rate_hz = 500.0
    text = ("ecg-motion-artefacts (Kalouskova, GPL-3.0): 10 people x 3 electrode types x "
            "rest/arms/walk/run(8 km/h)/squats, 12-bit wearable front end, ~500 Hz")
    citation = ("Kalouskova, \"Automatic detection of motion artefacts in the ECG signal from a wearable sensor "
                "using methods of artificial intelligence\", master's thesis, repository kalouskova/DP. GPL-3.0.")

    def files(self, base: Path | None = None, **kw) -> list[Path]:
        root = self.root(base) / "ecg-motion-artefacts" / "data"
        return sorted(p for p in root.glob("*/*.csv.gz") if MOTION_NAME.match(p.name))

    def claims(self, path: Path) -> bool:
        return bool(MOTION_NAME.match(Path(path).name))

    def subject_of(self, path: Path) -> str | None:
        m = MOTION_NAME.match(Path(path).name)
        return f"motion-{m.group(1)}" if m else None

    def load_file(self, path: Path, rate_hz: float = MODEL_RATE_HZ) -> Recording:
        return load_motion_file(path, rate_hz)


def motion_file_info(path: Path) -> tuple[str, str, str]:
    """(subject, electrode type, activity) from an ecg-motion-artefacts file name."""
    m = MOTION_NAME.match(Path(path).name)
    return m.group(1), MOTION_ELECTRODES.get(m.group(2), m.group(2)), MOTION_ACTIVITIES.get(m.group(3), m.group(3))


def load_motion_file(path, rate_hz: float = MODEL_RATE_HZ) -> Recording:
    """One ecg-motion-artefacts file (``NN_EE_ACT.csv.gz``) at ``rate_hz``, labelled by its name."""
    path = Path(path)
    m = MOTION_NAME.match(path.name)
    if not m:
        raise SourceError(f"{path.name}: not an ecg-motion-artefacts file name (NN_EE_ACT.csv.gz)")
    subject, act = m.group(1), m.group(3)
    t, x = read_motion_csv(path)
    native = (len(t) - 1) / t[-1] if t[-1] > 0 else 0.0
    if not 10.0 <= native <= 10_000.0:
        raise SourceError(f"{path.name}: its timestamps give {native:g} samples per second")
    grid_hz = 500.0 if abs(native - 500.0) < 50 else round(native)
    u = uniform_from_timestamps(t, x, grid_hz)
    y = resample(u, grid_hz, rate_hz)
    label = MOTION_ACTIVITIES.get(act, act)
    counts = np.round(y).astype(np.int32)
    return Recording(counts, rate_hz, MOTION_MV_PER_COUNT, [(0, counts.size, label)],
                     source=f"ecg-motion-artefacts/{path.name}", subject=f"motion-{subject}")
