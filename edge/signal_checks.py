"""Is a window's signal usable at all?  Checks on the samples themselves, whatever the device.

The 24-bit rails say nothing about a device whose ADC stops at +/-1024
counts, so clipping is found the way it looks: a run of samples pinned at
the window's own extreme.  A flat line (a second without any change) is a
dead or disconnected lead; NaN or infinite samples are never classified.
"""

from __future__ import annotations

import numpy as np

#: a run this long (seconds) at the window's maximum or minimum is clipping (an R peak is pointed:
#: at most two or three equal samples at its top)
CLIP_RUN_S = 0.024
CLIP_RUN_MIN = 4
#: a stretch this long without any change is a flat line
FLAT_S = 1.0


def longest_equal_run(x: np.ndarray, value: float) -> int:
    hit = (x == value).astype(np.int8)
    if not hit.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], hit, [0]))))
    return int((edges[1::2] - edges[0::2]).max())


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
    if np.ptp(x) > 0 and max(longest_equal_run(x, x.max()), longest_equal_run(x, x.min())) >= run:
        out.append("clipped")
    return out
