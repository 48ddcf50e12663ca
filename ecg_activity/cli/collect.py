"""``ecg-activity collect``: the central side of ``--out mqtt://...``: every device's decisions, one file each."""

from __future__ import annotations

import argparse
import sys
import threading

from .options import duration


def cmd(a: argparse.Namespace) -> int:
    """Subscribe to a fleet's decisions on a broker and append each device's to its own file."""
    from ..fleet.collector import Collector
    from ..session import stop_after, stop_on_signals

    col = Collector(a.url, a.out)
    stop = threading.Event()
    stop_on_signals(stop)
    stop_after(stop, a.duration)
    col.start()
    live = None
    if not a.no_display and sys.stdout.isatty():
        from rich.live import Live

        live = Live(col.table(), refresh_per_second=2)
        live.start()
    try:
        while not stop.wait(0.5):
            if live is not None:
                live.update(col.table())
    finally:
        if live is not None:
            live.stop()
        col.stop()
    n = sum(d.decisions for d in col.devices.values())
    dup = sum(d.duplicates for d in col.devices.values())
    print(f"collected {n} decisions from {len(col.devices)} device(s) into {a.out} ({dup} duplicates dropped)",
          file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``collect``."""
    s = sub.add_parser("collect", help="fleet: subscribe to every device's decisions, one JSON-lines file each")
    s.add_argument("url", help="mqtt://BROKER[:PORT]/PREFIX/# (the PREFIX the devices publish under)")
    s.add_argument("--out", "-o", required=True, help="folder for DEVICE.jsonl files (created if missing)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--no-display", action="store_true", help="no live table")
    s.set_defaults(func=cmd)
