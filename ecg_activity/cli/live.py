"""The one way run, demo, replay and guided calibrate classify a source: the model loaded, the session
run with its summary, its live view (or notices) and the chosen outputs."""

from __future__ import annotations

import argparse
import sys


def load_model(a: argparse.Namespace):
    """The model ``--model``/``--backend`` name (refused in one line when it cannot load)."""
    from ..edge.model_bundle import ModelBundle

    return ModelBundle.load(a.model, a.backend)


def display_wanted(a: argparse.Namespace, urls: list[str]) -> bool:
    """A live view only on a terminal that can draw one (not ``TERM=dumb``: there it would print nothing
    until the end), unless ``--no-display`` or the JSON lines go to stdout."""
    import os

    if a.no_display or os.environ.get("TERM", "") in ("dumb", ""):
        return False
    return sys.stdout.isatty() and "jsonl:-" not in urls


def run_session(a: argparse.Namespace, src, bundle, display: bool, sinks: list, stop, duration_s=None,
                keys: bool = False):
    """Run the one session loop with the summary, the display (or notices) and the chosen outputs;
    with ``keys`` (a live view on a terminal) the keyboard sets labels, markers and pauses.  Returns the
    session's summary."""
    import contextlib

    from ..edge.pipeline import ActivityPipeline
    from ..keys import Controls, KeyReader
    from ..session import Session
    from ..sinks.capture import CaptureSink
    from ..sinks.summary import NoticeSink, SummarySink

    summary = SummarySink()
    capture = next((s for s in sinks if isinstance(s, CaptureSink)), None)
    extra = [summary]
    controls = Controls() if keys else None
    reader = KeyReader(controls, bundle.labels) if keys else contextlib.nullcontext()
    if display:
        from ..sinks.display import DisplaySink

        extra.append(DisplaySink(recording=capture.path if capture else None, capture_sink=capture,
                                 keys=bool(keys and reader.active)))
    else:
        extra.append(NoticeSink())
    pipe = ActivityPipeline(bundle, src.decoder.rate_hz, channel=a.channel, smooth=a.smooth)
    with reader:
        Session(src, sinks + extra, pipe, duration_s=duration_s, stop=stop, controls=controls).run()
    return summary.summary()


def classify_live(a: argparse.Namespace, opts, loop: bool = False, label: str | None = None) -> int:
    """``run`` and ``demo``: a live source classified, with a view on a terminal or JSON lines headless."""
    import threading

    from ..session import stop_on_signals
    from ..sinks import open_sink
    from .options import SummaryJson, output_urls

    bundle = load_model(a)
    urls = output_urls(a)
    display = display_wanted(a, urls)
    if not display and not any(u.startswith("jsonl:") for u in urls):
        urls.append("jsonl:-")          # headless: JSON lines on stdout (systemd's journal)
    sinks = [open_sink(u) for u in urls]            # refused before the source opens
    summary_json = SummaryJson(a.summary_json)
    stop = threading.Event()
    stop_on_signals(stop)
    src = opts.open(stop, label=label, loop=loop)
    summary = run_session(a, src, bundle, display, sinks, stop, a.duration, keys=display)
    print(summary.text(bundle.cfg.window_s), file=sys.stderr)
    summary_json.write(summary.as_dict())
    return fail_if_stopped(summary)


def fail_if_stopped(summary) -> int:
    """A session whose recording stopped (a full disk) went on classifying; its command still ends with the
    error (one line, exit 1), so a script or systemd sees it."""
    from ..bridge.errors import OutputError

    if summary.failed_outputs:
        raise OutputError(summary.failed_outputs[0])
    return 0
