"""Reading recording files safely (bounded text, timestamped CSV lines onto a uniform grid): what the
importer, the virtual wearable's dataset files and training read.  Which dataset a file belongs to and
what its activities mean is training's business (``train/datasets/``).

Every reader is bounded whatever the file claims: text is decompressed up
to ``MAX_TEXT_BYTES`` and no further (a 1 MB gzip bomb cannot take
gigabytes), a truncated, empty or malformed file is one ``SourceError``
naming the file, never a traceback.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import SourceError


#: the most decompressed text a recording may hold (a 62 s, 500 Hz dataset file is about 1.3 MB)
MAX_TEXT_BYTES = 64 << 20
#: the most samples a recording may hold after loading (10 h at 500 Hz)
MAX_SAMPLES = 18_000_000


def read_bytes(path: str | os.PathLike, max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a (possibly gzip-compressed) file, refusing more than ``max_bytes`` of them (a small gzip
    can hold gigabytes: it is never decompressed past the limit)."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(f"recording {str(path)!r} does not exist") from None
    except (OSError, EOFError, zlib.error) as e:       # gzip.BadGzipFile is an OSError
        raise SourceError(f"cannot read recording {str(path)!r}: {e or type(e).__name__}") from None
    if len(raw) > max_bytes:
        raise SourceError(f"recording {str(path)!r} holds more than {max_bytes >> 20} MiB of text: refusing it")
    return raw


def read_text(path: str | os.PathLike, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of a (possibly gzip-compressed) file, refusing more than ``max_bytes`` of it."""
    try:
        return read_bytes(path, max_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"recording {str(path)!r} is not text") from None


def read_motion_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since first sample, ADC counts) from ``YYYY-MM-DD HH:MM:SS.ffffff ; value`` lines."""
    lines = [ln for ln in read_text(path).splitlines() if ln.strip()]
    if len(lines) < 2:
        raise SourceError(f"recording {str(path)!r} holds fewer than two samples")
    try:
        stamps = np.array([ln.split(";")[0].strip() for ln in lines], dtype="datetime64[us]")
        values = np.array([float(ln.split(";")[1]) for ln in lines])
    except (ValueError, IndexError) as e:
        raise SourceError(f"recording {str(path)!r} is not 'time ; value' lines ({e})") from None
    t = (stamps - stamps[0]).astype(np.int64) / 1e6
    if not np.isfinite(values).all():
        raise SourceError(f"recording {str(path)!r} holds values that are not finite numbers")
    return t, values


def uniform_from_timestamps(t: np.ndarray, x: np.ndarray, rate_hz: float) -> np.ndarray:
    """Linear interpolation of jittery samples onto a uniform grid at ``rate_hz``."""
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    keep = np.concatenate(([True], np.diff(t) > 0))
    span = t[keep][-1]
    if not 0 < span * rate_hz <= MAX_SAMPLES:
        raise SourceError(f"timestamps span {span:g} s: not a recording of plausible length")
    grid = np.arange(0.0, span, 1.0 / rate_hz)
    return np.interp(grid, t[keep], x[keep])
