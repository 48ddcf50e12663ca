"""``capture:FILE``: the raw stream, exactly as received, append-only (``bridge.capture``); ``{start}`` in
FILE becomes the session's start time (``capture-{start}.ecgcap``: a new capture at each start)."""

from __future__ import annotations

import time
from pathlib import Path

from ..bridge.capture import CaptureWriter
from ..bridge.errors import OutputError
from . import SessionInfo, Sink


class CaptureSink(Sink):
    """``capture:FILE``: the raw packets and link events, bit for bit, to a new capture (exclusive create,
    flushed, 0600), so a session can always be replayed."""

    raw = True
    fail_alone = True                  # a full disk stops the recording, not the classification

    def __init__(self, path: str) -> None:
        if not path:
            raise OutputError("capture: needs a file name (capture:walk1.ecgcap)")
        # {start}: the session's local start time, so a service makes a new capture at each start
        path = path.replace("{start}", time.strftime("%Y%m%d-%H%M%S"))
        self.path = path
        if Path(path).exists() or Path(path).is_symlink():
            # checked before the source opens, so a typo costs nothing; created exclusively later
            raise OutputError(f"{path} already exists; captures are never overwritten")
        self.writer: CaptureWriter | None = None
        self.paused = False                     # space in the live view: data not recorded meanwhile

    @classmethod
    def from_url(cls, url: str) -> "CaptureSink":
        return cls(url.split(":", 1)[1])

    def on_start(self, info: SessionInfo) -> None:
        self.writer = CaptureWriter(self.path, info.header)

    def on_packet(self, packet) -> None:
        if not self.paused:
            self.writer.write_packet(packet)

    def on_event(self, event) -> None:
        if event.kind == "resume":
            self.paused = False
        self.writer.write_event(event)
        if event.kind == "pause":
            self.paused = True

    @property
    def bytes_written(self) -> int:
        return self.writer.bytes_written if self.writer else 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
