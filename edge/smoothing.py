"""Smoothing of the activity decision over recent clean windows (raw and smoothed are both reported)."""

from __future__ import annotations

from collections import deque

import numpy as np


class DecisionSmoother:
    """The average of the last few clean windows' probabilities: the steadier decision the live view shows
    next to each window's own."""

    def __init__(self, labels: tuple[str, ...], windows: int = 5) -> None:
        self.labels = labels
        self.horizon = max(1, windows)
        self._recent: deque[np.ndarray] = deque(maxlen=self.horizon)
        self._flagged_run = 0

    def update(self, probs: np.ndarray | None) -> tuple[str | None, np.ndarray | None]:
        """Add a window's probabilities.  A flagged window (None) adds nothing; as many flagged
        windows in a row as the horizon forget the past, so the smoothed decision goes blank
        rather than repeating what was true before the trouble."""
        if probs is None:
            self._flagged_run += 1
            if self._flagged_run >= self.horizon:
                self._recent.clear()
        else:
            self._flagged_run = 0
            self._recent.append(np.asarray(probs, dtype=np.float64))
        if not self._recent:
            return None, None
        mean = np.mean(self._recent, axis=0)
        return self.labels[int(np.argmax(mean))], mean
