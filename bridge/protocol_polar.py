"""Polar H10 over BLE: ECG and accelerometer from the Polar Measurement Data (PMD) service, heart
rate, RR intervals and skin contact from the Heart Rate service, the battery from the Battery service.

The accelerometer frames (measurement type 2) and the two standard services
are decoded in ``polar_acc``; the accelerometer goes beside the ECG as
``AuxBlock``s, heart rate and battery as timed events in the capture.

Each ECG data notification is one frame: measurement type (0 = ECG), uint64 LE
timestamp in ns of the *last* sample, frame type 0, then 3-byte signed LE
samples in microvolts at 130 Hz.  No counter exists, so gaps come from the
timestamps.  The 130 Hz stream keeps its true rate: resampling to the
model's rate happens downstream, never by relabelling.
"""

from __future__ import annotations

import struct

import numpy as np

from .blocks import AuxBlock, SampleBlock
from .decoder import Decoder
from .polar_acc import (BATTERY_LEVEL, HR_MEASUREMENT, MEASUREMENT_ACC, AccFrameError, decode_acc, decode_battery,
                        decode_heart_rate, start_acc)
from .int24 import pack_le24_signed, unpack_le24_signed
from .protocol_base import BleProfile, Protocol

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
START_ECG = bytes.fromhex("02000001820001010e00")   # ECG, 130 Hz, 14-bit resolution
STOP_ECG = bytes.fromhex("0300")
CONTROL_RESPONSE = 0xF0
MEASUREMENT_ECG = 0x00
RATE_HZ = 130.0
MV_PER_COUNT = 0.001                                # samples are microvolts
_HEAD = struct.Struct("<BQB")


def encode_notification(samples_uv: np.ndarray, last_timestamp_ns: int) -> bytes:
    """A Polar PMD ECG notification (type 0, timestamp, frame type 0, 24-bit µV samples) as the H10 sends it:
    the virtual wearable's bytes."""
    return _HEAD.pack(MEASUREMENT_ECG, last_timestamp_ns, 0) + pack_le24_signed(samples_uv)


def control_ok(opcode: int = 0x02) -> bytes:
    """What the sensor answers on the control point for a successful request."""
    return bytes([CONTROL_RESPONSE, opcode, MEASUREMENT_ECG, 0x00, 0x00])


def parse_control(data: bytes) -> tuple[int, int] | None:
    """(opcode, error code) of a control-point response, None if it is not one."""
    if len(data) < 4 or data[0] != CONTROL_RESPONSE:
        return None
    return data[1], data[3]


#: frames learnt before the blocks carry the unit's own rate, and the drift that moves it again
LEARNT_FRAMES = 20
RATE_STEP_HZ = 0.02


class PolarDecoder(Decoder):
    """Gaps from the sensor's own timestamps, measured in the sensor's own sample period.

    An H10 samples at 130 Hz by its own crystal, which real units run anywhere
    from about 128 to 131 Hz.  Dividing timestamp differences by the nominal
    period would invent a one-sample gap in every frame of a slow unit, so the
    period is learnt from the timestamps themselves (over frames that follow
    each other), and a gap counts only when at least half a frame is missing:
    BLE loses whole notifications, never single samples.  A small step back in
    time is timestamp jitter; a large one is a reboot (the hole is then unknown).
    """

    name = "polar"

    def __init__(self, rate_hz: float = RATE_HZ, mv_per_count: float = MV_PER_COUNT, channels: int = 1) -> None:
        super().__init__(rate_hz, mv_per_count, 1)
        self._last_ts: int | None = None
        self._period_ns = 1e9 / self.rate_hz
        self._nominal_ns = self._period_ns
        self._acc_ts: int | None = None
        self._acc_rate = 200.0
        self._learnt = 0                      # frame pairs the period was learnt from

    @property
    def device_rate_hz(self) -> float:
        """The sensor's own sampling rate, as learnt from its timestamps."""
        return 1e9 / self._period_ns

    def link_lost(self, t_host: float) -> None:
        """The sensor's clock keeps running across a BLE reconnect, so its timestamps
        still measure the gap exactly; a reboot shows up as time going backwards."""

    def _feed(self, data: bytes, t_host: float) -> list[SampleBlock]:
        if data[:1] == bytes([MEASUREMENT_ACC]):
            self._acc(data, t_host)
            return []
        if len(data) < _HEAD.size + 3 or (len(data) - _HEAD.size) % 3 or data[0] != MEASUREMENT_ECG or data[9] != 0:
            self.stats.malformed += 1
            self.stats.skipped_bytes += len(data)
            return []
        _, ts, _ = _HEAD.unpack_from(data)
        vals = unpack_le24_signed(data[_HEAD.size:]).reshape(-1, 1)
        n = vals.shape[0]
        gap = 0
        if self._last_ts is not None:
            dt = ts - self._last_ts
            span = dt / self._period_ns           # samples the sensor's clock says passed
            if span < -2 * n:
                # time went far backwards: the sensor rebooted; the hole is unknown
                self._last_ts = None
                self.stats.restarts += 1
                self._reboot(t_host)
                return self._feed(data, t_host)
            missing = int(round(span)) - n
            if missing >= max(1, n // 2):
                gap = self._lost(missing, 1 + (missing - 1) // max(n, 1))
            elif dt > 0:
                self._learn_period(dt / n)
        self._last_ts = ts
        self.stats.frames += 1
        return [self._emit(vals, t_host, 0, gap)]

    def _acc(self, data: bytes, t_host: float) -> None:
        """An accelerometer notification: its samples go beside the ECG, at the ACC stream's own rate
        (learnt from its timestamps, like the ECG's)."""
        try:
            ts, xyz = decode_acc(data)
        except AccFrameError:
            self.stats.malformed += 1
            self.stats.skipped_bytes += len(data)
            return
        rate = self._acc_rate
        if self._acc_ts is not None and ts > self._acc_ts and xyz.shape[0]:
            r = xyz.shape[0] * 1e9 / (ts - self._acc_ts)
            if 10 <= r <= 500:
                rate = min((25.0, 50.0, 100.0, 200.0, 400.0), key=lambda v: abs(v - r))
        self._acc_ts, self._acc_rate = ts, rate
        self.aux.append(AuxBlock("acc", xyz, "mG", rate, t_host, ts))

    def _reboot(self, t_host: float) -> None:
        """Like a lost link: the hole is estimated from the host clock, up to this read."""
        Decoder.link_lost(self, t_host)
        self._t_resume = t_host
        self._in_resume_feed = True

    def _learn_period(self, period_ns: float) -> None:
        # within +/-5 % of nominal (a sensor's crystal, not a gap): a plain mean over the first 20 frames
        # (the first seconds' gaps are then counted against the unit's own rate), smoothed after that
        lo, hi = 0.95 * self._nominal_ns, 1.05 * self._nominal_ns
        self._learnt += 1
        self._period_ns += max(0.05, 1.0 / self._learnt) * (min(max(period_ns, lo), hi) - self._period_ns)
        # what the blocks say downstream (windows, heart rate, durations): the learnt rate, once it is
        # known, moved only when it drifts, so the pipeline is not retuned at every frame
        if self._learnt >= LEARNT_FRAMES and abs(self.device_rate_hz - self.rate_hz) > RATE_STEP_HZ:
            self.rate_hz = round(self.device_rate_hz, 3)


class PolarProtocol(Protocol):
    """Polar H10 over BLE (PMD service): no counter, gaps from the sensor's own timestamps."""

    name = "polar"
    decoder = PolarDecoder
    rate_hz = RATE_HZ
    mv_per_count = MV_PER_COUNT
    channels = 1
    frame_samples = 73
    serial = False
    ble = BleProfile(PMD_DATA, PMD_CONTROL, START_ECG, is_ack=lambda data: (parse_control(data) or (0, 1))[1] == 0,
                     more_starts=(start_acc(),),
                     events={HR_MEASUREMENT: ("heart_rate", decode_heart_rate),
                             BATTERY_LEVEL: ("battery", decode_battery)},
                     read_events=(BATTERY_LEVEL,))
    packets_are_frames = True

    def encode(self, chunk, frame_index, last_sample_index, rate_hz, t0_ns) -> bytes:
        return encode_notification(chunk, t0_ns + int(round(last_sample_index * 1e9 / rate_hz)))

    def corrupt(self, data: bytes, rng) -> bytes:
        return b"\x7f" + data[1:]                 # not an ECG measurement frame

    def line_noise(self, rng, nbytes: int) -> None:
        return None                               # a BLE notification is never split by line noise
