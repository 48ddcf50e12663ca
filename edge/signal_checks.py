"""Is a window's signal usable at all?  Checks on the samples themselves, whatever the device.

The 24-bit rails say nothing about a device whose ADC stops at +/-1024
counts, so clipping is found the way it looks: a run of samples pinned at
the window's own extreme.  A flat line (a second without any change) is a
dead or disconnected lead; NaN or infinite samples are never classified.
"""

from __future__ import annotations

import numpy as np

from .repair import longest_run

#: a run this long (seconds) at the window's maximum or minimum is clipping (an R peak is pointed:
#: at most two or three equal samples at its top)
CLIP_RUN_S = 0.024
CLIP_RUN_MIN = 4
#: ... and so is this share of a window's samples sitting exactly on its extreme value, however short
#: each visit (a clipped QRS top is a few samples).  Measured on 16,600 real windows of two devices
#: (ecg-motion-artefacts, wrist-ppg-exercise): at most 11 samples of a 20 s window, 99.9 % at most 4;
#: clipped at the 97th percentile: at least 77.
CLIP_SHARE = 0.003
CLIP_COUNT_MIN = 12
#: a stretch this long without any change is a flat line
FLAT_S = 1.0


def signal_problems(x: np.ndarray, rate_hz: float) -> list[str]:
    """Flags for a window of samples (any unit, the stream's own rate): "invalid" (NaN or infinite),
    "flat", "clipped"; empty when the signal looks usable."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        return ["invalid"]
    out = []
    flat = max(2, int(round(FLAT_S * rate_hz)))
    n = (x.size // flat) * flat
    if n and (np.ptp(x[:n].reshape(-1, flat), axis=1) == 0).any():
        out.append("flat")
    run = max(CLIP_RUN_MIN, int(round(CLIP_RUN_S * rate_hz)))
    many = max(CLIP_COUNT_MIN, int(CLIP_SHARE * x.size))
    if np.ptp(x) > 0 and any(_pinned(x, v, run, many) for v in (x.max(), x.min())):
        out.append("clipped")
    return out


def _pinned(x: np.ndarray, value: float, run: int, many: int) -> bool:
    """``run`` samples in a row, or ``many`` in all, exactly at ``value`` (the run is only looked for
    when there are enough such samples to make one: almost never, so a window costs one count)."""
    at = x == value
    count = int(np.count_nonzero(at))
    return count >= many or (count >= run and longest_run(at) >= run)
