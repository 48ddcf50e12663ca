"""``ecg-activity record``: the raw stream of a source to a new capture, bit for bit."""

from __future__ import annotations

import argparse
import json
import threading
import time

from .options import SourceOptions, add_output_args, add_source_args, duration, output_urls, protocol_names


def default_capture_name(label: str | None) -> str:
    """A capture name that does not collide (time stamp, and the label when given)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"capture-{stamp}{'-' + label if label else ''}.ecgcap"


def cmd(a: argparse.Namespace) -> int:
    """The raw stream to a new capture (exclusive create, flushed, 0600) plus any other sinks, until
    Ctrl-C or ``--duration``."""
    from ..session import Session, stop_on_signals
    from ..sinks import open_sink
    from ..sinks.capture import CaptureSink
    from ..sinks.summary import NoticeSink, ProgressSink

    out = a.output or default_capture_name(a.label)
    sinks = [CaptureSink(out)] + [open_sink(u) for u in output_urls(a)]     # refused before the source opens
    stop = threading.Event()
    stop_on_signals(stop)
    src = SourceOptions.from_args(a).open(stop, label=a.label)
    sinks.append(NoticeSink() if a.quiet else ProgressSink())
    Session(src, sinks, duration_s=a.duration, stop=stop).run()
    print(json.dumps({"capture": str(out), **src.decoder.stats.as_dict()}))
    return 0


def register(sub) -> None:
    """Add ``record``."""
    s = sub.add_parser("record", help="record a source to a raw capture file")
    add_source_args(s, protocol_names())
    s.add_argument("--output", "-o", help="capture file (default capture-DATE-TIME[-LABEL].ecgcap)")
    add_output_args(s, record_flag=False)
    s.add_argument("--label", help="activity being performed (makes the capture a training example)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    s.set_defaults(func=cmd)
