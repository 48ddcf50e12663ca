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


def _session(a, src, bundle, display: bool, sinks: list, stop, duration_s=None, keys: bool = False):
    """Run the one session loop with the summary, the display (or notices) and the chosen outputs;
    with ``keys`` (a live view on a terminal) the keyboard sets labels, markers and pauses."""
    import contextlib

    from .keys import Controls, KeyReader
    from .session import Session
    from .sinks.capture import CaptureSink
    from .sinks.summary import NoticeSink, SummarySink

    summary = SummarySink()
    capture = next((s for s in sinks if isinstance(s, CaptureSink)), None)
    extra = [summary]
    controls = Controls() if keys else None
    reader = KeyReader(controls, bundle.labels) if keys else contextlib.nullcontext()
    if display:
        from .sinks.display import DisplaySink

        extra.append(DisplaySink(recording=capture.path if capture else None, capture_sink=capture,
                                 keys=bool(keys and reader.active)))
    else:
        extra.append(NoticeSink())
    pipe = _pipeline(a, bundle, src.decoder.rate_hz)
    with reader:
        Session(src, sinks + extra, pipe, duration_s=duration_s, stop=stop, controls=controls).run()
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
    summary = _session(a, src, bundle, display, sinks, stop, a.duration, keys=display)
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


def cmd_calibrate(a: argparse.Namespace) -> int:
    from .calibrate import calibrate, summary_json
    from .models import DEFAULT_MODEL

    a.model = a.model or str(DEFAULT_MODEL)
    captures = list(a.captures)
    if a.guided:
        captures += _guided(a)
    elif not captures:
        from .bridge.errors import UsageError

        raise UsageError("give labelled captures to calibrate on, or --guided --source ... to record them now")
    print(summary_json(calibrate(a.model, captures, a.output, a.min_seconds)))
    return 0


def _guided(a: argparse.Namespace) -> list[str]:
    """Record one labelled capture per activity, announced and counted down; Enter starts each one,
    's' + Enter skips it, 'q' + Enter ends the walk-through."""
    from pathlib import Path

    from .bridge.errors import UsageError
    from .calibrate import GuideSink
    from .session import Session, stop_on_signals
    from .sinks.capture import CaptureSink
    from .sinks.summary import NoticeSink

    if not a.source:
        raise UsageError("--guided needs --source (the wearable, or sim:frame to try it)")
    from .edge.model_bundle import ModelBundle

    labels = list(ModelBundle.load(a.model).labels)
    acts = a.activities.split(",") if a.activities else labels
    unknown = [x for x in acts if x not in labels]
    if unknown:
        raise UsageError(f"--activities: {', '.join(unknown)} not among the model's classes ({', '.join(labels)})")
    folder = Path(a.keep or Path(a.output).with_suffix("").as_posix() + "-captures")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for act in acts:
        path = folder / f"calibrate-{act}.ecgcap"
        print(f"next: {act} for {a.seconds:.0f} s. Enter starts, s skips, q stops.", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer == "q":
            break
        if answer == "s":
            continue
        stop = threading.Event()
        stop_on_signals(stop)
        src = open_from_args(a, stop, label=act)
        display = None
        if sys.stdout.isatty():
            from .sinks.display import DisplaySink

            display = DisplaySink(recording=str(path))
        sinks = [CaptureSink(str(path)), display or NoticeSink(), GuideSink(act, a.seconds, display)]
        Session(src, sinks, duration_s=a.seconds, stop=stop).run()
        out.append(str(path))
    return out


def cmd_plot(a: argparse.Namespace) -> int:
    """``plot``: one picture of a capture (ECG strip, heart rate, decisions against labels, gaps)."""
    from .bridge.outfile import check_target
    from .models import DEFAULT_MODEL
    from .plot import plot

    check_target(a.output, a.force)
    print(json.dumps(plot(a.capture, a.model or str(DEFAULT_MODEL), a.output)))
    return 0


def register(sub) -> None:
    """Add the edge commands (run, demo, replay, calibrate, plot)."""
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

    s = sub.add_parser("calibrate", help="a personal model from the wearer's own labelled captures (no TensorFlow)")
    s.add_argument("captures", nargs="*", help="labelled .ecgcap files (record --label, or labels set in a session)")
    s.add_argument("--model", "-m", default=None, help="the base int8 model (default: the shipped activity5)")
    s.add_argument("--output", "-o", required=True, help="the personal model to write: NAME.tflite (+ .json, .md)")
    s.add_argument("--min-seconds", type=number(float, 0.0, 3600.0), default=None,
                   help="clean signal a class needs to be calibrated (default 30)")
    g = s.add_argument_group("guided: record the activities now, one after the other")
    g.add_argument("--guided", action="store_true", help="walk the wearer through the activities, then calibrate")
    g.add_argument("--source", "-s", help="the wearable (as for run), or sim:frame to try it")
    g.add_argument("--protocol", "-p", choices=protocols, help="wire protocol")
    g.add_argument("--seconds", type=number(float, 5.0, 3600.0), default=120.0, help="per activity (default 120)")
    g.add_argument("--activities", help="comma-separated (default: every class of the model)")
    g.add_argument("--keep", help="folder for the captures (default: next to the output)")
    g.add_argument("--speed", type=speed, default=1.0, help="for sim: sources, playback speed")
    s.set_defaults(func=cmd_calibrate, baud=115200, rate=None, mv_per_count=None, recording=None, drop=0.0,
                   corrupt=0.0, noise_every=0.0, pause_at=-1.0, pause=0.0, seed=0)

    s = sub.add_parser("plot", help="one picture of a capture: ECG strip, heart rate, decisions vs labels, gaps")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--model", "-m", help="int8 model to classify with (default: the shipped activity5)")
    s.add_argument("--output", "-o", required=True, help="PNG to write")
    s.add_argument("--force", action="store_true", help="replace an existing picture")
    s.set_defaults(func=cmd_plot)

    s = sub.add_parser("replay", help="classify a capture (as fast as possible by default) and summarise")
    s.add_argument("capture", help="a .ecgcap file")
    _add_model_args(s)
    add_output_args(s, record_flag=False)
    s.add_argument("--speed", type=speed, default=float("inf"),
                   help="'max' (= 0, the default) or a playback factor such as 1 (with the live view)")
    s.add_argument("--no-display", action="store_true", help="no live view even at --speed 1")
    s.add_argument("--quiet", "-q", action="store_true", help="no human-readable summary line on stderr")
    s.set_defaults(func=cmd_replay)
