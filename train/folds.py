"""One evaluation fold: train the recipe without some people (or a whole dataset), test on them,
float and int8.  Folds run in parallel worker processes (``bench --jobs``) that share the cached
windows through a memory map."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import datasets


@dataclass
class Fold:
    """One train/test split; a person is always wholly on one side."""

    name: str                        # the held-out subject, or "dataset:wrist"
    test_subjects: list[str]
    train_subjects: list[str]


@dataclass
class FoldResult:
    """A fold's test windows: labels, float and int8 decisions and probabilities, people, recordings, the classes
    its training could teach, epochs, and extras (embeddings)."""

    name: str
    subjects: list[str]              # each test window's subject
    sources: list[str]
    y: list[int]
    float_pred: list[int]
    int8_pred: list[int]
    probs: list[list[float]]         # int8 probabilities (for calibration studies and the card)
    trained_classes: list[bool]      # classes the training data could teach
    epochs: list[int]                # per member, as early stopping chose
    seconds: float
    extra: dict = field(default_factory=dict)


def inner_validation(subjects: list[str], share: float, seed: int) -> list[str]:
    """Training subjects held back to tell early stopping when to stop: a fixed, seeded pick."""
    if share <= 0 or len(subjects) < 4:
        return []
    order = sorted(subjects, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return sorted(order[:max(1, int(round(share * len(subjects))))])


def trained_classes(recipe, train_subjects: list[str]) -> np.ndarray:
    """Which of the recipe's classes the training people's datasets can show at all."""
    ds = {datasets.dataset_of(s) for s in train_subjects}
    return np.array([any(lab in datasets.labels_of(d) for d in ds)
                     for lab in recipe.labels])


def train_on(cw, recipe, train_subjects: list[str], seed: int = 0, verbose: int = 0):
    """The recipe's model trained on ``train_subjects`` (early stopping on a few of them): (model, history)."""
    from .model import fit

    val_subj = inner_validation(train_subjects, recipe.inner_val, recipe.seed + seed)
    fit_subj = [s for s in train_subjects if s not in val_subj]
    tr = np.isin(cw.train.subjects, fit_subj)
    ws = cw.train.subset(tr)
    va = np.isin(cw.eval.subjects, val_subj)
    vws = cw.eval.subset(va)
    validation = (np.asarray(vws.x), vws.y, vws.allowed if recipe.mask_absent else None) if va.any() else None
    return fit(np.asarray(ws.x), ws.y, len(recipe.labels), recipe.max_epochs, recipe.seed + seed,
               validation=validation, verbose=verbose, spec=recipe.spec,
               allowed=ws.allowed if recipe.mask_absent else None, groups=ws.datasets,
               patience=recipe.patience if validation is not None else 0, min_epochs=recipe.min_epochs)


def run_fold(cache_path: str, recipe_dict: dict, fold: Fold, threads: int = 0) -> FoldResult:
    """Worker entry point (a fresh process: TensorFlow is imported here, not in the parent)."""
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
    from .cache import load_cached
    from .calibration_eval import evaluate as calibration_eval
    from .evaluate import int8_embed
    from .model import predict_float
    from .quantize import to_int8
    from .recipe import Recipe

    t0 = time.time()
    recipe = Recipe.from_dict(recipe_dict)
    cw = load_cached(cache_path)
    model, hist = train_on(cw, recipe, fold.train_subjects)
    test = cw.eval.subset(np.isin(cw.eval.subjects, fold.test_subjects))
    can = trained_classes(recipe, fold.train_subjects)
    pf = predict_float(model, np.asarray(test.x))
    rep = np.asarray(cw.train.x[(cw.copy == 0) & np.isin(cw.train.subjects, fold.train_subjects)])
    pq, emb = int8_embed(to_int8(model, rep, seed=recipe.seed, embedding=True), np.asarray(test.x))
    extra = {"embeddings": np.asarray(emb, np.float32)}
    if len(fold.test_subjects) == 1 and len(pq):
        extra["calibration"] = calibration_eval(np.asarray(pq, float), np.asarray(emb, float), test.y,
                                                test.sources, recipe.preprocess.window_s, recipe.preprocess.hop_s)

    def pick(p):
        p = np.array(p, dtype=float)
        if len(p):
            p[:, ~can] = -1.0                  # a class no training dataset showed cannot be the answer
        return p.argmax(1).tolist() if len(p) else []
    best = hist["best_epoch"]
    return FoldResult(fold.name, test.subjects.tolist(), test.sources.tolist(), test.y.tolist(), pick(pf), pick(pq),
                      np.round(np.asarray(pq, float), 4).tolist(), can.tolist(),
                      best if isinstance(best, list) else [best], time.time() - t0, extra)


def run_folds(cache_path: str, recipe, folds: list[Fold], jobs: int = 1,
              progress: Callable[[str], None] | None = None) -> list[FoldResult]:
    """All folds, ``jobs`` at a time, with progress and an estimate of the time left."""
    import multiprocessing as mp

    cores = os.cpu_count() or 1
    threads = max(1, cores // max(1, jobs))
    t0 = time.time()
    out: dict[str, FoldResult] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
        futs = {ex.submit(run_fold, str(cache_path), recipe.to_dict(), f, threads): f for f in folds}
        for fut in as_completed(futs):
            r = fut.result()
            out[r.name] = r
            if progress:
                done = len(out)
                eta = (time.time() - t0) / done * (len(folds) - done)
                acc_f = np.mean(np.array(r.float_pred) == np.array(r.y)) if r.y else float("nan")
                acc_q = np.mean(np.array(r.int8_pred) == np.array(r.y)) if r.y else float("nan")
                progress(f"fold {done}/{len(folds)} ({r.name}): float {acc_f:.3f}, int8 {acc_q:.3f}, "
                         f"epochs {r.epochs}, {r.seconds:.0f} s; about {eta / 60:.0f} min left")
    return [out[f.name] for f in folds]
