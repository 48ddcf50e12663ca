"""The live terminal view (rich): a readable ECG, heart rate and variability, signal quality with its
reason, the activity with probability bars, labels and markers, stream health and the recording.

``render`` is a pure function of a DisplayState, so it is tested through
rich's own recording console as well as in a real terminal under tmux.  The
ECG is band-passed for the eye only (0.5-40 Hz: baseline wander gone, QRS
spikes sharp) and drawn as a line in braille dots on a fixed millivolt scale
that steps up or down (0.5, 1, 2, 5 ... mV) with the signal, so electrode
contact can be judged at a glance.
"""

from __future__ import annotations

import io

import time
from dataclasses import dataclass, field

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..bridge.blocks import DecodeStats

from .filters import bandpass_fir, zero_phase_fir
from .pipeline import WindowResult

BARS = " ▁▂▃▄▅▆▇█"
SCALES_MV = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
GOOD, FAIR = 0.8, 0.5                 # quality thresholds: green at or above GOOD, yellow above FAIR, red below


@dataclass
class DisplayState:
    """Everything the live view shows, updated by the session and rendered a few times a second."""

    labels: tuple[str, ...]
    source: str
    model: str
    backend: str
    trace: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trace_rate_hz: float = 250.0
    trace_unit: str = "mV"
    last: WindowResult | None = None
    stats: DecodeStats = field(default_factory=DecodeStats)
    latency_ms: float | None = None
    recording: str | None = None
    recorded_bytes: int = 0
    paused: bool = False
    started: float = field(default_factory=time.time)
    stream_s: float = 0.0            # signal received so far (for the countdown to the first decision)
    window_s: float = 0.0
    windows: int = 0
    flagged: int = 0
    label: str | None = None         # the activity label in force (--label or a key press)
    markers: int = 0
    status: str = "waiting for data"
    banner: str = ""                 # an instruction for the wearer (guided calibration: "walk now: 1:40 left")
    keys: bool = False               # the keyboard works: show the hints
    battery: int | None = None       # the sensor's battery (%), when it says
    contact: bool | None = None      # skin contact, when the sensor says
    motion_g: float | None = None    # accelerometer: how much the chest moves (g, rms over 4 s)
    outage: str = ""                 # data is missing now: what the wearer reads ("no data for 12 s: ...")
    recording_stopped: str = ""      # why the recording stopped mid-session (a full disk)


def display_filter(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """0.5-40 Hz band-pass (zero-phase) for the eye: no baseline wander, sharp QRS.  A 4 s linear-phase
    FIR (numpy; the live view then needs no scipy.signal, whose import would stall the first frame)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 30 or not np.isfinite(x).all():
        return np.zeros(0)
    return zero_phase_fir(x - x.mean(), bandpass_fir(float(rate_hz), 0.5, 40.0, 4.0))


def scale_for(x: np.ndarray) -> float:
    """The smallest fixed half-range that holds 99.5 % of the samples."""
    if x.size == 0:
        return SCALES_MV[3]
    a = float(np.percentile(np.abs(x), 99.5))
    return next((s for s in SCALES_MV if a <= s), SCALES_MV[-1])


def trace_lines(x: np.ndarray, width: int, height: int = 5, half_range: float = 1.0) -> list[str]:
    """A line plot in braille dots (2 x 4 per character): each dot column spans the min..max of its
    samples and joins the previous column, so narrow QRS spikes are never lost."""
    cols = 2 * max(1, width)
    rows = 4 * height
    grid = np.zeros((rows, cols), dtype=bool)
    if x.size >= 2:
        chunks = np.array_split(x[-cols * max(1, x.size // cols):], cols)
        lo = np.array([c.min() if c.size else np.nan for c in chunks])
        hi = np.array([c.max() if c.size else np.nan for c in chunks])

        def row(v):
            return np.clip(np.round((half_range - v) / (2 * half_range) * (rows - 1)), 0, rows - 1)
        r_hi, r_lo = row(hi), row(lo)
        prev = None
        for c in range(cols):
            if not np.isfinite(r_hi[c]):
                prev = None
                continue
            a, b = int(r_hi[c]), int(r_lo[c])
            if prev is not None:
                a, b = min(a, prev), max(b, prev)
            grid[a:b + 1, c] = True
            prev = int(round((r_hi[c] + r_lo[c]) / 2))
    bits = ((0, 0x01), (1, 0x02), (2, 0x04), (3, 0x40))
    out = []
    for r0 in range(0, rows, 4):
        line = []
        for c0 in range(0, cols, 2):
            code = 0
            for dy, bit in bits:
                code |= bit if grid[r0 + dy, c0] else 0
                code |= (bit << 3 if dy < 3 else 0x80) if grid[r0 + dy, c0 + 1] else 0
            line.append(chr(0x2800 + code))
        out.append("".join(line))
    return out


def trace_rows(x: np.ndarray, width: int, height: int = 4) -> list[str]:
    """A filled trace of column maxima (kept for narrow terminals and tests of QRS visibility)."""
    if x.size < 2 or width < 1:
        return [" " * max(width, 0)] * height
    cols = np.array_split(x[-width * max(1, x.size // width):], width)
    hi = np.array([c.max() if c.size else np.nan for c in cols])
    lo_all, hi_all = np.nanpercentile(x, 1), np.nanpercentile(x, 99.5)
    span = hi_all - lo_all if hi_all > lo_all else 1.0
    steps = height * (len(BARS) - 1)
    level = np.clip((hi - lo_all) / span * steps, 0, steps)
    rows = []
    for r in range(height - 1, -1, -1):
        fill = np.clip(level - r * (len(BARS) - 1), 0, len(BARS) - 1)
        rows.append("".join(BARS[int(v)] if np.isfinite(v) else " " for v in fill))
    return rows


def quality_text(r: WindowResult | None) -> Text:
    """The quality gauge: a bar coloured by threshold, and the reason when it is poor."""
    if r is None:
        return Text("quality --", style="dim")
    q = max(0.0, min(1.0, r.quality))
    style = "green" if q >= GOOD else "yellow" if q > FAIR else "red"
    filled = int(round(q * 10))
    t = Text("quality ", style="dim")
    t.append("■" * filled + "□" * (10 - filled), style=style)
    t.append(f" {q:.2f}", style=style)
    reason = r.quality_reason or (", ".join(r.flags) if r.flags else "")
    if q < GOOD and reason:
        t.append(f"  {reason}", style=style)
    return t


def _clock(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render(s: DisplayState, width: int = 80, height: int | None = None):
    """The live view for a terminal ``width`` wide (and ``height`` high: on a small terminal, an 80×24
    console over SSH, the ECG trace shrinks or goes first so the decision, the recording and the keys
    stay on screen), as a ``rich`` renderable."""
    inner = max(10, width - 4)
    r = s.last
    head = Table.grid(expand=True)
    head.add_column()
    head.add_column(justify="right")
    hr = "--" if r is None or r.hr_bpm is None else f"{r.hr_bpm:.0f}"
    hrv = ""
    if r is not None and r.rr_ms:
        hrv = f"  RR {r.rr_ms[-1]} ms"
        if r.rmssd_ms is not None:
            hrv += f"  RMSSD {r.rmssd_ms:.0f} ms"
    stale = bool(s.outage)           # the last decision and heart rate are from before the data stopped
    head.add_row(Text(f"♥ {hr} bpm{hrv}" + (" (stale)" if stale and r is not None else ""),
                      style="dim" if stale else "bold red"), Text(_clock(time.time() - s.started), style="bold"))
    head.add_row(quality_text(r) if not stale else Text("quality -- (no data)", style="dim"),
                 Text(f"label {s.label}" if s.label else "", style="magenta"))
    sensor = []
    if s.contact is not None:
        sensor.append("skin contact ok" if s.contact else "NO SKIN CONTACT")
    if s.battery is not None:
        sensor.append(f"battery {s.battery}%")
    if s.motion_g is not None:
        sensor.append(f"motion {s.motion_g:.2f} g")
    if sensor:
        head.add_row(Text("  ·  ".join(sensor), style="red" if s.contact is False else "dim"), Text(""))
    act = Table.grid(padding=(0, 1))
    act.add_column(width=8)
    act.add_column()
    act.add_column(justify="right", width=6)
    if r is not None:
        now = r.activity or f"({', '.join(r.flags)})"
        if stale:
            act.add_row(Text("last", style="dim"), Text(f"{now} (stale: no data since)", style="dim"), "")
        else:
            act.add_row(Text("now", style="dim"), Text(now, style="bold"), "")
        act.add_row(Text("smoothed", style="dim"), Text(r.smoothed or "--", style="dim" if stale else "bold cyan"),
                    "")
        if r.truth:
            act.add_row(Text("truth", style="dim"), Text(r.truth, style="green"), "")
        bar_w = max(5, min(40, inner - 20))
        for lab in s.labels:
            p = (r.probabilities or {}).get(lab, 0.0)
            act.add_row(lab, Text("█" * int(round(p * bar_w)) + "·" * (bar_w - int(round(p * bar_w))),
                                  style="dim" if stale else "cyan" if lab == r.activity else "blue"), f"{p:5.0%}")
    elif s.window_s and s.stats.samples:
        left = max(0.0, s.window_s - s.stream_s)
        act = Text(f"first decision in {left:.0f} s (the model looks at {s.window_s:g} s of signal)", style="yellow")
    else:
        act = Text(s.status, style="yellow")
    st = s.stats
    health = Text(
        f"frames {st.frames}  samples {st.samples}  lost {st.lost_samples} ({st.gaps} gaps)  "
        f"CRC {st.crc_errors}  bad {st.malformed}  reconnects {st.reconnects}  "
        f"latency {'--' if s.latency_ms is None else f'{s.latency_ms:.0f} ms'}  "
        f"windows {s.windows} ({s.flagged} flagged)  markers {s.markers}", style="dim")
    if s.recording and s.recording_stopped:
        rec = Text(f"■ RECORDING STOPPED: {s.recording_stopped} (classification goes on)", style="bold white on red")
    elif s.recording:
        rec = Text(f"{'❚❚ PAUSED' if s.paused else '● REC'} {s.recording}  {s.recorded_bytes / 1024:.0f} KiB",
                   style="yellow" if s.paused else "red")
    else:
        rec = Text("not recording", style="dim")
    top = []
    if s.banner:
        top.append(Text(s.banner, style="bold yellow"))
    if s.outage:
        top.append(Text(f"⚠ {s.outage}", style="bold white on red"))
    below = [act, Text(""), health, rec]
    if s.keys:
        keys = " ".join(f"{i + 1} {lab}" for i, lab in enumerate(s.labels[:9]))
        below.append(Text(f"keys: {keys} · m marker · space pause · q quit", style="dim"))
    title = f"ecg-activity · {s.source} · {s.model} ({s.backend})"
    rows = TRACE_ROWS
    if height is not None and height < ROOMY_ROWS:  # what the trace may take of a small terminal
        fixed = _lines(Panel(Group(*top, head, *below), width=width), width)
        rows = max(0, min(TRACE_ROWS, height - fixed - 3))  # its scale line, the blank after, the cursor's line
        if rows < 2:
            del below[1]                            # no trace: the blank line goes too
    y = display_filter(s.trace, s.trace_rate_hz) if s.trace.size else np.zeros(0)
    half = scale_for(y)
    middle = []
    if rows >= 2:
        middle = [Text("\n".join(trace_lines(y, inner, rows, half)), style="green"),
                  Text(f"±{half:g} {s.trace_unit}, last {s.trace.size / max(1.0, s.trace_rate_hz):.0f} s, 0.5-40 Hz",
                       style="dim"), Text("")]
    return Panel(Group(*top, head, *middle, *below), title=title, width=width)


TRACE_ROWS = 5                     # the ECG trace's height on a terminal with room for it
ROOMY_ROWS = 45                    # a terminal this high holds the whole panel (nine classes, every line):
                                   # measuring what fits (a full render, 1.4 ms) is only done below it


def _lines(renderable, width: int) -> int:
    """How many terminal lines ``renderable`` takes at ``width``."""
    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), color_system=None)
    return len(console.render_lines(renderable, console.options.update(width=width), pad=False))
