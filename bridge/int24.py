"""24-bit sample packing shared by every codec (vectorised, no per-sample Python)."""

from __future__ import annotations

import numpy as np

INT24_MIN = -(1 << 23)
INT24_MAX = (1 << 23) - 1


def unpack_le24_signed(raw: bytes | memoryview) -> np.ndarray:
    """Little-endian two's-complement 24-bit values -> int32."""
    return (_raw24(raw) ^ 0x800000) - 0x800000


def pack_le24_signed(values: np.ndarray) -> bytes:
    """int -> little-endian two's-complement 24-bit bytes; out of range is an error, not a wrap."""
    v = np.asarray(values, dtype=np.int64).ravel()
    if v.size and (v.min() < INT24_MIN or v.max() > INT24_MAX):
        raise ValueError("sample outside the signed 24-bit range")
    return _le24_bytes((v & 0xFFFFFF).astype(np.uint32))


def _le24_bytes(u: np.ndarray) -> bytes:
    out = np.empty((u.size, 3), dtype=np.uint8)
    out[:, 0] = u & 0xFF
    out[:, 1] = (u >> 8) & 0xFF
    out[:, 2] = (u >> 16) & 0xFF
    return out.tobytes()


def unpack_le24_offset_binary(raw: bytes | memoryview) -> np.ndarray:
    """Offset-binary 24-bit (0x800000 = zero, as the ADS1292 in the Attys sends) -> signed int32."""
    return _raw24(raw) - 0x800000


def pack_le24_offset_binary(values: np.ndarray) -> bytes:
    """Samples as little-endian 24-bit offset binary (0x800000 = zero), the Attys wire form; values outside
    the signed 24-bit range are refused rather than wrapped."""
    v = np.asarray(values, dtype=np.int64).ravel()
    if v.size and (v.min() < INT24_MIN or v.max() > INT24_MAX):
        raise ValueError("sample outside the signed 24-bit range")
    return _le24_bytes((v + 0x800000).astype(np.uint32))


def _raw24(raw: bytes | memoryview) -> np.ndarray:
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
