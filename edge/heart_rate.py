"""Heart rate from R-peaks, and a simple signal-quality index, per window.

A band-pass around the QRS energy (8-20 Hz) and scipy's peak finder with a
refractory distance: light enough for a Pi, and the RR regularity doubles
as the quality measure (motion artefacts make spurious, irregular peaks).

The band-pass is a linear-phase FIR (``filters.qrs_fir``, 0.4 s): R-peaks come
out a constant 0.2 s late, which no RR interval sees, and its finite memory
lets a stream of windows that overlap by all but a hop filter each new sample
once (``HeartRateTracker``) instead of the whole window twice (forwards and
backwards, as the first version did) for every hop: over an hour of replay
that was the largest cost after the model itself.  Before the first sample
of a stretch the signal is taken to hold its first value.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from .filters import qrs_fir
from .peaks import find_peaks


@dataclass
class HeartRate:
    """A window's heart rate, its quality (0 unusable .. 1 clean and regular), R-peaks, and why the
    quality is poor."""

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
        intervals within 20 % of the median (an ectopic or missed beat would dominate it).  A window
        holds a few dozen intervals: plain Python floats, ~4x cheaper than numpy calls (measured)."""
        rr = self.rr_ms.tolist()
        if len(rr) < 3:
            return None
        med = statistics.median(rr)
        good = [v for v in rr if abs(v - med) < 0.2 * med]
        d = [b - a for a, b in zip(good, good[1:])]
        return math.sqrt(sum(v * v for v in d) / len(d)) if len(d) >= 2 else None

    _rate: float = 250.0


def heart_rate(x: np.ndarray, rate_hz: float, max_bpm: float = 220.0) -> HeartRate:
    """Heart rate, quality and R-peaks of one window (at least 2 s) of one ECG lead, any unit."""
    return HeartRateTracker(rate_hz, max_bpm).update(x)


class HeartRateTracker:
    """``heart_rate`` for the consecutive windows of one stream: when a window continues the last one
    (its samples are the last window's, moved on to its end index), only the new samples are filtered,
    so each sample is filtered once per stream.  The band-pass then equals one run of the filter over
    all samples since the last discontinuity, cut to the window (tested); anything else (the first
    window, a gap, a repaired or different window) starts the filter afresh at the window's first
    sample, as ``heart_rate`` does."""

    def __init__(self, rate_hz: float, max_bpm: float = 220.0) -> None:
        self.rate_hz = float(rate_hz)
        self.max_bpm = max_bpm
        self._x: np.ndarray | None = None        # the last window's samples
        self._y: np.ndarray | None = None        # and their band-passed values
        self._end: int | None = None             # the last window's end (stream index)

    def update(self, x: np.ndarray, end_index: int | None = None) -> HeartRate:
        """Heart rate of window ``x``, whose newest sample is just before stream index ``end_index``
        (None: unknown, computed afresh)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        rate = self.rate_hz
        advance = None if end_index is None or self._end is None else end_index - self._end
        self._end = end_index
        if x.size < 2 * rate or not np.isfinite(x).all() or np.ptp(x) == 0:
            self._x = None
            return HeartRate(None, 0.0, np.empty(0, dtype=int), "no signal", rate)
        h = qrs_fir(rate)
        prev = self._x
        span = None if advance is None else advance + h.size - 1       # the samples the new outputs need
        if (prev is not None and span is not None and 0 < advance and span <= x.size and prev.size == x.size
                and np.array_equal(prev[advance:], x[:-advance])):
            y = np.concatenate((self._y[advance:], np.convolve(x[-span:], h, "valid")))
        else:
            y = _fresh(x, h)
        self._x, self._y = x, y
        return _beats(np.abs(y), rate, self.max_bpm)


def _fresh(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The band-pass of a stretch that starts with ``x`` (held at its first value before it)."""
    return np.convolve(np.concatenate((np.full(h.size - 1, x[0]), x)), h, "valid")


def _beats(env: np.ndarray, rate_hz: float, max_bpm: float) -> HeartRate:
    """R-peaks of the QRS band's envelope above 40 % of its 99th percentile, a refractory time apart."""
    k = 0.99 * (env.size - 1)                 # np.percentile(env, 99), from two order statistics
    lo = int(k)
    part = np.partition(env, [lo, min(lo + 1, env.size - 1)])
    ref = part[lo] + (k - lo) * (part[min(lo + 1, env.size - 1)] - part[lo])
    peaks = find_peaks(env, 0.4 * ref, max(1, int(rate_hz * 60.0 / max_bpm)))
    if peaks.size < 3:
        return HeartRate(None, 0.0, peaks, "no beats found", rate_hz)
    rr = (np.diff(peaks) / rate_hz).tolist()
    med = statistics.median(rr)                 # the same value as np.median, without its overhead
    regular = sum(abs(v - med) < 0.15 * med for v in rr) / len(rr)
    bpm = 60.0 / med
    if not 30.0 <= bpm <= max_bpm:
        return HeartRate(None, 0.0, peaks, "no plausible heart rate", rate_hz)
    return HeartRate(bpm, regular, peaks, "" if regular >= 0.7 else "irregular beats: noise or motion?", rate_hz)
