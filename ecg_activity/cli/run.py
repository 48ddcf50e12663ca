"""``ecg-activity run``: classify a live source, with a live view on a terminal or JSON lines headless."""

from __future__ import annotations

import argparse

from .options import (SourceOptions, add_model_args, add_output_args, add_source_args, add_summary_arg, duration,
                      protocol_names)


def cmd(a: argparse.Namespace) -> int:
    """The wearable (or any source) classified live until Ctrl-C or ``--duration``."""
    from .live import classify_live

    return classify_live(a, SourceOptions.from_args(a), label=a.label)


def register(sub) -> None:
    """Add ``run``."""
    s = sub.add_parser("run", help="classify a live source (display, or JSON lines when headless)")
    add_source_args(s, protocol_names())
    add_model_args(s)
    add_output_args(s)
    s.add_argument("--label", help="activity being performed (stored in the capture, scored in the summary)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds")
    s.add_argument("--no-display", action="store_true", help="no live view: JSON lines on stdout, a summary sentence on stderr")
    add_summary_arg(s)
    s.set_defaults(func=cmd)
