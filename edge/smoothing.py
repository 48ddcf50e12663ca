"""Smoothing of the activity decision over recent clean windows (raw and smoothed are both reported)."""

from __future__ import annotations

from collections import deque

import numpy as np


class DecisionSmoother:
    def __init__(self, labels: tuple[str, ...], windows: int = 5) -> None:
        self.labels = labels
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, windows))

    def update(self, probs: np.ndarray | None) -> tuple[str | None, np.ndarray | None]:
        """Add a window's probabilities (None for a flagged window, which adds nothing)."""
        if probs is not None:
            self._recent.append(np.asarray(probs, dtype=np.float64))
        if not self._recent:
            return None, None
        mean = np.mean(self._recent, axis=0)
        return self.labels[int(np.argmax(mean))], mean
