"""Polar H10 ECG over BLE: the Polar Measurement Data (PMD) service.

Each data notification is one frame: measurement type (0 = ECG), uint64 LE
timestamp in ns of the *last* sample, frame type 0, then 3-byte signed LE
samples in microvolts at 130 Hz.  No counter exists, so gaps come from the
timestamps.  The 130 Hz stream keeps its true rate: resampling to the
model's rate happens downstream, never by relabelling.
"""

from __future__ import annotations

import struct

import numpy as np

from .blocks import SampleBlock
from .decoder import Decoder
from .int24 import pack_le24_signed, unpack_le24_signed

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
    return _HEAD.pack(MEASUREMENT_ECG, last_timestamp_ns, 0) + pack_le24_signed(samples_uv)


def control_ok(opcode: int = 0x02) -> bytes:
    """What the sensor answers on the control point for a successful request."""
    return bytes([CONTROL_RESPONSE, opcode, MEASUREMENT_ECG, 0x00, 0x00])


def parse_control(data: bytes) -> tuple[int, int] | None:
    """(opcode, error code) of a control-point response, None if it is not one."""
    if len(data) < 4 or data[0] != CONTROL_RESPONSE:
        return None
    return data[1], data[3]


class PolarDecoder(Decoder):
    name = "polar"
    startup_commands = ()

    def __init__(self, rate_hz: float = RATE_HZ, mv_per_count: float = MV_PER_COUNT, channels: int = 1) -> None:
        super().__init__(rate_hz, mv_per_count, 1)
        self._last_ts: int | None = None

    def link_lost(self, t_host: float) -> None:
        """The sensor's clock keeps running across a BLE reconnect, so its timestamps
        still measure the gap exactly; a reboot shows up as time going backwards."""

    def feed(self, data: bytes, t_host: float) -> list[SampleBlock]:
        data = bytes(data)
        if len(data) < _HEAD.size + 3 or (len(data) - _HEAD.size) % 3 or data[0] != MEASUREMENT_ECG or data[9] != 0:
            self.stats.malformed += 1
            self.stats.skipped_bytes += len(data)
            return []
        _, ts, _ = _HEAD.unpack_from(data)
        vals = unpack_le24_signed(data[_HEAD.size:]).reshape(-1, 1)
        n = vals.shape[0]
        gap = 0
        if self._last_ts is not None:
            if ts <= self._last_ts:
                # time went backwards: the sensor restarted; the gap is unknown, start afresh
                self._last_ts = None
                self._link_lost = True
                return self.feed(data, t_host)
            missing = int(round((ts - self._last_ts) * self.rate_hz / 1e9)) - n
            if missing > 0:
                gap = self._lost(missing, 1 + (missing - 1) // max(n, 1))
        self._last_ts = ts
        self.stats.frames += 1
        return [self._emit(vals, t_host, 0, gap)]
