"""Every dataset preprocessed once: windows cached on disk, keyed by the recipe and the data's hashes.

A bench of 17 folds needs the same spectrograms 17 times; computing them
(and their augmented copies) is minutes, loading them is a second.  The key
covers everything that decides their values (preprocessing, augmentation,
copies, hop, seed, label set and the SHA-256 of every input file), so a
changed file or parameter never reuses stale windows.  The arrays are
memory-mapped, which also lets parallel fold workers share them for free.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import datasets
from .augment import NONE
from .windows import WindowSet, augmented_windows

CACHE_VERSION = 1


def cache_dir() -> Path:
    """Where preprocessed windows are cached (``ECG_ACTIVITY_CACHE`` or the XDG cache)."""
    base = os.environ.get("ECG_ACTIVITY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "ecg-activity")
    return Path(base) / "windows"


def data_hash(names: list[str], captures: str | None = None) -> str:
    """A hash of the input files' names and contents: a cache entry is used only for the very same data."""
    h = hashlib.sha256()
    for p in datasets.input_files(names, captures=captures):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


@dataclass
class CachedWindows:
    """The training windows (copies, train hop) and the evaluation windows (as recorded, 1 s hop)."""

    train: WindowSet
    copy: np.ndarray            # which copy each training window is (0 = as recorded)
    eval: WindowSet
    path: Path


def _save(path: Path, train: WindowSet, copy: np.ndarray, ev: WindowSet) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x=train.x, y=train.y, subjects=train.subjects, sources=train.sources, copy=copy,
             ex=ev.x, ey=ev.y, esubjects=ev.subjects, esources=ev.sources, labels=np.array(train.labels))
    os.replace(tmp, path)


def load_cached(path: Path) -> CachedWindows:
    """A cache entry, memory-mapped: training and evaluation windows without preprocessing again."""
    z = np.load(path, mmap_mode="r", allow_pickle=False)
    labels = tuple(str(v) for v in z["labels"])
    train = WindowSet(z["x"], np.asarray(z["y"]), np.asarray(z["subjects"]), np.asarray(z["sources"]), labels)
    ev = WindowSet(z["ex"], np.asarray(z["ey"]), np.asarray(z["esubjects"]), np.asarray(z["esources"]), labels)
    return CachedWindows(train, np.asarray(z["copy"]), ev, path)


def windows_for(recipe, progress=None, subjects: set[str] | None = None, captures: str | None = None) -> CachedWindows:
    """The recipe's windows, from the cache or computed (and cached) now."""
    names = [n for n in recipe.datasets if n in datasets.available() or n == "capture"]
    key = json.dumps({"v": CACHE_VERSION, "labels": recipe.labels, "datasets": names,
                      "preprocess": recipe.preprocess.to_dict(), "augment": recipe.augment.to_dict(),
                      "copies": recipe.copies, "hop": recipe.train_hop_s, "seed": recipe.seed,
                      "subjects": sorted(subjects) if subjects else None, "data": data_hash(names, captures)},
                     sort_keys=True)
    path = cache_dir() / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".npz")
    if path.is_file():
        if progress:
            progress(f"windows from the cache {path}")
        return load_cached(path)
    if progress:
        progress(f"preprocessing {', '.join(names)} once ({recipe.copies} copies; cached in {path.parent})")
    recs = datasets.load(names, recipe.preprocess.rate_hz, captures=captures)
    if subjects:
        recs = [r for r in recs if r.subject in subjects]
    parts = [augmented_windows(recs, recipe.labels, recipe.preprocess, recipe.augment, copies=1, seed=recipe.seed,
                               hop_s=recipe.train_hop_s, first_copy=c) for c in range(recipe.copies)]
    train = WindowSet(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                      np.concatenate([p.subjects for p in parts]), np.concatenate([p.sources for p in parts]),
                      recipe.labels)
    copy = np.concatenate([np.full(len(p), c) for c, p in enumerate(parts)])
    ev = augmented_windows(recs, recipe.labels, recipe.preprocess, NONE, copies=1, hop_s=recipe.preprocess.hop_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, train, copy, ev)
    return load_cached(path)
