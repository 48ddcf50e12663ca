"""Polar PMD accelerometer frames (measurement type 2) and the Heart Rate and Battery services.

Pure codecs, no I/O.  A PMD data frame is::

    u8 measurement type (2 = ACC) | u64 LE timestamp of the last sample (ns) | u8 frame type | data

Frame type bit 7 marks a delta-compressed frame, the low bits the sample
format.  Raw frames hold x, y, z per sample as signed little-endian integers
of 1, 2 or 3 bytes (types 0, 1, 2), in milli-g.  A compressed frame holds
one reference sample (x, y, z as 16-bit signed LE for type 1) and then
blocks of ``u8 bit width | u8 sample count | count x 3 deltas``, the deltas
packed least-significant bit first, each sign-extended from its bit width
and added to the previous sample.  (Polar Measurement Data specification,
Polar BLE SDK.)  A Polar H10 streams ACC at 25, 50, 100 or 200 Hz, ranges 2, 4
or 8 g, compressed type 1.
"""

from __future__ import annotations

import struct

import numpy as np

MEASUREMENT_ACC = 0x02
DELTA = 0x80
_HEAD = struct.Struct("<BQB")
RATES_HZ = (25, 50, 100, 200)


def start_acc(rate_hz: int = 200, resolution: int = 16, range_g: int = 8) -> bytes:
    """The control-point request that starts ACC: sample rate, resolution and range settings."""
    return bytes([0x02, MEASUREMENT_ACC, 0x00, 0x01]) + struct.pack("<H", rate_hz) + \
        bytes([0x01, 0x01]) + struct.pack("<H", resolution) + bytes([0x02, 0x01]) + struct.pack("<H", range_g)


class AccFrameError(ValueError):
    """Bytes that are not a well-formed ACC frame (counted and skipped by the decoder)."""


def _signed(raw: np.ndarray, nbytes: int) -> np.ndarray:
    """Little-endian two's complement integers of ``nbytes`` from a (n, nbytes) uint8 array."""
    v = np.zeros(raw.shape[0], dtype=np.int64)
    for i in range(nbytes):
        v |= raw[:, i].astype(np.int64) << (8 * i)
    sign = np.int64(1) << (8 * nbytes - 1)
    return (v ^ sign) - sign


def _bits(data: bytes) -> np.ndarray:
    """The bits of ``data``, least significant first within each byte."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")


def decode_deltas(payload: bytes, channels: int = 3, resolution: int = 16) -> np.ndarray:
    """(samples, channels) int64 from a compressed payload (reference sample + delta blocks)."""
    ref_bytes = (resolution + 7) // 8
    if len(payload) < channels * ref_bytes:
        raise AccFrameError("compressed frame shorter than its reference sample")
    ref = _signed(np.frombuffer(payload, dtype=np.uint8, count=channels * ref_bytes).reshape(channels, ref_bytes),
                  ref_bytes)
    out = [ref[None, :]]
    off = channels * ref_bytes
    last = ref
    while off < len(payload):
        if off + 2 > len(payload):
            raise AccFrameError("delta block header cut short")
        width, count = payload[off], payload[off + 1]
        off += 2
        if width == 0 or width > 32:
            raise AccFrameError(f"delta width {width} bits")
        nbits = width * count * channels
        nbytes = (nbits + 7) // 8
        if off + nbytes > len(payload):
            raise AccFrameError("delta block cut short")
        bits = _bits(payload[off:off + nbytes])[:nbits].reshape(count * channels, width).astype(np.int64)
        vals = (bits << np.arange(width, dtype=np.int64)).sum(axis=1)
        sign = np.int64(1) << (width - 1)
        deltas = ((vals ^ sign) - sign).reshape(count, channels)
        block = last + np.cumsum(deltas, axis=0)
        out.append(block)
        last = block[-1]
        off += nbytes
    return np.concatenate(out)


def encode_deltas(samples: np.ndarray, resolution: int = 16, block: int = 18) -> bytes:
    """The device side (the virtual H10): a reference sample, then delta blocks of ``block`` samples,
    each at the narrowest bit width that holds its deltas."""
    s = np.asarray(samples, dtype=np.int64)
    ref_bytes = (resolution + 7) // 8
    out = bytearray()
    for v in s[0]:
        out += int(v & ((1 << (8 * ref_bytes)) - 1)).to_bytes(ref_bytes, "little")
    d = np.diff(s, axis=0)
    for i in range(0, d.shape[0], block):
        part = d[i:i + block]
        m = int(np.abs(part).max()) if part.size else 0
        width = max(1, int(m).bit_length() + 1)
        vals = (part.ravel() & ((1 << width) - 1)).astype(np.uint64)
        bits = ((vals[:, None] >> np.arange(width, dtype=np.uint64)) & 1).astype(np.uint8).ravel()
        out += bytes([width, part.shape[0]]) + np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


def decode_acc(data: bytes) -> tuple[int, np.ndarray]:
    """(timestamp of the last sample in ns, (n, 3) int32 milli-g) of one ACC notification."""
    if len(data) < _HEAD.size + 3 or data[0] != MEASUREMENT_ACC:
        raise AccFrameError("not an ACC frame")
    _, ts, ftype = _HEAD.unpack_from(data)
    payload = data[_HEAD.size:]
    kind = ftype & 0x7F
    if ftype & DELTA:
        if kind != 1:
            raise AccFrameError(f"compressed ACC frame type {kind} (the H10 sends type 1)")
        return ts, decode_deltas(payload, 3, 16).astype(np.int32)
    if kind not in (0, 1, 2):
        raise AccFrameError(f"raw ACC frame type {kind}")
    step = kind + 1
    if len(payload) % (3 * step):
        raise AccFrameError("raw ACC frame is not whole samples")
    raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, step)
    return ts, _signed(raw, step).reshape(-1, 3).astype(np.int32)


def encode_acc(samples_mg: np.ndarray, last_timestamp_ns: int, compressed: bool = True, raw_type: int = 1) -> bytes:
    """One ACC notification (the virtual H10's side)."""
    if compressed:
        return _HEAD.pack(MEASUREMENT_ACC, last_timestamp_ns, DELTA | 1) + encode_deltas(samples_mg)
    s = np.asarray(samples_mg, dtype=np.int64).ravel()
    step = raw_type + 1
    body = b"".join(int(v & ((1 << (8 * step)) - 1)).to_bytes(step, "little") for v in s)
    return _HEAD.pack(MEASUREMENT_ACC, last_timestamp_ns, raw_type) + body


# -- Heart Rate service (0x180D) and Battery service (0x180F), as the H10 sends them ----------------------
HR_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"


def decode_heart_rate(data: bytes) -> dict:
    """Heart Rate Measurement: bpm, RR intervals (ms), skin contact (None when not supported)."""
    if len(data) < 2:
        raise AccFrameError("heart rate measurement too short")
    flags = data[0]
    off = 1
    if flags & 0x01:
        if len(data) < 3:
            raise AccFrameError("heart rate measurement too short")
        bpm = int.from_bytes(data[1:3], "little")
        off = 3
    else:
        bpm = data[1]
        off = 2
    if flags & 0x08:
        off += 2                                   # energy expended
    rr = []
    if flags & 0x10:
        while off + 2 <= len(data):
            rr.append(round(int.from_bytes(data[off:off + 2], "little") * 1000 / 1024))
            off += 2
    contact = bool(flags & 0x02) if flags & 0x04 else None
    return {"bpm": bpm, "rr_ms": rr, "contact": contact}


def encode_heart_rate(bpm: int, rr_ms: list[float], contact: bool = True) -> bytes:
    """A Heart Rate Measurement notification (GATT 0x2A37: uint8 bpm, contact bits, RR in 1/1024 s) as the
    Polar H10 sends it: the virtual wearable's bytes, so the decoder is tested on the real layout."""
    flags = 0x04 | (0x02 if contact else 0) | (0x10 if rr_ms else 0)
    out = bytes([flags, bpm & 0xFF])
    for r in rr_ms:
        out += int(round(r * 1024 / 1000)).to_bytes(2, "little")
    return out


def decode_battery(data: bytes) -> dict:
    """The Battery Level characteristic (one byte, percent); anything else is a malformed frame."""
    if len(data) < 1 or data[0] > 100:
        raise AccFrameError("battery level is one byte, 0..100")
    return {"percent": data[0]}
