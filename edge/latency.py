"""What a window costs on this machine, both ways it is paid for: as a live stream pays it (each
spectrogram frame computed once) and computed whole.  The model cards and ``bench`` print these; the
benchmark scripts (``ecg_activity/benchmarks/``) call them too."""

from __future__ import annotations

import time

import numpy as np

from ..bridge.recording import load_demo_excerpt
from .model_bundle import ModelBundle
from .preprocess import FrameCache, spectrogram


def window_latency(bundle: ModelBundle, windows) -> tuple[float, float]:
    """Median (preprocess ms, int8 invoke ms) over ``windows`` (raw samples at the model rate), each
    computed whole (what a window at another rate, or repaired over a gap, costs)."""
    pre, inv = [], []
    for w in windows:
        t0 = time.perf_counter()
        s = spectrogram(w, bundle.cfg.rate_hz, bundle.cfg)
        t1 = time.perf_counter()
        bundle.predict(s)
        inv.append(time.perf_counter() - t1)
        pre.append(t1 - t0)
    return float(np.median(pre) * 1e3), float(np.median(inv) * 1e3)


def streaming_latency(bundle: ModelBundle, x: np.ndarray, runs: int = 500) -> tuple[float, float]:
    """Median (preprocess ms, int8 invoke ms) per window as a live stream pays it: one window per hop,
    each STFT frame computed once (``FrameCache``) when the model's preprocessing allows it."""
    cfg = bundle.cfg
    if not cfg.frame_local:
        n = cfg.window_samples
        return window_latency(bundle, (x[(i * 97) % (x.size - n):][:n] for i in range(runs)))
    frames = FrameCache(cfg)
    n, hop = cfg.window_samples, cfg.hop_samples
    warm = max(50, runs // 5)          # not timed: a fresh process's first windows run slower (allocations, caches)
    reps = int(np.ceil(((runs + warm) * hop + n) / x.size))
    x = np.tile(x, reps)
    for i in range(warm):
        bundle.predict(frames.spectrogram(x[i * hop:i * hop + n], i * hop))
    pre, inv = [], []
    for i in range(warm, warm + runs):
        s0 = i * hop
        t0 = time.perf_counter()
        s = frames.spectrogram(x[s0:s0 + n], s0)
        t1 = time.perf_counter()
        bundle.predict(s)
        inv.append(time.perf_counter() - t1)
        pre.append(t1 - t0)
    return float(np.median(pre) * 1e3), float(np.median(inv) * 1e3)


def per_window(bundle: ModelBundle, runs: int = 500) -> tuple[float, float]:
    """(preprocess ms, invoke ms) per window over the demo excerpt, as a live stream pays them."""
    return streaming_latency(bundle, load_demo_excerpt().millivolts(), runs)
