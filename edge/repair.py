"""Short gaps in a window, repaired so the window can still be classified.

A lost BLE frame takes 40-560 ms of signal out of a 20 s window.  Blanking
the decision for the whole window because of it (what the first version
did) leaves a 1 %-loss link with almost no decisions.  Instead the missing
samples are bridged by a straight line between their neighbours and the
window carries its missing fraction; training applies the very same repair
to randomly dropped spans, so the model has learnt what a repaired window
looks like.  Only long gaps, lead-off and clipping still flag a window.
"""

from __future__ import annotations

import numpy as np

#: a window is repaired and classified when at most this share of it is missing ...
MAX_MISSING_FRACTION = 0.10
#: ... and no single gap is longer than this (a beat or two)
MAX_GAP_S = 0.6


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a boolean array."""
    m = np.asarray(mask, dtype=np.int8)
    if not m.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], m, [0]))))
    return int((edges[1::2] - edges[0::2]).max())


def repairable(missing: np.ndarray, rate_hz: float) -> bool:
    """Few enough, short enough gaps to bridge."""
    n = missing.size
    if n == 0 or not missing.any():
        return True
    return missing.mean() <= MAX_MISSING_FRACTION and longest_run(missing) <= MAX_GAP_S * rate_hz


def bridge_gaps(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``x`` with the samples under ``missing`` replaced by linear interpolation between the nearest
    real samples (held flat at either end).  Pure: the input is not modified."""
    x = np.asarray(x, dtype=np.float64)
    missing = np.asarray(missing, dtype=bool)
    if not missing.any():
        return x.copy()
    good = np.flatnonzero(~missing)
    if good.size == 0:
        return np.zeros_like(x)
    out = x.copy()
    idx = np.flatnonzero(missing)
    out[idx] = np.interp(idx, good, x[good])
    return out
