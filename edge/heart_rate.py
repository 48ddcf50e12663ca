"""Heart rate from R-peaks, and a simple signal-quality index, per window.

A band-pass around the QRS energy (8-20 Hz) and scipy's peak finder with a
refractory distance: light enough for a Pi, and the RR regularity doubles
as the quality measure (motion artefacts make spurious, irregular peaks).
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
from scipy.signal import find_peaks

from .filters import qrs_filtfilt


@dataclass
class HeartRate:
    bpm: float | None
    quality: float                # 0 (unusable) .. 1 (clean, regular beats)
    peaks: np.ndarray             # sample indices of R-peaks in the window


def heart_rate(x: np.ndarray, rate_hz: float, max_bpm: float = 220.0) -> HeartRate:
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2 * rate_hz or not np.isfinite(x).all() or np.ptp(x) == 0:
        return HeartRate(None, 0.0, np.empty(0, dtype=int))
    y = qrs_filtfilt(x - x.mean(), rate_hz)
    env = np.abs(y)
    ref = np.percentile(env, 99)
    peaks, _ = find_peaks(env, height=0.4 * ref, distance=max(1, int(rate_hz * 60.0 / max_bpm)))
    if peaks.size < 3:
        return HeartRate(None, 0.0, peaks)
    rr = np.diff(peaks) / rate_hz
    med = float(np.median(rr))
    regular = float(np.mean(np.abs(rr - med) < 0.15 * med))
    bpm = 60.0 / med
    plausible = 30.0 <= bpm <= max_bpm
    return HeartRate(bpm if plausible else None, regular if plausible else 0.0, peaks)
