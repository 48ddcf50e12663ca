"""Source specs -> (transport, decoder, capture header): the one place that knows the URL forms.

    /dev/ttyUSB0, /dev/rfcomm0, COM3, loop://, socket://host:port   serial (pyserial URL)
    serial:PATH                                                     serial, explicitly
    ble:NAME-OR-ADDRESS                                             BLE via bleak
    sim:frame | sim:attys | sim:polar                               the virtual wearable (no hardware)
    replay:FILE.ecgcap or FILE.ecgcap                               a capture, as if live
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .capture import CaptureHeader
from .decoder import Decoder
from .protocols import DEFAULTS, PROTOCOLS, make_decoder
from .recording import Recording, load_demo_excerpt
from .transport_serial import TransportError


@dataclass
class OpenSource:
    transport: Any
    decoder: Decoder
    header: CaptureHeader
    kind: str
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


def load_recording(path: str | None) -> Recording:
    """The bundled demo excerpt, or a dataset file (ecg-motion-artefacts CSV, wrist-ppg EDF)."""
    if not path:
        return load_demo_excerpt()
    p = Path(path)
    if not p.exists():
        raise TransportError(f"recording {path!r} does not exist")
    from ..train import datasets

    try:
        if p.suffix.lower() == ".edf":
            return datasets.load_wrist_edf(p)
        return datasets.load_motion_file(p)
    except (ValueError, OSError) as e:
        raise TransportError(f"cannot read recording {path!r}: {e}") from None


def open_source(spec: str, protocol: str | None = None, *, baudrate: int = 115200, rate_hz: float | None = None,
                mv_per_count: float | None = None, channels: int | None = None, speed: float | None = 1.0,
                recording: str | None = None, stop: threading.Event | None = None, faults=None,
                label: str | None = None, watchdog_s: float | None = None, loop: bool = False) -> OpenSource:
    stop = stop or threading.Event()
    if spec.startswith("replay:") or spec.endswith(".ecgcap"):
        from .transport_replay import ReplayTransport

        path = spec[len("replay:"):] if spec.startswith("replay:") else spec
        tr = ReplayTransport(path, speed=speed, stop=stop)
        h = tr.header
        if protocol and protocol != h.protocol:
            raise TransportError(f"capture {path!r} holds {h.protocol!r} data, not {protocol!r}")
        dec = make_decoder(h.protocol, h.rate_hz, h.mv_per_count, h.channels)
        return OpenSource(tr, dec, h, "replay")

    if spec.startswith("sim:"):
        proto = spec[4:] or "frame"
        if proto not in PROTOCOLS:
            raise TransportError(f"unknown virtual device {spec!r} (sim:frame, sim:attys or sim:polar)")
        if protocol and protocol != proto:
            raise TransportError(f"{spec} speaks {proto!r}, not {protocol!r}")
        rec = load_recording(recording)
        return _open_sim(proto, rec, speed or 1.0, faults, stop, label, spec, loop)

    proto = protocol or "frame"
    if proto not in PROTOCOLS:
        raise TransportError(f"unknown protocol {proto!r} (choose from {', '.join(PROTOCOLS)})")
    r, mv, ch = DEFAULTS[proto]
    dec = make_decoder(proto, rate_hz, mv_per_count, channels)
    header = CaptureHeader(protocol=proto, rate_hz=dec.rate_hz, channels=dec.channels,
                           mv_per_count=dec.mv_per_count, label=label, source=spec)
    if spec.startswith("ble:"):
        from .transport_ble import BleTransport

        tr = BleTransport(spec[4:], proto, stop=stop)
        header.device = spec[4:]
        return OpenSource(tr, dec, header, "ble")
    from .transport_serial import SerialTransport

    url = spec[len("serial:"):] if spec.startswith("serial:") else spec
    wd = watchdog_s if watchdog_s is not None else (2.0 if proto == "attys" else 5.0)
    tr = SerialTransport(url, baudrate=baudrate, startup_commands=dec.startup_commands,
                         start_command=dec.start_command, watchdog_s=wd, stop=stop)
    header.device = url
    return OpenSource(tr, dec, header, "serial")


def _open_sim(proto: str, rec: Recording, speed: float, faults, stop, label, spec, loop: bool = False) -> OpenSource:
    rate, mv, ch = DEFAULTS[proto]
    if proto == "polar":
        from .simulator_ble import VirtualPolarH10
        from .transport_ble import BleTransport

        dev = VirtualPolarH10(rec, speed=speed, faults=faults, loop=loop)
        tr = BleTransport(dev.address, "polar", client_factory=dev.client_factory, finder=None, stop=stop)
        dec = make_decoder("polar")
        h = CaptureHeader(protocol="polar", rate_hz=dec.rate_hz, channels=1, mv_per_count=dec.mv_per_count,
                          device=dev.name, label=label, source=spec, extra={"recording": rec.source})
        _stop_when(lambda: dev.done, stop)
        return OpenSource(tr, dec, h, "sim", simulator=dev)
    from .simulator import PtyWearable
    from .transport_serial import SerialTransport

    sim = PtyWearable(rec, proto, speed=speed, faults=faults, loop=loop)
    threading.Thread(target=sim.run, daemon=True, name="virtual-wearable").start()
    dec = make_decoder(proto, sim.dev.rate_hz, sim.dev.mv_per_count if proto == "frame" else None)
    tr = SerialTransport(sim.path, startup_commands=dec.startup_commands, start_command=dec.start_command,
                         watchdog_s=None, stop=stop)
    h = CaptureHeader(protocol=proto, rate_hz=dec.rate_hz, channels=dec.channels, mv_per_count=dec.mv_per_count,
                      device=f"virtual {proto} wearable on {sim.path}", label=label, source=spec,
                      extra={"recording": rec.source})
    _stop_when(sim.finished.is_set, stop)
    return OpenSource(tr, dec, h, "sim", closers=[sim.close], simulator=sim)


def _stop_when(done, stop: threading.Event, grace_s: float = 0.5) -> None:
    """A virtual wearable's recording has an end; the live stream should end with it."""
    def watch() -> None:
        while not stop.is_set():
            if done():
                stop.wait(grace_s)
                stop.set()
                return
            stop.wait(0.05)
    threading.Thread(target=watch, daemon=True, name="sim-watch").start()
