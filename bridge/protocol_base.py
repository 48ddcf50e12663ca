"""What every wire protocol must say about itself (see ``protocols.py`` for the registry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .decoder import Decoder


@dataclass(frozen=True)
class BleProfile:
    """Which GATT characteristics a protocol uses over BLE and how streaming starts."""

    data_char: str
    control_char: str | None = None
    start_command: bytes | None = None
    #: does a control-point notification acknowledge the start command?
    is_ack: Callable[[bytes], bool] | None = None
    #: further start requests (the accelerometer), each acknowledged too; a sensor that refuses one
    #: still streams ECG
    more_starts: tuple[bytes, ...] = ()
    #: other characteristics whose notifications become timed events: uuid -> (event kind, decoder)
    events: dict = field(default_factory=dict)
    #: of those, the ones read once on connecting (a battery level)
    read_events: tuple[str, ...] = ()

    def device_command(self, cmd: bytes) -> tuple[bytes | None, bool | None]:
        """The device's answer to one command line from the host, and whether it now streams
        (None: unchanged).  The virtual wearable plays the device with it."""
        return None, None


class Protocol:
    """Everything one wire protocol implies.  Subclasses set the class attributes and implement
    ``encode`` (the device side, for the virtual wearable)."""

    name: str = ""
    decoder: type[Decoder] = Decoder
    rate_hz: float = 250.0            # what a device of this kind streams by default
    mv_per_count: float = 0.0         # 0: the device does not state its scale
    channels: int = 1
    frame_samples: int = 25           # samples per frame / line / notification the device sends
    serial: bool = True               # can be read from a serial port (USB, UART, RFCOMM)
    ble: BleProfile | None = None     # how to read it over BLE, if it can be
    watchdog_s: float = 5.0           # silence on a serial link after which it is reopened
    waits_for_start: bool = False     # streams only after the host's start command (Attys)
    keeps_own_scale: bool = False     # the virtual device streams the recording's counts as they are
    # BLE notifications are whole frames; serial reads are arbitrary cuts of a byte stream, so
    # consecutive serial reads may be decoded together (replay does, for speed)
    packets_are_frames: bool = False

    def make_decoder(self, rate_hz: float | None = None, mv_per_count: float | None = None,
                     channels: int | None = None) -> Decoder:
        return self.decoder(self.rate_hz if rate_hz is None else rate_hz,
                            self.mv_per_count if mv_per_count is None else mv_per_count,
                            self.channels if channels is None else channels)

    def encode(self, chunk: np.ndarray, frame_index: int, last_sample_index: int, rate_hz: float,
               t0_ns: int) -> bytes:  # pragma: no cover - abstract
        """One frame as the device sends it (the virtual wearable's side)."""
        raise NotImplementedError

    def identity(self, device_id: str) -> bytes | None:
        """The bytes by which a device of this protocol names itself (sent on connecting and every
        ``identity_every_frames`` frames), or None where the protocol has no way to."""
        return None

    identity_every_frames: int = 0

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        """Damage in flight, as this link can suffer it (the virtual wearable's fault injector)."""
        b = bytearray(data)
        i = int(rng.integers(0, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)

    def line_noise(self, rng: np.random.Generator, nbytes: int) -> bytes | None:
        """Random bytes between frames (serial line noise); None where the link cannot have any."""
        return rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes()

    def startup_commands(self, rate_hz: float) -> tuple[bytes, ...]:
        """Commands a serial host sends (each acknowledged) before data flows."""
        return ()

    start_command: bytes | None = None

    def device_command(self, cmd: bytes) -> tuple[bytes | None, bool | None]:
        """The device's answer to one command line from the host, and whether it now streams
        (None: unchanged).  The virtual wearable plays the device with it."""
        return None, None
