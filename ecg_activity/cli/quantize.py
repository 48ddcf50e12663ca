"""``ecg-activity quantize``: a trained Keras model to a full-int8 TFLite file with its metadata."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..bridge.errors import EcgActivityError as Fail
from .common import needs_train_extra, say


def cmd(a: argparse.Namespace) -> int:
    """A trained Keras model to a full-int8 TFLite file (its embedding a second output) with its
    metadata (preprocessing, labels, recipe), the int8 ranges taken from its own training windows."""
    import numpy as np

    from ..train.cache import load_cached
    from ..train.model import load as load_model
    from ..train.quantize import to_int8, write_model
    from ..train.recipe import Recipe

    src = Path(a.keras_model)
    info_path = src.with_suffix(".train.json")
    if not src.is_file() or not info_path.is_file():
        raise Fail(f"{src} and its {info_path.name} (written by 'ecg-activity train') are both needed")
    info = json.loads(info_path.read_text())
    recipe = Recipe.from_dict(info["recipe"])
    cw = load_cached(Path(info["cache"]))
    rep = np.asarray(cw.train.x[(cw.copy == 0) & np.isin(cw.train.subjects, info["train_subjects"])])
    model = load_model(src)
    tfl = to_int8(model, rep, seed=recipe.seed, embedding=True)
    training = {"recipe": recipe.to_dict(), "train_subjects": info["train_subjects"],
                "holdout_subjects": info["holdout_subjects"], "epochs": info["epochs"],
                "parameters": info["parameters"], **recipe.spec.to_dict()}
    meta = write_model(a.output, tfl, recipe.task, recipe.labels, recipe.preprocess, training)
    say(f"wrote {a.output} ({meta.tflite_bytes} bytes, int8) and {Path(a.output).with_suffix('.json').name}")
    return 0


def register(sub) -> None:
    """Add ``quantize``."""
    s = sub.add_parser("quantize", help="Keras model -> full-int8 .tflite with its metadata")
    s.add_argument("keras_model", help="STEM.keras written by 'train' (its STEM.train.json beside it)")
    s.add_argument("--output", "-o", required=True, help="the .tflite to write (its .json is written beside it)")
    s.set_defaults(func=needs_train_extra(cmd))

