"""Replays a capture file as if it were the live link: 1x, Nx or as fast as possible."""

from __future__ import annotations

import threading
import time
from typing import Iterator

from .blocks import LinkEvent, Packet
from .capture import CaptureError, CaptureReader


class ReplayTransport:
    def __init__(self, path: str, speed: float | None = None, stop: threading.Event | None = None) -> None:
        """``speed`` None or <= 0 means as fast as possible."""
        self.reader = CaptureReader(path)
        self.header = self.reader.header
        self.speed = speed if speed and speed > 0 else None
        self.stop = stop or threading.Event()
        self.error: CaptureError | None = None

    def open_first(self) -> None:
        pass

    def __iter__(self) -> Iterator[Packet | LinkEvent]:
        t0_file = None
        t0_wall = time.monotonic()
        try:
            for item in self.reader.items():
                if self.stop.is_set():
                    return
                if self.speed is not None:
                    if t0_file is None:
                        t0_file = item.t_host
                    due = t0_wall + (item.t_host - t0_file) / self.speed
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                yield item
        except CaptureError as e:
            # everything before the damage has been yielded; the caller reports it
            self.error = e

    def close(self) -> None:
        self.stop.set()
