"""Replays a capture file as if it were the live link: 1x, Nx or as fast as possible."""

from __future__ import annotations

import threading
import time
from typing import Iterator

from .blocks import LinkEvent, Packet
from .capture import CaptureError, CaptureReader
from .decoder import SETTLE_S, SILENCE_S
from .protocols import get_protocol


class ReplayTransport:
    """A capture played back as the packets it recorded, at the recorded pace or as fast as possible: replay
    goes through the same decoder and pipeline as a live link, so it is bit-exact with it."""

    def __init__(self, path: str, speed: float | None = None, stop: threading.Event | None = None) -> None:
        """``speed`` None or <= 0 means as fast as possible."""
        self.reader = CaptureReader(path)
        self.header = self.reader.header
        self.speed = speed if speed and speed > 0 else None
        self.stop = stop or threading.Event()
        self.error: CaptureError | None = None
        # As fast as possible, consecutive serial reads are decoded in bigger pieces: decoding
        # does not depend on where reads were cut (a property test proves it), and per-call
        # overhead dominates a capture of many small reads.  BLE notifications stay one per feed.
        self.coalesce_bytes = 0 if get_protocol(self.header.protocol).packets_are_frames else 65536

    def open_first(self) -> None:
        pass

    def __iter__(self) -> Iterator[Packet | LinkEvent]:
        if self.speed is None and self.coalesce_bytes:
            yield from coalesced(self._items(), self.coalesce_bytes)
        else:
            yield from self._items()

    def _items(self) -> Iterator[Packet | LinkEvent]:
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


def coalesced(items: Iterator[Packet | LinkEvent], limit: int) -> Iterator[Packet | LinkEvent]:
    """Consecutive reads joined into pieces of about ``limit`` bytes (decoding does not depend on where
    a byte stream was cut), each stamped with its last read's time and its first's (``t_first``).
    Around a link event the reads stay as received: the pending piece is flushed before the event and
    the first read after it goes alone, because the decoder estimates the hole from exactly those two
    reads' receive times (see ``decoder.Decoder``).  Likewise a silence (no read for ``SILENCE_S``) is
    never joined across, and the reads of the ``SETTLE_S`` after it go as they came: a decoder whose
    counter wraps tells a hole from a burst by exactly those reads' times."""
    pending: list[bytes] = []
    size = 0
    t_first = t_last = 0.0
    alone = False
    settle_until = None
    t_prev = None
    for item in items:
        if isinstance(item, Packet):
            if t_prev is not None and item.t_host - t_prev >= SILENCE_S:
                if pending:
                    yield Packet(b"".join(pending), t_last, t_first)
                    pending, size = [], 0
                settle_until = item.t_host + SETTLE_S
            t_prev = item.t_host
            if settle_until is not None:
                if item.t_host >= settle_until:
                    settle_until = None
                yield item
                continue
            if alone:
                alone = False
                yield item
                continue
            if not pending:
                t_first = item.t_host
            pending.append(item.data)
            size += len(item.data)
            t_last = item.t_host
            if size >= limit:
                yield Packet(b"".join(pending), t_last, t_first)
                pending, size = [], 0
            continue
        if pending:
            yield Packet(b"".join(pending), t_last, t_first)
            pending, size = [], 0
        alone = True
        yield item
    if pending:
        yield Packet(b"".join(pending), t_last, t_first)
