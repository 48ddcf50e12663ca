"""``ecg-activity plot CAPTURE [--model M] -o report.png``: one picture of a capture.

Four panels on one time axis: a readable 10 s ECG strip (band-passed, in mV,
from the cleanest stretch), heart rate, the decisions and per-class
probabilities against the labels and markers set during the session, and the
gaps and flagged windows shaded.  Needs matplotlib (the "plot" extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bridge.capture_decode import iter_capture
from .bridge.errors import UsageError
from .bridge.outfile import AtomicOutput
from .edge.display import display_filter
from .edge.model_bundle import ModelBundle
from .edge.pipeline import ActivityPipeline

#: the longest timeline one picture holds, gaps included (9 h at 250 Hz; 64 MB of samples)
MAX_PLOT_SAMPLES = 8_000_000
#: what matplotlib can write, by suffix
FORMATS = (".png", ".svg", ".pdf")


def analyse(capture: str, model: str):
    """Decode and classify the capture: (tally, samples in mV with NaN for gaps, rate, results)."""
    bundle = ModelBundle.load(model)
    tally, blocks = iter_capture(capture)
    pipe, results, parts, end = None, [], [], 0
    total = 0
    for b in blocks:
        if pipe is None:
            pipe = ActivityPipeline(bundle, b.rate_hz)
        if b.first_index > end:
            parts.append(np.full(min(b.first_index - end, int(3600 * b.rate_hz)), np.nan))
            total += parts[-1].size
        total += b.n
        if total > MAX_PLOT_SAMPLES:      # checked as it grows: a capture claiming endless gaps stays small here
            raise UsageError(f"{capture}: more than {MAX_PLOT_SAMPLES} samples with its gaps "
                             f"({MAX_PLOT_SAMPLES / b.rate_hz / 3600:.1f} h): too long for one picture")
        scale = b.mv_per_count if b.mv_per_count > 0 else 1.0
        parts.append(b.samples[:, 0] * scale)
        end = b.first_index + b.n
        results += pipe.push(b)
    x = np.concatenate(parts) if parts else np.zeros(0)
    return bundle, tally, x, results


def cleanest_start(x: np.ndarray, rate: float, seconds: float = 10.0) -> int:
    """Start of the 10 s stretch with no gap and the least high-frequency noise."""
    n = int(seconds * rate)
    if x.size <= n:
        return 0
    best, best_score = 0, np.inf
    for s in range(0, x.size - n, int(rate * 2)):
        w = x[s:s + n]
        if np.isnan(w).any():
            continue
        score = np.std(np.diff(w)) / (np.ptp(w) + 1e-9)
        if score < best_score:
            best, best_score = s, score
    return best


def plot(capture: str, model: str, out: str, force: bool = False) -> dict:
    """Draw ``capture`` through ``model`` into ``out``: ECG strip, heart rate, decisions against labels, gaps;
    returns the picture's path and its window and decision counts."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise UsageError("plot needs matplotlib: pip install 'ecg-activity[plot]'") from None
    bundle, tally, x, results = analyse(capture, model)
    h = tally.header
    rate = h.rate_hz
    if x.size == 0:
        raise UsageError(f"{capture} holds no samples to plot")
    t_end = x.size / rate
    fig, ax = plt.subplots(4, 1, figsize=(12, 9), gridspec_kw={"height_ratios": [1.3, 1, 1.6, 0.5]})
    # 1: a readable ECG strip
    s = cleanest_start(x, rate)
    strip = x[s:s + int(10 * rate)]
    ax[0].plot(s / rate + np.arange(strip.size) / rate, display_filter(np.nan_to_num(strip), rate), lw=0.7, color="k")
    ax[0].set_ylabel("ECG (mV, 0.5-40 Hz)" if h.mv_per_count > 0 else "ECG (counts)")
    ax[0].set_title(f"{capture}: {h.protocol} at {rate:g} Hz, {t_end / 60:.1f} min, label {h.label or '-'}; "
                    f"model {bundle.name}", fontsize=10)
    ax[0].set_xlabel("s (the cleanest 10 s)")
    # 2: heart rate
    te = np.array([r.end_s for r in results])
    hr = np.array([np.nan if r.hr_bpm is None else r.hr_bpm for r in results])
    ax[1].plot(te, hr, ".", ms=3, color="tab:red")
    ax[1].set_ylabel("heart rate (bpm)")
    ax[1].set_xlim(0, t_end)
    # 3: decisions and probabilities, labels and markers
    labels = bundle.labels
    probs = np.array([[np.nan] * len(labels) if r.probabilities is None else [r.probabilities[k] for k in labels]
                      for r in results]) if results else np.zeros((0, len(labels)))
    for i, lab in enumerate(labels):
        if probs.size:
            ax[2].plot(te, i + 0.8 * probs[:, i], lw=0.8)
    dec = [labels.index(r.activity) if r.activity else np.nan for r in results]
    ax[2].plot(te, dec, "k.", ms=2, label="decision")
    if probs.size:
        ax[2].plot([], [], color="grey", lw=0.8, label="probability (row height)")
    shown = set()                                   # each kind of event once in the legend
    for ev, at in zip(tally.events, tally.event_index):
        t = at / rate                               # where in the samples it was set (never a clock's word)
        if ev.kind == "label" and ev.detail.get("label") in labels:
            ax[2].axvline(t, color="m", lw=0.8, label=None if "label" in shown else "label set")
            ax[2].text(t, len(labels) - 0.3, ev.detail["label"], color="m", fontsize=8)
            shown.add("label")
        elif ev.kind == "marker":
            ax[2].axvline(t, color="orange", lw=0.8, ls="--", label=None if "marker" in shown else "marker")
            shown.add("marker")
    if h.label in labels:
        ax[2].axhline(labels.index(h.label) + 0.4, color="m", lw=3, alpha=0.2, label=f"label {h.label}")
    ax[2].set_yticks(range(len(labels)), labels)
    ax[2].set_xlim(0, t_end)
    ax[2].set_ylabel("decision / probability")
    ax[2].legend(loc="upper right", fontsize=8)
    # 4: gaps and flags
    gap = np.isnan(x)
    if gap.any():
        edges = np.flatnonzero(np.diff(np.concatenate(([0], gap.astype(int), [0]))))
        for k, (a, b) in enumerate(zip(edges[0::2], edges[1::2])):
            for axis in ax[1:]:
                axis.axvspan(a / rate, b / rate, color="grey", alpha=0.3,
                             label="samples lost" if k == 0 and axis is ax[3] else None)
    flagged = [r for r in results if r.activity is None]
    for k, r in enumerate(flagged):
        ax[3].axvspan(r.end_s - bundle.cfg.hop_s, r.end_s, color="red", alpha=0.4,
                      label="no decision (signal flagged)" if k == 0 else None)
    if gap.any() or flagged:
        ax[3].legend(loc="upper right", fontsize=8)
    ax[3].set_yticks([])
    ax[3].set_xlim(0, t_end)
    ax[3].set_xlabel("time (s)")
    ax[3].set_ylabel("flagged", rotation=0, ha="right")
    fig.tight_layout()
    with AtomicOutput(out, force) as tmp:          # private (0600), whole or not at all
        fig.savefig(tmp, dpi=100, format=Path(out).suffix.lower()[1:])
    plt.close(fig)
    counts = {}
    for r in results:
        if r.activity:
            counts[r.activity] = counts.get(r.activity, 0) + 1
    legend = [t.get_text() for axis in ax for t in (axis.get_legend().get_texts() if axis.get_legend() else [])]
    return {"png": out, "windows": len(results), "flagged": len(flagged), "decisions": counts, "legend": legend}
