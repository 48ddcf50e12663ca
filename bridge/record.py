"""Recording a live source to a capture file (what field testers run)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from .blocks import DecodeStats, SampleBlock
from .capture import CaptureWriter
from .sources import OpenSource
from .stream import stream_blocks


def default_capture_name(label: str | None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"capture-{stamp}{'-' + label if label else ''}.ecgcap"


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM/SIGINT/SIGHUP end the session cleanly (capture closed): systemd, Ctrl-C, a closed terminal."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())


def record(src: OpenSource, out: str | Path, duration_s: float | None = None, progress: bool = True,
           stop: threading.Event | None = None) -> DecodeStats:
    stop = stop or src.transport.stop
    src.transport.open_first()
    writer = CaptureWriter(out, src.header)
    if duration_s:
        timer = threading.Timer(duration_s, stop.set)
        timer.daemon = True
        timer.start()
    t0 = time.monotonic()
    last_print = t0
    samples = 0
    try:
        for item in stream_blocks(src.transport, src.decoder, writer):
            if isinstance(item, SampleBlock):
                samples += item.n
            now = time.monotonic()
            if progress and now - last_print >= 2.0:
                last_print = now
                s = src.decoder.stats
                print(f"recording {out}: {now - t0:6.1f} s, {samples} samples, lost {s.lost_samples}, "
                      f"CRC errors {s.crc_errors}, reconnects {s.reconnects}", file=sys.stderr, flush=True)
            if stop.is_set():
                break
    finally:
        writer.close()
        src.close()
    return src.decoder.stats
