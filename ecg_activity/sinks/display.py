"""The live terminal view as a sink: keeps the view's state, redraws it a few times a second."""

from __future__ import annotations

import sys
import time

import numpy as np

from ..bridge.printable import printable
from ..edge.display import DisplayState, render
from . import SessionInfo, Sink

TRACE_S = 4.0


class DisplaySink(Sink):
    """The live ``rich`` view on a terminal (decision, heart rate, quality, link) and, with ``keys``, the label
    and marker keys of a session."""

    def __init__(self, console=None, recording: str | None = None, capture_sink=None, keys: bool = False) -> None:
        self.keys = keys
        self.console = console
        self.recording = recording
        self.capture_sink = capture_sink
        self.state: DisplayState | None = None
        self.live = None
        self._trace_n = 0
        self._last_draw = 0.0
        self._replay = False
        self.channel = 0
        self._acc = np.zeros(0)
        self._link = None                  # the session's LinkStatus while data is missing

    def on_start(self, info: SessionInfo) -> None:
        from rich.live import Live

        self._replay = info.kind == "replay"
        label = printable(info.header.label) if info.header.label else info.header.label
        self.state = DisplayState(labels=info.labels, source=printable(info.title), model=info.model,
                                  backend=info.backend, recording=self.recording, label=label,
                                  trace_rate_hz=info.header.rate_hz, stats=info.stats, window_s=info.window_s,
                                  keys=self.keys, trace_unit="mV" if info.header.mv_per_count > 0 else "counts")
        self._trace_n = int(TRACE_S * info.header.rate_hz)
        self.live = Live(render(self.state, *self._size()), console=self.console, refresh_per_second=4,
                         transient=False)
        self.live.start()

    def on_block(self, block) -> None:
        ch = min(self.channel, block.channels - 1)
        x = block.samples[:, ch].astype(np.float64) * (block.mv_per_count if block.mv_per_count > 0 else 1.0)
        self.state.trace = np.concatenate([self.state.trace, x])[-self._trace_n:]
        self.state.stream_s = (block.first_index + block.n) / block.rate_hz

    def on_aux(self, block) -> None:
        if block.stream != "acc":
            return
        g = 1000.0 if block.unit == "mG" else None
        mag = np.linalg.norm(block.samples.astype(float), axis=1)
        self._acc = np.concatenate([self._acc, mag])[-int(4 * block.rate_hz):]
        if g and self._acc.size > 10:
            self.state.motion_g = float(np.std(self._acc) / g)

    def on_event(self, event) -> None:
        s = self.state
        if event.kind == "battery" and "percent" in event.detail:
            s.battery = event.detail["percent"]
        elif event.kind == "heart_rate":
            s.contact = event.detail.get("contact")
        if event.kind == "label":
            s.label = printable(event.detail.get("label"))
        elif event.kind == "marker":
            s.markers += 1
        elif event.kind in ("pause", "resume"):
            s.paused = event.kind == "pause"

    def on_window(self, r) -> None:
        s = self.state
        s.last = r
        s.windows += 1
        s.flagged += r.activity is None
        # against the wall clock only a live source has a latency; a replay's times are the capture's
        s.latency_ms = None if self._replay else max(0.0, (time.time() - r.t) * 1e3)

    def on_notice(self, text: str) -> None:
        self.state.status = text

    def on_link(self, status) -> None:
        self._link = status if status.state in ("no_data", "reconnecting") else None
        self.state.outage = self._link.sentence(time.monotonic()) if self._link else ""

    def on_output_failed(self, name: str, reason: str) -> None:
        if self.recording and name == str(self.recording):
            self.state.recording_stopped = reason
            self.capture_sink = None
        else:
            self.state.status = f"{name} stopped: {reason}"

    def on_tick(self, now: float) -> None:
        if self._link is not None:
            self.state.outage = self._link.sentence(now)
        if self.capture_sink is not None:
            self.state.recorded_bytes = self.capture_sink.bytes_written
        if now - self._last_draw > 0.25:
            self._last_draw = now
            self.live.update(render(self.state, *self._size()))

    def close(self) -> None:
        if self.live is not None:
            self.live.update(render(self.state, *self._size()))
            self.live.stop()

    def _size(self) -> tuple[int, int]:
        """The panel's width (at most 100) and the terminal's height."""
        console = self.console
        if console is None:
            from rich.console import Console

            console = Console(file=sys.stdout)
        return min(console.width, 100), console.height
