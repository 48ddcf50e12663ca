"""Datasets -> labelled spectrogram windows (with subject ids for subject-independent splits)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bridge.recording import Recording
from ..edge.preprocess import PreprocessConfig, offline_windows

from . import datasets

TASKS = {
    "activity5": ("rest", "arms", "walk", "run", "squats"),
    "rest_run": ("rest", "run"),
}


@dataclass
class WindowSet:
    x: np.ndarray                 # (n, freqs, frames) float32
    y: np.ndarray                 # (n,) int class index
    subjects: np.ndarray          # (n,) str
    sources: np.ndarray           # (n,) str: file each window came from
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.x[mask], self.y[mask], self.subjects[mask], self.sources[mask], self.labels)


def windows_from_recordings(recs: list[Recording], labels: tuple[str, ...], cfg: PreprocessConfig) -> WindowSet:
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
        return WindowSet(np.empty((0, *cfg.shape), np.float32), np.empty(0, int), np.empty(0, str),
                         np.empty(0, str), labels)
    return WindowSet(np.concatenate(xs), np.array(ys), np.array(subs), np.array(srcs), labels)


def motion_windows(task: str, cfg: PreprocessConfig, root: Path | None = None,
                   subjects: set[str] | None = None) -> WindowSet:
    labels = TASKS[task]
    recs = []
    for p in datasets.motion_files(root):
        subj, _, act = datasets.motion_file_info(p)
        if act not in labels or (subjects and subj not in subjects):
            continue
        recs.append(datasets.load_motion_file(p, cfg.rate_hz))
    return windows_from_recordings(recs, labels, cfg)
