"""Classification metrics in plain numpy (accuracy, macro-F1, per-class F1, confusion)."""

from __future__ import annotations

import numpy as np


def confusion(y: np.ndarray, p: np.ndarray, n: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (np.asarray(y, int), np.asarray(p, int)), 1)
    return m


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """F1 per class from a confusion matrix (NaN where a class has no windows and no calls)."""
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def summary(y: np.ndarray, p: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Accuracy, macro-F1 over the classes present, per-class F1 and the confusion matrix."""
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


def _accuracy_and_macro_f1(cm: np.ndarray) -> tuple[float, float]:
    f1 = per_class_f1(cm)
    present = cm.sum(axis=1) > 0
    return float(np.trace(cm) / max(cm.sum(), 1)), float(np.nanmean(f1[present])) if present.any() else float("nan")


def people_interval(y: np.ndarray, pred: np.ndarray, people: np.ndarray, n_classes: int, resamples: int = 2000,
                    level: float = 0.95, seed: int = 0) -> dict:
    """How much the pooled accuracy and macro-F1 depend on which people happened to be recorded: a
    percentile bootstrap over people (draw as many people as there are, with replacement, pool their
    windows, recompute).  With a dozen or two people a LOSO figure moves by several points from one
    sample of people to the next, which a single number hides; seeded, so a rerun gives the same
    interval."""
    y, pred, people = np.asarray(y, int), np.asarray(pred, int), np.asarray(people)
    names = sorted(set(people.tolist()))
    per = np.stack([confusion(y[people == s], pred[people == s], n_classes) for s in names])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(resamples, len(names)))
    stats = np.array([_accuracy_and_macro_f1(per[d].sum(axis=0)) for d in draws])
    lo, hi = 50 * (1 - level), 50 * (1 + level)
    return {"level": level, "resamples": resamples, "people": len(names),
            "accuracy": [float(np.percentile(stats[:, 0], lo)), float(np.percentile(stats[:, 0], hi))],
            "macro_f1": [float(np.nanpercentile(stats[:, 1], lo)), float(np.nanpercentile(stats[:, 1], hi))]}
