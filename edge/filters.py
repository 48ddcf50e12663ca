"""The QRS band (8-20 Hz, where the QRS energy is), as the heart-rate detector and the beat rows use it.

``qrs_filtfilt``: a Butterworth run forwards and backwards, the same result as
``scipy.signal.sosfiltfilt`` (odd extension, steady-state initial conditions) with the filter's
initial-condition vector computed once per rate instead of on every window (the beat rows).

``qrs_fir``: a linear-phase FIR of the same band (windowed sinc, numpy only) for the heart-rate
detector: its finite memory makes a stream of overlapping windows cheap to filter (each new sample
once) and exactly equal to filtering the stream, and the edge path needs no ``scipy.signal`` (whose
import is most of a replay's start-up).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: the heart-rate FIR's length: 0.4 s (about 8 Hz transition bands, the Butterworth's own slope)
FIR_S = 0.4


@lru_cache(maxsize=8)
def qrs_fir(rate_hz: float) -> np.ndarray:
    """Taps (odd count, unit gain at the band's centre) of an 8-20 Hz Hamming-windowed-sinc band-pass."""
    taps = int(round(FIR_S * rate_hz)) | 1
    n = np.arange(taps) - (taps - 1) / 2
    lo, hi = 8.0 / rate_hz, min(20.0, 0.45 * rate_hz) / rate_hz
    h = (2 * hi * np.sinc(2 * hi * n) - 2 * lo * np.sinc(2 * lo * n)) * np.hamming(taps)
    centre = (lo + hi) / 2
    return h / abs(np.sum(h * np.exp(-2j * np.pi * centre * np.arange(taps))))


@lru_cache(maxsize=8)
def qrs_band(rate_hz: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(sos, zi, padlen) of a 3rd-order 8-20 Hz Butterworth band-pass: where the QRS energy is."""
    from scipy.signal import butter, sosfilt_zi

    sos = butter(3, [8.0, min(20.0, 0.45 * rate_hz)], btype="bandpass", fs=rate_hz, output="sos")
    zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return sos, sosfilt_zi(sos), 3 * (2 * len(sos) + 1 - zeros)


def qrs_filtfilt(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """Zero-phase QRS band-pass of ``x`` (needs more than 3 x 7 samples)."""
    from scipy.signal import sosfilt

    sos, zi, pad = qrs_band(float(rate_hz))
    x = np.asarray(x, dtype=np.float64)
    ext = np.concatenate((2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2:-pad - 2:-1]))
    y, _ = sosfilt(sos, ext, zi=zi * ext[0])
    y, _ = sosfilt(sos, y[::-1], zi=zi * y[-1])
    return y[::-1][pad:-pad]
