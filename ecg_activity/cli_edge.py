"""Edge commands: run, demo, replay — each one session (``session.Session``) with its sinks."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from .args import add_output_args, add_source_args, duration, number, output_urls, positive_int, speed
from .cli_bridge import open_from_args, protocol_names, report_damage


def _add_model_args(p: argparse.ArgumentParser) -> None:
    from .edge.backends import BACKENDS
    from .models import DEFAULT_MODEL

    p.add_argument("--model", "-m", default=str(DEFAULT_MODEL),
                   help=f"int8 .tflite model (default: the shipped {DEFAULT_MODEL.name})")
    p.add_argument("--backend", choices=("auto",) + BACKENDS, default="auto", help="TFLite interpreter to use")
    p.add_argument("--channel", type=number(int, 0, 255, lo_open=False), default=0,
                   help="which ECG channel to classify (default 0)")
    p.add_argument("--smooth", type=positive_int, default=5, help="windows averaged for the smoothed decision")


def _pipeline(a, bundle, rate_hz: float):
    from .edge.pipeline import ActivityPipeline

    return ActivityPipeline(bundle, rate_hz, channel=a.channel, smooth=a.smooth)


def _session(a, src, bundle, display: bool, sinks: list, stop, duration_s=None):
    """Run the one session loop with the summary, the display (or notices) and the chosen outputs."""
    from .session import Session
    from .sinks.capture import CaptureSink
    from .sinks.summary import NoticeSink, SummarySink

    summary = SummarySink()
    capture = next((s for s in sinks if isinstance(s, CaptureSink)), None)
    extra = [summary]
    if display:
        from .sinks.display import DisplaySink

        extra.append(DisplaySink(recording=capture.path if capture else None, capture_sink=capture))
    else:
        extra.append(NoticeSink())
    pipe = _pipeline(a, bundle, src.decoder.rate_hz)
    Session(src, sinks + extra, pipe, duration_s=duration_s, stop=stop).run()
    return summary.summary()


def _load_model(a):
    from .edge.model_bundle import ModelBundle

    return ModelBundle.load(a.model, a.backend)


def _display_wanted(a, urls: list[str]) -> bool:
    if a.no_display:
        return False
    return sys.stdout.isatty() and "jsonl:-" not in urls


def cmd_run(a: argparse.Namespace) -> int:
    from .session import stop_on_signals
    from .sinks import open_sink

    bundle = _load_model(a)
    urls = output_urls(a)
    display = _display_wanted(a, urls)
    if not display and not any(u.startswith("jsonl:") for u in urls):
        urls.append("jsonl:-")          # headless: JSON lines on stdout (systemd's journal)
    sinks = [open_sink(u) for u in urls]            # refused before the source opens
    stop = threading.Event()
    stop_on_signals(stop)
    src = open_from_args(a, stop, label=a.label, loop=getattr(a, "loop", False))
    summary = _session(a, src, bundle, display, sinks, stop, a.duration)
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
    a.label = None
    return cmd_run(a)


def cmd_replay(a: argparse.Namespace) -> int:
    from .session import stop_on_signals
    from .sinks import open_sink

    bundle = _load_model(a)
    _fixed_source(a, a.capture if a.capture.endswith(".ecgcap") else "replay:" + a.capture)
    urls = output_urls(a)
    sinks = [open_sink(u) for u in urls]
    stop = threading.Event()
    stop_on_signals(stop)
    src = open_from_args(a, stop)
    display = not a.no_display and a.speed != float("inf") and sys.stdout.isatty() and "jsonl:-" not in urls
    summary = _session(a, src, bundle, display, sinks, stop)
    if "jsonl:-" not in urls:
        print(json.dumps(summary.as_dict()))
    if not a.quiet:
        print(summary.text(bundle.cfg.window_s), file=sys.stderr)
    return report_damage(src.transport.error)


def register(sub) -> None:
    protocols = protocol_names()
    s = sub.add_parser("run", help="classify a live source (display, or JSON lines when headless)")
    add_source_args(s, protocols)
    _add_model_args(s)
    add_output_args(s)
    s.add_argument("--label", help="activity being performed (stored in the capture, scored in the summary)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds")
    s.add_argument("--no-display", action="store_true", help="no live view: JSON lines on stdout, summary on stderr")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", help="no hardware: the virtual wearable streams a real recording, classified live")
    _add_model_args(s)
    add_output_args(s)
    s.add_argument("--speed", type=speed, default=1.0, help="playback speed (default real time; 'max' = fastest)")
    s.add_argument("--duration", type=duration, help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--once", action="store_true", help="stop at the end of the recording instead of looping")
    s.add_argument("--no-display", action="store_true", help="no live view: JSON lines on stdout, summary on stderr")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("replay", help="classify a capture (as fast as possible by default) and summarise")
    s.add_argument("capture", help="a .ecgcap file")
    _add_model_args(s)
    add_output_args(s, record_flag=False)
    s.add_argument("--speed", type=speed, default=float("inf"),
                   help="'max' (= 0, the default) or a playback factor such as 1 (with the live view)")
    s.add_argument("--no-display", action="store_true", help="no live view even at --speed 1")
    s.add_argument("--quiet", "-q", action="store_true", help="no human-readable summary line on stderr")
    s.set_defaults(func=cmd_replay)
