"""Export a capture to CSV, EDF+ (16-bit) or BDF+ (24-bit) in physical units, gaps marked, never interpolated.

Everything streams: memory stays bounded whatever the capture holds, and the
time axis EDF/BDF needs (gaps laid out as annotated zeros) is refused beyond
``MAX_TIMELINE_S`` instead of writing days of zeros a hostile file asked for
(CSV, which lists only real samples with their true index, has no limit).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .capture_decode import iter_capture
from .errors import OutputError
from .outfile import AtomicOutput

#: the longest time axis an EDF/BDF export lays out (gaps included)
MAX_TIMELINE_S = 48 * 3600.0
FORMATS = ("csv", "edf", "bdf")


@dataclass
class ExportResult:
    """What ``export`` wrote: samples, format, and the damage that ended reading early (the export keeps
    everything before it)."""

    samples: int
    fmt: str
    damage: object = None          # the CaptureError that stopped reading, if any
    note: str = ""                 # what the format could not hold exactly (a rate EDF rounds), in words


def choose_format(output: str, fmt: str | None) -> str:
    """--format, else the extension; a name without a known one gets BDF+ (our streams are 24-bit)."""
    if fmt:
        return fmt
    ext = Path(output).suffix.lower().lstrip(".")
    return ext if ext in FORMATS else "bdf"


def export(capture: str, output: str, fmt: str | None = None, force: bool = False,
           stream: str = "ecg") -> ExportResult:
    """Write a capture's ECG (or its accelerometer/heart-rate stream as CSV) to ``output`` in ``fmt`` (from the
    file name when None).  Written to a temporary file and renamed, so a failed export never leaves half a
    file, and never onto the capture it reads (``force`` overwrites other files only)."""
    fmt = choose_format(output, fmt)
    if stream != "ecg" and fmt != "csv":
        raise OutputError(f"the {stream} stream exports as CSV (-o FILE.csv)")
    with AtomicOutput(output, force, inputs=(capture,)) as tmp:
        if stream != "ecg":
            res = export_aux_csv(capture, tmp, stream)
        else:
            res = export_csv(capture, tmp) if fmt == "csv" else export_edf(capture, tmp, bdf=fmt == "bdf")
    return res


def _clock_note(sensor_clock: bool, origin: float) -> str:
    """What ``time_s`` of a side stream counts from, in words (its first sample; on which clock)."""
    if sensor_clock:
        return (f"time_s: seconds on the sensor's own clock from this stream's first sample, which the sensor "
                f"stamped {origin:.6f} s (Polar: since 2000-01-01 UTC when an app set the unit's clock, else "
                "since it started)")
    return (f"time_s: seconds on this computer's receive clock from this stream's first sample, received "
            f"{datetime.fromtimestamp(origin, timezone.utc):%Y-%m-%dT%H:%M:%SZ}")


def export_aux_csv(capture: str, out: str | Path, stream: str) -> ExportResult:
    """A side stream (accelerometer, magnetometer) as CSV: its own sample index, seconds from its first
    sample on the sensor's clock where it gives one (else the host's receive clock), where that first
    sample lies on that clock said in the first line, and the axes in the stream's unit."""
    from .capture import CaptureReader
    from .protocols import get_protocol
    from .stream import stream_blocks

    reader = CaptureReader(capture)
    p = get_protocol(reader.header.protocol)
    dec = p.make_decoder(reader.header.rate_hz, reader.header.mv_per_count, reader.header.channels)
    n = 0
    unit = None
    damage = None

    def items_iter():
        nonlocal damage
        try:
            yield from reader.items()
        except Exception as e:          # CaptureError: everything before it is exported
            damage = e
    origin = None
    with open(out, "w") as f:
        for _ in stream_blocks(items_iter(), dec):
            for a in dec.take_aux():
                if a.stream != stream:
                    continue
                if a.sensor_time_ns is not None:
                    t = (a.sensor_time_ns - (a.n - 1 - np.arange(a.n)) * 1e9 / a.rate_hz) / 1e9
                else:
                    t = a.t_host - (a.n - 1 - np.arange(a.n)) / a.rate_hz
                if unit is None:
                    unit, origin = a.unit, float(t[0])
                    f.write(f"# ecg-activity export: stream={stream} protocol={reader.header.protocol}; "
                            + _clock_note(a.sensor_time_ns is not None, origin) + "\n")
                    f.write(",".join(["index", "time_s"] + [f"{ax}_{a.unit}" for ax in "xyz"[:a.samples.shape[1]]]) + "\n")
                t = t - origin
                idx = np.arange(n, n + a.n)
                np.savetxt(f, np.column_stack([idx, t, a.samples]), fmt=["%d", "%.6f"] + ["%d"] * a.samples.shape[1],
                           delimiter=",")
                n += a.n
        if unit is None:
            raise OutputError(f"{capture} holds no {stream} stream")
        f.flush()
        os.fsync(f.fileno())
    reader.close()
    return ExportResult(n, "csv", damage)


def export_csv(capture: str, out: str | Path) -> ExportResult:
    """One row per received sample; ``index`` is the true stream position, so gaps show as jumps."""
    tally, blocks = iter_capture(capture)
    h = tally.header
    unit = "mv" if h.mv_per_count > 0 else "count"
    n = 0
    with open(out, "w") as f:
        f.write(f"# ecg-activity export: protocol={h.protocol} rate_hz={h.rate_hz} mv_per_count={h.mv_per_count}"
                f" label={h.label or ''}\n")
        header_written = False
        for b in blocks:
            if not header_written:
                f.write(",".join(["index", "time_s"] + [f"ch{i}_{unit}" for i in range(b.channels)]) + "\n")
                header_written = True
            idx = np.arange(b.first_index, b.first_index + b.n)
            vals = b.samples * h.mv_per_count if h.mv_per_count > 0 else b.samples
            fmt = ["%d", "%.6f"] + (["%.6f"] if unit == "mv" else ["%d"]) * b.channels
            np.savetxt(f, np.column_stack([idx, idx / h.rate_hz, vals]), fmt=fmt, delimiter=",")
            n += b.n
        if not header_written:
            f.write(",".join(["index", "time_s"] + [f"ch{i}_{unit}" for i in range(h.channels)]) + "\n")
        f.write(f"# lost_samples={tally.stats.lost_samples}\n")
        for at, text in session_events(tally):       # labels, markers, pauses: where they happened
            f.write(f"# event index={at} time_s={at / h.rate_hz:.6f} {text}\n")
        f.flush()
        os.fsync(f.fileno())
    return ExportResult(n, "csv", tally.error)


def _survey(capture: str):
    """First pass: the time axis, the channel count, each channel's count range and the gaps."""
    tally, blocks = iter_capture(capture)
    lo = hi = None
    gaps: list[tuple[int, int]] = []
    end = 0
    for b in blocks:
        if b.first_index > end:
            gaps.append((end, b.first_index - end))
        end = b.first_index + b.n
        mn, mx = b.samples.min(axis=0), b.samples.max(axis=0)
        if lo is None or mn.size != lo.size:
            lo, hi = (mn, mx) if lo is None else (np.minimum(lo[:1], mn[:1]), np.maximum(hi[:1], mx[:1]))
        else:
            lo, hi = np.minimum(lo, mn), np.maximum(hi, mx)
        if end > MAX_TIMELINE_S * tally.header.rate_hz:
            raise OutputError(f"{capture}: its time axis (gaps included) exceeds {MAX_TIMELINE_S / 3600:g} h; "
                              "EDF/BDF must lay it out continuously: export CSV instead")
    return tally, lo, hi, gaps


def export_edf(capture: str, out: str | Path, bdf: bool = False) -> ExportResult:
    """EDF+ (16-bit, scaled to the signal's range) or BDF+ (24-bit: the counts exactly), gaps zero-filled
    and each one annotated, so no reader mistakes them for signal."""
    try:
        import pyedflib
    except ModuleNotFoundError:
        raise OutputError("EDF/BDF export needs pyedflib: pip install 'ecg-activity[export]' "
                          "(or export CSV: -o FILE.csv)") from None

    tally, lo, hi, gaps = _survey(capture)
    h = tally.header
    if lo is None:
        raise OutputError(f"{capture} holds no samples to export")
    n_ch = lo.size
    scale = h.mv_per_count if h.mv_per_count > 0 else 1.0
    unit = "mV" if h.mv_per_count > 0 else "count"
    writer = pyedflib.EdfWriter(str(out), n_ch, file_type=pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for i in range(n_ch):
            if bdf:
                # digital = the counts exactly, over the signal's own range (zero-filled gaps included):
                # physical limits of a few mV fit EDF's 8 characters to 1e-4 or better, where the whole
                # 24-bit range (±67584 mV) rounded them to whole millivolts and shifted every value ½ LSB
                dmin, dmax = min(int(lo[i]), 0), max(int(hi[i]), 0)
                if dmax == dmin:
                    dmax += 1
                pmin, pmax = _nearest8(dmin * scale), _nearest8(dmax * scale)
            else:
                dmin, dmax = -32768, 32767
                pmin, pmax = _edf_bounds(float(lo[i]) * scale, float(hi[i]) * scale)
            headers.append({"label": f"ECG{i}", "dimension": unit, "sample_frequency": h.rate_hz,
                            "physical_min": pmin, "physical_max": pmax, "digital_min": dmin,
                            "digital_max": dmax, "transducer": h.device[:80], "prefilter": ""})
        duration, spr = record_layout(h.rate_hz, (3 if bdf else 2) * n_ch)
        writer.setSignalHeaders(headers)
        if duration != 1.0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # "might alter calculated sample frequencies": chosen so
                writer.setDatarecordDuration(duration)
        writer.setStartdatetime(datetime.fromtimestamp(h.start_time, timezone.utc).replace(tzinfo=None,
                                                                                            microsecond=0))
        if h.label:
            writer.writeAnnotation(0, -1, f"activity {h.label}")
        paused = _paused_spans(tally)
        for a, n in gaps:
            what = "paused, not recorded" if any(p0 <= a <= p1 for p0, p1 in paused) else "samples lost"
            writer.writeAnnotation(a / h.rate_hz, n / h.rate_hz, f"gap {n} {what}")
        for at, text in session_events(tally):
            writer.writeAnnotation(at / h.rate_hz, -1, text)
        total = tally.total_samples
        pad = -total % spr
        if pad:                                      # the last record is filled up: say so, it is no signal
            writer.writeAnnotation(total / h.rate_hz, pad / h.rate_hz, f"end: {pad} samples of padding")
        total = _write_streamed(writer, capture, n_ch, scale, bdf, headers)
    finally:
        writer.close()
    _verify(out, total, n_ch)
    stored = spr / duration
    note = "" if stored == h.rate_hz else (
        f"{h.rate_hz:g} Hz cannot be written exactly in EDF: stored as {stored:.6f} Hz "
        f"({spr} samples per {duration:g} s record, off by {abs(stored - h.rate_hz) / h.rate_hz * 1e6:.1f} ppm)")
    return ExportResult(total, "bdf" if bdf else "edf", tally.error, note)


def record_layout(rate_hz: float, bytes_per_sample_all_channels: int) -> tuple[float, int]:
    """EDF's data record (duration in s, samples per record) whose rate is nearest ``rate_hz``: an integer
    count of samples per record, a duration of 0.001-60 s in EDF's 8 characters, a record within the
    61440 bytes the standard recommends.  A whole rate keeps 1 s records; 256.016 Hz gets 11905 samples
    per 46.501 s (256.0159997 Hz, 0.0013 ppm off), where pyedflib's own choice made it 256.08."""
    if float(rate_hz).is_integer() and rate_hz * bytes_per_sample_all_channels <= 61440:
        return 1.0, int(rate_hz)
    d = np.arange(1, 60001) / 1000.0                  # every duration EDF can state to the millisecond
    spr = np.round(rate_hz * d)
    ok = (spr >= 1) & (spr * bytes_per_sample_all_channels <= 61440)
    if not ok.any():
        raise OutputError(f"a rate of {rate_hz:g} Hz does not fit an EDF data record")
    err = np.where(ok, np.abs(spr / d - rate_hz), np.inf)
    k = int(np.argmin(err))                           # the first (shortest record) among equals
    return float(d[k]), int(spr[k])


def _write_streamed(writer, capture: str, n_ch: int, scale: float, bdf: bool, headers) -> int:
    """Second pass: samples (gaps as zeros) in whole data records, a bounded buffer at a time."""
    spr = int(writer.get_smp_per_record(0))
    chunk_records = max(1, 65536 // max(1, spr))
    buf = np.zeros((0, n_ch), dtype=np.int64)
    pos = 0
    _, blocks = iter_capture(capture)

    def flush(final: bool) -> None:
        nonlocal buf
        n = buf.shape[0] if final else (buf.shape[0] // (spr * chunk_records)) * spr * chunk_records
        if n == 0:
            return
        part, buf = buf[:n], buf[n:]
        if bdf:
            writer.writeSamples([np.ascontiguousarray(part[:, i], dtype=np.int32) for i in range(n_ch)], digital=True)
        else:
            writer.writeSamples([np.ascontiguousarray(part[:, i] * scale, dtype=np.float64) for i in range(n_ch)])

    for b in blocks:
        fill = b.first_index - pos
        while fill > 0:                          # a gap: zeros, a bounded piece at a time
            k = min(fill, spr * chunk_records)
            buf = np.concatenate([buf, np.zeros((k, n_ch), np.int64)])
            fill -= k
            flush(False)
        s = np.zeros((b.n, n_ch), np.int64)
        s[:, :min(n_ch, b.channels)] = b.samples[:, :n_ch]
        buf = np.concatenate([buf, s])
        pos = b.first_index + b.n
        flush(False)
    flush(True)
    return pos


def _verify(path, total: int, n_ch: int) -> None:
    """Read the file back: a disk that filled up while edflib wrote it shows here, not in edflib's return codes."""
    import pyedflib

    try:
        with pyedflib.EdfReader(str(path)) as f:
            ok = f.signals_in_file == n_ch and all(f.getNSamples()[i] >= total for i in range(n_ch))
    except OSError as e:
        raise OutputError(f"the written file does not read back ({e})") from None
    if not ok:
        raise OutputError("the written file does not hold every sample (disk full?)")


def _nearest8(v: float) -> float:
    """The number nearest ``v`` that EDF's 8-character physical fields can hold."""
    for decimals in range(7, -1, -1):
        text = f"{v:.{decimals}f}"
        if len(text) <= 8:
            return float(text)
    raise OutputError("signal range too large for EDF")


def _paused_spans(tally) -> list[tuple[int, int]]:
    """Stream positions where the recording was paused (pause ... resume): a gap there is not loss."""
    spans, start = [], None
    for ev, at in zip(tally.events, tally.event_index):
        if ev.kind == "pause" and start is None:
            start = at
        elif ev.kind == "resume" and start is not None:
            spans.append((start, at))
            start = None
    if start is not None:
        spans.append((start, tally.total_samples))
    return spans


def session_events(tally) -> list[tuple[int, str]]:
    """What happened during the session, at its stream position: labels set, markers, pauses and
    resumes (what a reader of the export needs to score or cut it)."""
    out = []
    for ev, at in zip(tally.events, tally.event_index):
        d = ev.detail if isinstance(ev.detail, dict) else {}
        if ev.kind == "label":
            out.append((at, f"activity {d.get('label') or 'none'}"))
        elif ev.kind == "marker":
            out.append((at, f"marker {d.get('n', '')}".strip()))
        elif ev.kind in ("pause", "resume"):
            out.append((at, f"recording {ev.kind}d"))
    return out


def _edf_bounds(lo: float, hi: float) -> tuple[float, float]:
    """Physical limits rounded outwards to what EDF's 8-character fields can hold exactly."""
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    for decimals in range(4, -1, -1):
        q = 10.0 ** decimals
        a, b = np.floor(lo * q) / q, np.ceil(hi * q) / q
        if len(f"{a:.{decimals}f}") <= 8 and len(f"{b:.{decimals}f}") <= 8:
            return float(f"{a:.{decimals}f}"), float(f"{b:.{decimals}f}")
    raise OutputError("signal range too large for EDF")
