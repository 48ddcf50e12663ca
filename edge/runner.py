"""A live session: source -> (capture) -> pipeline -> JSON lines and/or the live display."""

from __future__ import annotations

import sys
import threading
import time

from dataclasses import dataclass
from typing import IO

import numpy as np

from ..bridge.blocks import SampleBlock
from ..bridge.capture import CaptureWriter
from ..bridge.sources import OpenSource
from ..bridge.stream import stream_blocks

from .display import DisplayState, render
from .model_bundle import ModelBundle
from .pipeline import ActivityPipeline

TRACE_S = 4.0


@dataclass
class SessionSummary:
    windows: int
    flagged: int
    per_activity: dict[str, int]
    per_smoothed: dict[str, int]
    label: str | None
    agreement: float | None          # share of classified windows whose decision equals the label
    smoothed_agreement: float | None
    samples: int
    lost_samples: int
    elapsed_s: float
    stream_s: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def run_session(src: OpenSource, bundle: ModelBundle, *, jsonl: IO[str] | None = None, display: bool = False,
                record_path: str | None = None, duration_s: float | None = None, channel: int = 0,
                smooth: int = 5, stop: threading.Event | None = None, console=None) -> SessionSummary:
    stop = stop or src.transport.stop
    pipe = ActivityPipeline(bundle, src.decoder.rate_hz, channel=channel, smooth=smooth)
    src.transport.open_first()
    writer = CaptureWriter(record_path, src.header) if record_path else None
    if duration_s:
        t = threading.Timer(duration_s, stop.set)
        t.daemon = True
        t.start()
    state = DisplayState(labels=bundle.labels, source=src.header.source, model=bundle.path.name,
                         backend=bundle.backend, recording=record_path, label=src.header.label,
                         trace_rate_hz=src.decoder.rate_hz, stats=src.decoder.stats)
    trace_n = int(TRACE_S * src.decoder.rate_hz)
    live = None
    if display:
        from rich.live import Live

        live = Live(render(state, _width(console)), console=console, refresh_per_second=4, transient=False)
        live.start()
    t0 = time.monotonic()
    last_draw = 0.0
    truth_n = truth_ok = 0
    try:
        for item in stream_blocks(src.transport, src.decoder, writer):
            if isinstance(item, SampleBlock):
                ch = min(channel, item.channels - 1)
                x = item.samples[:, ch].astype(np.float64)
                state.trace = np.concatenate([state.trace, x])[-trace_n:]
                for r in pipe.push(item):
                    r.truth = src.truth_at(int(round(r.end_s * src.decoder.rate_hz)) - 1)
                    if r.truth is not None and r.activity is not None:
                        truth_n += 1
                        truth_ok += r.activity == r.truth
                    state.last = r
                    state.windows = pipe.results
                    state.flagged = pipe.flagged
                    state.latency_ms = max(0.0, (time.time() - r.t) * 1e3)
                    if jsonl is not None:
                        jsonl.write(r.to_json() + "\n")
                        jsonl.flush()
            if writer is not None:
                state.recorded_bytes = writer.bytes_written
            if live is not None and time.monotonic() - last_draw > 0.25:
                last_draw = time.monotonic()
                live.update(render(state, _width(console)))
            if stop.is_set():
                break
    finally:
        if live is not None:
            live.update(render(state, _width(console)))
            live.stop()
        if writer is not None:
            writer.close()
        src.close()
    label = src.header.label
    agree = sagree = None
    classified = sum(pipe.counts.values())
    if label and label in bundle.labels and classified:
        agree = pipe.counts[label] / classified
        sagree = pipe.smoothed_counts[label] / classified
    elif truth_n:
        label, agree = "virtual wearable's recording", truth_ok / truth_n
    s = src.decoder.stats
    return SessionSummary(pipe.results, pipe.flagged, dict(pipe.counts), dict(pipe.smoothed_counts), label, agree,
                          sagree, s.samples, s.lost_samples, time.monotonic() - t0,
                          (s.samples + s.lost_samples) / src.decoder.rate_hz)


def _width(console) -> int:
    if console is not None:
        return min(console.width, 100)
    from rich.console import Console

    return min(Console(file=sys.stdout).width, 100)


