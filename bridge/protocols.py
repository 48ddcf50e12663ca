"""Protocol names -> decoders, and the defaults each device implies."""

from __future__ import annotations

from .decoder import Decoder
from .protocol_attys import AttysDecoder
from .protocol_attys import mv_per_count as attys_mv_per_count
from .protocol_frame import FrameDecoder
from .protocol_polar import MV_PER_COUNT as POLAR_MV, RATE_HZ as POLAR_RATE, PolarDecoder

PROTOCOLS: dict[str, type[Decoder]] = {
    "frame": FrameDecoder,
    "attys": AttysDecoder,
    "polar": PolarDecoder,
}

#: (rate Hz, mV per count, channels) a device of each protocol streams by default
DEFAULTS: dict[str, tuple[float, float, int]] = {
    "frame": (250.0, 0.0, 1),
    "attys": (250.0, attys_mv_per_count(0), 2),
    "polar": (POLAR_RATE, POLAR_MV, 1),
}


class UnknownProtocol(ValueError):
    pass


def make_decoder(name: str, rate_hz: float | None = None, mv_per_count: float | None = None,
                 channels: int | None = None) -> Decoder:
    try:
        cls = PROTOCOLS[name]
    except KeyError:
        raise UnknownProtocol(f"unknown protocol {name!r} (choose from {', '.join(PROTOCOLS)})") from None
    r, mv, ch = DEFAULTS[name]
    return cls(rate_hz if rate_hz is not None else r,
               mv_per_count if mv_per_count is not None else mv,
               channels if channels is not None else ch)
