"""The project's open frame format (spec: docs/protocol.md).

    A5 5A | ver | flags | seq u16 LE | channels | n | samples 3*ch*n | CRC-32 LE

The CRC-32 (zlib/IEEE) covers everything after the sync word, so zlib does the
heavy lifting in C and the Python loop runs once per frame, not per byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
import zlib

import numpy as np

from .blocks import SampleBlock
from .decoder import Decoder
from .int24 import pack_le24_signed, unpack_le24_signed
from .protocol_base import BleProfile, Protocol

SYNC = b"\xa5\x5a"
VERSION = 1
HEADER_LEN = 8
CRC_LEN = 4
MAX_FRAME = 244                       # one BLE notification at the usual 247-byte MTU
MAX_VALUES = (MAX_FRAME - HEADER_LEN - CRC_LEN) // 3   # 77 samples x channels
_HEADER = struct.Struct("<2sBBHBB")
FLAG_IDENTITY = 0x80                  # an identity frame: its payload names the device, it carries no samples
MAX_ID_BYTES = 24
IDENTITY_EVERY_FRAMES = 10            # a device repeats its identity at least this often (and after connecting)
MAX_HELD_FRAMES = 4 * IDENTITY_EVERY_FRAMES   # data frames kept while the device on the link is unconfirmed


def frame_length(channels: int, n: int) -> int:
    """Bytes on the wire of one of our frames with ``channels`` channels and ``n`` samples each."""
    return HEADER_LEN + 3 * channels * n + CRC_LEN


def encode_frame(samples: np.ndarray, seq: int, flags: int = 0) -> bytes:
    """One frame from an ``(n, channels)`` block of signed 24-bit counts."""
    s = np.asarray(samples)
    if s.ndim == 1:
        s = s[:, None]
    n, ch = s.shape
    if not (1 <= ch <= 255 and 1 <= n <= 255 and ch * n <= MAX_VALUES):
        raise ValueError(f"a frame holds 1..{MAX_VALUES} values; got {n} x {ch}")
    body = _HEADER.pack(SYNC, VERSION, flags & 0xFF, seq & 0xFFFF, ch, n)[2:] + pack_le24_signed(s)
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


def encode_identity(device_id: str, seq: int = 0) -> bytes:
    """The identity frame of a device named ``device_id`` (printable ASCII, 1-24 bytes): one channel,
    the name's bytes zero-padded to whole 3-byte values; ``seq`` is not a data frame's and is ignored."""
    raw = device_id.encode("ascii")
    if not 1 <= len(raw) <= MAX_ID_BYTES or not device_id.isprintable():
        raise ValueError(f"a device id is 1-{MAX_ID_BYTES} printable ASCII characters; got {device_id!r}")
    raw += b"\0" * (-len(raw) % 3)
    body = _HEADER.pack(SYNC, VERSION, FLAG_IDENTITY, seq & 0xFFFF, 1, len(raw) // 3)[2:] + raw
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


def iter_frames(samples: np.ndarray, per_frame: int, first_seq: int = 0, flags: int = 0) -> Iterator[bytes]:
    """Back-to-back frames of a recording, one at a time (a long import never holds all its frames)."""
    s = np.asarray(samples)
    if s.ndim == 1:
        s = s[:, None]
    for k, i in enumerate(range(0, s.shape[0], per_frame)):
        yield encode_frame(s[i:i + per_frame], first_seq + k, flags)


def encode_stream(samples: np.ndarray, per_frame: int, first_seq: int = 0, flags: int = 0) -> list[bytes]:
    """Split a recording into back-to-back frames (the last one may be shorter)."""
    return list(iter_frames(samples, per_frame, first_seq, flags))


#: what ``_whole_frame_after`` returns while a frame that may be the one has not fully arrived
PENDING = -1


def _whole_frame_after(buf: bytes, start: int, end: int, before: int | None = None) -> int | None:
    """Offset of the first whole, CRC-valid frame starting at or after ``start`` within ``buf[:end]``, if any.
    With ``before``, only starts before it count, and a plausible frame start there that has not fully
    arrived gives ``PENDING`` (the caller waits for the rest instead of deciding on part of it)."""
    k = buf.find(SYNC, start)
    while 0 <= k and (before is None or k < before):
        if end - k < HEADER_LEN:
            return PENDING if before is not None else None
        _, ver, _, _, ch, n = _HEADER.unpack_from(buf, k)
        if ver == VERSION and ch and n and ch * n <= MAX_VALUES:
            flen = HEADER_LEN + 3 * ch * n + CRC_LEN
            if k + flen > end:
                if before is not None:
                    return PENDING
            elif zlib.crc32(buf[k + 2:k + flen - CRC_LEN]) == int.from_bytes(buf[k + flen - CRC_LEN:k + flen],
                                                                              "little"):
                return k
        k = buf.find(SYNC, k + 1)
    return None


class FrameDecoder(Decoder):
    """Stream decoder: resynchronises on the sync word, checks CRC and sequence."""

    name = "frame"

    def __init__(self, rate_hz: float = 250.0, mv_per_count: float = 0.0, channels: int = 1) -> None:
        super().__init__(rate_hz, mv_per_count, channels)
        self._buf = b""
        self._next_seq: int | None = None
        self._in_junk = False          # inside a run of junk: one resync, however many reads it spans
        self._unverified = False       # data is not taken until the device names itself (after a reconnect)
        self._held: list[tuple] = []   # data frames waiting for that
        self._foreign: str | None = None      # the other device's id, while one is on our link

    def reset_continuity(self) -> None:
        # Keep _next_seq: if the device kept running, its counter still measures the gap exactly.
        self._buf = b""
        self._in_junk = False
        # A reopened port may be another device (a reused /dev/pts/N, a re-paired rfcomm): a device that
        # named itself must do so again before its data is taken.
        self._unverified = self.device_id is not None
        self.stats.unverified_frames += len(self._held)
        self._held = []

    def _identity(self, payload: bytes) -> list[tuple]:
        """An identity frame: learn the device's name, or tell ours from another one.  Returns the held
        frames that turn out to be ours."""
        name = payload.rstrip(b"\0").decode("ascii", "replace")
        name = "".join(c if c.isprintable() else "?" for c in name)[:MAX_ID_BYTES] or "?"
        if self.device_id is None:
            self.device_id = name
            return []
        if name == self.device_id:
            if self._foreign is not None:
                self.notices.append(f"device {name} is back on the link: its data is taken again")
            self._foreign = None
            self._unverified = False
            held, self._held = self._held, []
            return held
        if name != self._foreign:
            self._foreign = name
            self.notices.append(f"another device ({name}) is sending on this link, not {self.device_id}: its data "
                                "is not taken (check which sensor is paired or plugged in)")
        self._unverified = True
        self.stats.unverified_frames += len(self._held)        # they were the other device's
        self._held = []
        return []

    def _feed(self, data: bytes, t_host: float) -> list[SampleBlock]:
        buf = self._buf + data
        pos = 0
        end = len(buf)
        runs: list[tuple[list[bytes], int, int, int]] = []   # (payloads, channels, flags, gap before)
        stats = self.stats
        in_junk = self._in_junk
        while True:
            i = buf.find(SYNC, pos)
            if i < 0:
                keep = 1 if end > pos and buf[end - 1] == SYNC[0] else 0
                if end - keep > pos:
                    self._skip(end - keep - pos, in_junk)
                    in_junk = True
                pos = end - keep
                break
            if i > pos:
                self._skip(i - pos, in_junk)
                in_junk = True
            if end - i < HEADER_LEN:
                pos = i
                break
            _, ver, flags, seq, ch, n = _HEADER.unpack_from(buf, i)
            if ver != VERSION or ch == 0 or n == 0 or ch * n > MAX_VALUES:
                self._skip(1, in_junk)       # a sync word inside junk or samples
                in_junk = True
                pos = i + 1
                continue
            flen = HEADER_LEN + 3 * ch * n + CRC_LEN
            if end - i < flen:
                j = _whole_frame_after(buf, i + 1, end)
                if j is None:
                    pos = i           # a frame still arriving: wait for the rest
                    break
                # A damaged length field promised more bytes than come before a real,
                # CRC-valid frame: it is not a frame, and must not hold the real ones back.
                stats.malformed += 1
                self._skip(j - i, in_junk)
                in_junk = False
                pos = j
                continue
            crc = int.from_bytes(buf[i + flen - CRC_LEN:i + flen], "little")
            if zlib.crc32(buf[i + 2:i + flen - CRC_LEN]) != crc:
                # A real frame starting inside this one's span means its length field was damaged
                # (malformed, skip to the real one); decided only once every candidate inside has
                # arrived, so a live link's reads and a replay's one piece count the same damage.
                j = _whole_frame_after(buf, i + 1, end, before=i + flen)
                if j == PENDING:
                    pos = i           # a candidate frame still arriving: wait for the rest
                    break
                if j is not None:
                    stats.malformed += 1
                    self._skip(j - i, in_junk)
                    in_junk = False
                    pos = j
                    continue
                stats.crc_errors += 1
                self._skip(1, in_junk)
                in_junk = True
                pos = i + 1
                continue
            in_junk = False
            payload = buf[i + HEADER_LEN:i + flen - CRC_LEN]
            pos = i + flen
            if flags & FLAG_IDENTITY:
                for held in self._identity(payload):      # ours named itself: what waited is taken now
                    self._take(*held, runs)
            elif self._unverified:
                for held in self._hold((seq, ch, n, flags, payload)):
                    self._take(*held, runs)
            else:
                self._take(seq, ch, n, flags, payload, runs)
        self._buf = buf[pos:]
        self._in_junk = in_junk
        return self._blocks(runs, t_host)

    def _take(self, seq: int, ch: int, n: int, flags: int, payload: bytes, runs: list) -> None:
        """One data frame of our device: its place by ``seq`` (a gap before it counted), into ``runs``."""
        self.stats.frames += 1
        if ch != self.channels:
            self.channels = ch
        gap = 0
        if self._next_seq is not None:
            lost = (seq - self._next_seq) & 0xFFFF
            if self._link_lost:
                self._link_lost = False
                if not self._plausible(lost * n):
                    # the device restarted or the counter wrapped: only the host clock can tell
                    lost = 0
                    gap = self._lost(self.clock_gap(n))
            if lost:
                gap = self._lost(lost * n, lost)
        self._next_seq = (seq + 1) & 0xFFFF
        if not gap and runs and runs[-1][1] == ch and runs[-1][2] == flags:
            runs[-1][0].append(payload)
        else:
            runs.append(([payload], ch, flags, gap))

    def flush(self) -> list[SampleBlock]:
        # the stream ended before the device on the link named itself: what waited is not taken
        self.stats.unverified_frames += len(self._held)
        self._held = []
        return []

    def _hold(self, frame: tuple) -> list[tuple]:
        """A data frame before the device on the link has named itself: kept until it does.  A device
        that stays silent about its name for ``MAX_HELD_FRAMES`` frames (firmware that names itself only
        at power-up) is taken as ours, with a notice; while another device's name was the last one heard,
        the oldest frames beyond that are not taken.  Returns the frames to take now."""
        self._held.append(frame)
        if len(self._held) <= MAX_HELD_FRAMES:
            return []
        if self._foreign is None:
            self.notices.append(f"the device on the link did not name itself within {MAX_HELD_FRAMES} frames "
                                f"after the reconnect: its data is taken as {self.device_id}'s, unverified "
                                "(its firmware should repeat its identity)")
            self._unverified = False
            held, self._held = self._held, []
            return held
        self._held.pop(0)
        self.stats.unverified_frames += 1
        return []

    def _plausible(self, lost_samples: int) -> bool:
        """Does a counter gap over a reconnect fit the time that passed (with a frame of slack)?"""
        if self._t_before is None or self._t_resume is None:
            return True
        return lost_samples <= (self._t_resume - self._t_before) * self.rate_hz + 2 * MAX_VALUES

    def _skip(self, nbytes: int, already_in_junk: bool) -> None:
        if nbytes <= 0:
            return
        self.stats.skipped_bytes += nbytes
        if not already_in_junk:
            self.stats.resyncs += 1

    def _blocks(self, runs, t_host: float) -> list[SampleBlock]:
        return [
            self._emit(unpack_le24_signed(b"".join(payloads)).reshape(-1, ch), t_host, flags, gap)
            for payloads, ch, flags, gap in runs
        ]


# Nordic UART Service: what nRF52 firmware authors already have; our frames ride on its TX characteristic.
NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


class FrameProtocol(Protocol):
    """Our open frame format: serial or BLE (Nordic UART), sequence-numbered, CRC-checked."""

    name = "frame"
    decoder = FrameDecoder
    rate_hz = 250.0
    mv_per_count = 0.0            # the frame carries no scale: --mv-per-count or the capture header says it
    channels = 1
    frame_samples = 25
    ble = BleProfile(NUS_TX)
    watchdog_s = 5.0
    keeps_own_scale = True

    def encode(self, chunk, frame_index, last_sample_index, rate_hz, t0_ns) -> bytes:
        return encode_frame(chunk, frame_index)

    identity_every_frames = IDENTITY_EVERY_FRAMES

    def identity(self, device_id: str) -> bytes:
        return encode_identity(device_id)

    def corrupt(self, data: bytes, rng) -> bytes:
        b = bytearray(data)
        i = int(rng.integers(8, len(b) - 4))      # a sample byte: only the CRC can tell
        b[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)

    def line_noise(self, rng, nbytes: int) -> bytes:
        noise = super().line_noise(rng, nbytes)
        return noise.replace(SYNC[:1], b"\x00")   # keep it from posing as a frame start
