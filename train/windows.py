"""Datasets -> labelled spectrogram windows (with subject ids for subject-independent splits)."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bridge.recording import Recording
from ..edge.preprocess import PreprocessConfig, offline_windows, spectrogram

from . import datasets
from .augment import NONE, DeviceAugment, augment_window, lengthen_rr_recording, stretch_recording



@dataclass
class WindowSet:
    """Labelled spectrogram windows with each window's person and recording, so folds never split a person."""

    x: np.ndarray                 # (n, freqs, frames) float32
    y: np.ndarray                 # (n,) int class index
    subjects: np.ndarray          # (n,) str
    sources: np.ndarray           # (n,) str: file each window came from
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.x[mask], self.y[mask], self.subjects[mask], self.sources[mask], self.labels)

    @property
    def datasets(self) -> np.ndarray:
        return np.array([datasets.dataset_of(s) for s in self.subjects])

    @property
    def allowed(self) -> np.ndarray:
        """(n, classes) bool: the classes each window's dataset can show at all."""
        known = {d: np.array([lab in datasets.labels_of(d) for lab in self.labels])
                 for d in set(self.datasets.tolist())}
        return np.stack([known[d] for d in self.datasets]) if len(self) else np.zeros((0, len(self.labels)), bool)


def _empty(labels: tuple[str, ...], cfg: PreprocessConfig) -> WindowSet:
    return WindowSet(np.empty((0, *cfg.shape), np.float32), np.empty(0, int), np.empty(0, str), np.empty(0, str),
                     labels)


def windows_from_recordings(recs: list[Recording], labels: tuple[str, ...], cfg: PreprocessConfig) -> WindowSet:
    """Every labelled window of ``recs`` as spectrograms (offline, the edge's own preprocessing)."""
    xs, ys, subs, srcs = [], [], [], []
    for rec in recs:
        for a, b, lab in rec.segments:
            if lab not in labels:
                continue
            _, spec = offline_windows(rec.counts[a:b], rec.rate_hz, cfg)
            if not len(spec):
                continue
            xs.append(spec)
            ys += [labels.index(lab)] * len(spec)
            subs += [rec.subject] * len(spec)
            srcs += [rec.source] * len(spec)
    if not xs:
        return _empty(labels, cfg)
    return WindowSet(np.concatenate(xs), np.array(ys), np.array(subs), np.array(srcs), labels)


def _augmented_recording(args) -> tuple[np.ndarray, list[int]]:
    """Worker: every window of one labelled span of one recording, through one random device."""
    x, rate_hz, lab_idx, cfg, aug, seed, hop_s = args
    rng = np.random.default_rng(seed)
    w = int(round(cfg.window_s * rate_hz))
    hop = int(round(hop_s * rate_hz))
    # a random phase, so copies do not all start on the same sample
    first = int(rng.integers(0, hop)) if aug.active else 0
    starts = np.arange(first, x.size - w + 1, hop)
    if not starts.size:
        return np.empty((0, *cfg.shape), np.float32), []
    out = np.stack([spectrogram(augment_window(x[s:s + w], rate_hz, aug, rng) if aug.active else x[s:s + w],
                                rate_hz, cfg) for s in starts])
    return out, [lab_idx] * len(starts)


def augmented_windows(recs: list[Recording], labels: tuple[str, ...], cfg: PreprocessConfig,
                      aug: DeviceAugment = NONE, copies: int = 1, seed: int = 0, hop_s: float | None = None,
                      jobs: int | None = None, first_copy: int = 0) -> WindowSet:
    """Windows of ``recs``, ``copies`` times: copy 0 as recorded, every further copy through a fresh
    random device (and, with ``aug.stretch``, a recording stretched in time).  Reproducible: the
    randomness is keyed on (seed, copy, recording)."""
    hop_s = hop_s or cfg.hop_s
    tasks, meta = [], []
    for c in range(first_copy, first_copy + copies):
        a = NONE if c == 0 else aug
        for r, rec in enumerate(recs):
            rng = np.random.default_rng([seed, c, r])
            if c and aug.stretch:
                rec = stretch_recording(rec, float(rng.uniform(1 - aug.stretch, 1 + aug.stretch)))
            at_rest = all(lab == "rest" for _, _, lab in rec.segments)
            if c and at_rest and aug.rest_slow_bpm and c % 3 == 1:     # copies 1, 4, ...: slow; the others fast
                rec = lengthen_rr_recording(rec, float(rng.uniform(aug.rest_slow_bpm, 75.0)))
            elif c and at_rest and aug.rest_speedup:
                rec = stretch_recording(rec, float(rng.uniform(1.0, 1.0 + aug.rest_speedup)))
            for a_, b_, lab in rec.segments:
                if lab not in labels:
                    continue
                x = rec.counts[a_:b_].astype(np.float64) * (rec.mv_per_count or 1.0)
                tasks.append((x, rec.rate_hz, labels.index(lab), cfg, a, [seed, c, r, a_], hop_s))
                meta.append((rec.subject, rec.source))
    jobs = jobs or min(2, os.cpu_count() or 1)
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(_augmented_recording, tasks, chunksize=4))
    else:
        results = [_augmented_recording(t) for t in tasks]
    xs, ys, subs, srcs = [], [], [], []
    for (spec, y), (subj, src) in zip(results, meta):
        if not len(y):
            continue
        xs.append(spec)
        ys += y
        subs += [subj] * len(y)
        srcs += [src] * len(y)
    if not xs:
        return _empty(labels, cfg)
    return WindowSet(np.concatenate(xs), np.array(ys), np.array(subs), np.array(srcs), labels)
