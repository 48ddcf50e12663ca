"""Serial transport (USB CDC, UART, /dev/rfcomm*, any pyserial URL): plain blocking I/O.

Yields Packets exactly as read, LinkEvents when the link drops, each failed
attempt to reopen it and when it comes back, and Idle while nothing arrives
(so the session's clock, keys and "no data" state keep going).  A device that
goes silent for the watchdog time is treated as lost: close, reopen, redo the
start-up handshake.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import serial

from .blocks import Idle, LinkEvent, Packet
from .errors import SourceError


class TransportError(SourceError):
    """The source cannot be opened at all (wrong path, no permission)."""


#: while nothing arrives, an Idle at least this often
IDLE_EVERY_S = 0.2


class SerialTransport:
    """A serial wearable (USB, Bluetooth RFCOMM, or any pyserial URL) as a stream of read packets: sends the
    protocol's start-up commands, watches for silence, and reopens the port with backoff when it goes away,
    recording each event so the gap is accounted for."""

    def __init__(self, url: str, baudrate: int = 115200, startup_commands: tuple[bytes, ...] = (),
                 start_command: bytes | None = None, ack: bytes = b"OK\r\n", watchdog_s: float | None = 2.0,
                 backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0), read_timeout_s: float = 0.05,
                 stop: threading.Event | None = None) -> None:
        self.url = url
        self.baudrate = baudrate
        self.startup_commands = startup_commands
        self.start_command = start_command
        self.ack = ack
        self.watchdog_s = watchdog_s
        self.backoff_s = backoff_s
        self.read_timeout_s = read_timeout_s
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self._port: serial.SerialBase | None = None
        self._leftover = b""
        self.last_data = time.monotonic()       # when bytes last arrived (or the port reopened): watchdog, drained()
        self._caught_up = False                 # did the last read find nothing waiting?

    def _open(self) -> tuple[serial.SerialBase, bytes]:
        port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.read_timeout_s)
        try:
            leftover = self._handshake(port)
        except Exception:
            port.close()
            raise
        return port, leftover

    def _handshake(self, port: serial.SerialBase) -> bytes:
        """Send each start-up command and wait for its acknowledgement.

        Sample lines still in flight from a previous session may arrive before
        the OK; they are discarded here because nothing has been started yet.
        """
        rest = b""
        for cmd in self.startup_commands:
            port.write(cmd + b"\n")
            deadline = time.monotonic() + 1.0
            buf = b""
            while self.ack not in buf:
                if time.monotonic() > deadline or self.stop.is_set():
                    raise serial.SerialException(f"no {self.ack!r} for command {cmd.decode(errors='replace')!r}")
                buf += port.read(max(1, port.in_waiting))
            rest = buf.split(self.ack, 1)[1]
        if self.start_command:
            port.write(self.start_command + b"\n")
            rest = b""
        return rest

    def open_first(self) -> None:
        """Open now so a wrong path fails fast with a clear message."""
        try:
            self._port, self._leftover = self._open()
        except (serial.SerialException, OSError, ValueError) as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise TransportError(f"cannot open serial source {self.url!r}: {text}") from None

    def __iter__(self) -> Iterator[Packet | LinkEvent]:
        if self._port is None:
            self.open_first()
        port = self._port
        if self._leftover:
            yield Packet(self._leftover, time.time())
        self.last_data = time.monotonic()
        attempt = 0
        last_yield = time.monotonic()
        while not self.stop.is_set():
            if port is None:
                yield from self._wait(self.backoff_s[min(attempt, len(self.backoff_s) - 1)])
                if self.stop.is_set():
                    break
                attempt += 1
                try:
                    port, leftover = self._open()
                except (serial.SerialException, OSError, ValueError) as e:
                    yield LinkEvent("reconnect_failed", time.time(), {"attempt": attempt, "reason": _reason(e)})
                    continue
                self._port = port
                self.reconnects += 1
                self.last_data = time.monotonic()        # the watchdog counts from the reconnect
                yield LinkEvent("reconnect", time.time(), {"attempts": attempt})
                attempt = 0
                if leftover:
                    yield Packet(leftover, time.time())
                continue
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as e:
                yield LinkEvent("disconnect", time.time(), {"reason": _reason(e)})
                port = self._drop(port)
                continue
            now = time.monotonic()
            self._caught_up = not data
            if data:
                self.last_data = last_yield = now
                yield Packet(data, time.time())
            elif self.watchdog_s is not None and now - self.last_data > self.watchdog_s:
                yield LinkEvent("watchdog", time.time(), {"silent_s": round(now - self.last_data, 3)})
                port = self._drop(port)
            elif now - last_yield >= IDLE_EVERY_S:
                last_yield = now
                yield Idle(time.time())
        self.close()

    def _wait(self, seconds: float) -> Iterator[Idle]:
        """Wait ``seconds`` before the next attempt to reopen, an Idle every IDLE_EVERY_S; ``stop`` ends it."""
        end = time.monotonic() + seconds
        while not self.stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, IDLE_EVERY_S))
            yield Idle(time.time())

    def drained(self, quiet_s: float = 0.5) -> bool:
        """Has the reader caught up (its last read found nothing) with no bytes for ``quiet_s``?  A busy
        reader (processing what it read) is not drained however long ago bytes arrived: what the device
        sent is still waiting in the port's buffer."""
        return self._caught_up and time.monotonic() - self.last_data > quiet_s

    def _drop(self, port: serial.SerialBase) -> None:
        """Close a dead port; returns None so callers can write ``port = self._drop(port)``."""
        try:
            port.close()
        except Exception:
            pass
        self._port = None
        return None

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            finally:
                self._port = None


def _reason(e: BaseException) -> str:
    """pyserial's words for a lost port, said the way a wearer can act on them."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "returned no data" in text or "Input/output error" in text:
        return "the device disconnected"
    if "No such file or directory" in text:
        return "the port is gone (unplugged, or the device switched off)"
    if "Permission denied" in text:
        return "permission denied on the port"
    return text
