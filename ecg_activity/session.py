"""The one session loop behind ``record``, ``run``, ``replay`` and ``demo``: a source, optionally a
classifier, and any number of sinks.

    source --packets/events--> raw sinks (capture)          recorded before anything else
           --decoder--> sample blocks --> sinks.on_block
                        --> pipeline (windows, int8) --> sinks.on_window

Nothing received is lost: raw sinks see every packet before it is decoded.
The loop ends when the source ends, the duration is up or ``stop`` is set
(Ctrl-C, SIGTERM, SIGHUP).  A recording that fails (a full disk) stops alone:
the session drops that sink, tells the others and goes on classifying, and
``failed`` holds the error for the command to end with.  The loop keeps turning while the sensor is silent
(the transports yield Idle), and every sink hears when data stops, the link
is being reopened and data comes back (``Sink.on_link``), so nothing shows a
stale decision as current.  Sinks are closed in every case, a failing sink
(disk full) stops the session with its one-line error, and a finite session
that decoded nothing is an error, not a silent success.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass

from . import interrupts
from .bridge.blocks import Idle, LinkEvent, Packet, SampleBlock
from .bridge.errors import NoDataError, OutputError
from .bridge.sources import OpenSource
from .bridge.stream import LINK_LOST
from .sinks import LinkStatus, SessionInfo, Sink

#: after this long with bytes arriving but no sample decoded, the user is told
NO_DATA_WARNING_S = 5.0
TICK_S = 0.25
#: no sample for this long (the link still up) is an outage: "no data for N s"
SILENT_S = 2.0


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM/SIGINT/SIGHUP end the session cleanly (capture closed): systemd, Ctrl-C, a closed terminal."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: (interrupts.note(), stop.set()))
    if interrupts.received():                           # a start-up Ctrl-C that an import swallowed
        stop.set()


def stop_after(stop: threading.Event, duration_s: float | None) -> None:
    """Set ``stop`` after ``duration_s`` (waiting in slices, so any finite duration works)."""
    if not duration_s:
        return
    deadline = time.monotonic() + duration_s

    def wait() -> None:
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                stop.set()
                return
            stop.wait(min(left, 3600.0))
    threading.Thread(target=wait, daemon=True, name="session-timer").start()


@dataclass
class SessionCounts:
    """Running totals of a session (bytes, samples, windows), for the live view and the summary."""

    bytes: int = 0
    samples: int = 0
    windows: int = 0


class Session:
    """The one loop: a source's packets to raw sinks, its samples through the pipeline, results to sinks.

    Parameters
    ----------
    source : OpenSource
        From ``bridge.sources.open_source``.
    sinks : list of Sink
        Outputs (``sinks.open_sink(url)``, the live view, the summary); each hook is optional.
    pipeline : edge.pipeline.ActivityPipeline, optional
        Without it the session only records and reports blocks (``record``).
    duration_s : float, optional
        Stop after this many seconds; ``stop`` (an Event) ends it at any time.
    controls : keys.Controls, optional
        Key presses that become label, marker and pause events.

    Examples
    --------
    >>> src = open_source("sim:frame", speed=0)                                    # doctest: +SKIP
    >>> Session(src, [open_sink("capture:walk.ecgcap")], duration_s=60).run()     # doctest: +SKIP
    """

    def __init__(self, source: OpenSource, sinks: list[Sink], pipeline=None, *, duration_s: float | None = None,
                 stop: threading.Event | None = None, require_data: bool = True, controls=None) -> None:
        self.source = source
        self.sinks = list(sinks)
        self.pipeline = pipeline
        self.duration_s = duration_s
        self.stop = stop or source.transport.stop
        self.require_data = require_data
        self.counts = SessionCounts()
        self.controls = controls            # keys.Controls: labels, markers, pause from the keyboard
        self._markers = 0
        self._paused = False
        self._warned = False
        self.failed: list[OutputError] = []          # outputs dropped on the way (a full disk)
        self.link = LinkStatus("waiting", time.monotonic(), time.time())
        self._last_sample = 0.0              # time.monotonic() of the last decoded sample

    def info(self) -> SessionInfo:
        src, p = self.source, self.pipeline
        return SessionInfo(header=src.header, title=src.title or src.header.source, kind=src.kind,
                           labels=tuple(p.bundle.labels) if p else (), model=p.bundle.name if p else "",
                           backend=p.bundle.backend if p else "", window_s=p.bundle.cfg.window_s if p else 0.0,
                           hop_s=p.bundle.cfg.hop_s if p else 0.0, stats=src.decoder.stats)

    def run(self) -> SessionCounts:
        src = self.source
        started: list[Sink] = []
        try:
            src.transport.open_first()
            info = self.info()
            for s in self.sinks:
                s.on_start(info)
                started.append(s)
            stop_after(self.stop, self.duration_s)
            self._loop()
        finally:
            errors = []
            for s in reversed(started):
                if s not in self.sinks:           # dropped after a failure, closed then
                    continue
                try:
                    s.close()
                except Exception as e:          # close them all; report the first failure
                    errors.append(e)
            src.close()
            if errors and sys.exc_info()[0] is None:
                raise errors[-1]
        if self.require_data and self.counts.samples == 0 and not interrupts.received():   # not if stopped
            what = f"{self.counts.bytes} bytes received" if self.counts.bytes else "nothing received"
            raise NoDataError(f"no samples decoded from {src.title or src.header.source} ({what}; "
                              f"is the protocol {src.protocol.name!r} right?)")
        return self.counts

    def _loop(self) -> None:
        src, dec = self.source, self.source.decoder
        t_first_byte = None
        last_tick = 0.0
        for item in src.transport:
            if isinstance(item, Packet):
                self._call("on_packet", item, raw_only=True)
                self.counts.bytes += len(item.data)
                t_first_byte = t_first_byte or time.monotonic()
                for block in dec.feed(item.data, item.t_host, item.t_first):
                    self._block(block)
                for aux in dec.take_aux():
                    self._call("on_aux", aux)
                for text in dec.take_notices():       # another device on the link, ours back
                    self._call("on_notice", text)
            elif isinstance(item, LinkEvent):
                self._call("on_event", item)
                if item.kind in LINK_LOST:
                    dec.link_lost(item.t_host)
                elif item.kind == "reconnect":
                    dec.stats.reconnects += 1
                self._link_event(item)
            elif not isinstance(item, Idle):
                continue
            if self.controls is not None:
                self._commands()
            now = time.monotonic()
            if now - last_tick >= TICK_S:
                last_tick = now
                self._check_data(t_first_byte, now)
                self._check_silence(now)
                self._call("on_tick", now)
            if self.stop.is_set():
                break
        for block in dec.flush():
            self._block(block)

    def _call(self, hook: str, *args, raw_only: bool = False) -> None:
        """Every sink's ``hook``; a ``fail_alone`` sink that fails is dropped (the recording stops, the
        session goes on) unless nothing else would be left to do."""
        for s in list(self.sinks):
            if raw_only and not s.raw:
                continue
            try:
                getattr(s, hook)(*args)
            except OutputError as e:
                if not s.fail_alone or (self.pipeline is None and not any(
                        o.raw or o.fail_alone for o in self.sinks if o is not s)):
                    raise
                self._drop(s, e)

    def _drop(self, sink: Sink, error: OutputError) -> None:
        self.sinks.remove(sink)
        self.failed.append(error)
        try:
            sink.close()
        except Exception:
            pass
        name = str(getattr(sink, "path", type(sink).__name__))
        for s in list(self.sinks):
            s.on_output_failed(name, str(error))

    def _commands(self) -> None:
        """Key presses become timed events, recorded in the capture like link events."""
        for cmd in self.controls.drain():
            if cmd[0] == "quit":
                self.stop.set()
                continue
            if cmd[0] == "label":
                ev = LinkEvent("label", time.time(), {"label": cmd[1]})
            elif cmd[0] == "marker":
                self._markers += 1
                ev = LinkEvent("marker", time.time(), {"n": self._markers})
            elif cmd[0] == "pause":
                self._paused = not self._paused
                ev = LinkEvent("pause" if self._paused else "resume", time.time(), {})
            else:
                continue
            self._call("on_event", ev)

    def _set_link(self, state: str, since: float, attempt: int = 0, reason: str = "", outage_s: float = 0.0) -> None:
        self.link = LinkStatus(state, since, time.time(), attempt, reason, outage_s)
        self._call("on_link", self.link)

    def _link_event(self, ev: LinkEvent) -> None:
        """The transport's word on the link: lost, a failed reopening, back (data must then flow again)."""
        since = self._last_sample or self.link.since
        reason = str(ev.detail.get("reason", "")) if isinstance(ev.detail, dict) else ""
        if ev.kind in LINK_LOST:
            self._set_link("reconnecting", since, 0, reason or ("silent" if ev.kind == "watchdog" else ""))
        elif ev.kind == "reconnect_failed" and self.link.state == "reconnecting":
            attempt = ev.detail.get("attempt", self.link.attempt + 1) if isinstance(ev.detail, dict) else 0
            self._set_link("reconnecting", since, int(attempt) if isinstance(attempt, int) else 0,
                           reason or self.link.reason)
        elif ev.kind == "reconnect" and self.link.state == "reconnecting":
            self._set_link("no_data", since, self.link.attempt, "reconnected, waiting for the sensor")

    def _check_silence(self, now: float) -> None:
        fast_replay = self.source.kind == "replay" and getattr(self.source.transport, "speed", None) is None
        if self.link.state == "live" and now - self._last_sample > SILENT_S and not fast_replay:
            self._set_link("no_data", self._last_sample)

    def _block(self, block: SampleBlock) -> None:
        now = time.monotonic()
        if block.n and self.link.state != "live":
            outage = now - self.link.since if self.link.state != "waiting" else 0.0
            self._last_sample = now
            self._set_link("live", now, self.link.attempt, outage_s=outage)
        if block.n:
            self._last_sample = now
        self.counts.samples += block.n
        self._call("on_block", block)
        if self.pipeline is None:
            return
        for r in self.pipeline.push(block):
            r.truth = self.source.truth_at(int(round(r.end_s * block.rate_hz)) - 1)
            self.counts.windows += 1
            self._call("on_window", r)

    def _check_data(self, t_first_byte: float | None, now: float) -> None:
        if self._warned or self.counts.samples or t_first_byte is None or now - t_first_byte < NO_DATA_WARNING_S:
            return
        self._warned = True
        text = (f"{self.counts.bytes} bytes received in {now - t_first_byte:.0f} s but no valid "
                f"{self.source.protocol.name!r} frame: is --protocol right?")
        self._call("on_notice", text)
