"""Real ECG noise from the MIT-BIH Noise Stress Test Database (``nstdb-noise``: muscle artefact ``ma``,
baseline wander ``bw``), split in time so that what trains never tests.

The records are read straight from their WFDB format-212 files (two 12-bit
samples in three bytes), so training needs no ``wfdb`` package.  The first
``TRAIN_SHARE`` of each record is for training; the rest is kept for the
robustness suite, so a model is never tested on a noise stretch it learnt.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .datasets.base import shared_datasets

NSTDB_RATE_HZ = 360.0
NSTDB_KINDS = ("ma", "bw")
#: the first 20 of each record's 30 minutes train; the last 10 test
TRAIN_SHARE = 2.0 / 3.0


def nstdb_dir(root: Path | None = None) -> Path:
    """Where the NSTDB noise records lie (``../shared/datasets/nstdb-noise`` or ``$ECG_DATASETS``)."""
    return (root or shared_datasets()) / "nstdb-noise"


def available(root: Path | None = None) -> bool:
    """Both noise records are present."""
    d = nstdb_dir(root)
    return all((d / f"{k}.dat").is_file() and (d / f"{k}.hea").is_file() for k in NSTDB_KINDS)


def read_format212(dat: Path, hea: Path) -> np.ndarray:
    """A two-channel WFDB format-212 record in millivolts, (n, 2): every field (gain, baseline, length)
    taken from its header, the length checked against the data."""
    lines = [ln.split() for ln in hea.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    n_sig, n = int(lines[0][1]), int(lines[0][3])
    if n_sig != 2 or len(lines) < 3 or any(ln[1] != "212" for ln in lines[1:3]):
        raise ValueError(f"{hea}: not a two-channel format-212 record")
    gains = [float(ln[2].split("(")[0].split("/")[0]) or 200.0 for ln in lines[1:3]]
    base = [int(ln[2].split("(")[1].split(")")[0]) if "(" in ln[2] else int(ln[4]) for ln in lines[1:3]]
    raw = np.fromfile(dat, dtype=np.uint8)
    if raw.size < 3 * n:
        raise ValueError(f"{dat}: {raw.size} bytes, the header says {n} sample pairs")
    b = raw[:3 * n].reshape(n, 3).astype(np.int32)
    a = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    c = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    out = np.stack([a, c], axis=1)
    out[out >= 2048] -= 4096
    return (out - np.array(base)) / np.array(gains)


@lru_cache(maxsize=8)
def noise(kind: str, part: str, rate_hz: float, root: str | None = None) -> tuple[np.ndarray, ...]:
    """The ``part`` ("train" or "test") of record ``kind`` ("ma" or "bw") at ``rate_hz``, in mV, one
    array per channel (the two channels are independent noise)."""
    from ..bridge.recording import resample

    d = nstdb_dir(Path(root) if root else None)
    x = read_format212(d / f"{kind}.dat", d / f"{kind}.hea")
    cut = int(TRAIN_SHARE * x.shape[0])
    x = x[:cut] if part == "train" else x[cut:]
    return tuple(resample(x[:, ch] - x[:, ch].mean(), NSTDB_RATE_HZ, rate_hz) for ch in range(x.shape[1]))


def add_noise(x: np.ndarray, rate_hz: float, snr_db: float, rng: np.random.Generator, part: str = "train",
              kind: str | None = None) -> np.ndarray:
    """``x`` plus a random stretch of real NSTDB noise (a random record and channel unless ``kind`` is
    given) scaled to ``snr_db`` below the signal's power."""
    kind = kind or str(rng.choice(NSTDB_KINDS))
    chans = noise(kind, part, float(rate_hz))
    n = chans[int(rng.integers(len(chans)))]
    if n.size <= x.size:
        return x
    start = int(rng.integers(0, n.size - x.size))
    seg = n[start:start + x.size]
    seg = seg - seg.mean()
    p_sig = float(np.var(x)) or 1.0
    p_noise = float(np.var(seg)) or 1.0
    return x + seg * np.sqrt(p_sig / p_noise * 10 ** (-snr_db / 10))
