"""Reading recordings from files (dataset CSV and EDF): what the virtual wearable streams and training
reads.

Every reader is bounded whatever the file claims: text is decompressed up
to ``MAX_TEXT_BYTES`` and no further (a 1 MB gzip bomb cannot take
gigabytes), a truncated, empty or malformed file is one ``SourceError``
naming the file, never a traceback.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np

from .errors import SourceError
from .recording import Recording, resample

MODEL_RATE_HZ = 250.0
#: the most decompressed text a recording may hold (a 62 s, 500 Hz dataset file is about 1.3 MB)
MAX_TEXT_BYTES = 64 << 20
#: the most samples a recording may hold after loading (10 h at 500 Hz)
MAX_SAMPLES = 18_000_000

# ecg-motion-artefacts: a 12-bit single-lead front end; the dataset states no
# scale.  This nominal value (3.3 V / 4096 / gain 100, an AD8232-class front
# end) is an assumption used only for display and export; the model is
# amplitude-normalised per window and does not depend on it.
MOTION_MV_PER_COUNT = 3300.0 / 4096.0 / 100.0
MOTION_ACTIVITIES = {"klud": "rest", "ruky": "arms", "chodza": "walk", "beh": "run", "drepy": "squats"}
MOTION_ELECTRODES = {"01": "AgAgCl", "02": "CrNi", "03": "textile"}
MOTION_NAME = re.compile(r"^(\d\d)_(\d\d)_([a-z]+)\.csv(\.gz)?$")




def read_text(path: str | os.PathLike, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a (possibly gzip-compressed) file, refusing more than ``max_bytes`` of it."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(f"recording {str(path)!r} does not exist") from None
    except (OSError, EOFError, zlib.error) as e:       # gzip.BadGzipFile is an OSError
        raise SourceError(f"cannot read recording {str(path)!r}: {e or type(e).__name__}") from None
    if len(raw) > max_bytes:
        raise SourceError(f"recording {str(path)!r} holds more than {max_bytes >> 20} MiB of text: refusing it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"recording {str(path)!r} is not text") from None


def read_motion_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since first sample, ADC counts) from ``YYYY-MM-DD HH:MM:SS.ffffff ; value`` lines."""
    lines = [ln for ln in read_text(path).splitlines() if ln.strip()]
    if len(lines) < 2:
        raise SourceError(f"recording {str(path)!r} holds fewer than two samples")
    try:
        stamps = np.array([ln.split(";")[0].strip() for ln in lines], dtype="datetime64[us]")
        values = np.array([float(ln.split(";")[1]) for ln in lines])
    except (ValueError, IndexError) as e:
        raise SourceError(f"recording {str(path)!r} is not 'time ; value' lines ({e})") from None
    t = (stamps - stamps[0]).astype(np.int64) / 1e6
    if not np.isfinite(values).all():
        raise SourceError(f"recording {str(path)!r} holds values that are not finite numbers")
    return t, values


def uniform_from_timestamps(t: np.ndarray, x: np.ndarray, rate_hz: float) -> np.ndarray:
    """Linear interpolation of jittery samples onto a uniform grid at ``rate_hz``."""
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    keep = np.concatenate(([True], np.diff(t) > 0))
    span = t[keep][-1]
    if not 0 < span * rate_hz <= MAX_SAMPLES:
        raise SourceError(f"timestamps span {span:g} s: not a recording of plausible length")
    grid = np.arange(0.0, span, 1.0 / rate_hz)
    return np.interp(grid, t[keep], x[keep])


def load_motion_file(path: str | os.PathLike, rate_hz: float = MODEL_RATE_HZ) -> Recording:
    """One ecg-motion-artefacts file (``NN_EE_ACT.csv.gz``) at ``rate_hz``, labelled by its name."""
    path = Path(path)
    m = MOTION_NAME.match(path.name)
    if not m:
        raise SourceError(f"{path.name}: not an ecg-motion-artefacts file name (NN_EE_ACT.csv.gz)")
    subject, _, act = m.group(1), m.group(2), m.group(3)
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


WRIST_ACTIVITIES = {"walk": "walk", "run": "run", "low_resistance_bike": "cycle", "high_resistance_bike": "cycle"}
WRIST_MV_PER_COUNT = 0.001          # we store the EDF's physical mV as integer microvolts


def load_wrist_edf(path: str | os.PathLike, rate_hz: float = MODEL_RATE_HZ) -> Recording:
    """PhysioNet wrist-ppg-exercise: the ``chest_ecg`` channel (mV, 256 Hz) at ``rate_hz``."""
    import pyedflib

    path = Path(path)
    m = re.match(r"^s(\d+)_(.+)\.edf$", path.name)
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


