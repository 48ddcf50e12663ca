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


@lru_cache(maxsize=16)
def bandpass_fir(rate_hz: float, lo_hz: float, hi_hz: float, seconds: float) -> np.ndarray:
    """Taps (odd count, unit gain in the middle of the band) of a Hamming-windowed-sinc band-pass: its
    transition bands are about 3.3 / ``seconds`` Hz wide, its stop bands 50 dB down."""
    taps = int(round(seconds * rate_hz)) | 1
    n = np.arange(taps) - (taps - 1) / 2
    lo, hi = lo_hz / rate_hz, min(hi_hz, 0.45 * rate_hz) / rate_hz
    h = (2 * hi * np.sinc(2 * hi * n) - 2 * lo * np.sinc(2 * lo * n)) * np.hamming(taps)
    centre = (lo + hi) / 2
    return h / abs(np.sum(h * np.exp(-2j * np.pi * centre * np.arange(taps))))


def qrs_fir(rate_hz: float) -> np.ndarray:
    """The heart-rate detector's 8-20 Hz band-pass (``FIR_S`` long)."""
    return bandpass_fir(float(rate_hz), 8.0, 20.0, FIR_S)


def zero_phase_fir(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``x`` through the linear-phase FIR ``h`` without its delay; the ends extended by odd reflection
    (as filtfilt does) so they do not ring; FFT convolution (long filters on a few seconds of trace)."""
    x = np.asarray(x, dtype=np.float64)
    half = h.size // 2
    pad = min(half, x.size - 1)
    ext = np.concatenate((2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2:-pad - 2:-1])) if pad > 0 else x
    n = ext.size + h.size - 1
    nfft = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(ext, nfft) * np.fft.rfft(h, nfft), nfft)[:n]
    return y[half + pad:half + pad + x.size]


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
