"""The protocol registry: one class per wire protocol, carrying every fact about it.

Modelled on pyserial's ``protocol_<scheme>`` handlers: the opener, the
virtual wearable, the BLE and serial transports, the replayer and the CLI ask
the protocol object (``protocol_base.Protocol``), never ``if protocol == ...``.
A new protocol is one new ``protocol_<name>.py`` defining a ``Protocol``
subclass plus one entry in ``_REGISTERED`` below.  Modules are imported when
first asked for, so listing the names (``--help``) costs nothing.
"""

from __future__ import annotations

from .errors import SourceError
from .registry import registered_object

#: name -> "module:class": a module of this package, or any importable module (a protocol kept outside)
_REGISTERED: dict[str, str] = {
    "frame": "protocol_frame:FrameProtocol",
    "attys": "protocol_attys:AttysProtocol",
    "polar": "protocol_polar:PolarProtocol",
}

#: the protocol names, in the order the CLI offers them
PROTOCOLS: tuple[str, ...] = tuple(_REGISTERED)
_loaded: dict = {}


def names() -> tuple[str, ...]:
    """The registered protocol names now (``PROTOCOLS`` is the same, taken at import)."""
    return tuple(_REGISTERED)


class UnknownProtocol(SourceError, ValueError):
    """A protocol name no class registers (a usage error: one line naming the known ones)."""

    pass


def get_protocol(name: str):
    """The ``Protocol`` object for ``name`` (raises UnknownProtocol, a SourceError, with one line)."""
    if not isinstance(name, str) or name not in _REGISTERED:
        raise UnknownProtocol(f"unknown protocol {name!r} (choose from {', '.join(names())})")
    if name not in _loaded:
        _loaded[name] = registered_object(__package__, _REGISTERED[name])
    return _loaded[name]


def make_decoder(name: str, rate_hz: float | None = None, mv_per_count: float | None = None,
                 channels: int | None = None):
    """A fresh decoder for protocol ``name`` with the device's defaults where a value is None."""
    return get_protocol(name).make_decoder(rate_hz, mv_per_count, channels)
