"""A virtual Polar H10 behind bleak's client API (the BLE seam).

It behaves like the sensor as seen through ``BleakClient``: notifications on
the PMD control point answer the start command, then PMD data notifications
arrive in real time (or faster), byte-exact as the H10 sends them.  It can
also drop the link to exercise reconnects.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from . import protocol_polar as polar
from .recording import Recording
from .simulator import FaultInjector, FaultPlan, device_frames, device_samples


class VirtualPolarH10:
    """Shared device state; ``client_factory`` makes BleakClient-shaped clients bound to it."""

    address = "A0:9E:1A:00:00:01"
    name = "Polar H10 VIRTUAL"

    def __init__(self, rec: Recording, speed: float = 1.0, faults: FaultPlan | None = None,
                 drop_link_at_s: tuple[float, ...] = (), loop: bool = False) -> None:
        self.dev = device_samples(rec, "polar")
        self.frames = device_frames(self.dev, "polar")
        self.speed = speed
        self.loop = loop
        self.injector = FaultInjector(faults or FaultPlan(), "polar")
        self.drop_link_at_s = sorted(drop_link_at_s)
        self.writes: list[tuple[str, bytes]] = []
        self.connections = 0
        self.done = False
        self._k = 0                      # next frame index: the device clock runs on while unlinked
        self._t0: float | None = None
        self.unsent_frames = 0
        self._laps = 0

    @property
    def log(self):
        return self.injector.log

    def client_factory(self, _target: Any, disconnected_callback: Callable | None = None) -> "VirtualPolarClient":
        return VirtualPolarClient(self, disconnected_callback)


class VirtualPolarClient:
    def __init__(self, device: VirtualPolarH10, disconnected_callback: Callable | None) -> None:
        self.device = device
        self._disconnected_callback = disconnected_callback
        self._callbacks: dict[str, Callable] = {}
        self._task: asyncio.Task | None = None
        self.is_connected = False

    async def connect(self, **_kw) -> bool:
        if self.device.done and not self.device.loop:
            raise OSError("device is off")
        self.is_connected = True
        self.device.connections += 1
        return True

    async def disconnect(self) -> bool:
        self.is_connected = False
        if self._task is not None:
            self._task.cancel()
            self._task = None
        return True

    async def start_notify(self, char: Any, callback: Callable, **_kw) -> None:
        self._callbacks[str(char).lower()] = callback

    async def write_gatt_char(self, char: Any, data: bytes, response: bool = False) -> None:
        char = str(char).lower()
        self.device.writes.append((char, bytes(data)))
        if char != polar.PMD_CONTROL:
            return
        cb = self._callbacks.get(polar.PMD_CONTROL)
        if bytes(data) == polar.START_ECG:
            if cb:
                cb(char, bytearray(polar.control_ok(0x02)))
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._stream())
        elif cb:
            cb(char, bytearray([polar.CONTROL_RESPONSE, data[0] if data else 0, 0, 0x03]))  # not supported

    async def _stream(self) -> None:
        dev = self.device
        loop = asyncio.get_running_loop()
        if dev._t0 is None:
            dev._t0 = loop.time()
        per_s = dev.dev.rate_hz
        cb = self._callbacks.get(polar.PMD_DATA)
        while True:
            if dev._k >= len(dev.frames) and dev.loop:
                # the next lap: timestamps keep increasing, the device clock never jumps back
                lap = len(dev.dev.counts)
                dev._laps += 1
                dev.frames = device_frames(dev.dev, "polar", t0_ns=10**18 + int(round(dev._laps * lap * 1e9 / per_s)))
                for f in dev.frames:
                    f.first_index += dev._laps * lap
                dev._k = 0
            if dev._k >= len(dev.frames):
                dev.done = True
                await asyncio.sleep(0.3)
                await self._drop_link()
                return
            f = dev.frames[dev._k]
            t_dev = (f.first_index + f.n) / per_s
            delay = dev._t0 + t_dev / dev.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            dev._k += 1
            if dev.drop_link_at_s and t_dev >= dev.drop_link_at_s[0]:
                dev.drop_link_at_s.pop(0)
                dev.unsent_frames += 1
                await self._drop_link()
                return
            if cb:
                for piece in dev.injector.apply(f, t_dev):
                    cb(polar.PMD_DATA, bytearray(piece))

    async def _drop_link(self) -> None:
        self.is_connected = False
        self._task = None
        if self._disconnected_callback:
            self._disconnected_callback(self)
