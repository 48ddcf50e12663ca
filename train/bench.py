"""``ecg-activity bench``: how a model's recipe does on people and devices it never saw.

Leave-one-dataset-out first (train without a dataset, test on it, on the
classes both share: what a field tester with another device meets), then
leave-one-subject-out over every person of every dataset, float against int8,
per dataset and per person, plus how rest with a racing heart (> 110 bpm) is
classified.  The recipe comes from the model's own metadata, so the numbers
are the shipped file's recipe, retrained fold by fold with fixed seeds.
"""

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
from .folds import Fold, FoldResult, run_folds
from .recipe import RECIPES, Recipe
from .robustness import held_out_robustness

HIGH_HR_BPM = 110.0


def recipe_of(bundle: ModelBundle) -> Recipe:
    """The recipe a model was trained with (its metadata), so ``bench`` retrains exactly that."""
    d = bundle.meta.training.get("recipe")
    return Recipe.from_dict(d) if d else RECIPES.get(bundle.meta.task, Recipe(task=bundle.meta.task))


def latency_numbers(bundle: ModelBundle, runs: int = 300) -> dict:
    """The file's per-window cost on this machine, both ways a window is paid for: as a live stream pays
    it (each spectrogram frame computed once, when its samples arrive) and computed whole (a replay at
    another rate, a window repaired over a gap).  A card that gave only one would mislead by 3x either way."""
    from ..edge.latency import per_window, window_latency

    raw = np.random.default_rng(0).standard_normal(int(bundle.cfg.window_s * bundle.cfg.rate_hz))
    pre_ms, inv_ms = window_latency(bundle, [raw] * runs)
    s_pre, s_inv = per_window(bundle, runs)
    return {"latency_runs": runs, "preprocess_ms": pre_ms, "invoke_ms": inv_ms, "window_ms": pre_ms + inv_ms,
            "stream_preprocess_ms": s_pre, "stream_invoke_ms": s_inv, "stream_window_ms": s_pre + s_inv,
            "backend": bundle.backend, "machine": machine_text()}


def machine_text() -> str:
    """What the timings were taken on: CPUs of one architecture still differ 2-3x on int8 kernels."""
    cpu = ""
    try:
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = f" {names[0]}" if names else ""
    except OSError:
        pass
    return f"{platform.machine()}{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def shipped_numbers(bundle: ModelBundle, cw, runs: int = 300) -> dict:
    """The shipped file's own figures: size, hash, parameters, latency, held-out accuracy, demo and noise."""
    path = bundle.path
    out = {"file": path.name, "bytes": path.stat().st_size, "sha256": bundle.meta.tflite_sha256,
           "parameters": bundle.meta.training.get("parameters"), **latency_numbers(bundle, runs)}
    out["demo_excerpt"] = demo_excerpt_numbers(bundle)
    out["noise_stability"] = noise_stability(bundle)
    out["robustness"] = held_out_robustness(bundle)
    hold = bundle.meta.training.get("holdout_subjects") or []
    mask = np.isin(cw.eval.subjects, hold)
    if mask.any():
        p = np.array([np.argmax(bundle.predict(np.asarray(x))) for x in cw.eval.x[mask]])
        s = metrics.summary(cw.eval.y[mask], p, cw.eval.labels)
        out["holdout"] = {"subjects": hold, "n": s["n"], "accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}
    return out


NOISE_SNR_DB = (40.0, 30.0)


def noise_stability(bundle: ModelBundle, snr_db: tuple[float, ...] = NOISE_SNR_DB, seed: int = 0) -> dict:
    """How many of the model's decisions on the bundled excerpt stay the same when white noise is added at
    ``snr_db`` below the ECG's spread: another device's noise floor.  Measured because it matters in the
    field and is not small (the shipped activity5 keeps 77 % at 30 dB); seeded, so a rerun repeats it."""
    from ..bridge.recording import load_demo_excerpt
    from ..edge.preprocess import offline_windows

    rec = load_demo_excerpt()
    x = rec.millivolts()
    _, clean = offline_windows(x, rec.rate_hz, bundle.cfg)
    ref = bundle.predict_batch(clean).argmax(axis=1)
    rng = np.random.default_rng(seed)
    kept = []
    for snr in snr_db:
        noisy = x + rng.standard_normal(x.size) * x.std() * 10 ** (-snr / 20)
        kept.append(float(np.mean(bundle.predict_batch(offline_windows(noisy, rec.rate_hz, bundle.cfg)[1])
                                  .argmax(axis=1) == ref)))
    return {"source": rec.source, "windows": int(ref.size), "snr_db": list(snr_db), "kept": kept}


def demo_excerpt_numbers(bundle: ModelBundle) -> dict:
    """What ``ecg-activity demo --once`` shows: the bundled excerpt streamed in 25-sample frames through
    the live pipeline, each decision against what the recording shows at the window's end."""
    from ..bridge.blocks import SampleBlock
    from ..bridge.recording import load_demo_excerpt
    from ..edge.pipeline import ActivityPipeline

    rec = load_demo_excerpt()
    pipe = ActivityPipeline(bundle, rec.rate_hz)
    ok = n = smooth_ok = 0
    x = rec.counts[:, None]
    for i in range(0, x.shape[0], 25):
        for r in pipe.push(SampleBlock(x[i:i + 25], rec.rate_hz, rec.mv_per_count, 0.0, first_index=i)):
            truth = rec.label_at(int(round(r.end_s * rec.rate_hz)) - 1)
            if r.activity is None or truth not in bundle.labels:
                continue
            n += 1
            ok += r.activity == truth
            smooth_ok += r.smoothed == truth
    return {"source": rec.source, "subject": rec.subject, "windows": n, "agreement": ok / n if n else None,
            "smoothed_agreement": smooth_ok / n if n else None}


def _per_class(y: np.ndarray, pred: np.ndarray, labels) -> dict:
    out = {}
    for i, lab in enumerate(labels):
        m = y == i
        if m.any():
            counts = np.bincount(pred[m], minlength=len(labels))
            out[lab] = {"windows": int(m.sum()), "correct": float(counts[i] / m.sum()),
                        "calls": {labels[j]: int(c) for j, c in enumerate(counts) if c}}
    return out


def lodo_summary(r: FoldResult, labels, held: str) -> dict:
    """Held-out dataset: only the classes it shares with the training datasets count."""
    y, pq, pf = np.array(r.y), np.array(r.int8_pred), np.array(r.float_pred)
    shared = [i for i, lab in enumerate(labels) if r.trained_classes[i] and lab in datasets.labels_of(held)]
    m = np.isin(y, shared)
    subj = np.array(r.subjects)
    return {"dataset": held, "classes": [labels[i] for i in shared], "windows": int(m.sum()),
            "int8": _per_class(y[m], pq[m], labels), "float": _per_class(y[m], pf[m], labels),
            "accuracy_int8": float(np.mean(pq[m] == y[m])) if m.any() else None,
            "agreement": float(np.mean(pq[m] == pf[m])) if m.any() else None,
            "per_subject": {s: {lab: round(float(np.mean(pq[m & (subj == s) & (y == i)] == i)), 3)
                                for i, lab in enumerate(labels) if (m & (subj == s) & (y == i)).any()}
                            for s in sorted(set(subj[m].tolist()))},
            "epochs": r.epochs, "seconds": r.seconds}


def loso_summary(results: list[FoldResult], labels, recipe: Recipe) -> dict:
    """LOSO accuracy and macro-F1 (float and int8), per person and dataset, agreement, bootstrap interval."""
    y = np.concatenate([r.y for r in results]).astype(int)
    pf = np.concatenate([r.float_pred for r in results]).astype(int)
    pq = np.concatenate([r.int8_pred for r in results]).astype(int)
    folds = []
    for r in results:
        yy, ff, qq, src = np.array(r.y), np.array(r.float_pred), np.array(r.int8_pred), np.array(r.sources)
        folds.append({"subject": r.name, "dataset": datasets.dataset_of(r.name), "n": len(r.y),
                      "float_accuracy": float(np.mean(ff == yy)), "int8_accuracy": float(np.mean(qq == yy)),
                      "agreement": float(np.mean(ff == qq)), "epochs": r.epochs,
                      "per_source": {s: {"n": int((src == s).sum()), "int8_accuracy": float(np.mean(qq[src == s] == yy[src == s]))}
                                     for s in sorted(set(r.sources))}})
    out = {"protocol": "leave-one-subject-out (every person of every dataset)", "labels": list(labels),
           "subjects": [r.name for r in results], "windows": int(y.size), "seed": recipe.seed,
           "float": metrics.summary(y, pf, labels), "int8": metrics.summary(y, pq, labels),
           "agreement": float(np.mean(pf == pq)), "folds": folds}
    for kind in ("float", "int8"):
        accs = np.array([f[f"{kind}_accuracy"] for f in folds])
        out[kind]["per_fold"] = {"mean": float(accs.mean()), "std": float(accs.std()), "min": float(accs.min()),
                                 "max": float(accs.max())}
    people = np.concatenate([r.subjects for r in results])
    out["int8"]["interval_people"] = metrics.people_interval(y, pq, people, len(labels))
    subj_ds = np.array([datasets.dataset_of(s) for r in results for s in r.subjects])
    out["per_dataset"] = {d: {"windows": int((subj_ds == d).sum()),
                              "int8": metrics.summary(y[subj_ds == d], pq[subj_ds == d], labels)}
                          for d in sorted(set(subj_ds.tolist()))}
    out["calibration"] = calibration_summary({r.name: r.extra["calibration"] for r in results
                                              if "calibration" in r.extra}, labels)
    epochs = [e for r in results for e in r.epochs]
    out["epochs"] = {"median": float(np.median(epochs)), "min": int(min(epochs)), "max": int(max(epochs)),
                     "max_allowed": recipe.max_epochs, "patience": recipe.patience}
    return out


def save_fold_outputs(results: list[FoldResult], path: Path) -> None:
    """Every held-out window's int8 probabilities and embedding, its label, person and recording: enough to
    study calibration (or any head) again without retraining a fold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, y=np.concatenate([r.y for r in results]).astype(np.int16),
                        probs=np.concatenate([np.asarray(r.probs, np.float32) for r in results]),
                        embeddings=np.concatenate([r.extra["embeddings"] for r in results]),
                        subjects=np.concatenate([r.subjects for r in results]),
                        sources=np.concatenate([r.sources for r in results]))


def calibration_summary(per_person: dict[str, dict], labels) -> dict:
    """Personal calibration on held-out people (``calibration_eval.evaluate`` per person): per budget
    (minutes per class) the mean accuracy before and after, per person at 2 minutes, and per activity how
    often it is still called right when the wearer left it out of the calibration."""
    from .calibration_eval import BUDGETS_MIN

    per_budget = {}
    for b in BUDGETS_MIN:
        rows = [(name, c[f"{b:g}"]) for name, c in per_person.items() if f"{b:g}" in c]
        if rows:
            after = np.array([v["after"] for _, v in rows])
            per_budget[f"{b:g}"] = {"people": len(rows), "before": float(np.mean([v["before"] for _, v in rows])),
                                    "after": float(after.mean()), "worst_after": float(after.min()),
                                    "worst_person": rows[int(after.argmin())][0]}
    out = {"minutes_per_class": per_budget,
           "per_person_2min": {name: c["2"] for name, c in per_person.items() if "2" in c}}
    by_class: dict[int, list[dict]] = {}
    for c in per_person.values():
        for k, v in (c.get("left_out") or {}).items():
            by_class.setdefault(int(k), []).append(v)
    if by_class:
        def mean(rows, key):
            return float(np.mean([v[key] for v in rows]))
        cases = [v for k in sorted(by_class) for v in by_class[k]]
        out["left_out_2min"] = {
            "cases": len(cases), "before": mean(cases, "before"), "after": mean(cases, "after"),
            "per_class": {labels[k]: {"people": len(by_class[k]), "before": mean(by_class[k], "before"),
                                      "after": mean(by_class[k], "after")} for k in sorted(by_class)}}
    return out


def rest_at_high_heart_rate(results: list[FoldResult], cw, labels, cfg) -> dict | None:
    """How held-out rest windows whose heart beats above 110 bpm were classified."""
    from ..edge.heart_rate import heart_rate

    if "rest" not in labels:
        return None
    rest = labels.index("rest")
    hr_by_key: dict = {}
    calls = np.zeros(len(labels), int)
    n = 0
    raw = _raw_eval_rest(cw, cfg)
    for r in results:
        for s, src, y, p in zip(r.subjects, r.sources, r.y, r.int8_pred):
            if y != rest:
                continue
            key = (s, src)
            hr_by_key.setdefault(key, 0)
            i = hr_by_key[key]
            hr_by_key[key] += 1
            w = raw.get(key)
            if w is None or i >= len(w):
                continue
            bpm = heart_rate(w[i], cfg.rate_hz).bpm
            if bpm is not None and bpm > HIGH_HR_BPM:
                calls[p] += 1
                n += 1
    return {"threshold_bpm": HIGH_HR_BPM, "windows": n, "calls": dict(zip(labels, calls.tolist())),
            "rest_share": float(calls[rest] / n) if n else None}


def _raw_eval_rest(cw, cfg) -> dict:
    """The raw samples of every rest evaluation window, in the cache's order (same cuts as ``augmented_windows``)."""
    out: dict = {}
    names = sorted({datasets.dataset_of(s) for s in cw.eval.subjects.tolist()})
    for rec in datasets.load([n for n in names if n != "capture"], cfg.rate_hz):
        for a, b, lab in rec.segments:
            if lab != "rest":
                continue
            x = rec.counts[a:b].astype(float)
            w, hop = cfg.window_samples, cfg.hop_samples
            out.setdefault((rec.subject, rec.source), []).extend(x[s:s + w] for s in range(0, x.size - w + 1, hop))
    return out


def run_bench(model: str, quick: bool = False, jobs: int = 1, out: str = "docs/bench/bench", update_card: bool = False,
              lodo: bool = True, progress: Callable[[str], None] = print) -> dict:
    """Retrain the model's recipe fold by fold (leave one dataset out, then one person) and write the report,
    the fold outputs and, with ``update_card``, the model card; returns the results."""
    from .cache import windows_for
    from .report import write_report

    t0 = time.time()
    bundle = ModelBundle.load(model)
    recipe = recipe_of(bundle)
    if quick:
        recipe = recipe.but(max_epochs=2, copies=1, spec=recipe.spec.__class__(**{**recipe.spec.to_dict(),
                                                                                  "members": 1}))
    subjects = None
    if quick:
        subjects = {f"motion-0{i}" for i in range(1, 5)} | {"wrist-3", "wrist-6"}
    cw = windows_for(recipe, progress, subjects)
    labels = recipe.labels
    all_subj = sorted(set(cw.eval.subjects.tolist()))
    present = sorted({datasets.dataset_of(s) for s in all_subj})
    progress(f"{recipe.task}: {len(cw.train)} training windows ({recipe.copies} copies), {len(cw.eval)} test windows "
             f"from {len(all_subj)} people in {', '.join(present)}; {jobs} job(s)")
    folds = []
    if lodo and len(present) > 1:
        folds += [Fold(f"dataset:{d}", [s for s in all_subj if datasets.dataset_of(s) == d],
                       [s for s in all_subj if datasets.dataset_of(s) != d]) for d in present]
    folds += [Fold(s, [s], [t for t in all_subj if t != s]) for s in all_subj]
    results = run_folds(str(cw.path), recipe, folds, jobs, progress)
    by = {r.name: r for r in results}
    res = {"model": bundle.path.name, "task": recipe.task, "recipe": recipe.to_dict(), "quick": quick,
           "datasets": {d: datasets.get_dataset(d).text for d in present},
           "machine": machine_text(),
           "preprocess": recipe.preprocess.to_dict(), "jobs": jobs}
    res["lodo"] = {d: lodo_summary(by[f"dataset:{d}"], labels, d) for d in present if f"dataset:{d}" in by}
    loso = [by[s] for s in all_subj]
    res["loso"] = loso_summary(loso, labels, recipe)
    res["rest_high_hr"] = rest_at_high_heart_rate(loso, cw, labels, recipe.preprocess)
    res["shipped"] = shipped_numbers(bundle, cw)
    res["wall_time_s"] = time.time() - t0
    save_fold_outputs(loso, Path(out).with_suffix(".folds.npz"))
    files = write_report(res, out)
    progress("wrote " + ", ".join(str(f) for f in files))
    if update_card and not quick:
        write_card(bundle, res)
        progress(f"updated the model card {metadata_path(bundle.path).name} and {bundle.path.with_suffix('.md').name}")
    return res


def refresh_calibration(model: str, out: str, update_card: bool = False,
                        progress: Callable[[str], None] = print, source: str | None = None) -> dict:
    """Re-measure personal calibration on the saved fold outputs of the last full bench (``OUT.json`` and
    ``OUT.folds.npz``) without training a fold: seconds instead of the better part of an hour, on the very
    windows and embeddings the report's other numbers come from; the bootstrap interval over people is
    recomputed from them too, and the file's stability under device noise (no training either).  Refuses
    outputs of another model file.  The outputs are read at ``source`` (default ``out``), the report written
    at ``out``."""
    from ..bridge.errors import UsageError
    from .calibration_eval import from_fold_outputs, load_fold_outputs
    from .report import write_report

    bundle = ModelBundle.load(model)
    src = source or out
    js, npz = Path(src).with_suffix(".json"), Path(src).with_suffix(".folds.npz")
    try:
        res = json.loads(js.read_text())
        sha = res["shipped"]["sha256"]
        pre = Recipe.from_dict(res["recipe"]).preprocess
        if sha != bundle.meta.tflite_sha256:
            raise UsageError(f"{js} was benched on another file than {bundle.path.name} (SHA-256 differs)")
        d = load_fold_outputs(npz)
        per_person = from_fold_outputs(d, pre.window_s, pre.hop_s)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"no bench outputs to re-measure at {src} ({e}); run a full bench first") from None
    res["loso"]["calibration"] = calibration_summary(per_person, res["loso"]["labels"])
    res["shipped"]["noise_stability"] = noise_stability(bundle)
    res["shipped"]["robustness"] = held_out_robustness(bundle)
    res["shipped"].update(latency_numbers(bundle))
    # (benches before the interval existed get it here too)
    res["loso"]["int8"]["interval_people"] = metrics.people_interval(d["y"], d["probs"].argmax(axis=1), d["subjects"],
                                                                     len(res["loso"]["labels"]))
    files = write_report(res, out)
    progress("wrote " + ", ".join(str(f) for f in files))
    if update_card:
        write_card(bundle, res)
        progress(f"updated the model card {metadata_path(bundle.path).name} and {bundle.path.with_suffix('.md').name}")
    return res


def write_card(bundle: ModelBundle, res: dict) -> None:
    """Put a bench's figures into the model's metadata and its markdown card."""
    lo = res["loso"]
    card = {
        "lodo": res["lodo"],
        "evaluation": {"protocol": lo["protocol"], "subjects": lo["subjects"], "windows": lo["windows"],
                       "epochs": lo["epochs"], "seed": lo["seed"],
                       "float": {k: lo["float"][k] for k in ("accuracy", "macro_f1", "per_class_f1", "per_fold")},
                       "int8": {k: lo["int8"][k] for k in ("accuracy", "macro_f1", "per_class_f1", "per_fold",
                                                           "interval_people") if k in lo["int8"]},
                       "int8_float_agreement": lo["agreement"], "per_dataset": lo["per_dataset"],
                       "calibration": lo.get("calibration"),
                       "per_subject": lo["folds"]},
        "rest_high_hr": res.get("rest_high_hr"),
        "shipped": res["shipped"],
        "training_data": res["datasets"],
        "licence": "model: GPL-3.0-or-later (trained on GPL-3.0 and ODC-By data)",
        "bench_wall_time_s": res["wall_time_s"], "bench_jobs": res.get("jobs"),
    }
    meta = ModelMeta.read(metadata_path(bundle.path))
    meta.card = card
    meta.write(metadata_path(bundle.path))
    bundle.path.with_suffix(".md").write_text(card_markdown(meta.to_dict()))


def _pct(v) -> str:
    return "--" if v is None else f"{v:.0%}"


def card_markdown(meta: dict) -> str:
    """A model card in markdown from the model's metadata."""
    from .report import latency_text, lodo_lines, noise_lines, people_interval_lines, recipe_text, robustness_lines

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
        f"- **Recipe**: {recipe_text(tr.get('recipe') or {}, meta)}",
        "- **Training data**: " + "; ".join(c["training_data"].values())
        + f"; held out of this file: {', '.join(tr.get('holdout_subjects', [])) or 'none'}",
        f"- **Licence**: {c['licence']}", "",
        "## On a dataset it never saw (leave-one-dataset-out)", "",
        *lodo_lines(c.get("lodo") or {}), "",
        "## On people it never saw (leave-one-subject-out)", "",
        f"{ev['protocol']}: {len(ev['subjects'])} people, {ev['windows']} windows; early stopping chose "
        f"{ev['epochs']['min']}-{ev['epochs']['max']} epochs (median {ev['epochs']['median']:g}); "
        f"reproduce: `ecg-activity bench --model models/{sh['file']}`.", "",
        "| | accuracy | macro-F1 | per-class F1 | worst person |", "|---|---|---|---|---|",
        f"| float | {ev['float']['accuracy']:.3f} | {ev['float']['macro_f1']:.3f} | {f1(ev['float']['per_class_f1'])} | "
        f"{ev['float']['per_fold']['min']:.3f} |",
        f"| int8 | {ev['int8']['accuracy']:.3f} | {ev['int8']['macro_f1']:.3f} | {f1(ev['int8']['per_class_f1'])} | "
        f"{ev['int8']['per_fold']['min']:.3f} |", "",
        *people_interval_lines(ev["int8"].get("interval_people")),
        f"int8 agrees with float on {ev['int8_float_agreement']:.1%} of windows. Per dataset (int8): "
        + "; ".join(f"{d} accuracy {v['int8']['accuracy']:.3f}, macro-F1 {v['int8']['macro_f1']:.3f}"
                    for d, v in ev["per_dataset"].items()) + ".", "",
        "Per person (int8 accuracy): " + ", ".join(f"{f['subject']} {f['int8_accuracy']:.2f}"
                                                    for f in ev["per_subject"]) + ".", "",
    ]
    cal = ev.get("calibration") or {}
    if cal.get("minutes_per_class"):
        lines += ["## Personal calibration (held-out people, int8, no TensorFlow)", "",
                  "Each held-out person calibrates on the first minutes of each of their activities and is tested "
                  "on windows that share no sample with them (`ecg-activity calibrate`).", "",
                  "| minutes per class | people | before | after | worst after |", "|---|---|---|---|---|"]
        for b, v in cal["minutes_per_class"].items():
            lines.append(f"| {b} | {v['people']} | {v['before']:.3f} | {v['after']:.3f} | "
                         f"{v['worst_after']:.3f} ({v['worst_person']}) |")
        if cal.get("per_person_2min"):
            lines += ["", "At 2 minutes per class, before → after: " + ", ".join(
                f"{p} {v['before']:.2f} → {v['after']:.2f}" for p, v in cal["per_person_2min"].items()) + ".", ""]
        if cal.get("left_out_2min"):
            lo2 = cal["left_out_2min"]
            lines += ["An activity the wearer left out of the calibration (2 minutes of each of the others; "
                      f"{lo2['cases']} person-activity cases) is still called right on {lo2['after']:.0%} of its "
                      f"windows (base model {lo2['before']:.0%}): " + ", ".join(
                          f"{k} {v['before']:.0%} → {v['after']:.0%}" for k, v in lo2["per_class"].items()) + ".", ""]
    hh = c.get("rest_high_hr")
    if hh and hh["windows"]:
        lines += [f"Rest with a racing heart (held-out rest windows above {hh['threshold_bpm']:g} bpm, "
                  f"{hh['windows']} windows): {_pct(hh['rest_share'])} called rest; calls "
                  + ", ".join(f"{k} {v}" for k, v in hh["calls"].items() if v) + ".", ""]
    if sh.get("holdout"):
        h = sh["holdout"]
        lines.append(f"This file on its held-out people {', '.join(h['subjects'])}: accuracy {h['accuracy']:.3f}, "
                     f"macro-F1 {h['macro_f1']:.3f} ({h['n']} windows; checked by the test suite).")
    de = sh.get("demo_excerpt")
    if de and de.get("agreement") is not None:
        lines.append(f"`ecg-activity demo` (the bundled excerpt of {de['subject']}, {de['windows']} windows, held out "
                     f"of this file): {de['agreement']:.1%} of decisions agree with the recording "
                     f"(smoothed {de['smoothed_agreement']:.1%}); the excerpt is electrode set 01 only, so it differs "
                     "from the whole person's figure above.")
    lines += noise_lines(sh.get("noise_stability"))
    lines += ["", *robustness_lines(sh.get("robustness"))]
    machine = ", ".join(v for v in (sh.get("machine"), sh["backend"]) if v)
    lines.append(f"Latency on the benchmark machine ({machine}): {latency_text(sh)}.")
    lines += ["", "Limitations: one chest lead; the people are young adults on treadmills, bikes and lab floors; "
              "the motion in the ECG carries the decision, so a very still runner or a very restless sitter can "
              "fool it. Personal calibration (`ecg-activity calibrate`) adapts it to one wearer.", ""]
    return "\n".join(lines)
