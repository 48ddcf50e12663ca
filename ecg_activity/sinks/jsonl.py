"""``jsonl:FILE`` (``jsonl:-`` for stdout): one JSON line per window, appended and flushed, and one
per change of the link while data is missing (``{"event": "link", "state": "no_data", ...}``).

The file is created owner-only (0600) and never written through a symlink;
a file that is not a regular file (a folder, /dev/full) is refused up front,
and a write that fails stops the session with one line."""

from __future__ import annotations

import json
import os
import sys

from ..bridge.capture import MAGIC, create_private, write_fully
from ..bridge.errors import OutputError
from . import Sink


def _is_capture(path: str) -> bool:
    """Whether ``path`` is an existing regular file that starts with the capture magic."""
    try:
        if os.path.islink(path) or not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class JsonlSink(Sink):
    """``jsonl:FILE`` (``-`` = stdout): one JSON line per window, flushed, for headless runs and scripts."""

    def __init__(self, path: str) -> None:
        if not path:
            raise OutputError("jsonl: needs a file name, or - for standard output")
        self.path = path
        self._fd: int | None = None
        self._link = None                   # the last LinkStatus heard
        if path != "-":
            if _is_capture(path):
                raise OutputError(f"{path} is a capture: JSON lines appended to it would damage it; "
                                  "give the decisions their own file")
            self._fd = create_private(path, append=True)

    @classmethod
    def from_url(cls, url: str) -> "JsonlSink":
        return cls(url.split(":", 1)[1])

    def on_window(self, result) -> None:
        self._write(result.to_json() + "\n")

    def on_link(self, status) -> None:
        """An outage's start, each failed reopening and its end, as a line of its own (``"event": "link"``;
        decision lines have no ``event``), so a reader of the file sees where decisions were missing."""
        if status.worth_a_line(self._link):
            self._write(json.dumps(status.as_dict()) + "\n")
        self._link = status

    def _write(self, line: str) -> None:
        if self._fd is None:
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        try:
            end = os.fstat(self._fd).st_size
            write_fully(self._fd, line.encode())
        except OSError as e:
            try:
                os.ftruncate(self._fd, end)           # a line is whole or not there: no torn last line
            except (OSError, UnboundLocalError):
                pass
            raise OutputError(f"cannot write {self.path} ({e.strerror or e})") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
