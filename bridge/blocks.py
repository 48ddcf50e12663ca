"""Messages that flow from the decoders to everything downstream."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLAG_LEAD_OFF = 0x01
FLAG_BATTERY_LOW = 0x02
FLAG_SATURATED = 0x04


@dataclass
class SampleBlock:
    """A run of consecutive samples with nothing missing inside it.

    ``samples`` holds raw ADC counts (int32, shape ``(n, channels)``); the
    physical value is ``samples * mv_per_count`` millivolts.  Anything lost
    *before* the first sample is stated in ``gap_before`` so downstream code
    never stitches across a hole without knowing.  ``mv_per_count`` is 0.0
    when the device does not state its scale (the counts are then all we know).
    """

    samples: np.ndarray
    rate_hz: float
    mv_per_count: float
    t_host: float
    gap_before: int = 0
    flags: int = 0
    first_index: int = 0

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    def millivolts(self) -> np.ndarray:
        return self.samples.astype(np.float64) * self.mv_per_count


@dataclass
class AuxBlock:
    """Samples of a stream beside the ECG (a Polar's or an Attys' accelerometer, an Attys'
    magnetometer), at that stream's own rate."""

    stream: str                   # "acc", "mag"
    samples: np.ndarray           # int32 (n, axes)
    unit: str                     # "mG" (milli-g), "counts"
    rate_hz: float
    t_host: float
    sensor_time_ns: int | None = None     # the sensor's clock at the last sample, when it says

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])


@dataclass
class DecodeStats:
    """Every byte and frame is accounted for: what was decoded, lost or junk."""

    frames: int = 0
    samples: int = 0
    crc_errors: int = 0
    malformed: int = 0
    resyncs: int = 0
    skipped_bytes: int = 0
    gaps: int = 0
    lost_frames: int = 0
    lost_samples: int = 0
    reconnects: int = 0
    restarts: int = 0            # counter or clock jumps too large to be a gap: a device restart
    unverified_frames: int = 0   # not taken: another device's, or ours before it named itself after a reconnect

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Packet:
    """Bytes exactly as one transport read (or one BLE notification) delivered them."""

    data: bytes
    t_host: float
    t_first: float | None = None     # replay's joined reads: when the first of them arrived (else t_host)


@dataclass
class LinkEvent:
    """Something that happened to the link rather than the data (reconnect, watchdog)."""

    kind: str
    t_host: float
    detail: dict = field(default_factory=dict)


@dataclass
class Idle:
    """Nothing arrived for a moment: a read timed out, or the link is down and its reopening is being
    waited for.  Live transports yield one at least every few hundred ms so the loop that reads them
    keeps turning while the device is silent (the clock, the keys, "no data for 12 s")."""

    t_host: float
