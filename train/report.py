"""Benchmark report: Markdown + PNG plots for people, JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def latency_text(sh: dict) -> str:
    """The per-window costs measured for a file, both ways a window is paid for (files benched before the
    streaming cost was recorded give the whole window only)."""
    whole = (f"{sh['window_ms']:.3f} ms for a window computed whole (preprocessing {sh['preprocess_ms']:.3f} + "
             f"invoke {sh['invoke_ms']:.3f})")
    if sh.get("stream_window_ms") is None:
        return whole
    return (f"{sh['stream_window_ms']:.3f} ms per window as a live stream pays it (preprocessing "
            f"{sh['stream_preprocess_ms']:.3f} + invoke {sh['stream_invoke_ms']:.3f}; each spectrogram frame is "
            f"computed once), {whole}")


def _plots(res: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo = res["loso"]
    labels = lo["labels"]
    files = []
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8))
    for ax, kind in zip(axes, ("float", "int8")):
        cm = np.array(lo[kind]["confusion"], dtype=float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{kind}: acc {lo[kind]['accuracy']:.3f}")
    fig.tight_layout()
    p = out.with_name(out.name + "_confusion.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    files.append(p.name)

    folds = lo["folds"]
    fig, ax = plt.subplots(figsize=(max(7, 0.38 * len(folds)), 3.2))
    xs = np.arange(len(folds))
    ax.bar(xs - 0.2, [f["float_accuracy"] for f in folds], 0.4, label="float")
    ax.bar(xs + 0.2, [f["int8_accuracy"] for f in folds], 0.4, label="int8")
    ax.set_xticks(xs, [f["subject"] for f in folds], rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (held-out person)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    p = out.with_name(out.name + "_per_fold.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    files.append(p.name)
    return files


def _row(name: str, d: dict, labels) -> str:
    f1 = " | ".join("-" if d["per_class_f1"][lab] is None else f"{d['per_class_f1'][lab]:.3f}" for lab in labels)
    pf = d.get("per_fold", {})
    return (f"| {name} | {d['accuracy']:.3f} | {d['macro_f1']:.3f} | {f1} | "
            f"{pf.get('min', float('nan')):.3f} / {pf.get('std', float('nan')):.3f} |")


def recipe_text(r: dict, meta: dict | None = None) -> str:
    """One sentence for people: what the model is and how it learnt."""
    if not r:
        return "(trained before recipes were recorded)"
    pp, sp, aug = r["preprocess"], r["spec"], r["augment"]
    on = ", ".join(k for k, v in aug.items() if v) or "none"
    return (f"{pp['window_s']:g} s windows every {pp['hop_s']:g} s; log-spectrogram of the QRS band 2-{pp['fmax_hz']:g} Hz "
            f"({pp['nperseg']}-sample frames, step {pp['step']})"
            + (f" with the 0.25-{pp['slow_fmax_hz']:g} Hz motion rows of {pp['slow_nperseg']}-sample segments"
               if pp.get("slow_nperseg") else "")
            + f", one normalisation per window; {sp['members']} CNN(s) of {', '.join(map(str, sp['filters']))} "
            f"channels averaged in one int8 file"
            + (f" (first convolution every {sp['time_stride']} frames)" if sp.get("time_stride", 1) > 1 else "")
            + (f", windows blended in pairs (mixup {sp['mixup']:g})" if sp.get("mixup") else "")
            + f"; trained on {', '.join(r['datasets'])}"
            + (" with the classes each dataset lacks masked out" if r.get("mask_absent") else "")
            + f", {r['copies']} copies of every window ({r['copies'] - 1} through random "
            f"devices: {on}), early stopping (patience {r['patience']}, at most {r['max_epochs']} epochs)")


def lodo_lines(lodo: dict) -> list[str]:
    """The leave-one-dataset-out table in markdown."""
    if not lodo:
        return ["(only one dataset was available)"]
    lines = ["| held out | classes scored | " + "correct per class (int8) | agreement float/int8 |", "|---|---|---|---|"]
    for d, v in lodo.items():
        per = ", ".join(f"{lab} {c['correct']:.0%} of {c['windows']}" for lab, c in v["int8"].items())
        lines.append(f"| {d} | {', '.join(v['classes'])} | {per} | "
                     f"{'--' if v['agreement'] is None else format(v['agreement'], '.1%')} |")
    lines += [""]
    for d, v in lodo.items():
        for lab, c in v["int8"].items():
            lines.append(f"- {d}, {lab}: called " + ", ".join(f"{k} {n}" for k, n in c["calls"].items())
                         + "; per person " + ", ".join(f"{s} {p.get(lab, float('nan')):.0%}"
                                                      for s, p in v["per_subject"].items() if lab in p))
    return lines


def write_report(res: dict, out: str | Path) -> list[Path]:
    """A bench's markdown report, JSON and plots; returns every path written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pngs = _plots(res, out)
    lo = res["loso"]
    labels = lo["labels"]
    lines = [
        f"# Benchmark: {res['model']} ({res['task']})", "",
        "Data: " + "; ".join(res["datasets"].values()) + ".", "",
        f"Recipe: {recipe_text(res['recipe'])}.", "",
        "## Leave-one-dataset-out: a device and people never seen", "",
        *lodo_lines(res.get("lodo") or {}), "",
        "## Leave-one-subject-out: every person of every dataset", "",
        f"{len(lo['subjects'])} people, {lo['windows']} windows of {res['preprocess']['window_s']:g} s "
        f"(hop {res['preprocess']['hop_s']:g} s), seed {lo['seed']}; early stopping chose {lo['epochs']['min']}-"
        f"{lo['epochs']['max']} epochs (median {lo['epochs']['median']:g}). Every number is for people the model never saw.", "",
        "| model | accuracy | macro-F1 | " + " | ".join(f"F1 {lab}" for lab in labels) + " | worst person / std |",
        "|---|---|---|" + "---|" * len(labels) + "---|",
        _row("float (Keras)", lo["float"], labels), _row("int8 (TFLite)", lo["int8"], labels), "",
        *people_interval_lines(lo["int8"].get("interval_people")),
        f"int8 agrees with float on **{lo['agreement']:.1%}** of windows; "
        f"accuracy change {lo['int8']['accuracy'] - lo['float']['accuracy']:+.3%}.", "",
        "Per dataset (int8): " + "; ".join(f"{d}: accuracy {v['int8']['accuracy']:.3f}, macro-F1 "
                                            f"{v['int8']['macro_f1']:.3f} ({v['windows']} windows)"
                                            for d, v in lo["per_dataset"].items()) + ".", "",
    ]
    cal = lo.get("calibration") or {}
    if cal.get("minutes_per_class"):
        lines += ["Personal calibration of each held-out person (first minutes of each activity; tested on the "
                  "rest): " + "; ".join(f"{b} min/class: {v['before']:.3f} → {v['after']:.3f} (worst {v['worst_after']:.3f},"
                                        f" {v['people']} people)" for b, v in cal["minutes_per_class"].items()) + ".", ""]
        if cal.get("left_out_2min"):
            lo2 = cal["left_out_2min"]
            lines += [f"An activity left out of a 2-minute calibration ({lo2['cases']} cases): called right on "
                      f"{lo2['after']:.3f} of its windows after, {lo2['before']:.3f} before.", ""]
    hh = res.get("rest_high_hr")
    if hh and hh["windows"]:
        lines += [f"Rest above {hh['threshold_bpm']:g} bpm ({hh['windows']} held-out windows): "
                  + ", ".join(f"{k} {v}" for k, v in hh["calls"].items() if v) + ".", ""]
    lines += ["| person | dataset | windows | float | int8 | agreement | epochs |", "|---|---|---|---|---|---|---|"]
    for f in lo["folds"]:
        lines.append(f"| {f['subject']} | {f['dataset']} | {f['n']} | {f['float_accuracy']:.3f} | "
                     f"{f['int8_accuracy']:.3f} | {f['agreement']:.3f} | {f['epochs']} |")
    sh = res.get("shipped")
    if sh:
        lines += ["", "## The shipped model file", "",
                  f"- file: `{sh['file']}`, {sh['bytes']} bytes, SHA-256 `{sh['sha256'][:16]}…`, {sh['parameters']} parameters",
                  f"- per-window latency on this machine (median of {sh['latency_runs']}): "
                  + latency_text(sh) + "."]
        if sh.get("holdout"):
            h = sh["holdout"]
            lines.append(f"- held out of the shipped model's training: {', '.join(h['subjects'])}: int8 accuracy "
                         f"{h['accuracy']:.3f}, macro-F1 {h['macro_f1']:.3f} on {h['n']} windows")
        lines += [f"- {line}" for line in noise_lines(sh.get("noise_stability"))]
        lines += ["", *robustness_lines(sh.get("robustness"))]
    lines += ["", *[f"![{p}]({p})" for p in pngs], "",
              f"Wall time: {res['wall_time_s'] / 60:.1f} min on {res['machine']} with {res.get('jobs', 1)} job(s).", ""]
    md = out.with_suffix(".md")
    md.write_text("\n".join(lines))
    js = out.with_suffix(".json")
    js.write_text(json.dumps(res, indent=2) + "\n")
    return [md, js, *(out.parent / p for p in pngs)]


def people_interval_lines(iv: dict | None) -> list[str]:
    """The bootstrap interval over people under the LOSO table (nothing for benches written before it)."""
    if not iv:
        return []
    a, f = iv["accuracy"], iv["macro_f1"]
    return [f"How far these figures carry to other people: resampling the {iv['people']} people ({iv['resamples']} "
            f"bootstrap draws), int8 accuracy spans {a[0]:.2f}-{a[1]:.2f} and macro-F1 {f[0]:.2f}-{f[1]:.2f} "
            f"({iv['level']:.0%} interval).", ""]


def robustness_lines(rb: dict | None) -> list[str]:
    """The robustness suite as a markdown table (nothing for benches written before it)."""
    if not rb:
        return []
    lines = [f"Robustness suite on the held-out {', '.join(rb['subjects'])} (`train/robustness.py`, seed "
             f"{rb['seed']}; reproduce with `ecg-activity bench --model FILE --calibration-only`): each window "
             "through one transform; a window the signal checks withhold counts as undecided.", "",
             "| transform | windows | decided | decision unchanged | rest still rest |", "|---|---|---|---|---|"]
    for name, r in rb["transforms"].items():
        rest = "--" if r["rest_kept"] is None else f"{r['rest_kept']:.0%} of {r['rest_windows']}"
        lines.append(f"| {name} | {r['windows']} | {r['decided']:.0%} | {r['unchanged']:.0%} | {rest} |")
    return lines + [""]


def noise_lines(ns: dict | None) -> list[str]:
    """The shipped file's decisions under added white noise (nothing for benches written before it)."""
    if not ns:
        return []
    return ["Another device's noise floor: white noise " + " / ".join(f"{v:g}" for v in ns["snr_db"])
            + " dB below the ECG's spread leaves " + " / ".join(f"{k:.0%}" for k in ns["kept"])
            + f" of this file's decisions on the demo excerpt ({ns['windows']} windows) unchanged."]
