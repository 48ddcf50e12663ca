"""Train subcommands: train, quantize, bench (registered into the one ``ecg-activity`` parser)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .args import positive
from .bridge.errors import EcgActivityError as Fail


TRAIN_EXTRA = ("tensorflow", "keras", "matplotlib", "pyedflib")


def needs_train_extra(cmd):
    """Training commands need TensorFlow & co. (the "train" extra): say so in one line if absent."""
    def run(a: argparse.Namespace) -> int:
        try:
            import keras  # noqa: F401  (checked up front: before minutes of data loading, not after)

            return cmd(a)
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in TRAIN_EXTRA:
                raise
            raise Fail(f"'{a.command}' needs {e.name}, part of the train extra: "
                       "pip install 'ecg-activity[train]' (or -e '.[train]' in a source tree)") from None
    return run


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _windows(task: str, cfg, dataset: str, captures: str | None = None, quick: bool = False):
    from .train import datasets
    from .train.captures import capture_windows
    from .train.windows import TASKS, motion_windows

    if task not in TASKS:
        raise Fail(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    if dataset == "motion":
        root = datasets.shared_datasets()
        if not (root / "ecg-motion-artefacts").is_dir():
            raise Fail(f"dataset ecg-motion-artefacts not found under {root} (set ECG_DATASETS)")
        subjects = {"01", "02", "03", "04"} if quick else None
        ws = motion_windows(task, cfg, subjects=subjects)
    elif dataset == "captures":
        if not captures:
            raise Fail("--dataset captures needs --captures DIR")
        ws = capture_windows(Path(captures), TASKS[task], cfg)
    else:
        raise Fail(f"unknown dataset {dataset!r}")
    if len(ws) == 0:
        raise Fail("no labelled windows found for this task")
    return ws


def _cfg(a):
    from .edge.preprocess import PreprocessConfig

    return PreprocessConfig(window_s=a.window, hop_s=a.hop, slow_nperseg=a.slow)


def cmd_train(a: argparse.Namespace) -> int:
    import numpy as np

    from .train.model import ModelSpec, fit

    cfg = _cfg(a)
    epochs = 2 if a.quick else a.epochs
    ws = _windows(a.task, cfg, a.dataset, a.captures, a.quick)
    hold = set(a.holdout or [])
    train = ~np.isin(ws.subjects, list(hold))
    _say(f"training {a.task} on {int(train.sum())} windows from {len(set(ws.subjects[train]))} subjects "
         f"(held out: {', '.join(sorted(hold)) or 'none'}), {epochs} epochs")
    val = None
    if hold and (~train).any():
        val = (ws.x[~train], ws.y[~train])
    spec = ModelSpec(a.filters, a.head, not a.no_augment, a.members)
    model, hist = fit(ws.x[train], ws.y[train], len(ws.labels), epochs, a.seed, validation=val,
                      verbose=2 if not a.quick else 0, spec=spec)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out.with_suffix(".keras"))
    info = {"task": a.task, "labels": list(ws.labels), "preprocess": cfg.to_dict(), "dataset": a.dataset,
            "holdout": sorted(hold), "train_subjects": sorted(set(ws.subjects[train].tolist())), "epochs": epochs,
            "seed": a.seed, **spec.to_dict(), "parameters": int(model.count_params()),
            "history": {k: [float(v) for v in vs] for k, vs in hist.items()}}
    out.with_suffix(".train.json").write_text(json.dumps(info, indent=2) + "\n")
    _curves(hist, out.with_name(out.name + "_curves.png"))
    _say(f"wrote {out.with_suffix('.keras')} ({info['parameters']} parameters), {out.name}_curves.png")
    return 0


def _curves(hist: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(8, 3))
    for k in ("loss", "val_loss"):
        if k in hist:
            ax[0].plot(hist[k], label=k)
    for k in ("accuracy", "val_accuracy"):
        if k in hist:
            ax[1].plot(hist[k], label=k)
    for x in ax:
        x.set_xlabel("epoch")
        x.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cmd_quantize(a: argparse.Namespace) -> int:
    import keras
    import numpy as np

    from .edge.preprocess import PreprocessConfig

    from .train.model import ModelSpec
    from .train.quantize import to_int8, write_model

    src = Path(a.keras_model)
    info_path = src.with_suffix(".train.json")
    if not src.is_file() or not info_path.is_file():
        raise Fail(f"{src} and its {info_path.name} (written by 'ecg-activity train') are both needed")
    info = json.loads(info_path.read_text())
    cfg = PreprocessConfig.from_dict(info["preprocess"])
    ws = _windows(info["task"], cfg, info["dataset"], a.captures)
    rep = ws.x[np.isin(ws.subjects, info["train_subjects"])]
    model = keras.models.load_model(src, compile=False)
    tfl = to_int8(model, rep, seed=info["seed"])
    extra = {"training": {"dataset": info["dataset"], "train_subjects": info["train_subjects"],
                          "holdout_subjects": info["holdout"], "epochs": info["epochs"], "seed": info["seed"],
                          "parameters": info["parameters"],
                          **ModelSpec.from_training(info).to_dict()}}
    meta = write_model(a.output, tfl, info["task"], tuple(info["labels"]), cfg, extra["training"])
    _say(f"wrote {a.output} ({meta.tflite_bytes} bytes, int8) and {Path(a.output).with_suffix('.json').name}")
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    from .train.bench import run_bench

    a.out = a.out or str(Path("docs") / "bench" / Path(a.model).stem)
    try:
        res = run_bench(a.model, a.dataset, epochs=a.epochs, quick=a.quick, seed=a.seed, out=a.out,
                        update_card=a.update_card, leaky=a.leaky, progress=_say)
    except FileNotFoundError as e:
        raise Fail(str(e)) from None
    lo = res["loso"]
    print(json.dumps({"float_accuracy": lo["float"]["accuracy"], "int8_accuracy": lo["int8"]["accuracy"],
                      "float_macro_f1": lo["float"]["macro_f1"], "int8_macro_f1": lo["int8"]["macro_f1"],
                      "agreement": lo["agreement"], "report": str(Path(a.out).with_suffix(".md"))}))
    return 0


def _filters(text: str) -> tuple[int, ...]:
    try:
        f = tuple(int(v) for v in text.split(","))
    except ValueError:
        f = ()
    if not f or min(f) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return f


def register(sub) -> None:
    s = sub.add_parser("train", help="train the CNN on real data (subjects in --holdout are left out)")
    s.add_argument("--task", default="activity5", help="activity5 or rest_run")
    s.add_argument("--dataset", default="motion", choices=["motion", "captures"])
    s.add_argument("--captures", help="folder of labelled captures (with --dataset captures)")
    s.add_argument("--window", type=positive(float), default=5.0, help="window the model sees, seconds")
    s.add_argument("--hop", type=positive(float), default=1.0, help="seconds between windows")
    s.add_argument("--epochs", type=positive(int), default=25)
    s.add_argument("--slow", type=int, default=1024, metavar="N",
                   help="STFT length (samples) of the slow motion and beat rows under the QRS band; 0 = none")
    s.add_argument("--filters", type=_filters, default="8,16,24,32",
                   help="channels of the four conv blocks (comma-separated)")
    s.add_argument("--head", choices=["rows", "global"], default="rows",
                   help="pool over time only (rows) or over time and frequency (global)")
    s.add_argument("--no-augment", action="store_true", help="train without spectrogram masking")
    s.add_argument("--members", type=positive(int), default=1,
                   help="train this many CNNs (successive seeds) and ship their average as one model")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--holdout", nargs="*", help="subject ids kept out of training (e.g. motion-10)")
    s.add_argument("--out", "-o", required=True, help="output path stem (writes STEM.keras, STEM.train.json, curves)")
    s.add_argument("--quick", action="store_true", help="4 subjects, 2 epochs: a smoke run")
    s.set_defaults(func=needs_train_extra(cmd_train))

    s = sub.add_parser("quantize", help="Keras model -> full-int8 .tflite with its metadata")
    s.add_argument("keras_model")
    s.add_argument("--output", "-o", required=True, help="the .tflite to write (its .json is written beside it)")
    s.add_argument("--captures", help="folder of labelled captures, if the model was trained on them")
    s.set_defaults(func=needs_train_extra(cmd_quantize))

    s = sub.add_parser("bench", help="float vs int8, subject-independent, as a Markdown/PNG/JSON report")
    s.add_argument("--model", "-m", required=True, help="the int8 .tflite (its metadata gives task and preprocessing)")
    s.add_argument("--dataset", default="motion", choices=["motion"])
    s.add_argument("--epochs", type=positive(int), help="epochs per fold (default: the model's own)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", "-o", help="report path stem (default docs/bench/MODEL)")
    s.add_argument("--quick", action="store_true", help="4 subjects, 2 epochs: a smoke run")
    s.add_argument("--leaky", action="store_true", help="also report the leaky random split, labelled as such")
    s.add_argument("--update-card", action="store_true", help="write the numbers into the model card")
    s.set_defaults(func=needs_train_extra(cmd_bench))
