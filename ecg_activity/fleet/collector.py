"""The central side of a fleet: ``ecg-activity collect mqtt://BROKER/PREFIX/# --out DIR``.

Subscribes (QoS 1, a persistent session, so the broker keeps what arrives
while the collector is away) to every device's decisions and status, writes
one JSON-lines file per device (``DIR/DEVICE.jsonl``, appended, 0600) with
each decision exactly once, and shows a live table of the devices.

Any client on the broker can publish anything, so nothing from it is
trusted: every message is checked against ``fleet.schema`` (size, depth,
types, a device id that is its own file name) and written re-serialised,
duplicates and forged sequence numbers are sorted out by ``fleet.sequence``,
at most ``MAX_OPEN_FILES`` files are open at once, and nothing raised while
handling a message can reach paho's network thread (an exception there used
to end it: the collector ran on deaf).  Rejected messages are counted by
reason.  A message that could not be written because the disk is full is
not acknowledged: the broker keeps it for the collector's next session.
The client id is random, kept in ``DIR/.collector-id`` (0600): a guessable
one let a rogue client take over the persistent session and its queue.
"""

from __future__ import annotations

import errno
import math
import os
import secrets
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..bridge.capture import create_private, write_fully
from ..bridge.errors import OutputError, UsageError
from . import MqttUrl, connect_options, refusal
from .schema import Rejected, decision, line, parse, status, valid_device_id
from .sequence import SeqTracker

#: device files open at once (least recently written closed first): a thousand devices never run the
#: collector out of descriptors
MAX_OPEN_FILES = 64
#: devices tracked at once (a flood of made-up ids cannot grow the collector's memory without bound)
MAX_DEVICES = 5_000
#: write failures that pass (the disk fills, then is freed): the message is left for redelivery
TRANSIENT = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EMFILE, errno.ENFILE}
ID_FILE = ".collector-id"


@dataclass
class DeviceState:
    """What the collector knows of one device: the sequence numbers written (to drop QoS 1 duplicates and
    see gaps), counts, last decision and status, and when it was last heard."""

    device: str
    seqs: SeqTracker = field(default_factory=SeqTracker)
    decisions: int = 0
    duplicates: int = 0
    last: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    last_seen: float = 0.0

    @property
    def gaps(self) -> int:
        return self.seqs.gaps


def _last_line(path: Path) -> dict | None:
    """The last decision a device's file holds (cleaned as a message would be), or None."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().splitlines()
    except OSError:
        return None
    for raw in reversed(lines):
        try:
            body = parse(raw)
            return decision(body, str(body.get("device", "")))
        except Rejected:
            continue
    return None


def collector_id(out: Path, given: str | None = None) -> str:
    """The collector's MQTT client id: ``given``, else the one kept in ``out/.collector-id``, else a new
    random one kept there (0600), so the broker's persistent session survives the collector's restarts."""
    if given:
        return given
    path = out / ID_FILE
    try:
        with open(path, encoding="ascii") as f:
            cid = f.read().strip()
        if 8 <= len(cid) <= 64 and cid.replace("-", "").isalnum():
            return cid
    except (OSError, UnicodeDecodeError):
        pass
    cid = "ecg-collector-" + secrets.token_hex(12)
    fd = create_private(path)
    try:
        write_fully(fd, (cid + "\n").encode())
    finally:
        os.close(fd)
    return cid


class Collector:
    """Subscribes to ``PREFIX/#`` and appends every device's valid decisions to ``DEVICE.jsonl`` (append-only,
    0600), once each; the fleet's one place to watch.  No message can stop it."""

    def __init__(self, url: str, out_dir: str | os.PathLike, client_id: str | None = None) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError:
            raise UsageError("collect needs the fleet extra: pip install 'ecg-activity[fleet]'") from None
        self.url = MqttUrl.parse(url, collector=True)
        self.prefix = self.url.path
        self.out = Path(out_dir)
        try:
            self.out.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise OutputError(f"cannot create {self.out} ({e.strerror or e})") from None
        self.devices: dict[str, DeviceState] = {}
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self.client_id = collector_id(self.out, client_id)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False,
                                  manual_ack=True)
        self.client.suppress_exceptions = True          # belt and braces: _on_message catches everything
        connect_options(self.client, self.url)
        self.client.reconnect_delay_set(0.2, 5.0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.refused: str | None = None
        self.messages = 0
        self.rejected: Counter = Counter()               # reason -> messages dropped
        self.write_errors: Counter = Counter()           # reason -> messages not written
        self.unacked = 0                                 # left with the broker for redelivery

    def _device(self, name: str) -> DeviceState | None:
        d = self.devices.get(name)
        if d is None:
            if len(self.devices) >= MAX_DEVICES:
                return None
            d = self.devices[name] = DeviceState(name)
            last = _last_line(self.out / f"{name}.jsonl")
            if last:
                d.seqs.resume(last["session"], last["seq"])
                d.last = last
        return d

    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if reason.is_failure:
            self.refused = refusal(reason)
            return
        base = f"{self.prefix}/" if self.prefix else ""
        client.subscribe([(f"{base}+/decision", 1), (f"{base}+/status", 1)])
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            ack = self._handle(msg.topic, bytes(msg.payload))
        except Exception as e:                   # nothing may reach paho's thread: it would stop listening
            self.write_errors[f"internal: {type(e).__name__}"] += 1
            ack = True
        if ack and msg.qos > 0:
            try:
                client.ack(msg.mid, msg.qos)
            except Exception:
                pass

    def _handle(self, topic: str, payload: bytes) -> bool:
        """One message: checked, deduplicated, written.  Returns whether to acknowledge it (not when the
        disk refused it for now: the broker then keeps it)."""
        parts = topic.split("/")
        with self._lock:
            self.messages += 1
            if len(parts) < 2 or parts[-1] not in ("decision", "status"):
                self.rejected["unknown topic"] += 1
                return True
            name, kind = parts[-2], parts[-1]
            if not valid_device_id(name):
                self.rejected["bad device id"] += 1
                return True
            try:
                body = parse(payload)
                clean = status(body) if kind == "status" else decision(body, name)
            except Rejected as e:
                self.rejected[str(e)] += 1
                return True
            d = self._device(name)
            if d is None:
                self.rejected["too many devices"] += 1
                return True
            d.last_seen = time.time()
            if kind == "status":
                d.status = clean
                return True
            verdict = d.seqs.check(clean["session"], clean["seq"])
            if verdict == "duplicate":
                d.duplicates += 1          # QoS 1 delivered it again: written already
                return True
            if verdict == "implausible":
                self.rejected["implausible seq"] += 1
                return True
            try:
                self._write(name, line(clean))
            except OSError as e:
                self.write_errors[os.strerror(e.errno) if e.errno else str(e)] += 1
                if e.errno in TRANSIENT:
                    self.unacked += 1
                    return False
                return True
            except OutputError as e:
                self.write_errors[str(e)] += 1
                return True
            d.seqs.written(clean["session"], clean["seq"])
            d.last = clean
            d.decisions += 1
            return True

    def _write(self, name: str, data: bytes) -> None:
        fd = self._fds.get(name)
        if fd is None:
            while len(self._fds) >= MAX_OPEN_FILES:
                os.close(self._fds.popitem(last=False)[1])
            fd = self._fds[name] = create_private(self.out / f"{name}.jsonl", append=True)
        self._fds.move_to_end(name)
        write_fully(fd, data)

    def start(self) -> None:
        try:
            self.client.connect_async(self.url.host, self.url.port, keepalive=15)
        except (OSError, ValueError) as e:
            raise OutputError(f"cannot reach MQTT broker {self.url.where} ({e})") from None
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def totals(self) -> dict:
        """What the collector did, for its last line and ``--summary-json``."""
        devs = self.devices.values()
        return {"decisions": sum(d.decisions for d in devs), "devices": len(self.devices),
                "duplicates": sum(d.duplicates for d in devs), "gaps": sum(d.gaps for d in devs),
                "rejected": dict(self.rejected), "write_errors": dict(self.write_errors),
                "left_for_redelivery": self.unacked}

    def table(self):
        """The live view: one row per device (every cell plain text: a label is never read as markup)."""
        from rich.table import Table
        from rich.text import Text

        state = "connected" if self.connected.is_set() else f"refused: {self.refused}" if self.refused else "connecting…"
        bad = sum(self.rejected.values())
        failed = sum(self.write_errors.values())
        title = f"ecg-activity fleet · {self.url.where}/{self.prefix} · {state}"
        if bad or failed:
            title += f" · {bad} rejected, {failed} not written"
        t = Table(title=Text(title))
        for col in ("device", "state", "link", "activity", "smoothed", "HR", "decisions", "gaps", "lost samples",
                    "reconnects", "pending", "last seen"):
            t.add_column(col)
        now = time.time()
        with self._lock:
            for name in sorted(self.devices):
                d = self.devices[name]
                h = d.status.get("health", {})
                hr = d.last.get("hr_bpm")
                hr_ok = isinstance(hr, (int, float)) and not isinstance(hr, bool) and math.isfinite(hr)
                cells = (name, d.status.get("state", "?"), d.status.get("link", ""), d.last.get("activity") or "--",
                         d.last.get("smoothed") or "--", f"{hr:.0f}" if hr_ok else "--", d.decisions, d.gaps,
                         h.get("lost_samples", ""), h.get("reconnects", ""), d.status.get("pending", ""),
                         f"{now - d.last_seen:.0f} s ago" if d.last_seen else "--")
                t.add_row(*(Text(str(c)) for c in cells))
        return t
