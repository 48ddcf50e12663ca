"""Source specs -> an open source (transport, decoder, capture header): the one place that knows the URL forms.

    /dev/ttyUSB0, /dev/rfcomm0, COM3, loop://, socket://host:port   serial (pyserial URL)
    serial:PATH                                                     serial, explicitly
    ble:NAME-OR-ADDRESS                                             BLE via bleak
    sim:frame | sim:attys | sim:polar                               the virtual wearable (no hardware)
    replay:FILE.ecgcap or FILE.ecgcap                               a capture, as if live

Everything a protocol implies (defaults, handshake, watchdog, BLE profile,
whether it runs over serial at all) comes from its ``Protocol`` object.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .capture import CaptureHeader
from .decoder import Decoder
from .errors import SourceError
from .protocol_base import Protocol
from .protocols import get_protocol
from .protocols import names as protocol_names
from .recording import Recording, load_demo_excerpt
from .transport_serial import TransportError

#: a virtual wearable asked for "as fast as possible" streams at most this many times real time
MAX_SIM_SPEED = 1000.0


@dataclass
class OpenSource:
    """An opened source: iterate ``transport`` for Packets/LinkEvents, decode them with ``decoder``."""

    transport: Any
    decoder: Decoder
    header: CaptureHeader
    kind: str                      # "serial", "ble", "sim" or "replay"
    protocol: Protocol
    title: str = ""                # what the live view calls it
    closers: list = field(default_factory=list)
    simulator: Any = None

    def truth_at(self, index: int) -> str | None:
        """For a virtual wearable: the activity its recording shows at stream sample ``index``."""
        if self.simulator is None:
            return None
        dev = self.simulator.dev
        return dev.label_at(index % dev.counts.size)

    def close(self) -> None:
        try:
            self.transport.close()
        finally:
            for c in self.closers:
                c()


def load_recording(recording: Recording | None) -> Recording:
    """What a virtual wearable streams: the recording given (the application reads dataset files, which
    only training knows), or the bundled demo excerpt."""
    return recording if recording is not None else load_demo_excerpt()


def is_max_speed(speed: float | None) -> bool:
    """None, 0 and infinity all mean "as fast as possible" (the CLI's --speed max or 0)."""
    return speed is None or speed <= 0 or math.isinf(speed)


def open_source(spec: str, protocol: str | None = None, *, baudrate: int = 115200, rate_hz: float | None = None,
                mv_per_count: float | None = None, channels: int | None = None, speed: float | None = 1.0,
                recording: Recording | None = None, stop: threading.Event | None = None, faults=None,
                label: str | None = None, watchdog_s: float | None = None, loop: bool = False) -> OpenSource:
    """Open a source for reading: the one entry point from a URL-like spec to bytes and decoded samples.

    Parameters
    ----------
    spec : str
        ``/dev/ttyUSB0`` or any pyserial URL, ``ble:NAME-OR-ADDRESS``, ``sim:frame|attys|polar`` or a
        ``.ecgcap`` capture (see the module docstring).
    protocol : str, optional
        A name from ``protocols.PROTOCOLS``; captures and ``sim:`` sources know their own.
    speed : float, optional
        For captures and virtual wearables: a factor of real time; None, 0 or inf = as fast as possible.

    Returns
    -------
    OpenSource
        ``transport`` (iterate it for Packets and LinkEvents), ``decoder``, capture ``header``.

    Raises
    ------
    SourceError
        One clear line: a wrong path, an unknown protocol, a FIFO posing as a port, a damaged recording.

    Examples
    --------
    >>> src = open_source("sim:frame", speed=0)          # doctest: +SKIP
    >>> src.transport.open_first(); next(iter(src.transport))   # doctest: +SKIP
    """
    stop = stop or threading.Event()
    if protocol is not None:
        get_protocol(protocol)
    if spec.startswith("replay:") or spec.endswith(".ecgcap"):
        return _open_replay(spec[len("replay:"):] if spec.startswith("replay:") else spec, protocol, speed, stop)
    if spec.startswith("sim:"):
        proto = spec[4:] or "frame"
        if proto not in protocol_names():
            raise SourceError(f"unknown virtual device {spec!r} (choose from "
                              f"{', '.join('sim:' + p for p in protocol_names())})")
        if protocol and protocol != proto:
            raise SourceError(f"{spec} speaks {proto!r}, not {protocol!r}")
        sim_speed = MAX_SIM_SPEED if is_max_speed(speed) else min(float(speed), MAX_SIM_SPEED)
        return _open_sim(get_protocol(proto), load_recording(recording), sim_speed, faults, stop, label, spec, loop)
    p = get_protocol(protocol or "frame")
    dec = p.make_decoder(rate_hz, mv_per_count, channels)
    header = CaptureHeader(protocol=p.name, rate_hz=dec.rate_hz, channels=dec.channels,
                           mv_per_count=dec.mv_per_count, label=label, source=spec)
    if spec.startswith("ble:"):
        from .transport_ble import BleTransport

        if p.ble is None:
            raise SourceError(f"protocol {p.name!r} does not run over BLE")
        tr = BleTransport(spec[4:], p.name, stop=stop)
        header.device = spec[4:]
        return OpenSource(tr, dec, header, "ble", p, title=spec)
    from .transport_serial import SerialTransport

    if not p.serial:
        raise SourceError(f"protocol {p.name!r} runs over BLE only: use ble:NAME-OR-ADDRESS")
    url = spec[len("serial:"):] if spec.startswith("serial:") else spec
    _check_serial_path(url)
    wd = watchdog_s if watchdog_s is not None else p.watchdog_s
    tr = SerialTransport(url, baudrate=baudrate, startup_commands=p.startup_commands(dec.rate_hz),
                         start_command=p.start_command, watchdog_s=wd, stop=stop)
    header.device = url
    return OpenSource(tr, dec, header, "serial", p, title=url)


def _check_serial_path(url: str) -> None:
    """A path that exists must be a character device: a FIFO, file or folder would hang or fail oddly."""
    if "://" in url:
        return
    try:
        mode = os.stat(url).st_mode
    except OSError:
        return            # pyserial says what is wrong with a missing port
    if not stat.S_ISCHR(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a file"
        raise SourceError(f"source {url!r} is {kind}, not a serial port (captures end in .ecgcap)")


def _open_replay(path: str, protocol: str | None, speed: float | None, stop: threading.Event) -> OpenSource:
    from .transport_replay import ReplayTransport

    tr = ReplayTransport(path, speed=None if is_max_speed(speed) else speed, stop=stop)
    h = tr.header
    if protocol and protocol != h.protocol:
        tr.close()
        raise SourceError(f"capture {path!r} holds {h.protocol!r} data, not {protocol!r}")
    p = get_protocol(h.protocol)
    dec = p.make_decoder(h.rate_hz, h.mv_per_count, h.channels)
    return OpenSource(tr, dec, h, "replay", p, title=Path(path).name)


def _open_sim(p: Protocol, rec: Recording, speed: float, faults, stop, label, spec, loop: bool = False) -> OpenSource:
    extra = {"recording": rec.source}
    if p.serial:
        from .simulator import PtyWearable
        from .transport_serial import SerialTransport

        try:
            sim = PtyWearable(rec, p.name, speed=speed, faults=faults, loop=loop)
        except ValueError as e:
            raise SourceError(str(e)) from None
        threading.Thread(target=sim.run, daemon=True, name="virtual-wearable").start()
        dec = p.make_decoder(sim.dev.rate_hz, sim.dev.mv_per_count if p.keeps_own_scale else None)
        tr = SerialTransport(sim.path, startup_commands=p.startup_commands(dec.rate_hz),
                             start_command=p.start_command, watchdog_s=None, stop=stop)
        h = CaptureHeader(protocol=p.name, rate_hz=dec.rate_hz, channels=dec.channels,
                          mv_per_count=dec.mv_per_count, device=f"virtual {p.name} wearable on {sim.path}",
                          label=label, source=spec, extra=extra)
        _stop_when(sim.finished.is_set, stop, tr.drained)
        return OpenSource(tr, dec, h, "sim", p, title=spec, closers=[sim.close], simulator=sim)
    from .simulator_ble import VirtualPolarH10
    from .transport_ble import BleTransport

    dev = VirtualPolarH10(rec, speed=speed, faults=faults, loop=loop)      # the one BLE-only device
    tr = BleTransport(dev.address, p.name, client_factory=dev.client_factory, finder=None, stop=stop)
    dec = p.make_decoder()
    h = CaptureHeader(protocol=p.name, rate_hz=dec.rate_hz, channels=dec.channels, mv_per_count=dec.mv_per_count,
                      device=dev.name, label=label, source=spec, extra=extra)
    _stop_when(lambda: dev.done, stop, tr.drained)
    return OpenSource(tr, dec, h, "sim", p, title=spec, simulator=dev)


def _stop_when(done, stop: threading.Event, drained, grace_s: float = 0.5, longest_s: float = 30.0) -> None:
    """A virtual wearable's recording has an end; the live stream ends with it, once every byte it sent
    has been read (at top speed the reader can lag behind the device)."""
    def watch() -> None:
        while not stop.is_set():
            if done():
                stop.wait(grace_s)
                deadline = time.monotonic() + longest_s
                while not drained() and time.monotonic() < deadline and not stop.is_set():
                    stop.wait(0.05)
                stop.set()
                return
            stop.wait(0.05)
    threading.Thread(target=watch, daemon=True, name="sim-watch").start()
