"""``ecg-activity train``: the shipped recipe (or a variant) on every labelled dataset here (needs the
"train" extra: TensorFlow, matplotlib)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..bridge.errors import EcgActivityError as Fail
from ..train.datasets import DATASET_NAMES
from ..train.tasks import task_names
from .common import needs_train_extra, say
from .options import number, positive_int


def recipe_from(a: argparse.Namespace):
    """The shipped recipe for the task, with what the options change."""
    from dataclasses import replace

    from ..train.augment import NONE
    from ..train.recipe import RECIPES

    r = RECIPES[a.task]
    changes = {}
    if a.datasets:
        changes["datasets"] = tuple(a.datasets)
    if a.window:
        changes["preprocess"] = replace(r.preprocess, window_s=a.window)
    if a.floor is not None:
        changes["preprocess"] = replace(changes.get("preprocess", r.preprocess), floor=a.floor)
    if a.members:
        changes["spec"] = replace(changes.get("spec", r.spec), members=a.members)
    if a.time_stride:
        changes["spec"] = replace(changes.get("spec", r.spec), time_stride=a.time_stride)
    if a.mixup is not None:
        changes["spec"] = replace(changes.get("spec", r.spec), mixup=a.mixup)
    if a.copies:
        changes["copies"] = a.copies
    if a.no_device_augment:
        changes["augment"] = NONE
    if a.max_epochs:
        changes["max_epochs"] = a.max_epochs
    if a.quick:
        changes.update(max_epochs=2, copies=1, spec=replace(changes.get("spec", r.spec), members=1))
    changes["seed"] = a.seed
    return r.but(**changes)


def cmd(a: argparse.Namespace) -> int:
    """The recipe (or a variant) on every labelled dataset present, with people held out if asked;
    writes the Keras model, its training record and curves."""
    from ..train import datasets
    from ..train.cache import windows_for
    from ..train.folds import train_on

    recipe = recipe_from(a)
    missing = [d for d in recipe.datasets if d not in datasets.available() and d != "capture"]
    if missing and set(missing) == set(recipe.datasets):
        raise Fail(f"none of the datasets {', '.join(missing)} is on this machine (../shared/datasets, ECG_DATASETS, "
                   "ECG_GUDB)")
    quick = {f"motion-0{i}" for i in range(1, 5)} | {"wrist-3", "wrist-6"} if a.quick else None
    if "capture" in recipe.datasets and not a.captures:
        raise Fail("--datasets capture needs --captures DIR (DIR/PERSON/*.ecgcap)")
    cw = windows_for(recipe, say, quick, captures=a.captures)
    subjects = sorted(set(cw.eval.subjects.tolist()))
    hold = set(a.holdout or [])
    train = [s for s in subjects if s not in hold]
    if not train:
        raise Fail("no labelled windows left to train on")
    say(f"training {recipe.task} on {len(train)} people ({', '.join(sorted({datasets.dataset_of(s) for s in train}))};"
         f" held out: {', '.join(sorted(hold)) or 'none'}), {recipe.spec.members} member(s), "
         f"at most {recipe.max_epochs} epochs")
    model, hist = train_on(cw, recipe, train, verbose=0 if a.quick else 2)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out.with_suffix(".keras"))
    best = hist["best_epoch"]
    info = {"recipe": recipe.to_dict(), "train_subjects": train, "holdout_subjects": sorted(hold),
            "epochs": best if isinstance(best, list) else [best], "parameters": int(model.count_params()),
            "cache": str(cw.path), "history": {k: v for k, v in hist.items() if k != "members"}}
    out.with_suffix(".train.json").write_text(json.dumps(info, indent=2) + "\n")
    _curves(hist.get("members") or [hist], out.with_name(out.name + "_curves.png"))
    say(f"wrote {out.with_suffix('.keras')} ({info['parameters']} parameters; epochs {info['epochs']}), "
         f"{out.name}_curves.png")
    return 0


def _curves(hists: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(8, 3))
    for i, hist in enumerate(hists):
        for k in ("loss", "val_loss"):
            if k in hist:
                ax[0].plot(hist[k], label=f"{k} {i}")
        for k in ("accuracy", "val_accuracy"):
            if k in hist:
                ax[1].plot(hist[k], label=f"{k} {i}")
    for x in ax:
        x.set_xlabel("epoch")
        x.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def register(sub) -> None:
    """Add ``train``."""
    s = sub.add_parser("train", help="train the shipped recipe (or a variant) on every labelled dataset here")
    s.add_argument("--task", default="activity5", choices=task_names(), help="label set (default activity5)")
    s.add_argument("--datasets", nargs="+", choices=DATASET_NAMES,
                   help="datasets to learn from (default: the recipe's, those present)")
    s.add_argument("--captures", help="folder of labelled captures (with --datasets ... capture)")
    s.add_argument("--window", type=number(float, 2.0, 120.0), help="window the model sees, seconds")
    s.add_argument("--floor", type=number(float, 0.0, 0.5, lo_open=False),
                   help="floor each spectrogram frame's power at this share of its mean (0: off, the shipped)")
    s.add_argument("--members", type=positive_int, help="CNNs trained apart and averaged in one model")
    s.add_argument("--time-stride", type=positive_int,
                   help="stride of the first convolution along time (2: about half the int8 invoke)")
    s.add_argument("--mixup", type=number(float, 0.0, 10.0, lo_open=False),
                   help="blend training windows in pairs, shares from Beta(MIXUP, MIXUP) (0: off, the shipped)")
    s.add_argument("--copies", type=positive_int, help="copies of each window (the extra ones through random devices)")
    s.add_argument("--no-device-augment", action="store_true", help="train without device augmentation")
    s.add_argument("--max-epochs", type=positive_int, help="epochs at most (early stopping decides)")
    s.add_argument("--seed", type=number(int, 0, 2**31 - 1, lo_open=False), default=0, help="random seed")
    s.add_argument("--holdout", nargs="*", help="people kept out of training (e.g. motion-10)")
    s.add_argument("--out", "-o", required=True, help="output path stem (writes STEM.keras, STEM.train.json, curves)")
    s.add_argument("--quick", action="store_true", help="6 people, 2 epochs, 1 member: a smoke run")
    s.set_defaults(func=needs_train_extra(cmd))

