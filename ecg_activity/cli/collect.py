"""``ecg-activity collect``: the central side of ``--out mqtt://...``: every device's decisions, one file each."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from .options import SummaryJson, add_summary_arg, duration


def cmd(a: argparse.Namespace) -> int:
    """Subscribe to a fleet's decisions on a broker and append each device's to its own file; ``q`` or
    Ctrl-C ends it.  A broker that refuses the credentials, or cannot be reached within
    ``--connect-timeout``, is one line and exit 1; so is a decision that could not be written."""
    from ..bridge.errors import OutputError
    from ..fleet.collector import Collector
    from ..keys import Controls, KeyReader
    from ..session import stop_after, stop_on_signals

    col = Collector(a.url, a.out, a.client_id)
    summary_json = SummaryJson(a.summary_json)
    stop = threading.Event()
    stop_on_signals(stop)
    stop_after(stop, a.duration)
    col.start()
    live = None
    display = not a.no_display and sys.stdout.isatty()
    controls = Controls()
    reader = KeyReader(controls, ()) if display else None
    if display:
        from rich.live import Live

        live = Live(col.table(), refresh_per_second=2)
        live.start()
        reader.__enter__()
    t0 = time.monotonic()
    try:
        while not stop.wait(0.5):
            if live is not None:
                live.update(col.table())
            if any(c[0] == "quit" for c in controls.drain()):
                break
            if col.refused:
                raise OutputError(f"MQTT broker {col.url.where} refused the collector: {col.refused}")
            if not col.connected.is_set() and a.connect_timeout and time.monotonic() - t0 > a.connect_timeout:
                raise OutputError(f"MQTT broker {col.url.where} unreachable for {a.connect_timeout:g} s "
                                  "(is it running, is the port or TLS right?)")
            if col.connected.is_set():
                t0 = float("inf")              # reached once: from now on paho reconnects by itself
    finally:
        if reader is not None:
            reader.__exit__(None, None, None)
        if live is not None:
            live.stop()
        col.stop()
    tot = col.totals()
    msg = (f"collected {tot['decisions']} decisions from {tot['devices']} device(s) into {a.out} "
           f"({tot['duplicates']} duplicates dropped, {tot['gaps']} missing in the sequences")
    if tot["rejected"]:
        msg += ", rejected: " + ", ".join(f"{n} {why}" for why, n in sorted(tot["rejected"].items()))
    print(msg + ")", file=sys.stderr)
    summary_json.write(tot)
    if tot["write_errors"]:
        what = ", ".join(f"{n} {why}" for why, n in sorted(tot["write_errors"].items()))
        raise OutputError(f"decisions not written: {what}" + (
            f"; {tot['left_for_redelivery']} left with the broker for the next run" if tot["left_for_redelivery"]
            else ""))
    return 0


def register(sub) -> None:
    """Add ``collect``."""
    s = sub.add_parser("collect", help="fleet: subscribe to every device's decisions, one JSON-lines file each")
    s.add_argument("url", help="mqtt[s]://BROKER[:PORT]/PREFIX/# (the PREFIX the devices publish under; "
                               "?ca=, ?cert=&key=, ?auth=FILE as for mqtt outputs)")
    s.add_argument("--out", "-o", required=True, help="folder for DEVICE.jsonl files (created if missing, 0700)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds (default: Ctrl-C or q)")
    s.add_argument("--no-display", action="store_true", help="no live table")
    s.add_argument("--client-id", help="the MQTT client id (default: a random one kept in OUT/.collector-id)")
    s.add_argument("--connect-timeout", type=duration, default=30.0,
                   help="give up when the broker cannot be reached in this many seconds (default 30)")
    add_summary_arg(s)
    s.set_defaults(func=cmd)
