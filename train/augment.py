"""Device augmentation: randomise what differs between sensors, placements and links, not what differs
between activities.

A field tester's sensor samples at its own rate (100-500 Hz), band-limits with
its own filter (consumer chest straps: about 0.5-40 Hz), picks up its own
baseline wander, broadband and mains noise, and its link loses frames.  Each
training window is passed through a random such device, in the order a real
one applies them: body signal + wander + noise + mains -> the device's filter
-> its sampling rate -> lost frames, bridged by the same repair the edge runs.

Gain and polarity are not augmented: the preprocessing is invariant to both by
construction (log power spectra, standardised per window), and a test checks
it, so randomising them would buy nothing.  Heart rate and cadence are varied
together by stretching whole recordings in time (``stretch_recording``), and
rest is also shown at heart rates up to ``1 + rest_speedup`` times its own:
a still body after exercise, or a nervous sitter, is resting whatever the
heart does, so the motion in the signal, not the beat rate, has to decide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

from ..bridge.recording import Recording, resample
from ..edge.repair import bridge_gaps

DEVICE_RATES_HZ = (100.0, 125.0, 128.0, 130.0, 200.0, 250.0, 256.0, 360.0, 500.0)


@dataclass(frozen=True)
class DeviceAugment:
    """Probability that a window meets each kind of device difference (0 = never)."""

    rate: float = 0.5            # resampled through a device rate from DEVICE_RATES_HZ
    band: float = 0.5            # a device filter: high-pass 0.05-1 Hz and/or low-pass 25-45 Hz
    wander: float = 0.3          # baseline wander: slow sinusoids up to 2x the signal's spread
    noise: float = 0.3           # broadband noise at 12-35 dB SNR
    mains: float = 0.2           # 50 or 60 Hz pick-up
    dropouts: float = 0.3        # up to 5 % of the window lost in frame-sized spans, then bridged
    stretch: float = 0.0         # recordings stretched in time by up to +/- stretch (e.g. 0.1)
    rest_speedup: float = 0.0    # rest recordings played up to 1 + this faster: rest at a racing heart
    rest_slow_bpm: float = 0.0   # augmented rest copies 1, 4, ... have their RR intervals lengthened to a heart
                                 # rate between this and 75 bpm (0 = never): rest of an athlete's slow heart
    clip: float = 0.0            # an ADC's rails: QRS tips clipped at 40-100 % of the R amplitude, 10-24 bits
    nstdb: float = 0.0           # real muscle or baseline noise (NSTDB, its training part) at 6-24 dB SNR

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "DeviceAugment":
        d = d or {}
        return cls(**{k: float(d[k]) for k in cls.__dataclass_fields__ if k in d})

    @property
    def active(self) -> bool:
        return any(v > 0 for v in asdict(self).values())


NONE = DeviceAugment(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


@lru_cache(maxsize=256)
def _sos(kind: str, fc: float, rate_hz: float, order: int) -> np.ndarray:
    return butter(order, fc, btype=kind, fs=rate_hz, output="sos")


def augment_window(x: np.ndarray, rate_hz: float, aug: DeviceAugment, rng: np.random.Generator) -> np.ndarray:
    """One random device applied to a window of ECG (any unit) at ``rate_hz``; same length out."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    n = x.size
    spread = float(np.std(x)) or 1.0
    t = np.arange(n) / rate_hz
    if rng.random() < aug.wander:
        for _ in range(int(rng.integers(1, 4))):
            f = rng.uniform(0.05, 0.5)
            x = x + rng.uniform(0.2, 2.0) * spread * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    if rng.random() < aug.noise:
        snr_db = rng.uniform(12.0, 35.0)
        x = x + rng.standard_normal(n) * spread * 10 ** (-snr_db / 20)
    if rng.random() < aug.nstdb:
        from .noise import add_noise

        x = add_noise(x, rate_hz, rng.uniform(6.0, 24.0), rng)
    if rng.random() < aug.mains:
        f = 50.0 if rng.random() < 0.5 else 60.0
        if f < rate_hz / 2:
            x = x + rng.uniform(0.05, 0.5) * spread * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    if rng.random() < aug.band:
        if rng.random() < 0.7:
            x = sosfilt(_sos("highpass", round(rng.uniform(0.05, 1.0), 2), rate_hz, 2), x)
        if rng.random() < 0.7:
            x = sosfilt(_sos("lowpass", round(rng.uniform(25.0, 45.0)), rate_hz, 4), x)
    if rng.random() < aug.clip:
        x = clip_to_rails(x, rng)
    if rng.random() < aug.rate:
        r = float(rng.choice(DEVICE_RATES_HZ))
        if r != rate_hz:
            x = resample(resample(x, rate_hz, r), r, rate_hz)[:n]
            if x.size < n:
                x = np.pad(x, (0, n - x.size), mode="edge")
    if rng.random() < aug.dropouts:
        x = bridge_gaps(x, random_dropouts(n, rate_hz, rng))
    return x


def random_dropouts(n: int, rate_hz: float, rng: np.random.Generator, max_fraction: float = 0.05) -> np.ndarray:
    """A mask of lost samples: frame-sized spans (40-560 ms, like BLE and serial frames), up to
    ``max_fraction`` of the window."""
    missing = np.zeros(n, dtype=bool)
    target = rng.uniform(0.002, max_fraction) * n
    while missing.sum() < target:
        span = int(rng.uniform(0.04, 0.56) * rate_hz)
        start = int(rng.integers(0, max(1, n - span)))
        missing[start:start + span] = True
    return missing


def stretch_recording(rec: Recording, factor: float) -> Recording:
    """The recording played ``factor`` times faster: heart rate and step cadence both scale by it
    (people walk, run and beat at their own pace); labels keep their place in time."""
    if factor == 1.0:
        return rec
    y = resample(rec.counts.astype(np.float64), rec.rate_hz * factor, rec.rate_hz)
    k = y.size / max(1, rec.counts.size)
    segs = [(int(round(a * k)), int(round(b * k)), lab) for a, b, lab in rec.segments]
    return Recording(np.round(y).astype(np.int32), rec.rate_hz, rec.mv_per_count, segs, rec.source, rec.subject)


def clip_to_rails(x: np.ndarray, rng: np.random.Generator, level: float | None = None, bits: int | None = None,
                  sides: str | None = None) -> np.ndarray:
    """``x`` through a cheap front end whose ADC range does not hold the whole QRS: the R tips (``"top"``),
    the S troughs (``"bottom"``) or both pinned at a rail placed at ``level`` (40-100 %) of the R (or S)
    amplitude (from the window's median to its extreme sample), the rest quantized to ``bits`` (10-24)
    across that range."""
    med = float(np.median(x))
    level = rng.uniform(0.4, 1.0) if level is None else level
    bits = int(rng.integers(10, 25)) if bits is None else bits
    sides = sides or str(rng.choice(("top", "bottom", "both")))
    top, bottom = float(x.max()), float(x.min())
    hi = med + level * (float(top) - med) if sides in ("top", "both") else float(x.max())
    lo = med - level * (med - float(bottom)) if sides in ("bottom", "both") else float(x.min())
    if hi <= lo:
        return x
    # the rails sit where the ADC's range ends: the clipped side at the rail, the other side inside it
    span = hi - lo
    step = span / (2 ** bits - 1)
    y = np.clip(x, lo, hi)
    return lo + np.round((y - lo) / step) * step


def lengthen_rr(x: np.ndarray, rate_hz: float, factor: float, peaks: np.ndarray | None = None) -> np.ndarray:
    """``x`` with every RR interval ``factor`` (>= 1) times longer, beat shapes unchanged: a stretch of the
    isoelectric T-P segment before each next beat is repeated, mirrored so that every joint is continuous
    (and its noise keeps its spectrum).  A resting heart of 71 bpm becomes one of 71 / ``factor``."""
    if factor <= 1.0:
        return np.asarray(x, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if peaks is None:
        from ..edge.heart_rate import heart_rate

        peaks = heart_rate(x, rate_hz).peaks
    peaks = np.asarray(peaks, dtype=np.intp)
    if peaks.size < 2:
        return x
    parts, last = [], 0
    for a, b in zip(peaks[:-1], peaks[1:]):
        rr = int(b - a)
        extra = int(round((factor - 1.0) * rr))
        end = int(a + round(0.72 * rr))             # after the T wave, before the next P wave
        seg_max = max(2, int(0.12 * rr))
        if extra < 1 or end - seg_max <= a or rr > 2.0 * rate_hz:   # > 2 s: beats missed, not an interval
            continue
        k = int(np.ceil(extra / (2 * seg_max)))      # pairs of (mirrored, forward) copies
        seg_len = max(1, int(round(extra / (2 * k))))  # whole pairs: each joint repeats a sample
        seg = x[end - seg_len:end]
        fill = np.tile(np.concatenate((seg[::-1], seg)), k)
        parts += [x[last:end], fill]
        last = end
    parts.append(x[last:])
    return np.concatenate(parts)


def lengthen_rr_recording(rec: Recording, target_bpm: float) -> Recording:
    """A (rest) recording with its RR intervals lengthened so its median heart rate becomes
    ``target_bpm`` (never shortened); labels spread over the longer recording."""
    from ..edge.heart_rate import heart_rate

    x = rec.counts.astype(np.float64)
    peaks = heart_rate(x, rec.rate_hz).peaks
    if peaks.size < 3:
        return rec
    bpm = 60.0 * rec.rate_hz / float(np.median(np.diff(peaks)))
    if bpm <= target_bpm:
        return rec
    y = lengthen_rr(x, rec.rate_hz, bpm / target_bpm, peaks)
    k = y.size / max(1, x.size)
    segs = [(int(round(a * k)), int(round(b * k)), lab) for a, b, lab in rec.segments]
    return Recording(np.round(y).astype(np.int32), rec.rate_hz, rec.mv_per_count, segs, rec.source, rec.subject)
