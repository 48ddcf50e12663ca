"""Classification metrics in plain numpy (accuracy, macro-F1, per-class F1, confusion)."""

from __future__ import annotations

import numpy as np


def confusion(y: np.ndarray, p: np.ndarray, n: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (np.asarray(y, int), np.asarray(p, int)), 1)
    return m


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def summary(y: np.ndarray, p: np.ndarray, labels: tuple[str, ...]) -> dict:
    cm = confusion(y, p, len(labels))
    f1 = per_class_f1(cm)
    present = cm.sum(axis=1) > 0
    return {
        "n": int(len(y)),
        "accuracy": float(np.mean(np.asarray(y) == np.asarray(p))) if len(y) else float("nan"),
        "macro_f1": float(np.nanmean(f1[present])) if present.any() else float("nan"),
        "per_class_f1": {lab: (None if np.isnan(v) else float(v)) for lab, v in zip(labels, f1)},
        "confusion": cm.tolist(),
    }
