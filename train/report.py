"""Benchmark report: Markdown + PNG plots for people, JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _plots(res: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = res["loso"]["labels"]
    files = []
    kinds = [k for k in ("float", "int8") if k in res["loso"]]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.8))
    axes = np.atleast_1d(axes)
    for ax, kind in zip(axes, kinds):
        cm = np.array(res["loso"][kind]["confusion"], dtype=float)
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
        ax.set_title(f"{kind}: acc {res['loso'][kind]['accuracy']:.3f}")
    fig.tight_layout()
    p = out.with_name(out.name + "_confusion.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    files.append(p.name)

    folds = res["loso"]["folds"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xs = np.arange(len(folds))
    ax.bar(xs - 0.2, [f["float_accuracy"] for f in folds], 0.4, label="float")
    if "int8" in res["loso"]:
        ax.bar(xs + 0.2, [f["int8_accuracy"] for f in folds], 0.4, label="int8")
    ax.set_xticks(xs, [f["subject"] for f in folds], rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (held-out subject)")
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


def write_report(res: dict, out: str | Path) -> list[Path]:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pngs = _plots(res, out)
    lo = res["loso"]
    labels = lo["labels"]
    lines = [
        f"# Benchmark: {res['model']} ({res['task']})", "",
        f"Dataset: {res['dataset']}. Protocol: **{lo['protocol']}** over {len(lo['subjects'])} subjects, "
        f"{lo['windows']} windows of {res['preprocess']['window_s']:g} s (hop {res['preprocess']['hop_s']:g} s), "
        f"{lo['epochs']} epochs, seed {lo['seed']}. Every number below is for subjects the model never saw.", "",
        "| model | accuracy | macro-F1 | " + " | ".join(f"F1 {lab}" for lab in labels) + " | worst fold / fold std |",
        "|---|---|---|" + "---|" * len(labels) + "---|",
        _row("float (Keras)", lo["float"], labels),
    ]
    if "int8" in lo:
        lines.append(_row("int8 (TFLite)", lo["int8"], labels))
        lines += ["", f"int8 agrees with float on **{lo['agreement']:.1%}** of windows; "
                      f"accuracy change {lo['int8']['accuracy'] - lo['float']['accuracy']:+.3%}."]
    lines += ["", "## Per held-out subject", "", "| subject | windows | float | int8 | agreement |", "|---|---|---|---|---|"]
    for f in lo["folds"]:
        lines.append(f"| {f['subject']} | {f['n']} | {f['float_accuracy']:.3f} | "
                     f"{f.get('int8_accuracy', float('nan')):.3f} | {f.get('agreement', float('nan')):.3f} |")
    sh = res.get("shipped")
    if sh:
        lines += ["", "## The shipped model file", "",
                  f"- file: `{sh['file']}`, {sh['bytes']} bytes, SHA-256 `{sh['sha256'][:16]}…`, {sh['parameters']} parameters",
                  f"- per-window latency on this machine (median of {sh['latency_runs']}): preprocessing "
                  f"{sh['preprocess_ms']:.3f} ms + int8 invoke {sh['invoke_ms']:.3f} ms = {sh['window_ms']:.3f} ms; "
                  f"float Keras predict {sh.get('float_ms', float('nan')):.2f} ms",
                  ]
        if sh.get("holdout"):
            h = sh["holdout"]
            lines.append(f"- held out of the shipped model's training: {', '.join(h['subjects'])}: int8 accuracy "
                         f"{h['accuracy']:.3f}, macro-F1 {h['macro_f1']:.3f} on {h['n']} windows")
    if res.get("cross_dataset"):
        c = res["cross_dataset"]
        lines += ["", "## Cross-dataset check", "", c["text"]]
    if res.get("leaky"):
        lk = res["leaky"]
        lines += ["", "## For comparison only: a leaky random split", "",
                  f"{lk['protocol']}: accuracy {lk['accuracy']:.3f}, macro-F1 {lk['macro_f1']:.3f}. "
                  "Not a measure of how the model does on a new person."]
    lines += ["", *[f"![{p}]({p})" for p in pngs], "",
              f"Wall time: {res['wall_time_s']:.0f} s on {res['machine']}.", ""]
    md = out.with_suffix(".md")
    md.write_text("\n".join(lines))
    js = out.with_suffix(".json")
    js.write_text(json.dumps(res, indent=2) + "\n")
    return [md, js, *(out.parent / p for p in pngs)]
