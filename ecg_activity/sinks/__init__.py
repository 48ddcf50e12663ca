"""Outputs of a session, one class per kind, chosen by URL (BrainFlow's ``add_streamer`` is the model).

    capture:walk1.ecgcap            the raw stream, bit for bit (``--record`` / ``record -o``)
    jsonl:decisions.jsonl           one JSON line per window (``jsonl:-`` = stdout; ``--jsonl``)
    mqtt://broker:1883/PREFIX/DEV   each decision to PREFIX/DEV/decision, status retained (extra "fleet")
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


class Sink:
    """Base class: every method is optional.  Called from the session loop's one thread, in order."""

    #: the sink wants raw transport packets and link events (a capture does)
    raw = False

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

    def on_tick(self, now: float) -> None:
        """Called at least every few hundred ms while data flows (redraws, progress lines)."""

    def close(self) -> None:
        """The session ended (or failed): flush and release; called once, whatever happened before."""


SCHEMES: dict[str, str] = {
    "capture": "ecg_activity.sinks.capture:CaptureSink",
    "jsonl": "ecg_activity.sinks.jsonl:JsonlSink",
    "mqtt": "ecg_activity.sinks.mqtt:MqttSink",
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
