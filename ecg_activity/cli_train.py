"""Train commands: train, quantize, bench (they need the "train" extra: TensorFlow, matplotlib)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .args import number, positive_int
from .bridge.errors import EcgActivityError as Fail

TRAIN_EXTRA = ("tensorflow", "keras", "matplotlib", "pyedflib")
TASK_NAMES = ("activity5", "activity6", "rest_run")
DATASET_NAMES = ("motion", "wrist", "gudb", "capture")


def needs_train_extra(cmd):
    """Training commands need TensorFlow & co. (the "train" extra): say so in one line if absent."""
    def run(a: argparse.Namespace) -> int:
        import importlib.util

        for name in ("tensorflow", "keras"):        # checked up front (without importing: no TensorFlow noise)
            try:
                found = importlib.util.find_spec(name) is not None
            except ValueError:
                found = False
            if not found:
                raise Fail(f"'{a.command}' needs {name}, part of the train extra: "
                           "pip install 'ecg-activity[train]' (or -e '.[train]' in a source tree)")
        try:
            return cmd(a)
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in TRAIN_EXTRA:
                raise
            raise Fail(f"'{a.command}' needs {e.name}, part of the train extra: "
                       "pip install 'ecg-activity[train]' (or -e '.[train]' in a source tree)") from None
    return run


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _recipe(a: argparse.Namespace):
    """The shipped recipe for the task, with what the options change."""
    from dataclasses import replace

    from .train.augment import NONE
    from .train.recipe import RECIPES

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


def cmd_train(a: argparse.Namespace) -> int:
    """``train``: the recipe (or a variant) on every labelled dataset present, with people held out if asked;
    writes the Keras model, its training record and curves."""
    from .train import corpus
    from .train.cache import windows_for
    from .train.folds import train_on

    recipe = _recipe(a)
    missing = [d for d in recipe.datasets if d not in corpus.available() and d != "capture"]
    if missing and set(missing) == set(recipe.datasets):
        raise Fail(f"none of the datasets {', '.join(missing)} is on this machine (../shared/datasets, ECG_DATASETS, "
                   "ECG_GUDB)")
    quick = {f"motion-0{i}" for i in range(1, 5)} | {"wrist-3", "wrist-6"} if a.quick else None
    if "capture" in recipe.datasets and not a.captures:
        raise Fail("--datasets capture needs --captures DIR (DIR/PERSON/*.ecgcap)")
    cw = windows_for(recipe, _say, quick, captures=a.captures)
    subjects = sorted(set(cw.eval.subjects.tolist()))
    hold = set(a.holdout or [])
    train = [s for s in subjects if s not in hold]
    if not train:
        raise Fail("no labelled windows left to train on")
    _say(f"training {recipe.task} on {len(train)} people ({', '.join(sorted({corpus.dataset_of(s) for s in train}))};"
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
    _say(f"wrote {out.with_suffix('.keras')} ({info['parameters']} parameters; epochs {info['epochs']}), "
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


def cmd_quantize(a: argparse.Namespace) -> int:
    """``quantize``: a trained Keras model to a full-int8 TFLite file (its embedding a second output) with its
    metadata (preprocessing, labels, recipe), the int8 ranges taken from its own training windows."""
    import numpy as np

    from .train.cache import load_cached
    from .train.model import load as load_model
    from .train.quantize import to_int8, write_model
    from .train.recipe import Recipe

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
    _say(f"wrote {a.output} ({meta.tflite_bytes} bytes, int8) and {Path(a.output).with_suffix('.json').name}")
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    """``bench``: retrain a model's recipe fold by fold and report LODO, LOSO, calibration and latency (or
    only re-measure calibration from saved fold outputs)."""
    from .edge.model_bundle import ModelBundle
    from .train.bench import run_bench

    ModelBundle.load(a.model)             # a model that cannot load is refused before any training
    a.out = a.out or str(Path("docs") / "bench" / Path(a.model).stem)
    if a.calibration_only:
        from .train.bench import refresh_calibration

        cal = refresh_calibration(a.model, a.out, update_card=a.update_card, progress=_say)["loso"]["calibration"]
        print(json.dumps({"minutes_per_class": cal["minutes_per_class"], "left_out_2min": cal.get("left_out_2min"),
                          "report": str(Path(a.out).with_suffix(".md"))}))
        return 0
    res = run_bench(a.model, quick=a.quick, jobs=a.jobs, out=a.out, update_card=a.update_card,
                    lodo=not a.no_lodo, progress=_say)
    lo = res["loso"]
    print(json.dumps({"lodo": {d: {k: c["correct"] for k, c in v["int8"].items()} for d, v in res["lodo"].items()},
                      "float_accuracy": lo["float"]["accuracy"], "int8_accuracy": lo["int8"]["accuracy"],
                      "float_macro_f1": lo["float"]["macro_f1"], "int8_macro_f1": lo["int8"]["macro_f1"],
                      "worst_person": lo["int8"]["per_fold"]["min"], "agreement": lo["agreement"],
                      "minutes": round(res["wall_time_s"] / 60, 1), "report": str(Path(a.out).with_suffix(".md"))}))
    return 0


def register(sub) -> None:
    """Add the training commands (train, quantize, bench)."""
    s = sub.add_parser("train", help="train the shipped recipe (or a variant) on every labelled dataset here")
    s.add_argument("--task", default="activity5", choices=TASK_NAMES, help="label set (default activity5)")
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
    s.set_defaults(func=needs_train_extra(cmd_train))

    s = sub.add_parser("quantize", help="Keras model -> full-int8 .tflite with its metadata")
    s.add_argument("keras_model", help="STEM.keras written by 'train' (its STEM.train.json beside it)")
    s.add_argument("--output", "-o", required=True, help="the .tflite to write (its .json is written beside it)")
    s.set_defaults(func=needs_train_extra(cmd_quantize))

    s = sub.add_parser("bench", help="leave-one-dataset-out and leave-one-subject-out, float vs int8, as a report")
    s.add_argument("--model", "-m", required=True, help="the int8 .tflite (its metadata gives the recipe)")
    s.add_argument("--jobs", "-j", type=positive_int, default=1, help="folds trained in parallel processes")
    s.add_argument("--out", "-o", help="report path stem (default docs/bench/MODEL)")
    s.add_argument("--quick", action="store_true", help="6 people, 2 epochs: a smoke run")
    s.add_argument("--no-lodo", action="store_true", help="skip leave-one-dataset-out")
    s.add_argument("--update-card", action="store_true", help="write the numbers into the model card")
    s.add_argument("--calibration-only", action="store_true",
                   help="re-measure personal calibration and the interval over people on the last bench's "
                        "saved fold outputs, and the file's noise stability and latency (no training)")
    s.set_defaults(func=needs_train_extra(cmd_bench))
