"""Subject-independent evaluation: leave-one-subject-out, float and int8 side by side."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from . import metrics
from .windows import WindowSet


def int8_predict(tflite: bytes, x: np.ndarray, backend: str = "auto") -> np.ndarray:
    """Probabilities from a full-int8 model, window by window as the edge runs it."""
    from ..edge.backends import interpreter_class
    from ..edge.model_bundle import invoke_int8

    Interpreter, _ = interpreter_class(backend)
    it = Interpreter(model_content=tflite, num_threads=1)
    it.allocate_tensors()
    return np.stack([invoke_int8(it, w) for w in x]) if len(x) else np.empty((0, 0), np.float32)


def loso(ws: WindowSet, epochs: int, seed: int = 0, quantize: bool = True,
         progress: Callable[[str], None] | None = None, spec=None) -> dict:
    from .model import ModelSpec, fit, predict_float
    from .quantize import to_int8

    spec = spec or ModelSpec()
    subjects = sorted(set(ws.subjects.tolist()))
    n = len(ws.labels)
    yp_f = np.full(len(ws), -1)
    yp_q = np.full(len(ws), -1)
    folds = []
    t0 = time.time()
    for k, s in enumerate(subjects):
        test = ws.subjects == s
        model, hist = fit(ws.x[~test], ws.y[~test], n, epochs, seed, spec=spec)
        yp_f[test] = predict_float(model, ws.x[test]).argmax(1)
        fold = {"subject": s, "n": int(test.sum()),
                "float_accuracy": float(np.mean(yp_f[test] == ws.y[test])),
                "final_train_loss": float(hist["loss"][-1])}
        if quantize:
            yp_q[test] = int8_predict(to_int8(model, ws.x[~test], seed=seed), ws.x[test]).argmax(1)
            fold["int8_accuracy"] = float(np.mean(yp_q[test] == ws.y[test]))
            fold["agreement"] = float(np.mean(yp_q[test] == yp_f[test]))
        # per recording: which electrode type or activity a failing subject fails on
        fold["per_source"] = {src: {"n": int(m.sum()), "float_accuracy": float(np.mean(yp_f[test][m] == ws.y[test][m])),
                                    **({"int8_accuracy": float(np.mean(yp_q[test][m] == ws.y[test][m]))}
                                       if quantize else {})}
                              for src in sorted(set(ws.sources[test].tolist()))
                              for m in [ws.sources[test] == src]}
        folds.append(fold)
        if progress:
            progress(f"fold {k + 1}/{len(subjects)} ({s}): float {fold['float_accuracy']:.3f}"
                     + (f", int8 {fold['int8_accuracy']:.3f}" if quantize else ""))
    out = {
        "protocol": "leave-one-subject-out",
        "subjects": subjects,
        "labels": list(ws.labels),
        "epochs": epochs,
        "seed": seed,
        **spec.to_dict(),
        "windows": len(ws),
        "folds": folds,
        "float": metrics.summary(ws.y, yp_f, ws.labels),
        "wall_time_s": time.time() - t0,
    }
    accs = np.array([f["float_accuracy"] for f in folds])
    out["float"]["per_fold"] = {"mean": float(accs.mean()), "std": float(accs.std()), "min": float(accs.min()),
                                "max": float(accs.max())}
    if quantize:
        out["int8"] = metrics.summary(ws.y, yp_q, ws.labels)
        qa = np.array([f["int8_accuracy"] for f in folds])
        out["int8"]["per_fold"] = {"mean": float(qa.mean()), "std": float(qa.std()), "min": float(qa.min()),
                                   "max": float(qa.max())}
        out["agreement"] = float(np.mean(yp_q == yp_f))
    return out


def leaky_random_split(ws: WindowSet, epochs: int, seed: int = 0, test_share: float = 0.2,
                       spec=None) -> dict:
    """The notebook's protocol, for comparison only: the same people in train and test."""
    from .model import ModelSpec, fit, predict_float

    rng = np.random.default_rng(seed)
    test = rng.random(len(ws)) < test_share
    model, _ = fit(ws.x[~test], ws.y[~test], len(ws.labels), epochs, seed, spec=spec or ModelSpec())
    p = predict_float(model, ws.x[test]).argmax(1)
    return {"protocol": "random window split (LEAKY: same subjects in train and test)",
            **metrics.summary(ws.y[test], p, ws.labels)}
