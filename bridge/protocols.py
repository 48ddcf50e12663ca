"""The protocol registry: one class per wire protocol, carrying every fact about it.

Modelled on pyserial's ``protocol_<scheme>`` handlers: the opener, the
virtual wearable, the BLE and serial transports, the replayer and the CLI ask
the protocol object (``protocol_base.Protocol``), never ``if protocol == ...``.
A new protocol is one new ``protocol_<name>.py`` defining a ``Protocol``
subclass plus one entry in ``_REGISTERED`` below.
"""

from __future__ import annotations

from .decoder import Decoder
from .errors import SourceError
from .protocol_attys import AttysProtocol
from .protocol_base import BleProfile, Protocol  # noqa: F401  (re-exported)
from .protocol_frame import FrameProtocol
from .protocol_polar import PolarProtocol

_REGISTERED: tuple[type[Protocol], ...] = (FrameProtocol, AttysProtocol, PolarProtocol)

PROTOCOLS: dict[str, Protocol] = {cls.name: cls() for cls in _REGISTERED}


class UnknownProtocol(SourceError, ValueError):
    pass


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except (KeyError, TypeError):
        raise UnknownProtocol(f"unknown protocol {name!r} (choose from {', '.join(PROTOCOLS)})") from None


def make_decoder(name: str, rate_hz: float | None = None, mv_per_count: float | None = None,
                 channels: int | None = None) -> Decoder:
    """A fresh decoder for protocol ``name`` with the device's defaults where a value is None."""
    return get_protocol(name).make_decoder(rate_hz, mv_per_count, channels)
