"""Recordings from other tools -> captures: CSV, EDF/EDF+/BDF/BDF+ and WFDB.

An imported recording becomes a capture like any other (our frame protocol,
24-bit counts, its rate and scale in the header, its annotations as label
events), so it can be replayed, labelled, calibrated on and trained on.
Counts keep the source's own resolution: EDF/BDF digital values and WFDB
ADC units are taken as they are (their gain becomes ``mv_per_count``); CSV
values are stored at 1 µV per count unless a scale is given.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .blocks import LinkEvent, Packet
from .capture import START_TIME_RANGE, CaptureHeader, CaptureWriter
from .errors import OutputError, SourceError
from .int24 import INT24_MAX, INT24_MIN
from .protocol_frame import iter_frames
from .recording_files import MAX_SAMPLES, read_bytes

FORMATS = ("csv", "edf", "bdf", "wfdb")
CSV_MV_PER_COUNT = 0.001            # 1 µV: finer than any ECG front end
CHUNK_ROWS = 1 << 20                # rows a numeric step works on at once (8 MB of float64)
CHUNK_BYTES = 4 << 20               # text numpy parses at once


@dataclass
class Imported:
    """One recording read from a foreign file (CSV, EDF/BDF, WFDB) in integer counts with its explicit scale:
    what ``write_capture`` turns into a capture that replays like a recorded one."""

    counts: np.ndarray                      # int32 (n,)
    rate_hz: float
    mv_per_count: float
    start_time: float
    labels: list[tuple[float, str]] = field(default_factory=list)   # (seconds from start, label)
    device: str = ""
    note: str = ""                          # how the rate was found, when it was estimated


def rate_from_times(t: np.ndarray, path: str) -> tuple[float, str]:
    """The sampling rate of a time column, fitted over the whole span (times rounded to milliseconds give
    256 Hz, not the 250 Hz a median of differences says), and a sentence saying so.  Refused when the
    times go backwards or stray from one steady rate by more than half a sample (or the 1 ms a rounded
    clock may): a gap, a rate change or a jittery host clock, where any single rate would misplace samples."""
    if not np.isfinite(t).all():
        raise SourceError(f"{path}: its first column is not increasing time in seconds "
                          f"(row {int(np.argmax(~np.isfinite(t))) + 1})")
    for i in range(0, t.size - 1, CHUNK_ROWS):            # in slices: a few MB of temporaries, whatever the length
        dt = np.diff(t[i:i + CHUNK_ROWS + 1])
        if not (dt > 0).all():
            raise SourceError(f"{path}: its first column is not increasing time in seconds "
                              f"(row {i + int(np.argmax(~(dt > 0))) + 2})")
    centre = (t.size - 1) / 2.0                             # centred: a least-squares line in O(n)
    mean = float(t.mean())
    num = den = 0.0
    for i in range(0, t.size, CHUNK_ROWS):
        n = np.arange(i, min(i + CHUNK_ROWS, t.size), dtype=np.float64) - centre
        num += float(n @ (t[i:i + CHUNK_ROWS] - mean))
        den += float(n @ n)
    slope = num / den
    rate = 1.0 / slope
    worst, worst_off = 0, -1.0
    for i in range(0, t.size, CHUNK_ROWS):
        n = np.arange(i, min(i + CHUNK_ROWS, t.size), dtype=np.float64) - centre
        off = np.abs(t[i:i + CHUNK_ROWS] - mean - slope * n)
        k = int(np.argmax(off))
        if off[k] > worst_off:
            worst, worst_off = i + k, float(off[k])
    tolerance = max(0.5 / rate, 0.001) + 1e-9
    if worst_off > tolerance:
        raise SourceError(f"{path}: the times stray from a steady {rate:.3f} Hz by {worst_off * 1e3:.1f} ms at "
                          f"data row {worst + 1} (a gap, a rate change or a jittery clock): split the file there, "
                          "or give --rate HZ to take the rows as evenly spaced")
    rate = round(rate, 3)
    return rate, (f"rate {rate:g} Hz fitted to the time column over {t[-1] - t[0]:.1f} s "
                  f"(every time within {worst_off * 1e3:.2f} ms of it)")


def detect_format(path: str) -> str:
    """The import format from the file name (csv, edf, bdf, wfdb); a name that says nothing is refused in one
    line rather than guessed."""
    p = Path(path)
    if p.suffix.lower() in (".csv", ".txt", ".gz"):
        return "csv"
    if p.suffix.lower() in (".edf", ".bdf"):
        return p.suffix.lower()[1:]
    if p.suffix.lower() in (".hea", ".dat") or p.with_suffix(".hea").exists():
        return "wfdb"
    raise SourceError(f"{path}: cannot tell its format from the name (use --format {'|'.join(FORMATS)})")


def _to_counts(mv: np.ndarray, mv_per_count: float, what: str) -> np.ndarray:
    """Millivolts -> int32 counts at ``mv_per_count``, slice by slice (no full-length float temporaries)."""
    out = np.empty(mv.shape[0], np.int32)
    for i in range(0, mv.shape[0], CHUNK_ROWS):
        c = np.round(np.asarray(mv[i:i + CHUNK_ROWS], dtype=np.float64) / mv_per_count)
        if not np.isfinite(c).all():
            raise SourceError(f"{what}: holds values that are not numbers")
        if c.size and (c.max() > INT24_MAX or c.min() < INT24_MIN):
            raise SourceError(f"{what}: values exceed 24 bits at {mv_per_count:g} mV per count (give --mv-per-count)")
        out[i:i + CHUNK_ROWS] = c
    return out


def read_csv(path: str, rate_hz: float | None, mv_per_count: float | None, column: int | None) -> Imported:
    """One column of values (``--rate`` needed), or time,value (rate from the times); a header line and
    ``#`` comments are skipped.  Values are millivolts.  Bounded whatever the file: at most 64 MiB of text
    (a gzip is never decompressed further), its lines counted before anything is parsed, and numpy's
    parser (no Python object per value): under 300 MB at the limit."""
    raw = read_bytes(path)
    lines = raw.count(b"\n")                                 # counted once: the limit, and the columns' size
    if lines > MAX_SAMPLES + 1000:
        raise SourceError(f"{path}: more than {MAX_SAMPLES} samples")
    if b";" in raw:
        raw = raw.replace(b";", b",")
    skip = 0                                                  # lines before the first row of numbers
    for skip, line in enumerate(raw[:65536].splitlines()):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        try:
            [float(v) for v in line.split(b",")]
        except ValueError:
            skip += 1                                         # the header line
        break
    mv = mv_per_count or CSV_MV_PER_COUNT
    rows = _parse_rows(raw, skip, lines - skip + 1, path, column, mv)
    del raw
    if rows.counts.shape[0] < 2:
        raise SourceError(f"{path}: needs at least two rows of the same number of columns")
    if rows.columns == 1:
        if not rate_hz:
            raise SourceError(f"{path}: one column of values: give its sampling rate (--rate HZ)")
        return Imported(rows.counts, float(rate_hz), mv, os.path.getmtime(path))
    note = ""
    if not rate_hz:
        rate_hz, note = rate_from_times(rows.times, path)
    return Imported(rows.counts, float(rate_hz), mv, os.path.getmtime(path), note=note)


def _bad_line(raw: bytes, start: int, end: int, path: str, columns: int) -> str:
    """Why numpy refused the slice ``raw[start:end]``, said by the file's own line number (searched only
    when parsing failed)."""
    first = raw.count(b"\n", 0, start) + 1
    for k, line in enumerate(raw[start:end].splitlines()):
        text = line.split(b"#", 1)[0].strip()
        if not text:
            continue
        cells = text.split(b",")
        try:
            [float(c) for c in cells]
        except ValueError:
            return f"{path}: line {first + k} is not numbers: {line[:40].decode(errors='replace')!r}"
        if columns and len(cells) != columns:
            return f"{path}: line {first + k} has {len(cells)} columns, the rows before it {columns}"
        columns = len(cells)
    return f"{path}: rows must be numbers, all with the same columns"


@dataclass
class _Rows:
    counts: np.ndarray                       # the value column in int32 counts
    times: np.ndarray | None                 # the first column when there are several
    columns: int


def _parse_rows(raw: bytes, skip: int, upper: int, path: str, column: int | None, mv_per_count: float) -> _Rows:
    """The CSV's numbers, parsed by numpy a few MB of text at a time into preallocated columns (the values
    straight to counts; ``upper`` rows at most): at the 64 MiB limit the text, the times and the counts are
    all that is ever held, never a full table of floats."""
    import io
    import warnings

    pos = 0
    for _ in range(skip):
        pos = raw.find(b"\n", pos) + 1 or len(raw)
    values = times = None
    columns = col = 0
    n = 0
    while pos < len(raw):
        end = raw.find(b"\n", min(pos + CHUNK_BYTES, len(raw)))
        end = len(raw) if end < 0 else end + 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")               # "input contained no data": said below
                a = np.loadtxt(io.BytesIO(raw[pos:end]), delimiter=",", comments="#", ndmin=2, dtype=np.float64)
        except ValueError:
            raise SourceError(_bad_line(raw, pos, end, path, columns)) from None
        pos = end
        if a.size == 0:
            continue
        if values is None:
            columns = a.shape[1]
            col = column if column is not None else columns - 1
            if columns > 1 and not 1 <= col < columns:
                raise SourceError(f"{path}: no value column {col} (the first column is time)")
            values = np.empty(upper, np.int32)
            times = np.empty(upper, np.float64) if columns > 1 else None
        elif a.shape[1] != columns:
            raise SourceError(f"{path}: rows of {columns} and of {a.shape[1]} columns (all rows need the same)")
        m = a.shape[0]
        if n + m > MAX_SAMPLES:
            raise SourceError(f"{path}: more than {MAX_SAMPLES} samples")
        values[n:n + m] = _to_counts(a[:, col if columns > 1 else 0], mv_per_count, path)
        if times is not None:
            times[n:n + m] = a[:, 0]
        n += m
    if values is None:
        return _Rows(np.empty(0, np.int32), None, 1)
    return _Rows(values[:n], None if times is None else times[:n], columns)


def read_edf(path: str, channel: int | None) -> Imported:
    """EDF/EDF+/BDF/BDF+: one signal's digital values as counts, its gain as the scale; annotations
    that name an activity become labels."""
    try:
        import pyedflib
    except ModuleNotFoundError:
        raise SourceError("EDF/BDF import needs pyedflib: pip install 'ecg-activity[import]'") from None
    try:
        with pyedflib.EdfReader(str(path)) as f:
            names = f.getSignalLabels()
            ch = channel if channel is not None else next(
                (i for i, n in enumerate(names) if "ecg" in n.lower()), 0)
            if not 0 <= ch < len(names):
                raise SourceError(f"{path}: no signal {ch} (it has {len(names)}: {', '.join(names)})")
            rate = f.getSampleFrequency(ch)
            if f.getNSamples()[ch] > MAX_SAMPLES:
                raise SourceError(f"{path}: more than {MAX_SAMPLES} samples")
            digital = f.readSignal(ch, digital=True).astype(np.int64)
            pmin, pmax = f.getPhysicalMinimum(ch), f.getPhysicalMaximum(ch)
            dmin, dmax = f.getDigitalMinimum(ch), f.getDigitalMaximum(ch)
            unit = f.getPhysicalDimension(ch).strip().lower()
            start = f.getStartdatetime().timestamp()
            onsets, _, texts = f.readAnnotations()
    except OSError as e:
        raise SourceError(f"cannot read {path} as EDF/BDF ({e})") from None
    gain = (pmax - pmin) / (dmax - dmin) if dmax != dmin else 1.0
    to_mv = {"uv": 1e-3, "µv": 1e-3, "v": 1e3}.get(unit, 1.0)
    offset = pmin - gain * dmin                      # physical = gain * digital + offset
    counts = digital + int(round(offset / gain)) if gain else digital
    labels = [(float(t), str(x)) for t, x in zip(onsets, texts)]
    _checked_scale(counts, abs(gain) * to_mv, float(rate), path)
    return Imported(counts.astype(np.int32), float(rate), abs(gain) * to_mv, start, labels,
                    device=f"{Path(path).name} signal {names[ch]}")


def read_wfdb(path: str, channel: int | None) -> Imported:
    """A WFDB record (``NAME.hea`` + its signal file): ADC units as counts, the gain as the scale;
    annotations (``NAME.atr`` etc. are not read) are left to ``--label``."""
    try:
        import wfdb
    except ModuleNotFoundError:
        raise SourceError("WFDB import needs wfdb: pip install 'ecg-activity[import]'") from None
    rec_path = str(Path(path).with_suffix(""))
    try:
        header = wfdb.rdheader(rec_path)
        length = header.sig_len or _wfdb_length_from_files(header, Path(rec_path).parent)
        if length > MAX_SAMPLES:
            raise SourceError(f"{path}: more than {MAX_SAMPLES} samples")
        r = wfdb.rdrecord(rec_path, physical=False)
    except SourceError:
        raise
    except Exception as e:                       # wfdb raises many kinds for damaged records
        raise SourceError(f"cannot read WFDB record {rec_path} ({str(e).splitlines()[0] if str(e) else e})") from None
    names = [n.lower() for n in r.sig_name]
    ch = channel if channel is not None else next((i for i, n in enumerate(names) if "ecg" in n or n in
                                                   ("i", "ii", "iii", "v1", "v2", "mlii")), 0)
    if not 0 <= ch < r.n_sig:
        raise SourceError(f"{path}: no signal {ch} (it has {r.n_sig})")
    adc = r.d_signal[:, ch].astype(np.int64) - int(r.baseline[ch])
    unit = (r.units[ch] or "mV").lower()
    to_mv = {"uv": 1e-3, "v": 1e3}.get(unit, 1.0)
    start = r.base_datetime.timestamp() if r.base_datetime else os.path.getmtime(rec_path + ".hea")
    gain = float(r.adc_gain[ch])
    _checked_scale(adc, to_mv / gain if gain else math.inf, float(r.fs), path)
    return Imported(adc.astype(np.int32), float(r.fs), to_mv / gain, start,
                    device=f"{Path(rec_path).name} signal {r.sig_name[ch]}")


#: bytes per sample of WFDB's signal formats (the fewest, so a length estimate is never too small)
WFDB_BYTES = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3,
              "311": 4 / 3}


def _wfdb_length_from_files(header, folder: Path) -> int:
    """A header that states no length lets the signal file's size decide it: estimated from that size
    before anything is read (a sparse 200 MB file would otherwise be read whole)."""
    longest = 0
    for name in set(header.file_name or []):
        fmts = [f for f, n in zip(header.fmt, header.file_name) if n == name]
        per_frame = sum(WFDB_BYTES.get(str(f), 1) for f in fmts) or 1
        try:
            size = (folder / name).stat().st_size
        except OSError:
            continue
        longest = max(longest, int(size / per_frame))
    return longest


def _checked_scale(counts: np.ndarray, mv_per_count: float, rate_hz: float, path: str) -> None:
    """What a file claims about its numbers, checked before a capture is made of them: a scale that can
    hold an ECG, a rate a sensor could have, counts within 24 bits."""
    if not math.isfinite(mv_per_count) or not 0 < mv_per_count <= 100.0:
        raise SourceError(f"{path}: one count would be {mv_per_count:g} mV: not a scale an ECG is recorded at "
                          "(check its physical range or gain)")
    if not math.isfinite(rate_hz) or not 1.0 <= rate_hz <= 100_000:
        raise SourceError(f"{path}: a rate of {rate_hz:g} Hz is not plausible")
    if counts.size and (counts.max() > INT24_MAX or counts.min() < INT24_MIN):
        raise SourceError(f"{path}: values beyond 24 bits (a baseline or offset far off the signal?)")


def read_any(path: str, fmt: str | None = None, rate_hz: float | None = None, mv_per_count: float | None = None,
             channel: int | None = None) -> Imported:
    """Read ``path`` in its format (``fmt``, or from its name) as counts with their scale, refusing a missing
    file or an unknown format in one line."""
    fmt = fmt or detect_format(path)
    if not Path(path).exists() and not (fmt == "wfdb" and Path(path).with_suffix(".hea").exists()):
        raise SourceError(f"{path} does not exist")
    if fmt == "csv":
        return read_csv(path, rate_hz, mv_per_count, channel)
    if fmt in ("edf", "bdf"):
        return read_edf(path, channel)
    return read_wfdb(path, channel)


def write_capture(rec: Imported, out: str, label: str | None = None, source: str = "",
                  known_labels: tuple[str, ...] = ()) -> int:
    """The recording as a capture of our frame protocol, 25 samples a frame, receive times on its own
    clock; annotations naming a known class (or "activity X") become label events at their time."""
    if rec.counts.size == 0:
        raise SourceError(f"{source}: no samples")
    _checked_scale(rec.counts, rec.mv_per_count, rec.rate_hz, source)
    header = CaptureHeader(protocol="frame", rate_hz=rec.rate_hz, channels=1, mv_per_count=rec.mv_per_count,
                           device=rec.device, label=label, start_time=rec.start_time if math.isfinite(rec.start_time)
                           else 0.0, source=f"import:{source}", extra={"imported_from": Path(source).name})
    if not START_TIME_RANGE[0] <= header.start_time <= START_TIME_RANGE[1]:     # a file's odd clock: its mtime
        header.start_time = os.path.getmtime(source) if os.path.exists(source) else 1.7e9
    try:
        header.validate()
    except ValueError as e:
        raise SourceError(f"{source}: {e}") from None
    events = []
    for t, text in rec.labels:
        name = text.strip().lower().removeprefix("activity ").strip()
        if name in known_labels:
            events.append((t, name))
    per = 25
    frames = iter_frames(rec.counts, per)          # one at a time: a long import never holds them all
    ev_i = 0
    with CaptureWriter(out, header) as w:
        for k, f in enumerate(frames):
            t_rel = (k * per + per) / rec.rate_hz
            while ev_i < len(events) and events[ev_i][0] <= t_rel - per / rec.rate_hz:
                w.write_event(LinkEvent("label", header.start_time + events[ev_i][0], {"label": events[ev_i][1]}))
                ev_i += 1
            w.write_packet(Packet(f, header.start_time + t_rel))
    return int(rec.counts.size)


def import_recording(path: str, out: str, fmt: str | None = None, rate_hz: float | None = None,
                     mv_per_count: float | None = None, channel: int | None = None, label: str | None = None,
                     known_labels: tuple[str, ...] = ()) -> dict:
    """``ecg-activity import``: a foreign recording written as a new capture ``out`` (never over an existing
    file), labels kept; returns the JSON summary the command prints."""
    rec = read_any(path, fmt, rate_hz, mv_per_count, channel)
    if Path(out).exists():
        raise OutputError(f"{out} already exists; captures are never overwritten")
    try:
        n = write_capture(rec, out, label, path, known_labels)
    except BaseException:
        # a derived file: half of one (a full disk, Ctrl-C) is removed, the recording is still there
        Path(out).unlink(missing_ok=True)
        raise
    return {"capture": out, "samples": n, "rate_hz": rec.rate_hz, "mv_per_count": rec.mv_per_count,
            "duration_s": round(n / rec.rate_hz, 3), "labels": len([1 for _ in rec.labels]),
            **({"rate_note": rec.note} if rec.note else {})}
