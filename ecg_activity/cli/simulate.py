"""``ecg-activity simulate``: a virtual wearable on a pseudo-terminal, playing a real recording with faults."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .options import SourceOptions, add_fault_args, duration, load_recording_file, protocol_names, speed


def cmd(a: argparse.Namespace) -> int:
    """A virtual wearable on a pseudo-terminal playing a real recording with the asked faults; it prints the
    pty path for a reader to open."""
    from ..bridge.capture import create_private, write_fully
    from ..bridge.errors import OutputError, SourceError, UsageError
    from ..bridge.protocols import get_protocol
    from ..bridge.simulator import PtyWearable
    from ..bridge.sources import MAX_SIM_SPEED, load_recording
    from ..session import stop_after, stop_on_signals

    p = get_protocol(a.protocol)
    if not p.serial:
        raise UsageError(f"a virtual {p.name} device speaks BLE, which has no port to print here: "
                         f"use it as a source, e.g. 'ecg-activity record --source sim:{p.name}'")
    log_fd = create_private(a.fault_log) if a.fault_log else None     # refused now, not after the run
    rec = load_recording(load_recording_file(a.recording))
    try:
        sim = PtyWearable(rec, a.protocol, speed=min(a.speed, MAX_SIM_SPEED),
                          faults=SourceOptions.from_args(a).fault_plan(), loop=a.loop, device_id=a.device_id or None)
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
            except OSError as e:                 # an empty or half log would look like "no faults"
                os.unlink(a.fault_log)
                raise OutputError(f"cannot write {a.fault_log} ({e.strerror or e}); no fault log kept") from None
            finally:
                os.close(log_fd)
    return 0


def register(sub) -> None:
    """Add ``simulate``."""
    s = sub.add_parser("simulate", help="virtual wearable on a pseudo-terminal (prints the port path)")
    s.add_argument("--protocol", "-p", choices=protocol_names(), default="frame", help="wire protocol to speak")
    s.add_argument("--recording", help="dataset file to stream (default: the bundled real excerpt)")
    s.add_argument("--speed", type=speed, default=1.0, help="playback speed, or 'max' (= 0) for as fast as possible")
    s.add_argument("--loop", action="store_true", help="start again at the end")
    s.add_argument("--device-id", default="ecg-sim-0001",
                   help="the name the virtual wearable gives itself on the wire (frame protocol: an identity "
                        "frame on connecting and every 10 frames; '' for a device that never names itself)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds")
    s.add_argument("--fault-log", metavar="FILE", help="write what was injected (JSON) to this new file at the end")
    add_fault_args(s)
    s.set_defaults(func=cmd)
