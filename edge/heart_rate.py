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
    reason: str = ""              # why the quality is poor ("no beats found", "irregular beats: noise?")

    @property
    def rr_ms(self) -> np.ndarray:
        """Beat-to-beat intervals (ms) of the plausible beats."""
        return np.diff(self.peaks) * 1000.0 / self._rate if self.bpm is not None and self.peaks.size > 1 else np.zeros(0)

    @property
    def rmssd_ms(self) -> float | None:
        """Short-term heart-rate variability: root mean square of successive RR differences, over
        intervals within 20 % of the median (an ectopic or missed beat would dominate it)."""
        rr = self.rr_ms
        if rr.size < 3:
            return None
        med = np.median(rr)
        good = rr[np.abs(rr - med) < 0.2 * med]
        d = np.diff(good)
        return float(np.sqrt(np.mean(d ** 2))) if d.size >= 2 else None

    _rate: float = 250.0


def heart_rate(x: np.ndarray, rate_hz: float, max_bpm: float = 220.0) -> HeartRate:
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2 * rate_hz or not np.isfinite(x).all() or np.ptp(x) == 0:
        return HeartRate(None, 0.0, np.empty(0, dtype=int), "no signal", rate_hz)
    y = qrs_filtfilt(x - x.mean(), rate_hz)
    env = np.abs(y)
    ref = np.percentile(env, 99)
    peaks, _ = find_peaks(env, height=0.4 * ref, distance=max(1, int(rate_hz * 60.0 / max_bpm)))
    if peaks.size < 3:
        return HeartRate(None, 0.0, peaks, "no beats found", rate_hz)
    rr = np.diff(peaks) / rate_hz
    med = float(np.median(rr))
    regular = float(np.mean(np.abs(rr - med) < 0.15 * med))
    bpm = 60.0 / med
    plausible = 30.0 <= bpm <= max_bpm
    if not plausible:
        return HeartRate(None, 0.0, peaks, "no plausible heart rate", rate_hz)
    return HeartRate(bpm, regular, peaks, "" if regular >= 0.7 else "irregular beats: noise or motion?", rate_hz)
