"""Bridge commands: devices, record, simulate, info, export."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from .args import add_fault_args, add_output_args, add_source_args, duration, number, output_urls, speed


def protocol_names() -> list[str]:
    """The registered wire protocols, for choices and help."""
    from .bridge.protocols import PROTOCOLS

    return list(PROTOCOLS)


def fault_plan(a: argparse.Namespace):
    """The ``FaultPlan`` the fault options describe."""
    from .bridge.simulator import FaultPlan

    return FaultPlan(drop=a.drop, corrupt=a.corrupt, noise_every_s=a.noise_every, pause_at_s=a.pause_at,
                     pause_s=a.pause, seed=a.seed)


def open_from_args(a: argparse.Namespace, stop: threading.Event | None = None, label: str | None = None,
                   loop: bool = False):
    """The source the common options describe (raises SourceError with one line)."""
    from .bridge.errors import UsageError
    from .bridge.protocols import get_protocol
    from .bridge.sources import open_source

    if a.noise_every and a.source.startswith("sim:") and a.source[4:] in protocol_names():
        if not get_protocol(a.source[4:]).serial:
            raise UsageError(f"--noise-every: a {a.source} link delivers whole notifications, never line noise")
    return open_source(a.source, a.protocol, baudrate=a.baud, rate_hz=a.rate, mv_per_count=a.mv_per_count,
                       speed=a.speed, recording=a.recording, stop=stop, faults=fault_plan(a), label=label, loop=loop)


def default_capture_name(label: str | None) -> str:
    """A capture name that does not collide (time stamp, and the label when given)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"capture-{stamp}{'-' + label if label else ''}.ecgcap"


# -- commands -------------------------------------------------------------

def cmd_devices(a: argparse.Namespace) -> int:
    """``devices``: list serial ports and, with a radio, nearby BLE wearables."""
    from .bridge.devices import ble_scan, serial_ports

    ports = serial_ports()
    print("Serial ports:" if ports else "Serial ports: none found")
    for dev, desc in ports:
        print(f"  {dev}  {desc}")
    if a.no_ble:
        return 0
    found, why = ble_scan(a.scan_time)
    if why is not None:
        print(f"BLE: no usable Bluetooth radio ({why})")
    else:
        print("BLE devices:" if found else "BLE devices: none found")
        for addr, name in found:
            print(f"  {addr}  {name}")
    return 0


def cmd_record(a: argparse.Namespace) -> int:
    """``record``: the raw stream to a new capture (exclusive create, flushed, 0600) plus any other sinks, until
    Ctrl-C or ``--duration``."""
    from .session import Session, stop_on_signals
    from .sinks import open_sink
    from .sinks.capture import CaptureSink
    from .sinks.summary import NoticeSink, ProgressSink

    out = a.output or default_capture_name(a.label)
    sinks = [CaptureSink(out)] + [open_sink(u) for u in output_urls(a)]     # refused before the source opens
    stop = threading.Event()
    stop_on_signals(stop)
    src = open_from_args(a, stop, label=a.label)
    sinks.append(NoticeSink() if a.quiet else ProgressSink())
    Session(src, sinks, duration_s=a.duration, stop=stop).run()
    print(json.dumps({"capture": str(out), **src.decoder.stats.as_dict()}))
    return 0


def cmd_simulate(a: argparse.Namespace) -> int:
    """``simulate``: a virtual wearable on a pseudo-terminal playing a real recording with the asked faults; it
    prints the pty path for a reader to open."""
    from .bridge.capture import create_private, write_fully
    from .bridge.errors import SourceError, UsageError
    from .bridge.protocols import get_protocol
    from .bridge.simulator import PtyWearable
    from .bridge.sources import MAX_SIM_SPEED, load_recording
    from .session import stop_after, stop_on_signals

    p = get_protocol(a.protocol)
    if not p.serial:
        raise UsageError(f"a virtual {p.name} device speaks BLE, which has no port to print here: "
                         f"use it as a source, e.g. 'ecg-activity record --source sim:{p.name}'")
    log_fd = create_private(a.fault_log) if a.fault_log else None     # refused now, not after the run
    rec = load_recording(a.recording)
    try:
        sim = PtyWearable(rec, a.protocol, speed=min(a.speed, MAX_SIM_SPEED), faults=fault_plan(a), loop=a.loop)
    except ValueError as e:
        raise SourceError(str(e)) from None
    stop_on_signals(sim.stop)
    print(sim.path, flush=True)
    print(f"virtual {a.protocol} wearable: {rec.source}, {rec.duration_s:.0f} s at {sim.dev.rate_hz:g} Hz, "
          f"speed {'max' if a.speed == float('inf') else f'{a.speed:g}x'}{' (looping)' if a.loop else ''}; "
          "Ctrl-C stops", file=sys.stderr, flush=True)
    stop_after(sim.stop, a.duration)
    try:
        sim.run()
    finally:
        sim.close()
        if log_fd is not None:
            try:
                write_fully(log_fd, json.dumps(sim.log.as_dict()).encode())
            finally:
                os.close(log_fd)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    """``info``: a capture's header, start time, duration, frames, gaps and damage, read to the end whatever
    its state."""
    from datetime import datetime, timezone

    from .bridge.capture_decode import iter_capture

    tally, blocks = iter_capture(a.capture)
    for _ in blocks:
        pass
    h = tally.header
    started = datetime.fromtimestamp(h.start_time, timezone.utc).astimezone()
    info = {
        "capture": a.capture, "protocol": h.protocol, "device": h.device, "label": h.label,
        "rate_hz": h.rate_hz, "channels": h.channels, "mv_per_count": h.mv_per_count,
        "start_time": h.start_time, "started": started.isoformat(timespec="seconds"),
        "software_version": h.software_version, "duration_s": round(tally.duration_s, 3), "chunks": tally.chunks,
        "raw_bytes": tally.raw_bytes, **tally.stats.as_dict(), "link_events": len(tally.events),
        "damage": str(tally.error) if tally.error else None,
    }
    if a.json:
        print(json.dumps(info))
    else:
        info.pop("start_time")
        for k, v in info.items():
            print(f"{k:>17}: {v}")
    return report_damage(tally.error)


def report_damage(error) -> int:
    """A torn last chunk (a kill mid-write) is expected and only warned about; damage inside is an error."""
    if error is None:
        return 0
    if error.truncated:
        print(f"warning: {error} (everything before it was read)", file=sys.stderr)
        return 0
    print(f"ecg-activity: error: {error} (everything before it was read)", file=sys.stderr)
    return 1


def cmd_export(a: argparse.Namespace) -> int:
    """``export``: a capture's samples to CSV/EDF/BDF; damage inside the capture exports what precedes it and
    exits 1 (a torn last chunk, as a kill leaves, only warns)."""
    from .bridge.export import export

    res = export(a.capture, a.output, a.format, a.force, a.stream)
    print(f"wrote {a.output}: {res.samples} samples ({res.fmt})", file=sys.stderr)
    return report_damage(res.damage)


def cmd_import(a: argparse.Namespace) -> int:
    """``import``: a foreign recording (CSV, EDF/BDF, WFDB) as a new capture."""
    from .bridge.importer import import_recording
    from .train.corpus import ALL_LABELS

    res = import_recording(a.recording, a.output, a.format, a.rate, a.mv_per_count, a.channel, a.label, ALL_LABELS)
    print(json.dumps(res))
    return 0


def register(sub) -> None:
    """Add the bridge commands (devices, record, simulate, info, export, import)."""
    protocols = protocol_names()
    s = sub.add_parser("devices", help="list serial ports and BLE devices")
    s.add_argument("--no-ble", action="store_true", help="skip the BLE scan")
    s.add_argument("--scan-time", type=number(float, 0.0, 600.0), default=5.0,
                   help="seconds to scan for BLE devices (default 5)")
    s.set_defaults(func=cmd_devices)

    s = sub.add_parser("record", help="record a source to a raw capture file")
    add_source_args(s, protocols)
    s.add_argument("--output", "-o", help="capture file (default capture-DATE-TIME[-LABEL].ecgcap)")
    add_output_args(s, record_flag=False)
    s.add_argument("--label", help="activity being performed (makes the capture a training example)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    s.set_defaults(func=cmd_record)

    s = sub.add_parser("simulate", help="virtual wearable on a pseudo-terminal (prints the port path)")
    s.add_argument("--protocol", "-p", choices=protocols, default="frame", help="wire protocol to speak")
    s.add_argument("--recording", help="dataset file to stream (default: the bundled real excerpt)")
    s.add_argument("--speed", type=speed, default=1.0, help="playback speed, or 'max' (= 0) for as fast as possible")
    s.add_argument("--loop", action="store_true", help="start again at the end")
    s.add_argument("--duration", type=duration, help="stop after this many seconds")
    s.add_argument("--fault-log", metavar="FILE", help="write what was injected (JSON) to this new file at the end")
    add_fault_args(s)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("info", help="header, duration, frames, gaps and errors of a capture")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--json", action="store_true", help="one JSON object instead of aligned text")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("import", help="CSV, EDF/EDF+/BDF+ or WFDB recording -> a capture (replay, label, train on it)")
    s.add_argument("recording", help="file.csv, file.edf, file.bdf or a WFDB record (NAME.hea)")
    s.add_argument("--output", "-o", required=True, help="the capture to create (.ecgcap)")
    s.add_argument("--format", choices=["csv", "edf", "bdf", "wfdb"], help="default: from the file name")
    s.add_argument("--rate", type=number(float, 0.0, 100_000.0), help="sampling rate (CSV of values only)")
    s.add_argument("--mv-per-count", type=number(float, 0.0, 1e6),
                   help="CSV: resolution to store the millivolts at (default 0.001 = 1 µV)")
    s.add_argument("--channel", type=number(int, 0, 4096, lo_open=False),
                   help="which signal or CSV column (default: the one named ECG, else the first/last)")
    s.add_argument("--label", help="activity of the whole recording (annotations naming one set labels too)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("export", help="capture -> CSV, EDF+ (16-bit) or BDF+ (24-bit), in millivolts")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--output", "-o", required=True,
                   help="file to write: .csv, .edf or .bdf (another name gets BDF+, which keeps all 24 bits)")
    s.add_argument("--format", choices=["csv", "edf", "bdf"], help="default: from the output's extension")
    s.add_argument("--force", action="store_true",
                   help="replace an existing output (never a capture, a link or a device)")
    s.add_argument("--stream", choices=["ecg", "acc", "mag"], default="ecg",
                   help="which stream: the ECG (default), or the accelerometer / magnetometer as CSV")
    s.set_defaults(func=cmd_export)

