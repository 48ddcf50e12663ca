"""Edge subcommands: run, demo, replay (registered into the one ``ecg-activity`` parser)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from .cli import Fail, add_source_args, open_from_args, positive
from .bridge.record import stop_on_signals

from .edge.backends import BACKENDS


def _add_model_args(p: argparse.ArgumentParser) -> None:
    from .edge.model_bundle import DEFAULT_MODEL

    p.add_argument("--model", "-m", default=str(DEFAULT_MODEL), help=f"int8 .tflite model (default {DEFAULT_MODEL.name})")
    p.add_argument("--backend", choices=("auto",) + BACKENDS, default="auto", help="TFLite interpreter to use")
    p.add_argument("--channel", type=int, default=0, help="which ECG channel to classify (default 0)")
    p.add_argument("--smooth", type=positive(int), default=5, help="windows averaged for the smoothed decision")
    p.add_argument("--jsonl", help="append one JSON line per window to this file ('-' = stdout)")


def _load_model(a):
    from .edge.model_bundle import ModelBundle, ModelError

    try:
        return ModelBundle.load(a.model, a.backend)
    except ModelError as e:
        raise Fail(str(e)) from None


def _session(a, src, bundle, display: bool, record: str | None = None, duration=None, stop=None):
    from .bridge.transport_serial import TransportError

    from .edge.model_bundle import ModelError
    from .edge.runner import run_session

    out = None
    if a.jsonl == "-":
        out = sys.stdout
    elif a.jsonl:
        out = open(a.jsonl, "a", buffering=1)
    try:
        return run_session(src, bundle, jsonl=out, display=display, record_path=record, duration_s=duration,
                           channel=a.channel, smooth=a.smooth, stop=stop)
    except (TransportError, ModelError, ValueError) as e:
        raise Fail(str(e)) from None
    except FileExistsError:
        raise Fail(f"{record} already exists; captures are never overwritten") from None
    finally:
        if out is not None and out is not sys.stdout:
            out.close()


def _display_wanted(a) -> bool:
    if a.no_display:
        return False
    return sys.stdout.isatty() and a.jsonl != "-"


def cmd_run(a: argparse.Namespace) -> int:
    bundle = _load_model(a)
    if a.record and Path(a.record).exists():
        raise Fail(f"{a.record} already exists; captures are never overwritten")
    stop = threading.Event()
    stop_on_signals(stop)
    src = open_from_args(a, stop, label=a.label, loop=getattr(a, "loop", False))
    display = _display_wanted(a)
    if not display and not a.jsonl:
        a.jsonl = "-"          # headless: JSON lines on stdout (systemd's journal)
    summary = _session(a, src, bundle, display, a.record, a.duration, stop)
    if display or a.jsonl != "-":
        print(json.dumps(summary.as_dict()), file=sys.stderr)
    return 0


def _fixed_source(a: argparse.Namespace, source: str) -> None:
    """demo and replay choose the source themselves: fill the source options they do not expose."""
    a.source = source
    a.protocol = a.rate = a.mv_per_count = a.recording = None
    a.baud = 115200
    a.drop = a.corrupt = a.noise_every = a.pause = a.seed = 0
    a.pause_at = -1.0


def cmd_demo(a: argparse.Namespace) -> int:
    _fixed_source(a, "sim:frame")
    a.loop = not a.once
    return cmd_run(a)


def cmd_replay(a: argparse.Namespace) -> int:
    from .cli import report_damage

    bundle = _load_model(a)
    _fixed_source(a, a.capture if a.capture.endswith(".ecgcap") else "replay:" + a.capture)
    speed = 0.0 if a.speed == "max" else float(a.speed)
    a.speed = speed
    stop = threading.Event()
    stop_on_signals(stop)
    src = open_from_args(a, stop)
    display = not a.no_display and speed > 0 and sys.stdout.isatty()
    summary = _session(a, src, bundle, display, stop=stop)
    d = summary.as_dict()
    print(json.dumps(d))
    if not a.quiet:
        per = ", ".join(f"{k} {v}" for k, v in sorted(d["per_activity"].items(), key=lambda kv: -kv[1]))
        msg = f"{summary.windows} windows in {summary.elapsed_s:.2f} s ({summary.stream_s:.0f} s of signal): {per}"
        if summary.flagged:
            msg += f"; {summary.flagged} flagged"
        if summary.agreement is not None:
            msg += f"; agreement with label '{summary.label}': {summary.agreement:.1%} (smoothed {summary.smoothed_agreement:.1%})"
        print(msg, file=sys.stderr)
    return report_damage(src.transport.error)


def _speed(s: str) -> str:
    if s == "max":
        return s
    try:
        if float(s) > 0:
            return s
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"speed is 'max' or a number > 0, not {s!r}")


def register(sub) -> None:
    s = sub.add_parser("run", help="classify a live source (display, or JSON lines when headless)")
    add_source_args(s)
    _add_model_args(s)
    s.add_argument("--record", help="also record the raw stream to this capture file")
    s.add_argument("--label", help="activity being performed (stored in the capture, scored in the summary)")
    s.add_argument("--duration", type=positive(float), help="stop after this many seconds")
    s.add_argument("--no-display", action="store_true", help="no live view: JSON lines only")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", help="no hardware: the virtual wearable streams a real recording, classified live")
    _add_model_args(s)
    s.add_argument("--speed", type=positive(float), default=1.0, help="playback speed (default real time)")
    s.add_argument("--duration", type=positive(float), help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--once", action="store_true", help="stop at the end of the recording instead of looping")
    s.add_argument("--no-display", action="store_true", help="no live view: JSON lines only")
    s.set_defaults(func=cmd_demo, record=None, label=None)

    s = sub.add_parser("replay", help="classify a capture (as fast as possible by default) and summarise")
    s.add_argument("capture")
    _add_model_args(s)
    s.add_argument("--speed", type=_speed, default="max", help="'max' (default) or a playback factor")
    s.add_argument("--no-display", action="store_true")
    s.add_argument("--quiet", "-q", action="store_true")
    s.set_defaults(func=cmd_replay)
