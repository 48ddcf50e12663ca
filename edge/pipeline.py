"""Window -> preprocessing -> int8 model -> decision, heart rate and quality: one result per hop."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from ..bridge.blocks import SampleBlock

from .heart_rate import HeartRateTracker
from .model_bundle import ModelBundle
from .preprocess import FrameCache, spectrogram
from .smoothing import DecisionSmoother
from .windower import Window, Windower


@dataclass
class WindowResult:
    """One window's outcome: decision (or why it was flagged), probabilities, smoothed decision, heart rate
    and quality, missing fraction, label: what every sink receives."""

    t: float                          # host time of the window's newest sample (unix s)
    end_s: float                      # stream time of the window's end (s since the stream began)
    activity: str | None              # this window's decision (None when flagged)
    probabilities: dict[str, float] | None
    smoothed: str | None              # over the last few clean windows
    hr_bpm: float | None
    quality: float
    rr_ms: list[int] | None = None    # beat-to-beat intervals in the window
    rmssd_ms: float | None = None     # short-term heart-rate variability
    quality_reason: str = ""          # why the signal is poor, when it is
    flags: list[str] = field(default_factory=list)
    missing_fraction: float = 0.0     # share of the window lost in short gaps and bridged before classifying
    clipped_fraction: float = 0.0     # share of the window pinned at a rail (clipped QRS tips are classified)
    compute_ms: float = 0.0
    truth: str | None = None          # known only for a virtual wearable: what its recording shows

    def to_json(self) -> str:
        d = asdict(self)
        if d["truth"] is None:
            del d["truth"]
        if d["probabilities"]:
            d["probabilities"] = {k: round(v, 4) for k, v in d["probabilities"].items()}
        d["hr_bpm"] = None if self.hr_bpm is None else round(self.hr_bpm, 1)
        d["rmssd_ms"] = None if self.rmssd_ms is None else round(self.rmssd_ms, 1)
        d["quality"] = round(self.quality, 3)
        d["missing_fraction"] = round(self.missing_fraction, 4)
        d["clipped_fraction"] = round(self.clipped_fraction, 4)
        d["compute_ms"] = round(self.compute_ms, 3)
        return json.dumps(d)


class ActivityPipeline:
    """Sample blocks -> windows -> the one preprocessing -> the int8 model -> a decision per hop.

    Parameters
    ----------
    bundle : ModelBundle
        The int8 model with its metadata (window, hop, rate, preprocessing, labels).
    rate_hz : float
        The stream's own rate (resampled to the model's inside the preprocessing).
    channel : int
        Which ECG channel to classify.
    smooth : int
        Clean windows averaged for the smoothed decision.

    Returns (``push``)
    ------------------
    list of WindowResult
        One per completed window: decision and probabilities (None when flagged), smoothed decision,
        heart rate, RR, RMSSD, quality and its reason, flags, missing fraction.

    Examples
    --------
    >>> pipe = ActivityPipeline(ModelBundle.load(), 250.0)        # doctest: +SKIP
    >>> for block in blocks: results = pipe.push(block)          # doctest: +SKIP
    """

    def __init__(self, bundle: ModelBundle, rate_hz: float, channel: int = 0, smooth: int = 5,
                 min_quality: float = 0.0) -> None:
        bundle.check_stream(rate_hz)
        self.bundle = bundle
        self.rate_hz = rate_hz
        cfg = bundle.cfg
        self.windower = Windower(cfg.window_s, cfg.hop_s, rate_hz, channel)
        # each STFT frame computed once per stream, not once per window that holds it
        self.frames = FrameCache(cfg) if cfg.frame_local and rate_hz == cfg.rate_hz else None
        self.smoother = DecisionSmoother(bundle.labels, smooth)
        self.heart = HeartRateTracker(rate_hz)      # filters each sample once, not once per window
        self.min_quality = min_quality
        self.counts: Counter = Counter()
        self.smoothed_counts: Counter = Counter()
        self.flagged = 0
        self.results = 0

    def _follow_rate(self, block: SampleBlock) -> None:
        """A stream whose decoder learnt the device's own rate (a Polar H10's crystal runs at 128-131 Hz,
        not 130): windows, resampling and heart rate follow it, the samples held kept."""
        if block.rate_hz != self.rate_hz:
            self.bundle.check_stream(block.rate_hz)
            self.rate_hz = block.rate_hz
            self.windower.retune(block.rate_hz)
            self.heart = HeartRateTracker(block.rate_hz)
            if self.frames is not None and block.rate_hz != self.bundle.cfg.rate_hz:
                self.frames = None

    def push(self, block: SampleBlock) -> list[WindowResult]:
        """Results for the windows this block completes.  Several at once (a replay's big blocks) go
        through the model in one batched invoke; one at a time (live) through the single one: the
        same numbers either way (tested)."""
        self._follow_rate(block)
        windows = self.windower.push(block)
        if len(windows) < 2:
            return [self.classify(w) for w in windows]
        t0 = time.perf_counter()
        clean = [w for w in windows if w.clean]
        probs = iter(self.bundle.predict_batch(np.stack([self.features(w) for w in clean])) if clean else [])
        ms = (time.perf_counter() - t0) * 1e3 / len(windows)
        return [self.classify(w, next(probs) if w.clean else None, ms) for w in windows]

    def push_embeddings(self, block: SampleBlock) -> list[tuple[Window, np.ndarray, np.ndarray]]:
        """Embedding mode: the clean windows this block completes, each with the base model's
        probabilities and its embedding (what a personal head is fitted on); flagged windows are left
        out, and nothing is counted, smoothed or tracked."""
        self._follow_rate(block)
        return [(w, *self.bundle.embed(self.features(w))) for w in self.windower.push(block) if w.clean]

    def features(self, w: Window) -> np.ndarray:
        """The model input for a window: from the frame cache when it can be, else computed whole
        (equal either way: tested)."""
        if self.frames is not None and not w.missing_fraction:
            return self.frames.spectrogram(w.samples, w.end_index - w.samples.size)
        return spectrogram(w.samples, w.rate_hz, self.bundle.cfg)

    def classify(self, w: Window, probs: np.ndarray | None = None, ms: float = 0.0) -> WindowResult:
        """A flagged window gets no decision, no heart rate and, once the smoothing horizon has
        passed without a clean window, no smoothed decision either: nothing is carried over
        from before the trouble as if it were still true.  ``probs``: already computed (batch)."""
        t0 = time.perf_counter()
        hr = None
        if w.clean:
            hr = self.heart.update(w.samples, w.end_index)
            if probs is None:
                probs = self.bundle.predict(self.features(w))
        smoothed, _ = self.smoother.update(probs)
        ms += (time.perf_counter() - t0) * 1e3
        labels = self.bundle.labels
        activity = labels[int(np.argmax(probs))] if probs is not None else None
        self.results += 1
        if activity is None:
            self.flagged += 1
        else:
            self.counts[activity] += 1
            self.smoothed_counts[smoothed] += 1
        return WindowResult(
            t=w.t_host, end_s=w.end_index / w.rate_hz, activity=activity,
            probabilities=None if probs is None else {k: float(v) for k, v in zip(labels, probs)},
            smoothed=smoothed, hr_bpm=hr.bpm if hr else None, quality=hr.quality if hr else 0.0,
            rr_ms=np.rint(hr.rr_ms).astype(int).tolist() if hr else None, rmssd_ms=hr.rmssd_ms if hr else None,
            quality_reason=_reason(hr, w), flags=list(w.flags), missing_fraction=w.missing_fraction,
            clipped_fraction=w.clipped_fraction, compute_ms=ms)


def _reason(hr, w: Window) -> str:
    """Why the signal is poor or what to know about it: the heart rate's reason for a classified window
    (with how much of it was clipped, when its QRS tips were), the flags for a withheld one."""
    if not hr:
        return ", ".join(w.flags)
    note = f"clipped {w.clipped_fraction:.1%} of samples" if "clipped" in w.flags else ""
    return ", ".join(r for r in (hr.reason, note) if r)
