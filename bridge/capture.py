"""Raw capture files: the bytes exactly as received, so a replay is bit-exact.

Layout (all little-endian)::

    b"ECGCAP\\x00\\x01"
    u32 header length | header JSON (UTF-8) | u32 CRC-32 of the JSON
    chunks, back to back:
        b"CK" | u8 kind | u32 payload length | f64 host receive time (unix s)
        | u32 CRC-32 of (kind..time + payload) | payload

kind 0 is transport bytes (one read or one BLE notification); kind 1 is a
link event as JSON (reconnect, watchdog).  The writer only appends, writes
each chunk with a single ``write`` on an unbuffered file and fsyncs at least
once a second, so after ``kill -9`` every chunk before the last one is
intact; the reader stops at the first damaged chunk and names its offset.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from . import __version__
from .blocks import LinkEvent, Packet

MAGIC = b"ECGCAP\x00\x01"
FORMAT_VERSION = 1
KIND_DATA = 0
KIND_EVENT = 1
_CHUNK = struct.Struct("<2sBId")       # marker, kind, length, time
_CRC = struct.Struct("<I")
CHUNK_HEAD = _CHUNK.size + _CRC.size
MAX_CHUNK = 16 << 20


class CaptureError(Exception):
    """A capture that cannot be read past ``offset``; everything before it was good."""

    def __init__(self, path: str | os.PathLike, offset: int, reason: str, truncated: bool = False) -> None:
        self.path = str(path)
        self.offset = offset
        self.reason = reason
        self.truncated = truncated
        super().__init__(f"{self.path}: {reason} at byte offset {offset}")


@dataclass
class CaptureHeader:
    protocol: str
    rate_hz: float
    channels: int
    mv_per_count: float
    device: str = ""
    gain: float | None = None
    label: str | None = None
    start_time: float = field(default_factory=time.time)
    software_version: str = __version__
    source: str = ""
    extra: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "CaptureHeader":
        d = json.loads(raw)
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


class CaptureWriter:
    """Append-only writer; safe to kill at any moment."""

    def __init__(self, path: str | os.PathLike, header: CaptureHeader, fsync_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        # "x": never overwrite an existing recording
        self._f = open(self.path, "xb", buffering=0)
        body = header.to_json()
        self._f.write(MAGIC + _CRC.pack(len(body)) + body + _CRC.pack(zlib.crc32(body)))
        os.fsync(self._f.fileno())
        self.header = header
        self.bytes_written = 0
        self.chunks = 0
        self._fsync_interval = fsync_interval_s
        self._last_sync = time.monotonic()

    def _write(self, kind: int, payload: bytes, t_host: float) -> None:
        head = _CHUNK.pack(b"CK", kind, len(payload), t_host)
        crc = zlib.crc32(payload, zlib.crc32(head[2:]))
        self._f.write(head + _CRC.pack(crc) + payload)
        self.bytes_written += len(payload)
        self.chunks += 1
        now = time.monotonic()
        if now - self._last_sync >= self._fsync_interval:
            os.fsync(self._f.fileno())
            self._last_sync = now

    def write_packet(self, packet: Packet) -> None:
        self._write(KIND_DATA, bytes(packet.data), packet.t_host)

    def write_event(self, event: LinkEvent) -> None:
        self._write(KIND_EVENT, json.dumps({"kind": event.kind, **event.detail}).encode(), event.t_host)

    def close(self) -> None:
        if not self._f.closed:
            os.fsync(self._f.fileno())
            self._f.close()

    def __enter__(self) -> "CaptureWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CaptureReader:
    """Reads a capture; ``items()`` yields Packets/LinkEvents then raises at damage."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self._data = self.path.read_bytes()
        except FileNotFoundError:
            raise CaptureError(path, 0, "no such capture file") from None
        except IsADirectoryError:
            raise CaptureError(path, 0, "is a directory, not a capture file") from None
        d = self._data
        if d[:len(MAGIC)] != MAGIC:
            raise CaptureError(path, 0, "not an ecg-activity capture (bad magic)")
        if len(d) < len(MAGIC) + 4:
            raise CaptureError(path, len(MAGIC), "header truncated", truncated=True)
        (hlen,) = _CRC.unpack_from(d, len(MAGIC))
        hstart = len(MAGIC) + 4
        if len(d) < hstart + hlen + 4:
            raise CaptureError(path, len(MAGIC), "header truncated", truncated=True)
        body = d[hstart:hstart + hlen]
        (crc,) = _CRC.unpack_from(d, hstart + hlen)
        if zlib.crc32(body) != crc:
            raise CaptureError(path, len(MAGIC), "header CRC mismatch")
        try:
            self.header = CaptureHeader.from_json(body)
        except (ValueError, TypeError) as e:
            raise CaptureError(path, hstart, f"header is not valid JSON ({e})") from None
        self.data_offset = hstart + hlen + 4

    def items(self) -> Iterator[Packet | LinkEvent]:
        d = self._data
        pos = self.data_offset
        end = len(d)
        while pos < end:
            if end - pos < CHUNK_HEAD:
                raise CaptureError(self.path, pos, "truncated chunk header", truncated=True)
            marker, kind, length, t = _CHUNK.unpack_from(d, pos)
            if marker != b"CK" or kind not in (KIND_DATA, KIND_EVENT) or length > MAX_CHUNK:
                raise CaptureError(self.path, pos, "corrupt chunk header")
            start = pos + CHUNK_HEAD
            if end - start < length:
                raise CaptureError(self.path, pos, "truncated chunk", truncated=True)
            payload = d[start:start + length]
            (crc,) = _CRC.unpack_from(d, pos + _CHUNK.size)
            if zlib.crc32(payload, zlib.crc32(d[pos + 2:pos + _CHUNK.size])) != crc:
                raise CaptureError(self.path, pos, "chunk CRC mismatch")
            if kind == KIND_DATA:
                yield Packet(payload, t)
            else:
                try:
                    detail = json.loads(payload)
                    yield LinkEvent(str(detail.pop("kind", "event")), t, detail)
                except (ValueError, AttributeError):
                    raise CaptureError(self.path, pos, "event chunk is not JSON") from None
            pos = start + length

    def read_all(self) -> tuple[list[Packet | LinkEvent], CaptureError | None]:
        """Everything readable, plus the error that stopped reading (None if the file is whole)."""
        out: list[Packet | LinkEvent] = []
        try:
            for item in self.items():
                out.append(item)
        except CaptureError as e:
            return out, e
        return out, None
