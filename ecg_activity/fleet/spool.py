"""The device side's disk spool: every decision is written here before it is published, and stays
until the broker has acknowledged it, so a broker restart, a dead network or a reboot of the Pi
loses nothing.

Layout (one folder per device): ``journal.jsonl`` (append-only, one message a
line: ``{"seq": N, "payload": ...}``) and ``state.json`` (the session id,
the next sequence number, the oldest one still owed, how many were dropped),
replaced atomically.  Bounded: beyond ``max_messages`` unacknowledged ones,
the oldest are dropped, and counted.  Delivery is oldest first.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import deque
from pathlib import Path

from ..bridge.capture import create_private, write_fully
from ..bridge.errors import OutputError


class Spool:
    """A device's unacknowledged MQTT messages on disk (an append-only journal and an atomically replaced
    state, bounded): decisions made while the broker is away are sent when it is back, and survive a reboot."""

    def __init__(self, folder: str | os.PathLike, max_messages: int = 100_000) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise OutputError(f"cannot create the MQTT spool {self.folder} ({e.strerror or e})") from None
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self.journal = self.folder / "journal.jsonl"
        self.state_path = self.folder / "state.json"
        state = self._read_state()
        self.session: str = state.get("session") or uuid.uuid4().hex[:12]
        self.next_seq: int = int(state.get("next", 0))
        self.floor: int = int(state.get("floor", 0))       # everything below was acknowledged or dropped
        self.dropped: int = int(state.get("dropped", 0))
        self.pending: deque[tuple[int, str]] = deque(self._read_journal())
        self._fd = create_private(self.journal, append=True)
        self._dirty = True
        self.save_state()

    def _read_state(self) -> dict:
        try:
            d = json.loads(self.state_path.read_text())
            return d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            return {}

    def _read_journal(self) -> list[tuple[int, str]]:
        out = []
        try:
            with open(self.journal) as f:
                for line in f:
                    try:
                        d = json.loads(line)
                        seq, payload = int(d["seq"]), str(d["payload"])
                    except (ValueError, KeyError, TypeError):
                        continue             # a line torn by a crash mid-write
                    if seq >= self.floor:
                        out.append((seq, payload))
        except FileNotFoundError:
            pass
        self.next_seq = max([self.next_seq] + [s + 1 for s, _ in out])
        return out[-self.max_messages:]

    def add(self, make_payload) -> tuple[int, str]:
        """Give the next sequence number to ``make_payload(seq)`` and keep the message until acked."""
        with self._lock:
            seq = self.next_seq
            self.next_seq += 1
            payload = make_payload(seq)
            try:
                write_fully(self._fd, (json.dumps({"seq": seq, "payload": payload}) + "\n").encode())
            except OSError as e:
                raise OutputError(f"cannot write the MQTT spool {self.journal} ({e.strerror or e})") from None
            self.pending.append((seq, payload))
            while len(self.pending) > self.max_messages:
                self.pending.popleft()
                self.dropped += 1
            self._dirty = True
            return seq, payload

    def ack(self, seq: int) -> None:
        """The broker has this one: forget it (and everything before it, which it had first)."""
        with self._lock:
            while self.pending and self.pending[0][0] <= seq:
                self.pending.popleft()
            self.floor = max(self.floor, seq + 1)
            self._dirty = True

    def save_state(self) -> None:
        """Persist the marks (atomically); when nothing is pending, start the journal afresh."""
        with self._lock:
            if not self._dirty:
                return
            floor = self.pending[0][0] if self.pending else self.next_seq
            state = {"session": self.session, "next": self.next_seq, "floor": floor, "dropped": self.dropped}
            # a private temporary file of our own (exclusive, never through a symlink), then renamed
            tmp = self.state_path.with_name(f".state.{os.getpid()}.tmp")
            try:
                tmp.unlink(missing_ok=True)
                fd = create_private(tmp)
                try:
                    write_fully(fd, json.dumps(state).encode())
                finally:
                    os.close(fd)
                os.replace(tmp, self.state_path)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                raise OutputError(f"cannot write the MQTT spool's state {self.state_path} ({e.strerror or e})") \
                    from None
            if not self.pending:
                os.ftruncate(self._fd, 0)
            self._dirty = False

    def close(self) -> None:
        self.save_state()
        os.close(self._fd)
