"""BLE transport over bleak's client API.

The seam is a BleakClient-shaped object (``connect``, ``disconnect``,
``start_notify``, ``write_gatt_char``, ``is_connected``) made by
``client_factory``; on a Pi that is ``bleak.BleakClient``, in tests and in
the virtual Polar H10 it is an object that emits byte-exact notifications.
Everything above the seam (subscription, start command, reconnect with
backoff, one Packet per notification) is the production path.

bleak is asyncio-only; the transport runs its own event loop in a thread and
hands notifications over a queue, so callers keep plain blocking iteration.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any, Callable, Iterator

from .blocks import Idle, LinkEvent, Packet
from .protocols import get_protocol
from .transport_serial import IDLE_EVERY_S, TransportError

def default_client_factory(target: Any, disconnected_callback: Callable) -> Any:
    """A real ``BleakClient`` (bleak imported only when BLE is used); tests pass a factory for the virtual H10."""
    from bleak import BleakClient

    return BleakClient(target, disconnected_callback=disconnected_callback)


async def default_finder(name_or_address: str, timeout: float) -> Any:
    """Resolve a name or address with a scan; the radio is only touched here."""
    from bleak import BleakScanner

    if _looks_like_address(name_or_address):
        return await BleakScanner.find_device_by_address(name_or_address, timeout=timeout)
    return await BleakScanner.find_device_by_filter(
        lambda d, adv: bool(d.name) and name_or_address.lower() in d.name.lower(), timeout=timeout)


def event_detail(data: bytes, decode) -> dict:
    """The raw bytes (what replay keeps bit for bit) and what they say."""
    try:
        return {"hex": data.hex(), **decode(data)}
    except ValueError:
        return {"hex": data.hex(), "malformed": True}


def _looks_like_address(s: str) -> bool:
    return (s.count(":") == 5 and len(s) == 17) or (s.count("-") == 4 and len(s) == 36)


class BleTransport:
    """A BLE wearable as a stream of notification packets: finds the device, connects, starts the protocol's
    measurement, and on a lost link reconnects with backoff, recording each disconnect and reconnect as an
    event so the gap is accounted for."""

    def __init__(self, target: str, protocol: str, client_factory: Callable = default_client_factory,
                 finder: Callable | None = default_finder, scan_timeout_s: float = 10.0,
                 backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0), stop: threading.Event | None = None,
                 control_timeout_s: float = 5.0) -> None:
        profile = get_protocol(protocol).ble
        if profile is None:
            raise TransportError(f"protocol {protocol!r} does not run over BLE")
        self.target = target
        self.profile = profile
        self.client_factory = client_factory
        self.finder = finder
        self.scan_timeout_s = scan_timeout_s
        self.backoff_s = backoff_s
        self.stop = stop or threading.Event()
        self.control_timeout_s = control_timeout_s
        self.reconnects = 0
        self.control_responses: list[bytes] = []
        self._q: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._first = threading.Event()
        self._first_error: str | None = None
        self._sessions = 0

    # -- the asyncio side -------------------------------------------------
    async def _session(self, disconnected: asyncio.Event) -> None:
        device = self.target
        if self.finder is not None:
            device = await self.finder(self.target, self.scan_timeout_s)
            if device is None:
                raise TransportError(f"no BLE device matching {self.target!r} found")
        loop = asyncio.get_running_loop()
        client = self.client_factory(device, lambda _c: loop.call_soon_threadsafe(disconnected.set))
        await client.connect()
        try:
            acked = asyncio.Event()
            if self.profile.control_char:
                def on_control(_char: Any, data: bytearray) -> None:
                    self.control_responses.append(bytes(data))
                    if self.profile.is_ack is None or self.profile.is_ack(bytes(data)):
                        acked.set()
                await client.start_notify(self.profile.control_char, on_control)

            def on_data(_char: Any, data: bytearray) -> None:
                self._q.put(Packet(bytes(data), time.time()))

            await client.start_notify(self.profile.data_char, on_data)
            if self.profile.start_command:
                await client.write_gatt_char(self.profile.control_char, self.profile.start_command, response=True)
                try:
                    await asyncio.wait_for(acked.wait(), self.control_timeout_s)
                except asyncio.TimeoutError:
                    raise TransportError("the sensor did not acknowledge the start command") from None
            for extra in self.profile.more_starts:
                acked.clear()
                await client.write_gatt_char(self.profile.control_char, extra, response=True)
                try:
                    await asyncio.wait_for(acked.wait(), self.control_timeout_s)
                except asyncio.TimeoutError:       # an older firmware without it still streams ECG
                    self._q.put(LinkEvent("notice", time.time(), {"text": f"start request {extra.hex()} unanswered"}))
            await self._subscribe_events(client)
            if self._sessions:
                self.reconnects += 1
                self._q.put(LinkEvent("reconnect", time.time(), {}))
            self._sessions += 1
            self._first.set()
            while not self.stop.is_set() and not disconnected.is_set():
                await asyncio.sleep(0.05)
        finally:
            try:
                await client.disconnect()
            except Exception:
                pass

    async def _subscribe_events(self, client) -> None:
        """Heart rate, battery and the like: each notification (and the first read) becomes a timed
        event with its raw bytes, recorded in the capture; a device without the service just has none."""
        def handler(kind: str, decode):
            def on_event(_char: Any, data: bytearray) -> None:
                self._q.put(LinkEvent(kind, time.time(), event_detail(bytes(data), decode)))
            return on_event

        for char, (kind, decode) in self.profile.events.items():
            try:
                await client.start_notify(char, handler(kind, decode))
                if char in self.profile.read_events:
                    handler(kind, decode)(char, bytearray(await client.read_gatt_char(char)))
            except Exception:                      # bleak: BleakError / KeyError for a missing characteristic
                continue

    async def _run(self) -> None:
        attempt = 0
        while not self.stop.is_set():
            disconnected = asyncio.Event()
            sessions = self._sessions
            failure = None
            try:
                await self._session(disconnected)
            except Exception as e:  # bleak raises many types; all mean "not connected now"
                if not self._first.is_set():
                    # never connected: a wrong name or no radio is the user's to fix, not ours to retry
                    self._first_error = str(e) or type(e).__name__
                    self._first.set()
                    return
                failure = str(e).splitlines()[0] if str(e) else type(e).__name__
            if self.stop.is_set():
                break
            if self._sessions > sessions:          # it was streaming, and the link went
                attempt = 0
                self._q.put(LinkEvent("disconnect", time.time(), {"reason": failure} if failure else {}))
            else:                                   # an attempt to reconnect that failed
                self._q.put(LinkEvent("reconnect_failed", time.time(),
                                      {"attempt": attempt, "reason": failure or "disconnected at once"}))
            await asyncio.sleep(self.backoff_s[min(attempt, len(self.backoff_s) - 1)])
            attempt += 1

    # -- the blocking side ------------------------------------------------
    def drained(self) -> bool:
        """Nothing received is still waiting to be read."""
        return self._q.empty()

    def open_first(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        self._first.wait()
        if self._first_error is not None:
            raise TransportError(f"cannot start BLE source {self.target!r}: {self._first_error}")

    def __iter__(self) -> Iterator[Packet | LinkEvent]:
        if self._thread is None:
            self.open_first()
        while not self.stop.is_set():
            try:
                yield self._q.get(timeout=IDLE_EVERY_S)
            except queue.Empty:
                yield Idle(time.time())         # nothing arrived: the session's clock and keys go on
        self.close()

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
