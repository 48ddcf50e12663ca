"""A recording to stream or train on: integer counts, their scale and rate, labelled spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"
DEMO_EXCERPT = DATA_DIR / "demo_excerpt.npz"


@dataclass
class Recording:
    """A single-lead recording in integer counts with its scale and labelled segments: the one form datasets,
    imported files and the demo excerpt share on their way to windows."""

    counts: np.ndarray                  # int32, (n,) single lead
    rate_hz: float
    mv_per_count: float
    segments: list[tuple[int, int, str]] = field(default_factory=list)   # [start, end) sample, label
    source: str = ""
    subject: str = ""

    @property
    def duration_s(self) -> float:
        return self.counts.size / self.rate_hz

    def millivolts(self) -> np.ndarray:
        return self.counts.astype(np.float64) * self.mv_per_count

    def label_at(self, index: int) -> str | None:
        for a, b, lab in self.segments:
            if a <= index < b:
                return lab
        return None


def resample(x: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Polyphase resampling with scipy's anti-aliasing FIR (exact rational ratio)."""
    if from_hz == to_hz:
        return np.asarray(x, dtype=np.float64)
    from scipy.signal import resample_poly     # here, not at import: scipy.signal is most of a start-up

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    x = np.asarray(x, dtype=np.float64)
    # remove the DC offset first: resample_poly pads with zeros, which would ring at both ends
    mean = float(x.mean()) if x.size else 0.0
    return resample_poly(x - mean, ratio.numerator, ratio.denominator) + mean


def to_rate(rec: Recording, rate_hz: float, mv_per_count: float | None = None) -> Recording:
    """The same recording at another rate (and optionally another count scale), rounded to counts."""
    mv = rec.mv_per_count if mv_per_count is None else mv_per_count
    x = resample(rec.millivolts() if mv != rec.mv_per_count else rec.counts, rec.rate_hz, rate_hz)
    if mv != rec.mv_per_count:
        x = x / mv
    k = rate_hz / rec.rate_hz
    segs = [(int(round(a * k)), int(round(b * k)), lab) for a, b, lab in rec.segments]
    return Recording(np.round(x).astype(np.int32), rate_hz, mv, segs, rec.source, rec.subject)


def load_demo_excerpt() -> Recording:
    """The small real excerpt bundled with the package (see bridge/data/README.md)."""
    z = np.load(DEMO_EXCERPT, allow_pickle=False)
    segs = [(int(a), int(b), str(lab)) for (a, b), lab in zip(z["segment_bounds"], z["segment_labels"])]
    return Recording(z["counts"].astype(np.int32), float(z["rate_hz"]), float(z["mv_per_count"]), segs,
                     str(z["source"]), str(z["subject"]))
