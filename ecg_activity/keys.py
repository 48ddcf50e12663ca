"""Keys during a live session, read from the terminal in cbreak mode (works over SSH on a Pi):
``1``..``9`` set the activity label (the model's classes in order), ``m`` drops a marker, space
pauses or resumes the recording, ``q`` ends the session.  Each becomes a command the session loop
turns into a timed event in the capture."""

from __future__ import annotations

import os
import queue
import select
import sys
import threading


class Controls:
    """Commands for the session loop, from any thread: ("label", name), ("marker",), ("pause",), ("quit",)."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, *cmd) -> None:
        self._q.put(tuple(cmd))

    def drain(self) -> list[tuple]:
        out = []
        while True:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                return out


class KeyReader:
    """``with KeyReader(controls, labels):`` turns key presses on stdin into commands (a no-op when
    stdin is not a terminal)."""

    def __init__(self, controls: Controls, labels: tuple[str, ...], fd: int | None = None) -> None:
        self.controls = controls
        self.labels = labels
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.active = os.isatty(self.fd)
        self._stop = threading.Event()
        self._saved = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "KeyReader":
        if not self.active:
            return self
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._thread = threading.Thread(target=self._run, daemon=True, name="keys")
        self._thread.start()
        return self

    def key(self, ch: str) -> None:
        if ch.isdigit() and ch != "0" and int(ch) <= len(self.labels):
            self.controls.put("label", self.labels[int(ch) - 1])
        elif ch in ("m", "M"):
            self.controls.put("marker")
        elif ch == " ":
            self.controls.put("pause")
        elif ch in ("q", "Q"):
            self.controls.put("quit")

    def _run(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self.fd, 32).decode(errors="ignore")
            except OSError:
                return
            if not data:
                return
            for ch in data:
                self.key(ch)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
