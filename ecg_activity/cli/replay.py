"""``ecg-activity replay``: classify a capture, as fast as possible by default, and summarise it."""

from __future__ import annotations

import argparse

from .options import (SourceOptions, SummaryJson, add_model_args, add_output_args, add_summary_arg, output_urls,
                      speed)


#: files ``import`` reads: replaying one directly is a user's natural first try
FOREIGN = (".edf", ".bdf", ".csv", ".hea", ".dat", ".gz", ".txt")


def cmd(a: argparse.Namespace) -> int:
    """The capture through the live pipeline (bit for bit what was recorded); the summary as JSON on stdout
    and a sentence on stderr."""
    import json
    import sys
    import threading

    from ..session import stop_on_signals
    from ..sinks import open_sink
    from .common import report_damage
    from .live import display_wanted, fail_if_stopped, load_model, run_session

    from pathlib import Path

    from ..bridge.errors import UsageError

    if Path(a.capture).suffix.lower() in FOREIGN:
        raise UsageError(f"{a.capture} is a recording, not a capture: make one with "
                         f"'ecg-activity import {a.capture} -o NAME.ecgcap', then replay that")
    bundle = load_model(a)
    source = a.capture if a.capture.endswith(".ecgcap") else "replay:" + a.capture
    urls = output_urls(a)
    sinks = [open_sink(u) for u in urls]
    summary_json = SummaryJson(a.summary_json)
    stop = threading.Event()
    stop_on_signals(stop)
    src = SourceOptions(source=source, speed=a.speed).open(stop)
    display = a.speed != float("inf") and display_wanted(a, urls)
    summary = run_session(a, src, bundle, display, sinks, stop)
    if "jsonl:-" not in urls and a.summary_json != "-":
        print(json.dumps(summary.as_dict()))
    summary_json.write(summary.as_dict())
    if not a.quiet:
        print(summary.text(bundle.cfg.window_s), file=sys.stderr)
    fail_if_stopped(summary)
    return report_damage(src.transport.error)


def register(sub) -> None:
    """Add ``replay``."""
    s = sub.add_parser("replay", help="classify a capture (as fast as possible by default) and summarise")
    s.add_argument("capture", help="a .ecgcap file")
    add_model_args(s)
    add_output_args(s, record_flag=False)
    s.add_argument("--speed", type=speed, default=float("inf"),
                   help="'max' (= 0, the default) or a playback factor such as 1 (with the live view)")
    s.add_argument("--no-display", action="store_true", help="no live view even at --speed 1")
    s.add_argument("--quiet", "-q", action="store_true", help="no human-readable summary line on stderr")
    add_summary_arg(s)
    s.set_defaults(func=cmd)
