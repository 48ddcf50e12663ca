"""The live terminal view (rich): ECG trace, heart rate, activity with probability bars, stream health.

``render`` is a pure function of a DisplayState, so it is tested through
rich's own recording console as well as in a real terminal under tmux.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..bridge.blocks import DecodeStats

from .pipeline import WindowResult

BARS = " ▁▂▃▄▅▆▇█"


@dataclass
class DisplayState:
    labels: tuple[str, ...]
    source: str
    model: str
    backend: str
    trace: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trace_rate_hz: float = 250.0
    last: WindowResult | None = None
    stats: DecodeStats = field(default_factory=DecodeStats)
    latency_ms: float | None = None
    recording: str | None = None
    recorded_bytes: int = 0
    started: float = field(default_factory=time.time)
    windows: int = 0
    flagged: int = 0
    label: str | None = None
    status: str = "waiting for data"
    banner: str = ""                 # an instruction for the wearer (guided calibration: "walk now: 1:40 left")


def trace_rows(x: np.ndarray, width: int, height: int = 4) -> list[str]:
    """A filled ECG trace ``height`` rows tall; the column maximum keeps QRS spikes visible."""
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


def render(s: DisplayState, width: int = 80):
    inner = max(10, width - 4)
    trace = Text("\n".join(trace_rows(s.trace, inner)), style="green")
    r = s.last
    head = Table.grid(expand=True)
    head.add_column()
    head.add_column(justify="right")
    hr = "--" if r is None or r.hr_bpm is None else f"{r.hr_bpm:.0f}"
    q = "" if r is None else f"  quality {r.quality:.2f}"
    head.add_row(Text(f"♥ {hr} bpm{q}", style="bold red"),
                 Text(f"{time.time() - s.started:6.0f} s", style="dim"))
    act = Table.grid(padding=(0, 1))
    act.add_column(width=8)
    act.add_column()
    act.add_column(justify="right", width=6)
    if r is not None:
        now = r.activity or f"({', '.join(r.flags)})"
        act.add_row(Text("now", style="dim"), Text(now, style="bold"), "")
        act.add_row(Text("smoothed", style="dim"), Text(r.smoothed or "--", style="bold cyan"), "")
        if r.truth:
            act.add_row(Text("truth", style="dim"), Text(r.truth, style="green"), "")
        bar_w = max(5, min(40, inner - 20))
        for lab in s.labels:
            p = (r.probabilities or {}).get(lab, 0.0)
            act.add_row(lab, Text("█" * int(round(p * bar_w)) + "·" * (bar_w - int(round(p * bar_w))),
                                  style="cyan" if lab == r.activity else "blue"), f"{p:5.0%}")
    else:
        act.add_row(Text(s.status, style="yellow"), "", "")
    st = s.stats
    health = Text(
        f"frames {st.frames}  samples {st.samples}  lost {st.lost_samples} ({st.gaps} gaps)  "
        f"CRC {st.crc_errors}  bad {st.malformed}  reconnects {st.reconnects}  "
        f"latency {'--' if s.latency_ms is None else f'{s.latency_ms:.0f} ms'}  "
        f"windows {s.windows} ({s.flagged} flagged)", style="dim")
    rec = Text(f"● REC {s.recording}  {s.recorded_bytes / 1024:.0f} KiB" if s.recording else "not recording",
               style="red" if s.recording else "dim")
    title = f"ecg-activity · {s.source} · {s.model} ({s.backend})"
    if s.label:
        title += f" · label {s.label}"
    parts = [head, trace, Text(""), act, Text(""), health, rec]
    if s.banner:
        parts.insert(0, Text(s.banner, style="bold yellow"))
    return Panel(Group(*parts), title=title, width=width)
