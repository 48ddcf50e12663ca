"""``ecg-activity``: one console script, one subcommand per job.

Bridge commands live here; edge and train commands register themselves from
their own packages (imported lazily so a Pi never loads TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from .bridge import __version__


class UsageError(Exception):
    """Bad arguments: exit 2 with one line."""


class Fail(Exception):
    """A clear runtime failure: exit 1 with one line, no traceback."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # one line, exit 2 (argparse's own default prints usage too)
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def positive(kind):
    def conv(s: str):
        try:
            v = kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {s}")
        return v
    return conv


def probability(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {s}")
    return v


def add_source_args(p: argparse.ArgumentParser, default_source: str | None = None) -> None:
    p.add_argument("--source", "-s", default=default_source, required=default_source is None,
                   help="serial port or pyserial URL (/dev/ttyUSB0, /dev/rfcomm0, loop://), ble:NAME-OR-ADDRESS, "
                        "sim:frame|sim:attys|sim:polar (virtual wearable) or a .ecgcap capture")
    p.add_argument("--protocol", "-p", choices=["frame", "attys", "polar"],
                   help="wire protocol (default: frame; captures and sim: sources know their own)")
    p.add_argument("--baud", type=positive(int), default=115200, help="serial baud rate (default 115200)")
    p.add_argument("--rate", type=positive(float), help="sampling rate in Hz if the device differs from its default")
    p.add_argument("--mv-per-count", type=float, help="millivolts per ADC count if the device does not say")
    p.add_argument("--recording", help="for sim: sources, a dataset file to stream instead of the bundled excerpt")
    p.add_argument("--speed", type=float, default=1.0, help="for sim: and captures, playback speed (0 = as fast as possible)")
    add_fault_args(p)


def add_fault_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fault injection (virtual wearable)")
    g.add_argument("--drop", type=probability, default=0.0, help="probability a frame is lost")
    g.add_argument("--corrupt", type=probability, default=0.0, help="probability a frame is damaged")
    g.add_argument("--noise-every", type=float, default=0.0, metavar="S", help="a burst of line noise every S seconds")
    g.add_argument("--pause-at", type=float, default=-1.0, metavar="S", help="the device goes silent at S seconds")
    g.add_argument("--pause", type=float, default=0.0, metavar="S", help="... for this many seconds")
    g.add_argument("--seed", type=int, default=0, help="random seed of the fault plan")


def fault_plan(a: argparse.Namespace):
    from .bridge.simulator import FaultPlan

    return FaultPlan(drop=a.drop, corrupt=a.corrupt, noise_every_s=a.noise_every, pause_at_s=a.pause_at,
                     pause_s=a.pause, seed=a.seed)


def open_from_args(a: argparse.Namespace, stop: threading.Event | None = None, label: str | None = None,
                   loop: bool = False):
    from .bridge.capture import CaptureError
    from .bridge.sources import open_source
    from .bridge.transport_serial import TransportError

    try:
        return open_source(a.source, a.protocol, baudrate=a.baud, rate_hz=a.rate, mv_per_count=a.mv_per_count,
                           speed=a.speed, recording=a.recording, stop=stop, faults=fault_plan(a), label=label,
                           loop=loop)
    except (TransportError, CaptureError, ValueError) as e:
        raise Fail(str(e)) from None


# -- commands -------------------------------------------------------------

def cmd_devices(a: argparse.Namespace) -> int:
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
    from .bridge.record import default_capture_name, record, stop_on_signals
    from .bridge.transport_serial import TransportError

    stop = threading.Event()
    stop_on_signals(stop)
    out = a.output or default_capture_name(a.label)
    if Path(out).exists():
        raise Fail(f"{out} already exists; captures are never overwritten")
    src = open_from_args(a, stop, label=a.label)
    try:
        stats = record(src, out, a.duration, progress=not a.quiet, stop=stop)
    except FileExistsError:
        raise Fail(f"{out} already exists; captures are never overwritten") from None
    except TransportError as e:
        raise Fail(str(e)) from None
    print(json.dumps({"capture": str(out), **stats.as_dict()}))
    return 0


def cmd_simulate(a: argparse.Namespace) -> int:
    from .bridge.record import stop_on_signals
    from .bridge.simulator import PtyWearable, write_fault_log
    from .bridge.sources import load_recording
    from .bridge.transport_serial import TransportError

    if a.protocol == "polar":
        raise Fail("a virtual Polar H10 speaks BLE, which has no port to print here: "
                   "use it as a source, e.g. 'ecg-activity record --source sim:polar'")
    try:
        rec = load_recording(a.recording)
        sim = PtyWearable(rec, a.protocol, speed=a.speed, faults=fault_plan(a), loop=a.loop)
    except (TransportError, ValueError) as e:
        raise Fail(str(e)) from None
    stop_on_signals(sim.stop)
    print(sim.path, flush=True)
    print(f"virtual {a.protocol} wearable: {rec.source}, {rec.duration_s:.0f} s at {sim.dev.rate_hz:g} Hz, "
          f"speed {a.speed:g}x{' (looping)' if a.loop else ''}; Ctrl-C stops", file=sys.stderr, flush=True)
    if a.duration:
        threading.Timer(a.duration, sim.stop.set).start()
    try:
        sim.run()
    finally:
        sim.close()
        if a.fault_log:
            write_fault_log(sim.log, a.fault_log)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    from .bridge.capture import CaptureError
    from .bridge.capture_decode import decode_capture

    try:
        cap = decode_capture(a.capture)
    except CaptureError as e:
        raise Fail(str(e)) from None
    h = cap.header
    info = {
        "capture": a.capture, "protocol": h.protocol, "device": h.device, "label": h.label,
        "rate_hz": h.rate_hz, "channels": h.channels, "mv_per_count": h.mv_per_count,
        "start_time": h.start_time, "software_version": h.software_version,
        "duration_s": round(cap.duration_s, 3), "chunks": cap.chunks, "raw_bytes": cap.raw_bytes,
        **cap.stats.as_dict(), "link_events": len(cap.events),
        "damage": str(cap.error) if cap.error else None,
    }
    if a.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:>17}: {v}")
    return report_damage(cap.error)


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
    from .bridge.capture import CaptureError
    from .bridge.capture_decode import decode_capture
    from .bridge.export import export_csv, export_edf

    fmt = a.format or ("edf" if a.output.lower().endswith(".edf") else "csv")
    try:
        cap = decode_capture(a.capture)
        n = export_edf(cap, a.output) if fmt == "edf" else export_csv(cap, a.output)
    except CaptureError as e:
        raise Fail(str(e)) from None
    except (OSError, ValueError) as e:
        raise Fail(f"cannot write {a.output}: {e}") from None
    print(f"wrote {a.output}: {n} samples ({fmt})", file=sys.stderr)
    return report_damage(cap.error)


def build_parser() -> Parser:
    p = Parser(prog="ecg-activity", description="Live physical-activity recognition from a wearable ECG.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    s = sub.add_parser("devices", help="list serial ports and BLE devices")
    s.add_argument("--no-ble", action="store_true", help="skip the BLE scan")
    s.add_argument("--scan-time", type=positive(float), default=5.0)
    s.set_defaults(func=cmd_devices)

    s = sub.add_parser("record", help="record a source to a raw capture file")
    add_source_args(s)
    s.add_argument("--output", "-o", help="capture file (default capture-DATE-TIME[-LABEL].ecgcap)")
    s.add_argument("--label", help="activity being performed (makes the capture a training example)")
    s.add_argument("--duration", type=positive(float), help="stop after this many seconds")
    s.add_argument("--quiet", "-q", action="store_true")
    s.set_defaults(func=cmd_record)

    s = sub.add_parser("simulate", help="virtual wearable on a pseudo-terminal (prints the port path)")
    s.add_argument("--protocol", "-p", choices=["frame", "attys", "polar"], default="frame")
    s.add_argument("--recording", help="dataset file to stream (default: the bundled real excerpt)")
    s.add_argument("--speed", type=positive(float), default=1.0)
    s.add_argument("--loop", action="store_true", help="start again at the end")
    s.add_argument("--duration", type=positive(float), help="stop after this many seconds")
    s.add_argument("--fault-log", help="write what was injected (JSON) here at the end")
    add_fault_args(s)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("info", help="header, duration, frames, gaps and errors of a capture")
    s.add_argument("capture")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("export", help="capture -> CSV or EDF+ in millivolts")
    s.add_argument("capture")
    s.add_argument("--output", "-o", required=True)
    s.add_argument("--format", choices=["csv", "edf"], help="default: from the output's extension")
    s.set_defaults(func=cmd_export)

    from . import cli_edge, cli_train

    cli_edge.register(sub)
    cli_train.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not getattr(a, "func", None):
        parser.print_help()
        return 2
    try:
        return int(a.func(a) or 0)
    except Fail as e:
        print(f"ecg-activity: error: {e}", file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"ecg-activity: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


