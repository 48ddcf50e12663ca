"""The robustness suite: a model's held-out people through what real devices and bodies do.

Each held-out recording is passed through one transform at a time, cut into
the live runner's windows, checked as the edge checks them (a window the
signal checks withhold counts as undecided) and classified.  For each
transform: the share of windows still decided, the share whose decision is
unchanged from the untransformed window's, and, for rest, the share still
called rest.  The transforms are what a field tester's device or body
brings that the training people did not: an ADC's rails at 10 and 12 bits,
a 125 Hz device, real muscle noise and baseline wander from the NSTDB
stretches training never saw (``train/noise.py``), resting hearts slowed to
57, 48 and 40 bpm by lengthened RR intervals and sped up to 1.6x, and
textile-like electrode noise (slow wander and broadband noise).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..bridge.recording import Recording, resample
from ..edge.model_bundle import ModelBundle
from ..edge.preprocess import spectrogram
from ..edge.signal_checks import signal_problems, withholds
from .augment import clip_to_rails, lengthen_rr_recording, stretch_recording

#: heart rates (bpm) held-out rest is slowed to, and the speed-up it is raced to
SLOW_BPM = (57.0, 48.0, 40.0)
FAST_FACTOR = 1.6


def _window_transforms() -> dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]]:
    """Transforms of one window (mV at the model's rate): what a device does to any signal."""
    from .noise import add_noise, available

    out = {
        "clip_10bit": lambda x, r, g: clip_to_rails(x, g, level=0.6, bits=10, sides="both"),
        "clip_12bit": lambda x, r, g: clip_to_rails(x, g, level=0.6, bits=12, sides="both"),
        "rate_125hz": lambda x, r, g: resample(resample(x, r, 125.0), 125.0, r)[:x.size],
        "textile": _textile,
    }
    if available():
        for kind, name in (("ma", "muscle"), ("bw", "wander")):
            for snr in (20.0, 10.0):
                out[f"nstdb_{name}_{snr:g}db"] = (
                    lambda x, r, g, k=kind, s=snr: add_noise(x, r, s, g, part="test", kind=k))
    return out


def _textile(x: np.ndarray, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A dry or textile electrode's look: slow wander up to twice the signal's spread, broadband noise."""
    t = np.arange(x.size) / rate_hz
    spread = float(np.std(x)) or 1.0
    y = x + 2.0 * spread * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 2 * np.pi))
    return y + rng.standard_normal(x.size) * spread * 10 ** (-20 / 20)


def _rest_transforms() -> dict[str, Callable[[Recording], Recording]]:
    """Transforms of a whole rest recording: what a body does (an athlete's slow heart, a racing one)."""
    out = {f"rest_{bpm:g}bpm": (lambda rec, b=bpm: lengthen_rr_recording(rec, b)) for bpm in SLOW_BPM}
    out[f"rest_x{FAST_FACTOR:g}"] = lambda rec: stretch_recording(rec, FAST_FACTOR)
    return out


def _windows(bundle: ModelBundle, x: np.ndarray) -> list[np.ndarray]:
    """The live runner's windows of ``x``."""
    w, hop = bundle.cfg.window_samples, bundle.cfg.hop_samples
    return [x[s:s + w] for s in range(0, x.size - w + 1, hop)]


def _decide(bundle: ModelBundle, wins: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each window checked as the edge checks it and classified: (decided, predicted class or -1)."""
    cfg = bundle.cfg
    decided = np.array([not withholds(signal_problems(v, cfg.rate_hz)) for v in wins], dtype=bool)
    pred = np.full(len(wins), -1)
    if decided.any():
        specs = np.stack([spectrogram(v, cfg.rate_hz, cfg) for v, d in zip(wins, decided) if d])
        pred[decided] = bundle.predict_batch(specs).argmax(axis=1)
    return decided, pred


def robustness(bundle: ModelBundle, recordings: list[Recording], seed: int = 0) -> dict:
    """The suite over ``recordings`` (held-out people, at the model's rate): per transform the windows,
    the share decided, the share unchanged and (where there is rest) the share of rest still rest."""
    labels = list(bundle.labels)
    rest = labels.index("rest") if "rest" in labels else None
    rng = np.random.default_rng(seed)
    rows: dict[str, dict] = {}

    def add(name, n, decided, unchanged, rest_n=0, rest_ok=0):
        r = rows.setdefault(name, {"windows": 0, "decided": 0, "unchanged": 0, "rest_windows": 0, "rest_kept": 0})
        r["windows"] += n
        r["decided"] += int(decided)
        r["unchanged"] += int(unchanged)
        r["rest_windows"] += rest_n
        r["rest_kept"] += rest_ok

    wt, rt = _window_transforms(), _rest_transforms()
    for rec in recordings:
        lab = rec.segments[0][2] if rec.segments else None
        if lab not in labels:
            continue
        x = rec.millivolts()
        wins = _windows(bundle, x)
        dec0, ref = _decide(bundle, wins)
        is_rest = lab == "rest"
        add("as recorded", len(wins), dec0.sum(), dec0.sum(), len(wins) if is_rest else 0,
            int((ref == rest).sum()) if is_rest else 0)
        for name, f in wt.items():
            dec, pred = _decide(bundle, [f(v, bundle.cfg.rate_hz, rng) for v in wins])
            add(name, len(wins), dec.sum(), ((pred == ref) & dec & dec0).sum(), len(wins) if is_rest else 0,
                int((pred == rest).sum()) if is_rest else 0)
        if is_rest:
            for name, f in rt.items():
                dec, pred = _decide(bundle, _windows(bundle, f(rec).millivolts()))
                add(name, len(pred), dec.sum(), (pred == rest).sum(), len(pred), int((pred == rest).sum()))
    out = {}
    for name, r in rows.items():
        n = max(1, r["windows"])
        out[name] = {"windows": r["windows"], "decided": r["decided"] / n, "unchanged": r["unchanged"] / n,
                     "rest_windows": r["rest_windows"],
                     "rest_kept": r["rest_kept"] / r["rest_windows"] if r["rest_windows"] else None}
    return out


def held_out_robustness(bundle: ModelBundle, seed: int = 0) -> dict | None:
    """The suite on the model's own held-out people (its metadata names them), from the datasets here;
    None when none is named or none is present."""
    from . import datasets

    hold = set(bundle.meta.training.get("holdout_subjects") or [])
    if not hold:
        return None
    names = sorted({datasets.dataset_of(s) for s in hold} & set(datasets.available()))
    recs = datasets.load(names, bundle.cfg.rate_hz, subjects=hold)
    if not recs:
        return None
    return {"subjects": sorted(hold), "seed": seed, "transforms": robustness(bundle, recs, seed)}
