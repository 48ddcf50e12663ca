"""Export a capture to CSV or EDF+ in physical units (mV), gaps marked, never interpolated."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from .capture_decode import DecodedCapture


def export_csv(cap: DecodedCapture, out: str | Path) -> int:
    """One row per received sample; ``index`` is the true stream position, so gaps show as jumps."""
    h = cap.header
    unit = "mv" if h.mv_per_count > 0 else "count"
    rows = []
    for b in cap.blocks:
        idx = np.arange(b.first_index, b.first_index + b.n)
        vals = b.samples * h.mv_per_count if h.mv_per_count > 0 else b.samples
        rows.append(np.column_stack([idx, idx / h.rate_hz, vals]))
    ch = max((b.channels for b in cap.blocks), default=h.channels)
    cols = ["index", "time_s"] + [f"ch{i}_{unit}" for i in range(ch)]
    data = np.concatenate(rows) if rows else np.empty((0, len(cols)))
    with open(out, "w") as f:
        f.write(f"# ecg-activity export: protocol={h.protocol} rate_hz={h.rate_hz} mv_per_count={h.mv_per_count}"
                f" label={h.label or ''} lost_samples={cap.stats.lost_samples}\n")
        f.write(",".join(cols) + "\n")
        fmt = ["%d", "%.6f"] + (["%.6f"] if unit == "mv" else ["%d"]) * ch
        np.savetxt(f, data, fmt=fmt, delimiter=",")
    return data.shape[0]


def export_edf(cap: DecodedCapture, out: str | Path) -> int:
    """EDF+ with gaps zero-filled and each one annotated, so no reader mistakes them for signal."""
    import pyedflib

    h = cap.header
    counts, mask = cap.contiguous()
    if counts.shape[0] == 0:
        raise ValueError("the capture holds no samples to export")
    scale = h.mv_per_count if h.mv_per_count > 0 else 1.0
    unit = "mV" if h.mv_per_count > 0 else "count"
    phys = counts.astype(np.float64) * scale
    n_ch = phys.shape[1]
    writer = pyedflib.EdfWriter(str(out), n_ch, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for i in range(n_ch):
            lo, hi = _edf_bounds(float(phys[:, i].min()), float(phys[:, i].max()))
            headers.append({"label": f"ECG{i}", "dimension": unit, "sample_frequency": h.rate_hz,
                            "physical_min": lo, "physical_max": hi, "digital_min": -32768,
                            "digital_max": 32767, "transducer": h.device[:80], "prefilter": ""})
        writer.setSignalHeaders(headers)
        writer.setStartdatetime(datetime.fromtimestamp(h.start_time).replace(microsecond=0))
        if h.label:
            writer.writeAnnotation(0, -1, f"activity {h.label}")
        edges = np.flatnonzero(np.diff(np.concatenate(([1], mask.astype(np.int8), [1]))))
        for a, b in zip(edges[0::2], edges[1::2]):
            writer.writeAnnotation(a / h.rate_hz, (b - a) / h.rate_hz, f"gap {b - a} samples lost")
        writer.writeSamples([np.ascontiguousarray(phys[:, i]) for i in range(n_ch)])
    finally:
        writer.close()
    return counts.shape[0]


def _edf_bounds(lo: float, hi: float) -> tuple[float, float]:
    """Physical limits rounded outwards to what EDF's 8-character fields can hold exactly."""
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    for decimals in range(4, -1, -1):
        q = 10.0 ** decimals
        a, b = np.floor(lo * q) / q, np.ceil(hi * q) / q
        if len(f"{a:.{decimals}f}") <= 8 and len(f"{b:.{decimals}f}") <= 8:
            return float(f"{a:.{decimals}f}"), float(f"{b:.{decimals}f}")
    raise ValueError("signal range too large for EDF")
