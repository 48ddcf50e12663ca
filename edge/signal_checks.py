"""Is a window's signal usable at all?  Checks on the samples themselves, whatever the device.

The 24-bit rails say nothing about a device whose ADC stops at +/-512
counts, so clipping is found the way it looks: samples pinned at the
window's own extreme.  Cheap front ends (10- and 12-bit ADCs, AD8232-class
boards) pin the tips of the QRS there routinely: a few samples a beat,
shorter than the QRS itself.  Such a window is perfectly usable, so it is
classified and only *noted* ``clipped`` with the share of its samples at a
rail.  What withholds the decision is sustained saturation, ``saturated``:
a run at a rail longer than any QRS tip can be, or a large share of the
window at its rails (an amplifier driven out of range by motion or a lead
coming loose).  A flat line (a second without any change) is a dead or
disconnected lead; NaN or infinite samples are never classified.
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
#: a run at a rail this long is saturation, not clipped tips.  With the rail at 40 % of the R amplitude
#: (the lowest the training covers) a real running window (ecg-motion-artefacts 03_01_beh) stays at the
#: rail up to 0.19 s, its T waves clipped too; an amplifier driven out of range by motion or a loose lead
#: stays there for seconds.
SATURATION_RUN_S = 0.4
#: ... and so is this share of the window at its rails (the same window clipped at 40 % on both sides:
#: 18 %)
SATURATION_SHARE = 0.35
#: a stretch this long without any change is a flat line
FLAT_S = 1.0
#: flags that are notes about a usable window: it is still classified
NOTES = frozenset({"clipped"})


def signal_problems(x: np.ndarray, rate_hz: float) -> list[str]:
    """Flags for a window of samples (any unit, the stream's own rate): "invalid" (NaN or infinite),
    "flat", "saturated" (sustained: withholds the decision), "clipped" (tips at a rail: a note, the
    window is classified); empty when the signal looks usable."""
    return check_signal(x, rate_hz)[0]


def check_signal(x: np.ndarray, rate_hz: float) -> tuple[list[str], float]:
    """``signal_problems``'s flags and the share of samples at a rail (0.0 when not clipped), found in
    one pass (the live path wants both)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        return ["invalid"], 0.0
    out = []
    flat = max(2, int(round(FLAT_S * rate_hz)))
    n = (x.size // flat) * flat
    if n and (np.ptp(x[:n].reshape(-1, flat), axis=1) == 0).any():
        out.append("flat")
    share, run_s = rail_share(x, rate_hz)
    if share:
        out.append(rail_flag(share, run_s))
    return out, share


def rail_flag(share: float, run_s: float) -> str:
    """"saturated" for a long stay or a large share at a rail, else "clipped" (QRS tips: a note)."""
    return "saturated" if run_s >= SATURATION_RUN_S or share >= SATURATION_SHARE else "clipped"


def rail_share(x: np.ndarray, rate_hz: float) -> tuple[float, float]:
    """(share of samples pinned at the window's rails, longest run there in seconds) when the window is
    clipped at all; (0.0, 0.0) when it is not."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not np.ptp(x) > 0:
        return 0.0, 0.0
    run = max(CLIP_RUN_MIN, int(round(CLIP_RUN_S * rate_hz)))
    many = max(CLIP_COUNT_MIN, int(CLIP_SHARE * x.size))
    count, longest = 0, 0
    for v in (x.max(), x.min()):
        at = x == v
        c = int(np.count_nonzero(at))
        if c < min(run, many):
            continue                   # almost always: a window costs two counts
        r = longest_run(at)
        if c >= many or r >= run:
            count += c
            longest = max(longest, r)
    return (count / x.size, longest / rate_hz) if count else (0.0, 0.0)


def withholds(flags: list[str]) -> bool:
    """Whether these flags keep a window from being classified (any flag that is not a note)."""
    return any(f not in NOTES for f in flags)
