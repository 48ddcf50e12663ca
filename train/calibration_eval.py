"""How much personal calibration buys, measured on held-out people (bench, leave-one-subject-out).

For each held-out person: calibrate on the first minutes of each of their
activities (their first recordings: for ecg-motion-artefacts the first
electrode set comes first), test on windows that share no sample with the
calibration data; before = the same test windows with the base model.  And
what a class the wearer left out of the calibration keeps: calibrate on all
but one of their activities (2 minutes each), and count how often the left
out one is still called right, against the base model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..edge.calibration import fit_head

BUDGETS_MIN = (0.5, 1.0, 2.0, 4.0)
LEFT_OUT_BUDGET_MIN = 2.0


def split(sources: np.ndarray, y: np.ndarray, budget_s: float, window_s: float, hop_s: float):
    """(calibration mask, test mask) over one person's windows (in recording order)."""
    cal = np.zeros(y.size, bool)
    test = np.zeros(y.size, bool)
    for c in np.unique(y):
        covered = 0.0
        for src in sorted(set(sources[y == c].tolist())):
            idx = np.flatnonzero((y == c) & (sources == src))       # this recording's windows, in time order
            if covered >= budget_s:
                test[idx] = True
                continue
            need = budget_s - covered
            k = max(1, int(np.ceil((need - window_s) / hop_s)) + 1) if need > window_s else 1
            k = min(k, idx.size)
            cal[idx[:k]] = True
            span = (k - 1) * hop_s + window_s
            covered += span
            first_free = int(np.ceil(span / hop_s))                   # windows that start after the last used sample
            test[idx[first_free:]] = True
    return cal, test


def evaluate(probs: np.ndarray, emb: np.ndarray, y: np.ndarray, sources: np.ndarray, window_s: float,
             hop_s: float) -> dict:
    """Accuracy before and after calibration for each budget (minutes per class), and (``left_out``) how
    each activity left out of a 2-minute calibration fares."""
    out = {}
    for b in BUDGETS_MIN:
        cal, test = split(sources, y, b * 60.0, window_s, hop_s)
        classes = sorted(set(y[cal].tolist()))
        if len(classes) < 2 or not test.any() or set(y[test].tolist()) - set(classes):
            continue                                   # not enough of this person to calibrate and test on
        head = fit_head(emb[cal], y[cal], classes, p_base=probs[cal])
        after = head.apply(probs[test], emb[test]).argmax(1)
        out[f"{b:g}"] = {"test_windows": int(test.sum()), "calibration_windows": int(cal.sum()),
                         "before": float(np.mean(probs[test].argmax(1) == y[test])),
                         "after": float(np.mean(after == y[test]))}
    cal, test = split(sources, y, LEFT_OUT_BUDGET_MIN * 60.0, window_s, hop_s)
    classes = sorted(set(y[cal].tolist()))
    left = {}
    for c in classes if len(classes) >= 3 else []:
        rest = [k for k in classes if k != c]
        m = cal & (y != c)
        head = fit_head(emb[m], y[m], rest, p_base=probs[m])
        t = test & (y == c)
        if t.any():
            left[str(c)] = {"windows": int(t.sum()), "before": float(np.mean(probs[t].argmax(1) == c)),
                            "after": float(np.mean(head.apply(probs[t], emb[t]).argmax(1) == c))}
    if left:
        out["left_out"] = left
    return out


def load_fold_outputs(path: str | Path) -> dict[str, np.ndarray]:
    """A bench's saved fold outputs (``*.folds.npz``), every array decompressed once (an ``NpzFile``
    decompresses an array again at each access)."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def from_fold_outputs(d: dict[str, np.ndarray], window_s: float, hop_s: float) -> dict[str, dict]:
    """``evaluate`` for every held-out person of a bench's saved fold outputs (``load_fold_outputs``): a
    change to calibration is benched in seconds, on the very windows and embeddings of the last full bench."""
    out = {}
    for s in sorted(set(d["subjects"].tolist())):
        m = d["subjects"] == s
        out[s] = evaluate(d["probs"][m].astype(float), d["embeddings"][m].astype(float), d["y"][m].astype(int),
                          d["sources"][m], window_s, hop_s)
    return out
