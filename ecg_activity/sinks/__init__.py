"""Outputs of a session, one class per kind, chosen by URL (BrainFlow's ``add_streamer`` is the model).

    capture:walk1.ecgcap            the raw stream, bit for bit (``--record`` / ``record -o``)
    jsonl:decisions.jsonl           one JSON line per window (``jsonl:-`` = stdout; ``--jsonl``)
    mqtt://broker:1883/PREFIX/DEV   each decision to PREFIX/DEV/decision, status retained (extra "fleet");
                                    mqtts:// for TLS
    lsl:NAME                        Lab Streaming Layer: probabilities + marker streams (extra "lsl")

A new output is one module here implementing ``Sink`` plus one line in
``SCHEMES``.  The live view, the summary and the recorder's progress line
are sinks too, made by the commands that want them rather than by URL.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ..bridge.blocks import LinkEvent, Packet, SampleBlock
from ..bridge.errors import UsageError


@dataclass
class SessionInfo:
    """What every sink learns when the session starts."""

    header: Any                      # the source's CaptureHeader (protocol, rate, scale, label, device)
    title: str                       # what to call the source (a port, a file name, sim:frame)
    kind: str                        # serial, ble, sim or replay
    labels: tuple[str, ...] = ()     # the model's classes (empty when nothing is classified)
    model: str = ""
    backend: str = ""
    window_s: float = 0.0
    hop_s: float = 0.0
    stats: Any = None                # the decoder's live DecodeStats
    extra: dict = field(default_factory=dict)


@dataclass
class LinkStatus:
    """Whether data is flowing, as the session sees it: sent to every sink when it changes, so nothing
    shows a decision as current while the sensor is silent or its link is being reopened.

    ``state`` is ``waiting`` (no sample yet), ``live``, ``no_data`` (the link is up but nothing has
    arrived for ``SILENT_S``) or ``reconnecting`` (the link went; ``attempt`` failed reopenings so far).
    ``since`` is the ``time.monotonic()`` of the last sample (of the start while waiting); ``outage_s``,
    on the return to ``live``, is how long the data was missing (and ``attempt`` how many reopenings
    failed meanwhile)."""

    def worth_a_line(self, previous: "LinkStatus | None") -> bool:
        """Whether a log (stderr, JSON lines) should say so: a change of state, an outage's end, and while
        reconnecting the 1st, 2nd, 4th, 8th ... failed attempt, not every one."""
        if previous is None or previous.state != self.state:
            return self.state != "live" or bool(self.outage_s)
        return self.state == "reconnecting" and self.attempt > 0 and self.attempt & (self.attempt - 1) == 0

    state: str
    since: float
    t: float                         # wall clock of the change
    attempt: int = 0
    reason: str = ""
    outage_s: float = 0.0

    def sentence(self, now: float) -> str:
        """What a wearer or the journal should read now."""
        gone = max(0.0, now - self.since)
        if self.state == "no_data":
            why = f" ({self.reason})" if self.reason else ""
            return f"no data for {gone:.0f} s{why}: check the strap, cable or radio"
        if self.state == "reconnecting":
            tries = f", attempt {self.attempt + 1}" if self.attempt else ""
            return f"link lost ({self.reason or 'no reason given'}): reconnecting{tries}, {gone:.0f} s without data"
        if self.state == "live" and self.outage_s:
            return f"data again after {self.outage_s:.1f} s without"
        if self.state == "no_data" and self.attempt:
            return f"link back after {self.attempt} failed attempts; no data yet"
        return "waiting for data" if self.state == "waiting" else "live"

    def as_dict(self) -> dict:
        """The JSON line's fields (``"event": "link"``)."""
        d = {"event": "link", "state": self.state, "t": round(self.t, 3)}
        if self.state in ("no_data", "reconnecting"):
            d["reason"] = self.reason
        if self.attempt:
            d["failed_attempts"] = self.attempt
        if self.outage_s:
            d["outage_s"] = round(self.outage_s, 3)
        return d


class Sink:
    """Base class: every method is optional.  Called from the session loop's one thread, in order."""

    #: the sink wants raw transport packets and link events (a capture does)
    raw = False
    #: when it fails (OutputError: a full disk), the session drops it and goes on classifying, tells the
    #: other sinks (``on_output_failed``) and ends with the error; otherwise the failure ends the session
    fail_alone = False

    def on_start(self, info: SessionInfo) -> None:
        """The source is open: what it is, its rate and scale, the model; open files or connections here."""

    def on_packet(self, packet: Packet) -> None:
        """Bytes exactly as the transport delivered them (only to ``raw`` sinks): what a capture keeps."""

    def on_event(self, event: LinkEvent) -> None:
        """A link event (disconnect, reconnect, watchdog) or a key's (label, marker, pause) in stream order."""

    def on_block(self, block: SampleBlock) -> None:
        """Decoded ECG samples, with the stream index of the first and the scale (counts or mV)."""

    def on_aux(self, block) -> None:
        """Samples of a side stream (accelerometer, magnetometer): a ``bridge.blocks.AuxBlock``."""

    def on_window(self, result) -> None:
        """One classified (or flagged) window: an ``edge.pipeline.WindowResult``."""

    def on_notice(self, text: str) -> None:
        """Something the user should know now (no data decoded yet, a wrong protocol?)."""

    def on_link(self, status: LinkStatus) -> None:
        """Data stopped, the link is being reopened, data came back: whenever the link's state changes."""

    def on_output_failed(self, name: str, reason: str) -> None:
        """Another output failed and was dropped (``name``: its file; ``reason``: the one-line error)."""

    def on_tick(self, now: float) -> None:
        """Called at least every few hundred ms, data or not (redraws, progress lines, clocks)."""

    def close(self) -> None:
        """The session ended (or failed): flush and release; called once, whatever happened before."""


SCHEMES: dict[str, str] = {
    "capture": "ecg_activity.sinks.capture:CaptureSink",
    "jsonl": "ecg_activity.sinks.jsonl:JsonlSink",
    "mqtt": "ecg_activity.sinks.mqtt:MqttSink",
    "mqtts": "ecg_activity.sinks.mqtt:MqttSink",
    "lsl": "ecg_activity.sinks.lsl:LslSink",
}


def scheme_of(url: str) -> str:
    """The scheme of a sink URL (``jsonl`` in ``jsonl:-``), lower-case; empty when there is none."""
    return url.split(":", 1)[0].lower() if ":" in url else ""


def open_sink(url: str) -> Sink:
    """The sink for ``url`` (checked now, opened when the session starts); UsageError if unknown."""
    scheme = scheme_of(url)
    if scheme not in SCHEMES:
        raise UsageError(f"unknown output {url!r}: use " + ", ".join(f"{s}:..." for s in SCHEMES))
    mod, cls = SCHEMES[scheme].split(":")
    return getattr(importlib.import_module(mod), cls).from_url(url)
