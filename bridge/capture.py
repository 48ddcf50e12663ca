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

import errno
import json
import math
import os
import stat
import struct
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from . import __version__
from .blocks import LinkEvent, Packet
from .errors import EcgActivityError, OutputError

MAGIC = b"ECGCAP\x00\x01"
FORMAT_VERSION = 1
KIND_DATA = 0
KIND_EVENT = 1
_CHUNK = struct.Struct("<2sBId")       # marker, kind, length, time
_CRC = struct.Struct("<I")
CHUNK_HEAD = _CHUNK.size + _CRC.size
MAX_CHUNK = 16 << 20


class CaptureError(EcgActivityError):
    """A capture that cannot be read past ``offset``; everything before it was good."""

    def __init__(self, path: str | os.PathLike, offset: int | None, reason: str, truncated: bool = False) -> None:
        self.path = str(path)
        self.offset = offset
        self.reason = reason
        self.truncated = truncated
        where = "" if offset is None else f" at byte offset {offset}"
        super().__init__(f"{self.path}: {reason}{where}")


#: the longest header JSON a capture may have (they are a few hundred bytes)
MAX_HEADER = 64 << 10
#: plausible capture start times: 1990 .. 2200 (unix seconds)
START_TIME_RANGE = (631152000.0, 7258118400.0)


@dataclass
class CaptureHeader:
    """What a capture says about its stream; validated once when read, so no reader downstream has to
    second-guess a rate of 0 or a protocol that is a number."""

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
        """Parse and validate; raises ValueError naming the first bad field."""
        try:
            d = json.loads(raw)
        except RecursionError:
            raise ValueError("header JSON is nested too deeply") from None
        if not isinstance(d, dict):
            raise ValueError("header is not a JSON object")
        h = cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        h.validate()
        return h

    def validate(self) -> None:
        def number(name: str, lo: float, hi: float, lo_open: bool = False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < lo or v > hi or (lo_open and v == lo):
                raise ValueError(f"{name} {v!r} is not a number in {'(' if lo_open else '['}{lo:g}, {hi:g}]")

        from .protocols import PROTOCOLS

        if not isinstance(self.protocol, str) or self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        number("rate_hz", 0.0, 100_000.0, lo_open=True)
        number("mv_per_count", 0.0, 1e6)
        number("start_time", *START_TIME_RANGE)
        if isinstance(self.channels, bool) or not isinstance(self.channels, int) or not 1 <= self.channels <= 255:
            raise ValueError(f"channels {self.channels!r} is not a whole number in [1, 255]")
        if self.gain is not None:
            number("gain", 0.0, 1e6)
        for name in ("device", "source", "software_version"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} is not text")
        if self.label is not None and not isinstance(self.label, str):
            raise ValueError("label is not text")
        if not isinstance(self.extra, dict):
            raise ValueError("extra is not an object")
        if isinstance(self.format_version, bool) or self.format_version != FORMAT_VERSION:
            raise ValueError(f"format version {self.format_version!r} is not {FORMAT_VERSION}")


def create_private(path: str | os.PathLike, append: bool = False) -> int:
    """Open a new file for writing: owner-only (0600: health data), never through a symlink, and
    (unless ``append``) never an existing file.  Returns the descriptor; raises OutputError."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_APPEND if append else os.O_EXCL
    if append:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISLNK(mode)):
            raise OutputError(f"{path} is not a file")       # a folder, a FIFO (would block) or a socket
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise OutputError(f"{path} already exists; it is never overwritten") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OutputError(f"{path} is a symbolic link; refusing to write through it") from None
        raise OutputError(f"cannot create {path}: {e.strerror or e}") from None
    return fd


def write_fully(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is down (a write may be short near a full disk); OSError otherwise."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "no space left on device")
        view = view[n:]


class CaptureWriter:
    """Append-only writer; safe to kill at any moment, and to run out of disk.

    A write that fails (disk full, file too large, I/O error) truncates the
    file back to the end of the last whole chunk and raises ``OutputError``:
    the capture stays readable up to there, and nothing after it pretends to
    be data."""

    def __init__(self, path: str | os.PathLike, header: CaptureHeader, fsync_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self._fd = create_private(self.path)
        self.header = header
        self.bytes_written = 0
        self.chunks = 0
        self._end = 0
        self._closed = False
        self._fsync_interval = fsync_interval_s
        body = header.to_json()
        self._append(MAGIC + _CRC.pack(len(body)) + body + _CRC.pack(zlib.crc32(body)))
        self._sync()
        self._last_sync = time.monotonic()

    def _append(self, data: bytes) -> None:
        try:
            write_fully(self._fd, data)
        except OSError as e:
            try:
                os.ftruncate(self._fd, self._end)
            except OSError:
                pass
            self.close()
            raise OutputError(f"cannot write {self.path} ({e.strerror or e}); it is whole up to byte "
                              f"{self._end} ({self.chunks} chunks)") from None
        self._end += len(data)

    def _sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EROFS):
                raise OutputError(f"cannot write {self.path} ({e.strerror or e})") from None

    def _write(self, kind: int, payload: bytes, t_host: float) -> None:
        if self._closed:
            raise OutputError(f"{self.path} is closed")
        head = _CHUNK.pack(b"CK", kind, len(payload), t_host)
        crc = zlib.crc32(payload, zlib.crc32(head[2:]))
        self._append(head + _CRC.pack(crc) + payload)
        self.bytes_written += len(payload)
        self.chunks += 1
        now = time.monotonic()
        if now - self._last_sync >= self._fsync_interval:
            self._sync()
            self._last_sync = now

    def write_packet(self, packet: Packet) -> None:
        self._write(KIND_DATA, bytes(packet.data), packet.t_host)

    def write_event(self, event: LinkEvent) -> None:
        self._write(KIND_EVENT, json.dumps({"kind": event.kind, **event.detail}).encode(), event.t_host)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            os.fsync(self._fd)
        except OSError:
            pass
        os.close(self._fd)

    def __enter__(self) -> "CaptureWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CaptureReader:
    """Reads a capture chunk by chunk (memory stays bounded whatever the file holds); ``items()`` yields
    Packets/LinkEvents, then raises CaptureError at the first damage."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise CaptureError(path, None, "no such capture file") from None
        except OSError as e:
            raise CaptureError(path, None, f"cannot read it ({e.strerror or e})") from None
        if stat.S_ISDIR(st.st_mode):
            raise CaptureError(path, None, "is a folder, not a capture file")
        if not stat.S_ISREG(st.st_mode):
            raise CaptureError(path, None, "is not a regular file, so not a capture")
        try:
            self._f = open(self.path, "rb")
        except OSError as e:
            raise CaptureError(path, None, f"cannot read it ({e.strerror or e})") from None
        try:
            self._read_header()
        except BaseException:
            self._f.close()
            raise

    def _read_header(self) -> None:
        f, path = self._f, self.path
        head = f.read(len(MAGIC) + 4)
        if head[:len(MAGIC)] != MAGIC[:len(head)] or len(head) < len(MAGIC):
            if head[:len(MAGIC)] == MAGIC[:len(head)] and head:
                raise CaptureError(path, 0, "header truncated", truncated=True)
            raise CaptureError(path, 0, "not an ecg-activity capture (bad magic)")
        if len(head) < len(MAGIC) + 4:
            raise CaptureError(path, len(MAGIC), "header truncated", truncated=True)
        (hlen,) = _CRC.unpack_from(head, len(MAGIC))
        if hlen > MAX_HEADER:
            raise CaptureError(path, len(MAGIC), f"header claims {hlen} bytes (at most {MAX_HEADER})")
        body = f.read(hlen + 4)
        if len(body) < hlen + 4:
            raise CaptureError(path, len(MAGIC), "header truncated", truncated=True)
        (crc,) = _CRC.unpack_from(body, hlen)
        body = body[:hlen]
        if zlib.crc32(body) != crc:
            raise CaptureError(path, len(MAGIC), "header CRC mismatch")
        try:
            self.header = CaptureHeader.from_json(body)
        except (ValueError, TypeError) as e:
            raise CaptureError(path, len(MAGIC) + 4, f"invalid header ({e})") from None
        self.data_offset = len(MAGIC) + 4 + hlen + 4

    def items(self) -> Iterator[Packet | LinkEvent]:
        f = self._f
        f.seek(self.data_offset)
        pos = self.data_offset
        t_last = self.header.start_time
        while True:
            head = f.read(CHUNK_HEAD)
            if not head:
                return
            if len(head) < CHUNK_HEAD:
                raise CaptureError(self.path, pos, "truncated chunk header", truncated=True)
            marker, kind, length, t = _CHUNK.unpack_from(head)
            if marker != b"CK" or kind not in (KIND_DATA, KIND_EVENT) or length > MAX_CHUNK:
                raise CaptureError(self.path, pos, "corrupt chunk header")
            payload = f.read(length)
            if len(payload) < length:
                raise CaptureError(self.path, pos, "truncated chunk", truncated=True)
            (crc,) = _CRC.unpack_from(head, _CHUNK.size)
            if zlib.crc32(payload, zlib.crc32(head[2:_CHUNK.size])) != crc:
                raise CaptureError(self.path, pos, "chunk CRC mismatch")
            # a receive time that is not a number cannot pace a replay or date a block: keep the last one
            t = t if math.isfinite(t) else t_last
            t_last = t
            if kind == KIND_DATA:
                yield Packet(payload, t)
            else:
                yield _event(payload, t, self.path, pos)
            pos += CHUNK_HEAD + length

    def read_all(self) -> tuple[list[Packet | LinkEvent], CaptureError | None]:
        """Everything readable, plus the error that stopped reading (None if the file is whole)."""
        out: list[Packet | LinkEvent] = []
        try:
            for item in self.items():
                out.append(item)
        except CaptureError as e:
            return out, e
        return out, None

    def close(self) -> None:
        self._f.close()

    def __del__(self) -> None:
        try:
            self._f.close()
        except Exception:
            pass


def _event(payload: bytes, t: float, path, pos: int) -> LinkEvent:
    """A link event chunk: a JSON object with a "kind"; anything else is damage."""
    try:
        detail = json.loads(payload)
    except (ValueError, RecursionError):
        raise CaptureError(path, pos, "event chunk is not JSON") from None
    if not isinstance(detail, dict):
        raise CaptureError(path, pos, "event chunk is not a JSON object")
    kind = detail.pop("kind", "event")
    return LinkEvent(kind if isinstance(kind, str) else "event", t, detail)


def copy_with_scale(src: str | os.PathLike, dst: str | os.PathLike, mv_per_count: float) -> tuple[int, object]:
    """A new capture ``dst`` (never in place: the recording stays as it was) with every packet and event
    of ``src`` and its header's scale set to ``mv_per_count`` (a frame-protocol sensor recorded without
    ``--mv-per-count`` is in counts until then); the old scale is kept in ``extra["scale_was"]``.
    Returns (chunks copied, the damage that ended reading early or None)."""
    from dataclasses import replace

    reader = CaptureReader(src)
    try:
        h = reader.header
        new = replace(h, mv_per_count=float(mv_per_count),
                      extra={**h.extra, "scale_was": h.mv_per_count, "scale_set": time.strftime("%Y-%m-%d %H:%M:%S")})
        try:
            new.validate()
        except ValueError as e:
            raise OutputError(f"--set-scale {mv_per_count:g}: {e}") from None
        n, damage = 0, None
        with CaptureWriter(dst, new) as w:
            try:
                for item in reader.items():
                    (w.write_event if isinstance(item, LinkEvent) else w.write_packet)(item)
                    n += 1
            except CaptureError as e:
                damage = e
        return n, damage
    finally:
        reader.close()
