"""``mqtt://HOST[:PORT]/PREFIX/DEVICE``: each decision to ``PREFIX/DEVICE/decision`` (QoS 1), a
retained ``PREFIX/DEVICE/status`` (online, model, stream health) with a last will "offline".

Every decision goes to a disk spool (``fleet.spool``) first and leaves it
only when the broker has acknowledged it; while the broker is away the spool
grows (bounded, oldest first, drops counted) and is delivered in order once
it is back.  Each decision carries the device's ``session`` and a sequence
number ``seq``, so the collector drops the duplicates QoS 1 may bring.
Options in the URL's query: ``spool=DIR`` (default
``$XDG_STATE_HOME/ecg-activity/mqtt/DEVICE``), ``max=N`` messages spooled,
``status=S`` seconds between status updates, and TLS and credentials as
``fleet.connect_options`` reads them (``mqtts://``, ``ca=``, ``cert=``,
``key=``, ``auth=FILE`` or the environment).  A broker that refuses the
device's credentials ends the session in one line; one that cannot be
reached is said once on stderr while the decisions wait in the spool.
Needs the "fleet" extra (paho-mqtt).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from ..bridge.errors import OutputError, RefusedError, UsageError
from ..fleet import MqttUrl, connect_options, refusal
from ..fleet.spool import Spool
from . import SessionInfo, Sink

#: messages handed to the MQTT client at a time (the rest wait in the spool)
IN_FLIGHT = 64
#: the broker unreachable this long is said on stderr (once; the decisions wait in the spool)
UNREACHABLE_S = 10.0


def default_spool(device: str) -> Path:
    """Where a device spools unsent messages by default (XDG state folder)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "ecg-activity" / "mqtt" / device


class MqttSink(Sink):
    """``mqtt://HOST/PREFIX/DEVICE``: each decision published (QoS 1) with session and sequence number, and a
    retained status; spooled on disk until the broker acknowledges it (bounded, drops counted)."""

    fail_alone = True                 # a spool that cannot be written (a full disk) stops the fleet output only

    def __init__(self, url: MqttUrl, spool_dir: str | os.PathLike | None = None, max_messages: int = 100_000,
                 status_every_s: float = 10.0, client_id: str | None = None) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError:
            raise UsageError("mqtt:// outputs need the fleet extra: pip install 'ecg-activity[fleet]'") from None
        self.url = url
        self.spool = Spool(spool_dir or default_spool(url.device), max_messages)
        self.status_every_s = status_every_s
        self._mqtt = mqtt
        # a random suffix: another client reusing a device's id would knock it off the broker at every
        # reconnect (clean session: the broker keeps nothing for it, the spool is the device's memory)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"ecg-{url.device}-{secrets.token_hex(4)}", clean_session=True)
        connect_options(self.client, url)
        self.client.reconnect_delay_set(0.2, 5.0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.will_set(url.topic("status"), json.dumps({"state": "offline", "device": url.device}),
                             qos=1, retain=True)
        self.connected = threading.Event()
        # guards the bookkeeping below; never held across a client call (the client's thread holds its own
        # locks while it calls _on_publish, which takes this one: holding it into publish() deadlocked)
        self._lock = threading.Lock()
        self._handed = -1                 # highest seq handed to the client
        self._mids: dict[int, int] = {}
        self._early: set[int] = set()     # acknowledged before publish() returned their mid
        self._last_status = 0.0
        self._link = "waiting"                # the session's link state, in the retained status
        self._info: SessionInfo | None = None
        self.published = 0
        self.refused: str | None = None       # the broker's final refusal (credentials), from its thread
        self._started = 0.0
        self._warned = False

    @classmethod
    def from_url(cls, url: str) -> "MqttSink":
        u = MqttUrl.parse(url)
        return cls(u, u.query.get("spool") or None, int(u.number("max", 100_000, 1, 10_000_000)),
                   u.number("status", 10.0, 0.1, 86_400.0))

    # -- the client's thread -----------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if reason.is_failure:
            self.refused = refusal(reason)
            return
        with self._lock:
            # whatever was handed over and not acknowledged the client resends itself; go on from there
            self._handed = max(self._handed, self.spool.floor - 1) if not self._mids else self._handed
        self.connected.set()
        self._status()

    def _on_disconnect(self, client, userdata, flags, reason, properties=None) -> None:
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason=None, properties=None) -> None:
        with self._lock:
            seq = self._mids.pop(mid, None)
            if seq is None:
                self._early.add(mid)
        if seq is not None:
            self._acked(seq)

    def _acked(self, seq: int) -> None:
        self.spool.ack(seq)
        self.published += 1

    # -- the session's thread ------------------------------------------------------
    def on_start(self, info: SessionInfo) -> None:
        self._info = info
        self._started = time.monotonic()
        try:
            self.client.connect_async(self.url.host, self.url.port, keepalive=15)
        except (OSError, ValueError) as e:
            raise OutputError(f"cannot reach MQTT broker {self.url.where} ({e})") from None
        self.client.loop_start()

    def on_window(self, result) -> None:
        d = json.loads(result.to_json())
        d["device"] = self.url.device
        d["session"] = self.spool.session
        self.spool.add(lambda seq: json.dumps({**d, "seq": seq}))
        self._drain()

    def on_link(self, status) -> None:
        """The fleet sees at once that a device's sensor went silent (its retained status says so)."""
        self._link = status.state
        self._status()

    def on_tick(self, now: float) -> None:
        if self.refused:
            raise RefusedError(f"MQTT broker {self.url.where} refused {self.url.device}: {self.refused} "
                              f"(credentials: {self._creds_hint()})")
        if not self.connected.is_set() and not self._warned and now - self._started > UNREACHABLE_S:
            self._warned = True
            print(f"ecg-activity: warning: MQTT broker {self.url.where} unreachable for {UNREACHABLE_S:.0f} s; "
                  f"decisions wait in {self.spool.folder} and go out when it is back", file=sys.stderr, flush=True)
        self._drain()
        if now - self._last_status >= self.status_every_s:
            self._status()
        self.spool.save_state()

    def _creds_hint(self) -> str:
        from ..fleet import USER_ENV

        if self.url.query.get("auth"):
            return f"from {self.url.query['auth']}"
        return f"from ${USER_ENV}" if os.environ.get(USER_ENV) else f"none given (?auth=FILE or ${USER_ENV})"

    def _drain(self) -> None:
        """Hand spooled messages to the client, oldest first, a window at a time."""
        if not self.connected.is_set():
            return
        with self._lock:
            todo = [(s, p) for s, p in list(self.spool.pending) if s > self._handed][:max(0, IN_FLIGHT - len(self._mids))]
        for seq, payload in todo:
            info = self.client.publish(self.url.topic("decision"), payload, qos=1)
            if info.rc not in (self._mqtt.MQTT_ERR_SUCCESS, self._mqtt.MQTT_ERR_NO_CONN):
                break                       # (NO_CONN: queued by the client, sent when it reconnects)
            with self._lock:
                self._handed = seq
                early = info.mid in self._early
                if early:
                    self._early.discard(info.mid)
                else:
                    self._mids[info.mid] = seq
            if early:
                self._acked(seq)

    def _status(self, state: str = "online") -> None:
        self._last_status = time.monotonic()
        info, st = self._info, (self._info.stats.as_dict() if self._info and self._info.stats else {})
        msg = {"state": state, "device": self.url.device, "session": self.spool.session, "t": time.time(),
               "model": info.model if info else "", "source": info.title if info else "",
               "pending": len(self.spool.pending), "dropped": self.spool.dropped, "link": self._link,
               "health": {k: st.get(k) for k in ("frames", "samples", "lost_samples", "crc_errors", "reconnects")}}
        if self.connected.is_set():
            self.client.publish(self.url.topic("status"), json.dumps(msg), qos=1, retain=True)

    def close(self, flush_s: float = 5.0) -> None:
        """Deliver what is spooled for up to ``flush_s`` seconds; the rest waits on disk for next time."""
        deadline = time.monotonic() + flush_s
        while self.spool.pending and time.monotonic() < deadline and self.connected.is_set():
            self._drain()
            time.sleep(0.05)
        if self.connected.is_set():
            self._status("offline")
            time.sleep(0.1)
        self.client.disconnect()
        self.client.loop_stop()
        self.spool.close()
