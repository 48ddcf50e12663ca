"""``ecg-activity demo``: no hardware: the virtual wearable streams the bundled real recording, classified live."""

from __future__ import annotations

import argparse

from .options import SourceOptions, add_model_args, add_output_args, add_summary_arg, duration, speed


def cmd(a: argparse.Namespace) -> int:
    """``run`` on the virtual wearable (``sim:frame``), looping unless ``--once``."""
    from .live import classify_live

    return classify_live(a, SourceOptions(source="sim:frame", speed=a.speed), loop=not a.once)


def register(sub) -> None:
    """Add ``demo``."""
    s = sub.add_parser("demo", help="no hardware: the virtual wearable streams a real recording, classified live")
    add_model_args(s)
    add_output_args(s)
    s.add_argument("--speed", type=speed, default=1.0, help="playback speed (default real time; 'max' = fastest)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--once", action="store_true", help="stop at the end of the recording instead of looping")
    s.add_argument("--no-display", action="store_true", help="no live view: JSON lines on stdout, a summary sentence on stderr")
    add_summary_arg(s)
    s.set_defaults(func=cmd)
