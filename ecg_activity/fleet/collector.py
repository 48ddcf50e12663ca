"""The central side of a fleet: ``ecg-activity collect mqtt://BROKER/PREFIX/# --out DIR``.

Subscribes (QoS 1, a persistent session, so the broker keeps what arrives
while the collector is away) to every device's decisions and status, writes
one JSON-lines file per device (``DIR/DEVICE.jsonl``, appended, 0600) with
each decision exactly once and in order (QoS 1 may deliver twice: a
(session, seq) already written is dropped), and shows a live table of the
devices.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..bridge.capture import create_private, write_fully
from ..bridge.errors import OutputError, UsageError
from . import MqttUrl


@dataclass
class DeviceState:
    """What the collector knows of one device: its session and last sequence number (to drop QoS 1 duplicates),
    counts, last decision and status, and when it was last heard."""

    device: str
    session: str | None = None
    seq: int = -1
    decisions: int = 0
    duplicates: int = 0
    last: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    last_seen: float = 0.0


def _last_line(path: Path) -> dict | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().splitlines()
        for line in reversed(lines):
            try:
                return json.loads(line)
            except ValueError:
                continue
    except OSError:
        return None
    return None


class Collector:
    """Subscribes to ``PREFIX/#`` and appends every device's decisions to ``DEVICE.jsonl`` (append-only, 0600),
    dropping duplicates by session and sequence number; the fleet's one place to watch."""

    def __init__(self, url: str, out_dir: str | os.PathLike, client_id: str | None = None) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError:
            raise UsageError("collect needs the fleet extra: pip install 'ecg-activity[fleet]'") from None
        self.url = MqttUrl.parse(url)
        prefix = self.url.path
        if prefix.endswith("#"):
            prefix = prefix[:-1].rstrip("/")
        self.prefix = prefix
        self.out = Path(out_dir)
        try:
            self.out.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise OutputError(f"cannot create {self.out} ({e.strerror or e})") from None
        self.devices: dict[str, DeviceState] = {}
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()
        cid = client_id or "ecg-collector-" + hashlib.sha1(f"{prefix}|{self.out.resolve()}".encode()).hexdigest()[:10]
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False)
        self.client.reconnect_delay_set(0.2, 5.0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.messages = 0

    def _device(self, name: str) -> DeviceState:
        d = self.devices.get(name)
        if d is None:
            d = self.devices[name] = DeviceState(name)
            last = _last_line(self.out / f"{name}.jsonl")
            if last:
                d.session, d.seq, d.last = last.get("session"), int(last.get("seq", -1)), last
        return d

    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if reason.is_failure:
            return
        base = f"{self.prefix}/" if self.prefix else ""
        client.subscribe([(f"{base}+/decision", 1), (f"{base}+/status", 1)])
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 2:
            return
        name, kind = parts[-2], parts[-1]
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        with self._lock:
            self.messages += 1
            d = self._device(name)
            d.last_seen = time.time()
            if kind == "status":
                d.status = body
                return
            session, seq = body.get("session"), body.get("seq")
            if not isinstance(seq, int):
                return
            if session == d.session and seq <= d.seq:
                d.duplicates += 1          # QoS 1 delivered it again: written already
                return
            self._write(name, msg.payload)
            d.session, d.seq, d.last = session, seq, body
            d.decisions += 1

    def _write(self, name: str, payload: bytes) -> None:
        fd = self._fds.get(name)
        if fd is None:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            fd = self._fds[name] = create_private(self.out / f"{safe}.jsonl", append=True)
        write_fully(fd, bytes(payload).rstrip(b"\n") + b"\n")

    def start(self) -> None:
        try:
            self.client.connect_async(self.url.host, self.url.port, keepalive=15)
        except (OSError, ValueError) as e:
            raise OutputError(f"cannot reach MQTT broker {self.url.host}:{self.url.port} ({e})") from None
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def table(self):
        """The live view: one row per device."""
        from rich.table import Table

        t = Table(title=f"ecg-activity fleet · {self.url.host}:{self.url.port}/{self.prefix} · "
                        f"{'connected' if self.connected.is_set() else 'connecting…'}")
        for col in ("device", "state", "activity", "smoothed", "HR", "decisions", "lost samples", "reconnects",
                    "pending", "last seen"):
            t.add_column(col)
        now = time.time()
        with self._lock:
            for name in sorted(self.devices):
                d = self.devices[name]
                h = d.status.get("health") if isinstance(d.status.get("health"), dict) else {}
                hr = d.last.get("hr_bpm")
                hr_ok = isinstance(hr, (int, float)) and not isinstance(hr, bool) and math.isfinite(hr)
                t.add_row(name, str(d.status.get("state", "?")), str(d.last.get("activity") or "--"),
                          str(d.last.get("smoothed") or "--"), f"{hr:.0f}" if hr_ok else "--",
                          str(d.decisions), str(h.get("lost_samples", "")), str(h.get("reconnects", "")),
                          str(d.status.get("pending", "")), f"{now - d.last_seen:.0f} s ago" if d.last_seen else "--")
        return t
