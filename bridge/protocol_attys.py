"""Attys (Glasgow Neuro) Bluetooth SPP protocol, as its open firmware speaks it.

Host -> device: ASCII ``k=v\\n`` commands, each answered ``OK\\r\\n``.
Device -> host after ``x=1`` in base64 mode (``d=1``): one line per sample,
28 base64 characters + CRLF decoding to 20 bytes:

    0-2 ADC ch1, 3-5 ADC ch2   24-bit little-endian offset binary (0x800000 = 0 V)
    6   flags (bit5/6 GPIO, bit7 charging)
    7   sample counter, modulo 256
    8-13 accelerometer XYZ, 14-19 magnetometer XYZ   uint16 LE, offset 0x8000

There is no checksum, so loss is found from the counter alone and any line
of the wrong shape is dropped and counted.  Decoding is vectorised with numpy
(no per-line Python) so replaying hours of capture stays fast.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from .blocks import AuxBlock, SampleBlock
from .decoder import SETTLE_S, SILENCE_S, Decoder
from .int24 import pack_le24_offset_binary
from .protocol_base import Protocol

ADC_REF_V = 2.42
GAIN_FACTORS = (6, 1, 2, 3, 4, 8, 12)   # index sent in the high nibble of a=/b=
RATE_INDEX = {125: 0, 250: 1, 500: 2, 1000: 3}
LINE_CHARS = 28
RAW_BYTES = 20
WATCHDOG_S = 2.0


def mv_per_count(gain_index: int = 0) -> float:
    """Millivolts per ADC count at the ADS1292's ``gain_index`` (2.42 V reference, 24 bits): the explicit scale
    that keeps counts and millivolts apart."""
    return ADC_REF_V * 1000.0 / float(1 << 23) / GAIN_FACTORS[gain_index]


def startup_commands(rate_hz: int = 250, gain_index: int = 0, mux: int = 0) -> tuple[bytes, ...]:
    """The commands a host sends (each waits for OK) before ``x=1`` starts the stream."""
    g = ((gain_index & 0x0F) << 4) | (mux & 0x0F)
    return (b"x=0", b"d=1", b"r=%d" % RATE_INDEX[rate_hz], f"a={g}".encode(), f"b={g}".encode())


START = b"x=1"
STOP = b"x=0"
OK_LINE = b"OK\r\n"

_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_LUT = np.full(256, 255, dtype=np.uint8)
_LUT[np.frombuffer(_B64, dtype=np.uint8)] = np.arange(64, dtype=np.uint8)


def encode_lines(ch1: np.ndarray, ch2: np.ndarray | None = None, first_counter: int = 0,
                 flags: int = 0) -> bytes:
    """Device side (used by the virtual wearable): samples -> CRLF-terminated base64 lines."""
    ch1 = np.asarray(ch1, dtype=np.int64)
    n = ch1.size
    ch2 = np.zeros(n, dtype=np.int64) if ch2 is None else np.asarray(ch2, dtype=np.int64)
    raw = np.zeros((n, RAW_BYTES), dtype=np.uint8)
    raw[:, 0:3] = np.frombuffer(pack_le24_offset_binary(ch1), dtype=np.uint8).reshape(n, 3)
    raw[:, 3:6] = np.frombuffer(pack_le24_offset_binary(ch2), dtype=np.uint8).reshape(n, 3)
    raw[:, 6] = flags & 0xFF
    raw[:, 7] = (first_counter + np.arange(n)) & 0xFF
    raw[:, 8:20] = np.frombuffer(np.full(6 * n, 0x8000, dtype="<u2").tobytes(), dtype=np.uint8).reshape(n, 12)
    return b"".join(base64.b64encode(r.tobytes()) + b"\r\n" for r in raw)


def _decode_rows(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28) base64 characters -> ((N, 20) bytes, valid mask)."""
    v = _LUT[chars[:, :27]]
    valid = (v != 255).all(axis=1) & (chars[:, 27] == ord("="))
    six = np.zeros((chars.shape[0], 28), dtype=np.uint32)
    six[:, :27] = np.where(v == 255, 0, v)
    six = six.reshape(-1, 7, 4)
    word = (six[:, :, 0] << 18) | (six[:, :, 1] << 12) | (six[:, :, 2] << 6) | six[:, :, 3]
    out = np.empty((chars.shape[0], 7, 3), dtype=np.uint8)
    out[:, :, 0] = (word >> 16) & 0xFF
    out[:, :, 1] = (word >> 8) & 0xFF
    out[:, :, 2] = word & 0xFF
    return out.reshape(-1, 21)[:, :RAW_BYTES], valid


#: consecutive lines whose counters can be damaged and still be recognised as such (not as a gap)
DAMAGED_RUN = 3
#: at the stream's end nothing can confirm a jump: one further than this (64 ms) is taken as a damaged
#: counter (one line lost) rather than as that many lost samples
LAST_LINE_SKIP = 16


class AttysDecoder(Decoder):
    """Attys base64 lines (two 24-bit channels, 8-bit sample counter, no checksum) to sample blocks.  A row
    is held until the next line's counter confirms it, so a line damaged in flight is counted and dropped
    instead of decoded as signal, and loss across the counter's wrap at 256 is counted."""

    name = "attys"

    def __init__(self, rate_hz: float = 250.0, mv_per_count: float = mv_per_count(0), channels: int = 2) -> None:
        super().__init__(rate_hz, mv_per_count, channels)
        self._held: np.ndarray | None = None     # a last row whose counter the next feed must confirm
        self._flushing = False
        self._at_end = False
        self._buf = b""
        self._next_counter: int | None = None
        self.acks = 0
        self._pending: tuple[float, float, list[np.ndarray]] | None = None   # (t0, t1, rows) after a silence
        self._clock_lost: float | None = None     # lines the host clock says the silence before the next rows lost
        self._ready: list[SampleBlock] = []       # decided when the link went, handed out with the next feed

    def reset_continuity(self) -> None:
        self._buf = b""
        self._next_counter = None
        self._held = None

    def link_lost(self, t_host: float) -> None:
        if self._pending is not None:             # what followed a silence is decided before the link went
            self._ready += self._release(self._t_feed or t_host)
        super().link_lost(t_host)

    def _feed(self, data: bytes, t_host: float) -> list[SampleBlock]:
        """The counter has 8 bits: a silence of more than 255 lines' time can hide whole laps of loss.
        After a silence (no read for ``SILENCE_S``) the rows are held for ``SETTLE_S``: if they come as
        a burst (the host was busy, the data waited in a buffer) nothing was lost; if they come at the
        line rate, the laps the host clock counts are added to what the counter says (``_blocks``).
        Replay feeds exactly these reads with their times (``coalesced``), so it decides the same."""
        out, self._ready = self._ready, []
        if self._t_feed is not None and not self._link_lost and self._t_first - self._t_feed >= SILENCE_S:
            out += self._decide_all(end=False)    # what came before this silence is decided without it
            self._pending = (self._t_feed, self._t_first, [])
        rows = self._rows(data)
        if self._pending is None:
            return out + self._blocks(rows, t_host)
        self._pending[2].append(rows)
        if t_host - self._pending[1] >= SETTLE_S:
            out += self._release(t_host)
        return out

    def _release(self, t_now: float) -> list[SampleBlock]:
        """The rows since a silence, with the lines the host clock says it lost (whole counter laps)."""
        t0, _, parts = self._pending
        self._pending = None
        rows = np.concatenate(parts) if parts else np.empty((0, RAW_BYTES), np.uint8)
        self._clock_lost = (t_now - t0) * self.rate_hz - rows.shape[0]
        return self._blocks(rows, t_now)

    def _fast_rows(self, buf: bytes) -> np.ndarray | None:
        """The common case in one C call: the buffer starts with whole, well-formed lines only.

        Each line's trailing '=' is swapped for 'A' so the lines concatenate into one valid
        base64 text (28 chars -> 21 bytes, the 21st holding only padding bits)."""
        n = len(buf) // (LINE_CHARS + 2)
        if n == 0:
            return None
        lines = np.frombuffer(buf, dtype=np.uint8, count=n * (LINE_CHARS + 2)).reshape(n, LINE_CHARS + 2)
        if not ((lines[:, 28] == 13).all() and (lines[:, 29] == 10).all() and (lines[:, 27] == 61).all()):
            return None
        chars = lines[:, :LINE_CHARS].copy()
        chars[:, 27] = ord("A")
        try:
            raw = binascii.a2b_base64(chars.tobytes(), strict_mode=True)
        except binascii.Error:
            return None
        return np.frombuffer(raw, dtype=np.uint8).reshape(n, 21)[:, :RAW_BYTES]

    def _rows(self, data: bytes) -> np.ndarray:
        """The whole, valid lines of ``data`` (after what was left over) as raw rows; junk counted."""
        buf = self._buf + data
        rows = self._fast_rows(buf)
        if rows is not None:
            self._buf = buf[rows.shape[0] * (LINE_CHARS + 2):]
            return rows
        arr = np.frombuffer(buf, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        if nl.size == 0:
            if len(buf) > 4096:          # no line end in 4 KiB: this is not Attys data
                self.stats.skipped_bytes += len(buf)
                self.stats.malformed += 1
                self._buf = b""
            else:
                self._buf = buf
            return np.empty((0, RAW_BYTES), dtype=np.uint8)
        self._buf = buf[nl[-1] + 1:]
        starts = np.concatenate(([0], nl[:-1] + 1))
        lengths = nl - starts
        good = (lengths == LINE_CHARS + 1) & (arr[np.maximum(nl - 1, 0)] == 13)
        # "OK\r" acknowledgements and blank lines are protocol, not loss
        last = len(arr) - 1
        ok = ((lengths == 3) & (arr[np.minimum(starts, last)] == ord("O"))
              & (arr[np.minimum(starts + 1, last)] == ord("K")))
        self.acks += int(ok.sum())
        blank = lengths <= 1
        bad = ~(good | ok | blank)
        rows = np.empty((0, RAW_BYTES), dtype=np.uint8)
        if good.any():
            idx = starts[good][:, None] + np.arange(LINE_CHARS)
            rows, valid = _decode_rows(arr[idx])
            bad_chars = int((~valid).sum())
            if bad_chars:
                rows = rows[valid]
            self.stats.malformed += bad_chars
            self.stats.skipped_bytes += int((lengths[good][~valid] + 1).sum())
        nbad = int(bad.sum())
        if nbad:
            self.stats.malformed += nbad
            self.stats.skipped_bytes += int((lengths[bad] + 1).sum())
            self.stats.resyncs += nbad
        return rows

    def _damaged(self, counter: np.ndarray, after_silence: bool = False) -> tuple[np.ndarray, int]:
        """(rows whose counters alone are damaged, rows from which to wait for the next feed).

        A row that breaks the sequence is a damaged counter when, within ``DAMAGED_RUN`` rows, a row
        continues the sequence as if nothing had been lost; then it and any damaged neighbours are dropped
        (their samples counted lost at their true place, not 255 phantom ones).  A break with no
        continuation in reach is a real gap, unless the rows end first: those few rows wait for the next
        feed to decide, so one line per read (live) and 64 KiB reads (replay) decode the same."""
        n = counter.size
        damaged = np.zeros(n, dtype=bool)
        expected = int(counter[0] if self._next_counter is None else self._next_counter)
        i = 0
        while i < n:
            chain = (expected + np.arange(n - i)) & 0xFF
            off = np.flatnonzero(counter[i:] != chain)
            if off.size == 0:
                return damaged, n
            i += int(off[0])
            expected = int(chain[off[0]])
            if i == 0 and after_silence:
                expected = int(counter[0])      # the silence's gap: the sequence goes on from here
                continue
            reach = range(i + 1, min(n, i + 1 + DAMAGED_RUN))
            found = next((j for j in reach if counter[j] == (expected + j - i) & 0xFF), None)
            if found is not None:
                damaged[i:found] = True
                expected = (expected + found - i) & 0xFF
                i = found
            elif n - i <= DAMAGED_RUN and not self._flushing:
                return damaged, i              # too close to the end to tell: decided with the next rows
            else:
                expected = int(counter[i])      # a real gap: the sequence goes on from here
        return damaged, n

    def flush(self) -> list[SampleBlock]:
        return self._decide_all(end=True)

    def _decide_all(self, end: bool) -> list[SampleBlock]:
        """Everything held, decided now: at the stream's ``end`` (its last lines may be a damaged
        counter with nothing after), or before a silence (a jump there is a real gap)."""
        out, self._ready = self._ready, []
        if self._pending is not None:
            out += self._release(self._t_feed or 0.0)
        if self._held is None:
            return out
        rows, self._held = self._held, None
        self._flushing, self._at_end = True, end
        try:
            return out + self._blocks(rows, self._t_feed or 0.0)
        finally:
            self._flushing = self._at_end = False

    def _blocks(self, rows: np.ndarray, t_host: float) -> list[SampleBlock]:
        if self._held is not None:
            rows = np.concatenate([self._held, rows]) if rows.shape[0] else self._held
            self._held = None
        if rows.shape[0] == 0:
            return []
        counter = rows[:, 7].astype(np.int64)
        # after a silence, a break at the first row is the silence's gap, never a damaged counter
        damaged, keep = self._damaged(counter, after_silence=self._clock_lost is not None)
        if keep < rows.shape[0]:
            self._held = rows[keep:].copy()
            rows, counter, damaged = rows[:keep], counter[:keep], damaged[:keep]
        if (self._at_end and self._next_counter is not None and counter.size
                and (counter[0] - self._next_counter) & 0xFF > LAST_LINE_SKIP):
            damaged[0] = True       # the stream's last lines jump far, with nothing after: a damaged counter
        if damaged.any():
            bad = int(damaged.sum())
            self.stats.malformed += bad
            self.stats.skipped_bytes += bad * (LINE_CHARS + 2)
            rows, counter = rows[~damaged], counter[~damaged]
        clock_lost, self._clock_lost = self._clock_lost, None
        if rows.shape[0] == 0:
            self._clock_lost = clock_lost         # it belongs to the first rows still to come
            return []
        self.stats.frames += rows.shape[0]
        prev = np.concatenate(([counter[0] if self._next_counter is None else self._next_counter], (counter[:-1] + 1) & 0xFF))
        # explicit modulo-256 arithmetic: how many samples the counter skipped
        skipped = (counter - prev) & 0xFF
        if clock_lost is not None and self._next_counter is not None:
            # after a silence: the counter says k lines, the host clock k + 256 m; m whole laps it cannot see
            skipped[0] += 256 * max(0, int(round((clock_lost - skipped[0]) / 256)))
        self._next_counter = int((counter[-1] + 1) & 0xFF)
        if rows.shape[0]:
            # accelerometer and magnetometer, kept beside the ECG (uint16 LE, offset 0x8000, raw counts)
            mems = (rows[:, 8:20].reshape(-1, 6, 2).astype(np.int32) @ np.array([1, 256])) - 0x8000
            self.aux.append(AuxBlock("acc", mems[:, :3].astype(np.int32), "counts", self.rate_hz, t_host))
            self.aux.append(AuxBlock("mag", mems[:, 3:].astype(np.int32), "counts", self.rate_hz, t_host))
        adc = rows[:, 0:6].copy()
        b = adc.reshape(-1, 2, 3).astype(np.int32)
        vals = (b[:, :, 0] | (b[:, :, 1] << 8) | (b[:, :, 2] << 16)) - 0x800000
        cuts = np.flatnonzero(skipped)
        out = []
        bounds = np.concatenate(([0], cuts, [rows.shape[0]]))
        for a, z in zip(bounds[:-1], bounds[1:]):
            if z <= a:
                continue
            gap = self._lost(int(skipped[a]), int(skipped[a])) if skipped[a] else 0
            out.append(self._emit(vals[a:z].astype(np.int32), t_host, 0, gap))
        return out


class AttysProtocol(Protocol):
    """Attys over Bluetooth SPP (RFCOMM): base64 lines, a modulo-256 counter, an OK handshake."""

    name = "attys"
    decoder = AttysDecoder
    rate_hz = 250.0
    mv_per_count = mv_per_count(0)
    channels = 2
    frame_samples = 1
    watchdog_s = WATCHDOG_S
    waits_for_start = True
    start_command = START

    def startup_commands(self, rate_hz: float) -> tuple[bytes, ...]:
        return startup_commands(int(rate_hz))

    def device_command(self, cmd: bytes) -> tuple[bytes | None, bool | None]:
        """An Attys answers every ``k=v`` with OK; ``x=1``/``x=0`` start and stop the stream."""
        return OK_LINE, {START: True, STOP: False}.get(cmd)

    def encode(self, chunk, frame_index, last_sample_index, rate_hz, t0_ns) -> bytes:
        return encode_lines(chunk, first_counter=frame_index)

    def corrupt(self, data: bytes, rng) -> bytes:
        # no checksum exists, so only damage that breaks the line's shape is detectable
        b = bytearray(data)
        b[int(rng.integers(0, 27))] = ord("!")
        return bytes(b)

    def line_noise(self, rng, nbytes: int) -> bytes:
        noise = super().line_noise(rng, nbytes)
        return noise.replace(b"\n", b"?") + b"\r\n"   # line noise ends where the next line begins
