"""``ecg-activity calibrate``: the wearer's own labelled captures -> a personal model bundle.

The result is a model like any other (``NAME.tflite`` + ``NAME.json`` +
``NAME.md``): the base model's int8 file, byte for byte, and metadata that
adds the personal head with its provenance (the base model's SHA-256, the
seconds of signal per class, the captures).  The base model is never
touched.  Runs with the edge extra alone (numpy, scipy, LiteRT).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bridge.capture_decode import iter_capture, label_over, label_track
from .bridge.errors import EcgActivityError, OutputError, UsageError
from .bridge.outfile import write_together
from .edge.calibration import check_amounts, fit_head
from .edge.model_bundle import ModelBundle, metadata_path
from .edge.model_meta import ModelMeta
from .edge.pipeline import ActivityPipeline
from .sinks import Sink


@dataclass
class LabelledEmbeddings:
    """The wearer's clean windows as the base model sees them (embeddings and probabilities) with their labels:
    all a personal head is fitted on."""

    embeddings: np.ndarray          # (windows, features)
    probs: np.ndarray               # the base model's probabilities
    y: np.ndarray                   # class index per window
    sources: list[str]
    seconds: dict[str, float]       # clean signal per class (windows x hop)


def capture_windows(bundle: ModelBundle, paths: list[str]) -> LabelledEmbeddings:
    """Every clean window of the captures that lies wholly inside one label (the capture's ``--label``, or
    the label events set during a session, placed by sample position), through the model up to its
    embedding.  A window straddling a label change or a pause belongs to no class and is left out."""
    embs, probs, ys, srcs = [], [], [], []
    spans: dict[str, list[tuple[str, int, int]]] = {lab: [] for lab in bundle.labels}
    rate = {}
    for path in paths:
        tally, blocks = iter_capture(path)
        blocks = list(blocks)                       # the events' positions are complete only now
        track = label_track(tally.header, tally.events, tally.event_index)
        pipe = ActivityPipeline(bundle, tally.header.rate_hz)
        rate[path] = tally.header.rate_hz
        for block in blocks:
            for w, p, e in pipe.push_embeddings(block):
                start = w.end_index - w.samples.size
                label = label_over(track, start, w.end_index)
                if label not in bundle.labels:
                    continue
                embs.append(e)
                probs.append(p)
                ys.append(bundle.labels.index(label))
                srcs.append(Path(path).name)
                spans[label].append((path, start, w.end_index))
    y = np.array(ys, dtype=int)
    seconds = {lab: covered_seconds(spans[lab], rate) for lab in bundle.labels}
    if not ys:
        return LabelledEmbeddings(np.zeros((0, 0)), np.zeros((0, len(bundle.labels))), y, srcs, seconds)
    return LabelledEmbeddings(np.stack(embs), np.stack(probs), y, srcs, seconds)


def covered_seconds(spans: list[tuple[str, int, int]], rate: dict[str, float]) -> float:
    """Seconds of signal the windows of one class cover, each sample counted once (overlapping windows
    a hop apart cover one window plus a hop each, not a window each): what "30 s of a class" means."""
    total = 0.0
    for path in sorted({p for p, _, _ in spans}):
        ranges = sorted((a, b) for p, a, b in spans if p == path)
        covered, end = 0, None
        for a, b in ranges:
            if end is None or a > end:
                covered += b - a
            elif b > end:
                covered += b - end
            end = b if end is None else max(end, b)
        total += covered / rate[path]
    return total


class CalibrationFailed(EcgActivityError):
    """The personal head does not separate the wearer's classes on windows held out of its fit."""


def separates(k: int) -> float:
    """The balanced held-out accuracy a head over ``k`` classes must reach: halfway from chance to perfect
    (three identical captures under three labels reach chance, 33 %)."""
    return 0.5 * (1.0 + 1.0 / k)


def held_out_accuracy(emb: np.ndarray, probs: np.ndarray, y: np.ndarray, classes: list[int]) -> float | None:
    """The personal head's balanced accuracy on the wearer's own windows held out of its fit: each class's
    windows split in time into halves, fitted on one half of every class and tested on the other, both
    ways.  None when a class has fewer than four windows (nothing to hold out)."""
    from .edge.calibration import fit_head

    halves = np.zeros(y.size, dtype=int)
    for c in classes:
        at = np.flatnonzero(y == c)
        if at.size < 4:
            return None
        halves[at[at.size // 2:]] = 1
    correct = {c: 0 for c in classes}
    for fold in (0, 1):
        fit, test = halves != fold, halves == fold
        head = fit_head(emb[fit], y[fit], classes, p_base=probs[fit])
        pred = head.apply(probs[test], emb[test]).argmax(1)          # over every class of the base model
        for c in classes:
            correct[c] += int(((y[test] == c) & (pred == c)).sum())
    return float(np.mean([correct[c] / max(1, int((y == c).sum())) for c in classes]))


def calibrate(model: str, captures: list[str], output: str, min_seconds: float | None = None) -> dict:
    """Fit and write the personal bundle; returns a summary.  Raises EcgActivityError (one line)."""
    from .edge.calibration import MIN_SECONDS

    t0 = time.perf_counter()
    base = ModelBundle.load(model)
    if base.head is not None:
        raise UsageError(f"{Path(model).name} is already calibrated: calibrate its base model instead")
    out = Path(output)
    if out.suffix != ".tflite":
        raise UsageError("the calibrated model is a .tflite bundle: -o NAME.tflite")
    for p in (out, metadata_path(out), out.with_suffix(".md")):
        if p.exists() or p.is_symlink():
            raise OutputError(f"{p} already exists; models are never overwritten")
    data = capture_windows(base, captures)
    try:
        classes = check_amounts(data.seconds, base.labels, MIN_SECONDS if min_seconds is None else min_seconds)
    except ValueError as e:
        raise EcgActivityError(str(e)) from None
    idx = [base.labels.index(c) for c in classes]
    keep = np.isin(data.y, idx)
    head = fit_head(data.embeddings[keep], data.y[keep], idx, p_base=data.probs[keep])
    fit_s = time.perf_counter() - t0
    held = held_out_accuracy(data.embeddings[keep], data.probs[keep], data.y[keep], idx)
    if held is not None and held < separates(len(idx)):
        raise CalibrationFailed(
            f"calibration failed: on the wearer's own windows held out of the fit, the personal head tells "
            f"{', '.join(classes)} apart on {held:.0%} (balanced; chance {1 / len(idx):.0%}, needed "
            f"{separates(len(idx)):.0%}): are the labels right, and was each activity really done? No model written")
    before = float(np.mean(data.probs[keep].argmax(1) == data.y[keep]))
    after = float(np.mean(head.apply(data.probs[keep], data.embeddings[keep]).argmax(1) == data.y[keep]))
    meta = ModelMeta.read(metadata_path(base.path))
    meta.card = None
    meta.calibration = {
        "base_model": base.path.name, "base_sha256": base.meta.tflite_sha256,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"), "captures": [Path(c).name for c in captures],
        "seconds_per_class": data.seconds, "calibrated": classes,
        "not_calibrated": [c for c in base.labels if c not in classes],
        "fit_seconds": round(fit_s, 3), "training_accuracy_before": before, "training_accuracy_after": after,
        "held_out_balanced_accuracy": held, "head": head.to_dict(),
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        model = base.path.read_bytes()
    except OSError as e:
        raise OutputError(f"cannot write {out} ({e.strerror or e})") from None
    # the three files only together (0600: a personal model is health data, and a head others could
    # write could be tampered with); a full disk leaves none of them
    write_together({out: model, metadata_path(out): (json.dumps(meta.to_dict(), indent=2) + "\n").encode(),
                    out.with_suffix(".md"): card(meta).encode()})
    return {"model": str(out), "base": base.path.name, "calibrated": classes,
            "not_calibrated": meta.calibration["not_calibrated"], "seconds_per_class": data.seconds,
            "fit_seconds": round(fit_s, 3), "training_accuracy_before": round(before, 3),
            "training_accuracy_after": round(after, 3),
            "held_out_balanced_accuracy": None if held is None else round(held, 3)}


def card(meta: ModelMeta) -> str:
    """The personal model's small card: base model and its SHA-256, calibrated classes and minutes, and what
    happens to the classes left out."""
    c = meta.calibration
    secs = ", ".join(f"{k} {v / 60:.1f} min" for k, v in c["seconds_per_class"].items() if v)
    return "\n".join([
        f"# Personal model: calibrated from {c['base_model']}", "",
        f"- **Base model**: `{c['base_model']}` (SHA-256 `{c['base_sha256']}`), unchanged; this bundle adds a "
        "personal final layer fitted on the wearer's own windows (numpy/scipy, on the device).",
        f"- **Calibrated classes**: {', '.join(c['calibrated'])}; windows unlike the calibration windows are "
        "decided by the base model" + (f", so {', '.join(c['not_calibrated'])} can still be recognised."
                                       if c["not_calibrated"] else "."),
        f"- **Calibration data**: {secs} of clean signal, from {', '.join(c['captures'])} ({c['created']}).",
        f"- **On its own calibration windows**: {c['training_accuracy_before']:.1%} correct before, "
        f"{c['training_accuracy_after']:.1%} after (not a test: see the base model's card for the "
        "held-out evaluation of calibration).",
        f"- Fitted in {c['fit_seconds']:.2f} s.", ""])


def summary_json(d: dict) -> str:
    """The one JSON line ``calibrate`` prints."""
    return json.dumps(d)


class GuideSink(Sink):
    """Guided calibration: "walk now: 1:40 left" on the live view (or on stderr without one).

    The countdown is in seconds of signal received, not of wall time: a link that drops for 20 s during
    the walk does not shorten the walk's recording (the view says the link is down meanwhile), and a
    ``sim:`` source at ``--speed 4`` records ``seconds`` of signal in a quarter of the time.  ``stop`` is
    set once ``seconds`` of signal are in."""

    def __init__(self, activity: str, seconds: float, display=None, stop=None) -> None:
        self.activity = activity
        self.seconds = seconds
        self.display = display
        self.stop = stop
        self.received_s = 0.0
        self._last = -1

    def text(self, now: float = 0.0) -> str:
        left = max(0, int(math.ceil(self.seconds - self.received_s - 1e-9)))
        return f"{self.activity} now: {left // 60}:{left % 60:02d} left"

    def on_block(self, block) -> None:
        if block.rate_hz > 0:
            self.received_s += block.n / block.rate_hz
        if self.received_s >= self.seconds and self.stop is not None:
            self.stop.set()

    def on_tick(self, now: float) -> None:
        if self.display is not None and self.display.state is not None:
            self.display.state.banner = self.text(now)
            return
        left = int(self.seconds - self.received_s)
        if left // 10 != self._last:
            self._last = left // 10
            print(self.text(now), file=sys.stderr, flush=True)
