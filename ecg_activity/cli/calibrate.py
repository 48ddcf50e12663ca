"""``ecg-activity calibrate``: a personal model from the wearer's own labelled captures (no TensorFlow),
optionally recording them first, one activity after the other (``--guided``)."""

from __future__ import annotations

import argparse
import sys
import threading

from .options import SourceOptions, number, protocol_names, speed


def cmd(a: argparse.Namespace) -> int:
    """Fit the personal head on the captures (recorded now with ``--guided``) and write the personal model."""
    from ..calibrate import calibrate, summary_json
    from ..models import DEFAULT_MODEL

    a.model = a.model or str(DEFAULT_MODEL)
    captures = list(a.captures)
    if a.guided:
        captures += guided(a)
    elif not captures:
        from ..bridge.errors import UsageError

        raise UsageError("give labelled captures to calibrate on, or --guided --source ... to record them now")
    print(summary_json(calibrate(a.model, captures, a.output, a.min_seconds)))
    return 0


def guided(a: argparse.Namespace) -> list[str]:
    """Record one labelled capture per activity, announced and counted down; Enter starts each one,
    's' + Enter skips it, 'q' + Enter ends the walk-through."""
    from pathlib import Path

    from ..bridge.errors import UsageError
    from ..calibrate import GuideSink
    from ..edge.pipeline import ActivityPipeline
    from ..edge.model_bundle import ModelBundle
    from ..session import Session, stop_on_signals
    from ..sinks.capture import CaptureSink
    from ..sinks.summary import NoticeSink

    if not a.source:
        raise UsageError("--guided needs --source (the wearable, or sim:frame to try it)")
    bundle = ModelBundle.load(a.model)
    labels = list(bundle.labels)
    acts = a.activities.split(",") if a.activities else labels
    unknown = [x for x in acts if x not in labels]
    if unknown:
        raise UsageError(f"--activities: {', '.join(unknown)} not among the model's classes ({', '.join(labels)})")
    folder = Path(a.keep or Path(a.output).with_suffix("").as_posix() + "-captures")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    opts = SourceOptions.from_args(a)
    out = []
    for act in acts:
        path = folder / f"calibrate-{act}.ecgcap"
        _flush_typed_ahead()            # keys pressed while the last activity was recorded answer nothing
        print(f"next: {act} for {a.seconds:.0f} s. Enter starts, s skips, q stops.", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer == "q":
            break
        if answer == "s":
            continue
        stop = threading.Event()
        stop_on_signals(stop)
        src = opts.open(stop, label=act)
        capture = CaptureSink(str(path))
        display = None
        if sys.stdout.isatty():
            from ..sinks.display import DisplaySink

            # the wearer needs heart rate, contact and quality exactly now: the base model's pipeline
            # runs beside the recording, and the view shows what is being written
            display = DisplaySink(recording=str(path), capture_sink=capture)
        sinks = [capture, display or NoticeSink(), GuideSink(act, a.seconds, display, stop)]
        pipe = ActivityPipeline(bundle, src.decoder.rate_hz)
        Session(src, sinks, pipe, stop=stop).run()      # the guide stops it after a.seconds of signal
        out.append(str(path))
    return out


def _flush_typed_ahead() -> None:
    """Discard what was typed on the terminal since the last prompt (nothing to do on a pipe)."""
    try:
        import termios

        if sys.stdin.isatty():
            termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError):
        pass


def register(sub) -> None:
    """Add ``calibrate``."""
    s = sub.add_parser("calibrate", help="a personal model from the wearer's own labelled captures (no TensorFlow)")
    s.add_argument("captures", nargs="*", help="labelled .ecgcap files (record --label, or labels set in a session)")
    s.add_argument("--model", "-m", default=None, help="the base int8 model (default: the shipped activity5)")
    s.add_argument("--output", "-o", required=True, help="the personal model to write: NAME.tflite (+ .json, .md)")
    s.add_argument("--min-seconds", type=number(float, 0.0, 3600.0), default=None,
                   help="clean signal a class needs to be calibrated (default 30)")
    g = s.add_argument_group("guided: record the activities now, one after the other")
    g.add_argument("--guided", action="store_true", help="walk the wearer through the activities, then calibrate")
    g.add_argument("--source", "-s", help="the wearable (as for run), or sim:frame to try it")
    g.add_argument("--protocol", "-p", choices=protocol_names(), help="wire protocol")
    g.add_argument("--seconds", type=number(float, 5.0, 3600.0), default=120.0, help="per activity (default 120)")
    g.add_argument("--activities", help="comma-separated (default: every class of the model)")
    g.add_argument("--keep", help="folder for the captures (default: next to the output)")
    g.add_argument("--speed", type=speed, default=1.0, help="for sim: sources, playback speed")
    s.set_defaults(func=cmd)
