"""A virtual Polar H10 behind bleak's client API (the BLE seam).

It behaves like the sensor as seen through ``BleakClient``: notifications on
the PMD control point answer the start commands (ECG, and the accelerometer
when asked), then PMD data notifications arrive in real time (or faster),
byte-exact as the H10 sends them: ECG frames, delta-compressed accelerometer
frames (200 Hz, milli-g, moving as the recording's activity moves a chest),
Heart Rate service notifications (bpm, RR, skin contact) each second and a
battery level.  It can also drop the link to exercise reconnects.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import numpy as np

from . import polar_acc
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
        self.battery = 87
        self.acc_k = 0                   # next accelerometer sample (the device's, across reconnects)
        self.hr_next = 1.0               # device time of the next Heart Rate notification
        self.acc_rate_hz = 200
        self.acc = synthetic_acc(rec, self.acc_rate_hz, self.dev.counts.size / self.dev.rate_hz)
        self.beats = beat_times(self.dev.counts.astype(float), self.dev.rate_hz)

    @property
    def log(self):
        return self.injector.log

    def client_factory(self, _target: Any, disconnected_callback: Callable | None = None) -> "VirtualPolarClient":
        return VirtualPolarClient(self, disconnected_callback)


#: how a chest strap's accelerometer moves for each activity: (cadence Hz, vertical amplitude mG)
MOTION = {"rest": (0.25, 8.0), "arms": (1.1, 90.0), "walk": (1.8, 260.0), "run": (2.7, 750.0),
          "squats": (0.45, 320.0), "cycle": (1.3, 70.0)}


def synthetic_acc(rec: Recording, rate_hz: int, seconds: float) -> np.ndarray:
    """(n, 3) milli-g: gravity along the body axis plus the recording's activity at its cadence."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    rng = np.random.default_rng(7)
    out = np.zeros((n, 3))
    out[:, 0] = -1000.0
    out[:, 2] = 80.0
    for a, b, lab in rec.segments:
        i0, i1 = int(a / rec.rate_hz * rate_hz), min(n, int(b / rec.rate_hz * rate_hz))
        f, amp = MOTION.get(lab, MOTION["rest"])
        tt = t[i0:i1]
        out[i0:i1, 0] += amp * np.sin(2 * np.pi * f * tt)
        out[i0:i1, 1] += 0.3 * amp * np.sin(2 * np.pi * f / 2 * tt + 1.0)
        out[i0:i1, 2] += 0.2 * amp * np.sin(2 * np.pi * f * tt + 2.0)
    out += rng.normal(0, 4.0, out.shape)
    return np.round(out).astype(np.int32)


def beat_times(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """R-peak times (s) of the device's own ECG, for its Heart Rate service."""
    from scipy.signal import butter, find_peaks, sosfiltfilt

    if x.size < rate_hz * 3:
        return np.zeros(0)
    y = np.abs(sosfiltfilt(butter(3, [8, min(20, 0.45 * rate_hz)], "band", fs=rate_hz, output="sos"), x - x.mean()))
    peaks, _ = find_peaks(y, height=0.4 * np.percentile(y, 99), distance=int(0.27 * rate_hz))
    return peaks / rate_hz


class VirtualPolarClient:
    """A stand-in for ``bleak.BleakClient`` (same methods) that connects to a ``VirtualPolarH10`` and delivers
    its byte-exact notifications: the BLE seam, tested without a radio."""

    def __init__(self, device: VirtualPolarH10, disconnected_callback: Callable | None) -> None:
        self.device = device
        self._disconnected_callback = disconnected_callback
        self._callbacks: dict[str, Callable] = {}
        self._task: asyncio.Task | None = None
        self.is_connected = False
        self.acc_on = False

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
        elif bytes(data[:2]) == bytes([0x02, polar_acc.MEASUREMENT_ACC]):
            self.acc_on = True
            if cb:
                cb(char, bytearray([polar.CONTROL_RESPONSE, 0x02, polar_acc.MEASUREMENT_ACC, 0x00, 0x00]))
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
                if self.acc_on:
                    self._acc_upto(t_dev, cb)
            self._heart_rate(t_dev)

    def _acc_upto(self, t_dev: float, cb) -> None:
        """Accelerometer notifications (36 samples each, delta-compressed) up to device time ``t_dev``."""
        dev = self.device
        end = min(int(t_dev * dev.acc_rate_hz), dev.acc.shape[0]) if not dev.loop else int(t_dev * dev.acc_rate_hz)
        while dev.acc_k + 36 <= end:
            idx = np.arange(dev.acc_k, dev.acc_k + 36) % dev.acc.shape[0]
            last_ns = 10**18 + int(round((dev.acc_k + 35) * 1e9 / dev.acc_rate_hz))
            cb(polar.PMD_DATA, bytearray(polar_acc.encode_acc(dev.acc[idx], last_ns)))
            dev.acc_k += 36

    def _heart_rate(self, t_dev: float) -> None:
        """Once a device second: bpm and the RR intervals that ended in it (the Heart Rate service)."""
        dev = self.device
        cb = self._callbacks.get(polar_acc.HR_MEASUREMENT)
        if cb is None or t_dev < dev.hr_next:
            return
        lap = dev.dev.counts.size / dev.dev.rate_hz
        t0, t1 = (dev.hr_next - 1.0) % lap, dev.hr_next % lap
        dev.hr_next += 1.0
        rr = np.diff(dev.beats)
        ends = dev.beats[1:]
        sel = rr[(ends > t0) & (ends <= t1)] if t1 > t0 else rr[(ends > t0) | (ends <= t1)]
        recent = rr[(ends <= t1) & (ends > t1 - 5)]
        bpm = int(round(60.0 / np.median(recent))) if recent.size else 0
        cb(polar_acc.HR_MEASUREMENT, bytearray(polar_acc.encode_heart_rate(bpm, (sel * 1000).tolist())))

    async def read_gatt_char(self, char: Any) -> bytearray:
        if str(char).lower() == polar_acc.BATTERY_LEVEL:
            return bytearray([self.device.battery])
        raise KeyError(f"no characteristic {char}")

    async def _drop_link(self) -> None:
        self.is_connected = False
        self._task = None
        if self._disconnected_callback:
            self._disconnected_callback(self)
