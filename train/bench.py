"""``ecg-activity bench``: float vs int8 on held-out subjects, plus the shipped file's own numbers."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..edge.model_bundle import ModelBundle, metadata_path
from ..edge.model_meta import ModelMeta

from . import datasets, metrics
from .evaluate import leaky_random_split, loso
from .windows import motion_windows, windows_from_recordings

DATASET_TEXT = {
    "motion": "ecg-motion-artefacts (Kalouskova, GPL-3.0): 10 subjects x 3 electrode types x rest/arms/walk/run/squats",
}


def shipped_numbers(bundle: ModelBundle, ws, runs: int = 300) -> dict:
    from ..edge.benchmark import window_latency

    path = bundle.path
    raw = np.random.default_rng(0).standard_normal(int(bundle.cfg.window_s * bundle.cfg.rate_hz))
    pre_ms, inv_ms = window_latency(bundle, [raw] * runs)
    out = {"file": path.name, "bytes": path.stat().st_size, "sha256": bundle.meta.tflite_sha256,
           "parameters": bundle.meta.training.get("parameters"), "latency_runs": runs,
           "preprocess_ms": pre_ms, "invoke_ms": inv_ms, "backend": bundle.backend}
    out["window_ms"] = out["preprocess_ms"] + out["invoke_ms"]
    hold = bundle.meta.training.get("holdout_subjects") or []
    mask = np.isin(ws.subjects, hold)
    if mask.any():
        p = np.array([np.argmax(bundle.predict(x)) for x in ws.x[mask]])
        s = metrics.summary(ws.y[mask], p, ws.labels)
        out["holdout"] = {"subjects": hold, "n": s["n"], "accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}
    return out


def model_spec(bundle: ModelBundle):
    from .model import ModelSpec

    return ModelSpec.from_training(bundle.meta.training)


def float_latency_ms(bundle: ModelBundle, runs: int = 50) -> float:
    from .model import build_model

    m = build_model(len(bundle.labels), bundle.cfg.shape, model_spec(bundle))
    x = np.zeros((1, *bundle.cfg.shape, 1), np.float32)
    m(x, training=False)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        m(x, training=False)
        t.append(time.perf_counter() - t0)
    return float(np.median(t) * 1e3)


def cross_dataset(bundle: ModelBundle) -> dict | None:
    """The 5-class model's decisions on wrist-ppg-exercise walk and run (another device, other people)."""
    if not {"walk", "run"} <= set(bundle.labels):
        return None
    files = [p for p in datasets.wrist_files() if p.stem.split("_", 1)[1] in ("walk", "run")]
    if not files:
        return None
    recs = [datasets.load_wrist_edf(p, bundle.cfg.rate_hz) for p in files]
    ws = windows_from_recordings(recs, bundle.labels, bundle.cfg)
    pred = np.array([np.argmax(bundle.predict(x)) for x in ws.x])
    res = {}
    for lab in ("walk", "run"):
        m = ws.y == bundle.labels.index(lab)
        counts = np.bincount(pred[m], minlength=len(bundle.labels))
        res[lab] = {"windows": int(m.sum()), "predicted": dict(zip(bundle.labels, counts.tolist())),
                    "correct": float(counts[bundle.labels.index(lab)] / max(1, m.sum()))}
    text = "wrist-ppg-exercise (PhysioNet, ODC-By), chest ECG resampled 256 → 250 Hz, shipped int8 model: " + "; ".join(
        f"{lab}: {r['correct']:.1%} of {r['windows']} windows called {lab} (calls: "
        + ", ".join(f"{k} {v}" for k, v in r["predicted"].items() if v) + ")" for lab, r in res.items())
    return {"per_class": res, "text": text}


def run_bench(model: str, dataset: str = "motion", epochs: int | None = None, quick: bool = False, seed: int = 0,
              out: str = "docs/bench/bench", update_card: bool = False, leaky: bool = False,
              progress: Callable[[str], None] = print) -> dict:
    from .report import write_report

    t0 = time.time()
    bundle = ModelBundle.load(model)
    task = bundle.meta.task
    cfg = bundle.cfg
    epochs = 2 if quick else (epochs or bundle.meta.training.get("epochs", 25))
    subjects = {"01", "02", "03", "04"} if quick else None
    ws = motion_windows(task, cfg, subjects=subjects)
    progress(f"{task}: {len(ws)} windows from {len(set(ws.subjects))} subjects; leave-one-subject-out, "
             f"{epochs} epochs per fold")
    res = {"model": bundle.path.name, "task": task, "dataset": DATASET_TEXT[dataset], "preprocess": cfg.to_dict(),
           "quick": quick, "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    res["loso"] = loso(ws, epochs, seed, quantize=True, progress=progress, spec=model_spec(bundle))
    res["shipped"] = shipped_numbers(bundle, ws)
    res["shipped"]["float_ms"] = float_latency_ms(bundle)
    if not quick:
        res["cross_dataset"] = cross_dataset(bundle)
    if leaky:
        res["leaky"] = leaky_random_split(ws, epochs, seed, spec=model_spec(bundle))
    res["wall_time_s"] = time.time() - t0
    files = write_report(res, out)
    progress("wrote " + ", ".join(str(f) for f in files))
    if update_card and not quick:
        write_card(bundle, res)
        progress(f"updated the model card {metadata_path(bundle.path).name} and {bundle.path.with_suffix('.md').name}")
    return res


def failing_recordings(res: dict, below: float = 0.8) -> list[dict]:
    """Held-out recordings the int8 model gets mostly wrong, with the heart rates that explain them."""
    from .analysis import median_hr

    root = datasets.shared_datasets()
    out = []
    for f in res["loso"]["folds"]:
        for src, r in f.get("per_source", {}).items():
            if r.get("int8_accuracy", 1.0) >= below:
                continue
            path = root / "ecg-motion-artefacts" / "data" / src.split("/")[-1][:2] / src.split("/")[-1]
            subj, elec, act = datasets.motion_file_info(path)
            runs = [median_hr(p) for p in datasets.motion_files() if datasets.motion_file_info(p)[0] == subj
                    and datasets.motion_file_info(p)[2] == "run"]
            runs = [r_ for r_ in runs if r_ is not None]
            out.append({"recording": src.split("/")[-1], "subject": f["subject"], "electrode": elec, "activity": act,
                        "int8_accuracy": r["int8_accuracy"], "median_hr_bpm": median_hr(path),
                        "subject_run_hr_bpm": [round(x) for x in runs]})
    return out


def write_card(bundle: ModelBundle, res: dict) -> None:
    lo = res["loso"]
    card = {
        "evaluation": {"protocol": lo["protocol"], "subjects": lo["subjects"], "windows": lo["windows"],
                       "epochs": lo["epochs"], "seed": lo["seed"],
                       "float": {k: lo["float"][k] for k in ("accuracy", "macro_f1", "per_class_f1", "per_fold")},
                       "int8": {k: lo["int8"][k] for k in ("accuracy", "macro_f1", "per_class_f1", "per_fold")},
                       "int8_float_agreement": lo["agreement"],
                       "per_subject": lo["folds"]},
        "shipped": res["shipped"],
        "cross_dataset": res.get("cross_dataset"),
        "failing_recordings": failing_recordings(res),
        "training_data": DATASET_TEXT["motion"],
        "licence": "model: GPL-3.0-or-later (trained on GPL-3.0 data)",
        "bench_wall_time_s": res["wall_time_s"],
    }
    meta = ModelMeta.read(metadata_path(bundle.path))
    meta.card = card
    meta.write(metadata_path(bundle.path))
    bundle.path.with_suffix(".md").write_text(card_markdown(meta.to_dict()))


def _slow_text(pp: dict) -> str:
    if not pp.get("slow_nperseg"):
        return ""
    return (f"; under it slow rows from {pp['slow_nperseg']}-sample segments: the signal's 0.24-{pp['slow_fmax_hz']:g} Hz"
            f" (motion sway) and the QRS envelope's {pp['beat_fmin_hz']:g}-{pp['beat_fmax_hz']:g} Hz (beat rate)")


def _model_text(training: dict) -> str:
    from .model import ModelSpec

    spec = ModelSpec.from_training(training)
    one = (f"4 conv blocks ({', '.join(map(str, spec.filters))} channels), "
           + ("average over time per frequency row" if spec.head == "rows" else "global average pooling")
           + ", dense softmax")
    many = f"{spec.members} CNNs (seeds {training.get('seed', 0)}..) averaged, each " if spec.members > 1 else ""
    return (many + one + "; trained " + ("with" if spec.augment else "without") + " spectrogram masking, "
            + f"{training.get('epochs')} epochs, class-balanced")


def card_markdown(meta: dict) -> str:
    c = meta["card"]
    ev = c["evaluation"]
    labels = meta["labels"]
    sh = c["shipped"]
    tr = meta.get("training", {})
    f1 = lambda d: ", ".join(f"{k} {v:.2f}" for k, v in d.items() if v is not None)  # noqa: E731
    lines = [
        f"# Model card: {Path(sh['file']).stem}", "",
        f"- **Task**: {meta['task']} — classes {', '.join(labels)}",
        f"- **File**: `{sh['file']}`, full-integer int8 TFLite, {sh['bytes']} bytes, "
        f"{tr.get('parameters')} parameters, SHA-256 `{meta['tflite_sha256']}`",
        f"- **Input**: {meta['window_s']:g} s of single-lead ECG at {meta['rate_hz']:g} Hz (other rates are resampled), "
        f"classified every {meta['hop_s']:g} s; log-spectrogram {meta['preprocess']['nperseg']}-sample Hann segments, "
        f"step {meta['preprocess']['step']}, 2-{meta['preprocess']['fmax_hz']:g} Hz{_slow_text(meta['preprocess'])}, "
        f"normalised per window; int8 input scale {meta['input']['scale']:.5g}, zero point {meta['input']['zero_point']}",
        f"- **Model**: {_model_text(tr)}",
        f"- **Training data**: {c['training_data']}; subjects {', '.join(tr.get('train_subjects', []))}; "
        f"held out of this file: {', '.join(tr.get('holdout_subjects', [])) or 'none'}",
        f"- **Licence**: {c['licence']}", "",
        "## Evaluation (subject-independent)", "",
        f"{ev['protocol']} over {len(ev['subjects'])} subjects, {ev['windows']} windows, {ev['epochs']} epochs, "
        f"seed {ev['seed']} (reproduce: `ecg-activity bench --model models/{sh['file']}`).", "",
        "| | accuracy | macro-F1 | per-class F1 | worst subject |", "|---|---|---|---|---|",
        f"| float | {ev['float']['accuracy']:.3f} | {ev['float']['macro_f1']:.3f} | {f1(ev['float']['per_class_f1'])} | "
        f"{ev['float']['per_fold']['min']:.3f} |",
        f"| int8 | {ev['int8']['accuracy']:.3f} | {ev['int8']['macro_f1']:.3f} | {f1(ev['int8']['per_class_f1'])} | "
        f"{ev['int8']['per_fold']['min']:.3f} |", "",
        f"int8 agrees with float on {ev['int8_float_agreement']:.1%} of windows.", "",
        "Per held-out subject (int8 accuracy): " + ", ".join(
            f"{f['subject']} {f['int8_accuracy']:.2f}" for f in ev["per_subject"]) + ".", "",
    ]
    if sh.get("holdout"):
        h = sh["holdout"]
        lines.append(f"This file on its held-out subject(s) {', '.join(h['subjects'])}: accuracy {h['accuracy']:.3f}, "
                     f"macro-F1 {h['macro_f1']:.3f} ({h['n']} windows; checked by the test suite).")
    lines.append(f"Latency on the benchmark machine: {sh['window_ms']:.3f} ms per window "
                 f"(preprocessing {sh['preprocess_ms']:.3f} + invoke {sh['invoke_ms']:.3f}, {sh['backend']}).")
    fails = sorted(c.get("failing_recordings") or [], key=lambda f: f["int8_accuracy"])
    if fails:
        n_rec = sum(len(f.get("per_source", {})) for f in ev["per_subject"])
        by_act: dict[str, int] = {}
        for f in fails:
            by_act[f["activity"]] = by_act.get(f["activity"], 0) + 1
        lines += ["", "## Where it fails", "",
                  f"{len(fails)} of {n_rec} held-out recordings are below 80% correct (int8); by activity: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(by_act.items(), key=lambda kv: -kv[1])) + ". "
                  "`python -m ecg_activity.train.analysis` prints heart rate per subject, electrode and activity. The worst:", ""]
        for f in fails[:8]:
            runs = f["subject_run_hr_bpm"]
            hr = f["median_hr_bpm"]
            why = ""
            if hr is not None and runs and f["activity"] != "run":
                why = ("; its heart is as fast as this subject's running heart" if hr >= 0.9 * min(runs)
                       else "; heart rate does not explain it")
            lines.append(f"- `{f['recording']}` ({f['subject']}, {f['electrode']} electrodes, {f['activity']}): "
                         f"{f['int8_accuracy']:.0%} correct; median heart rate "
                         f"{'?' if hr is None else f'{hr:.0f}'} bpm, running {', '.join(map(str, runs))} bpm{why}")
    if c.get("cross_dataset"):
        lines += ["", "Cross-dataset: " + c["cross_dataset"]["text"]]
    lines += ["", "Limitations: trained on 10 people on a treadmill and in a lab; one lead; the motion signature "
              "in the ECG carries the decision, so a very still runner or a very restless sitter can fool it.", ""]
    return "\n".join(lines)
