"""Sample blocks -> overlapping analysis windows, with gaps and bad samples marked, never hidden."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..bridge.blocks import FLAG_LEAD_OFF, FLAG_SATURATED, SampleBlock
from ..bridge.int24 import INT24_MAX, INT24_MIN

SATURATION_MARGIN = 16          # counts from the 24-bit rails that count as clipped


@dataclass
class Window:
    samples: np.ndarray          # float64, at the stream's rate, in mV (or counts if the scale is unknown)
    rate_hz: float
    end_index: int               # stream index one past the window's last sample
    t_host: float                # host receive time of the newest sample
    flags: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.flags


class Windower:
    def __init__(self, window_s: float, hop_s: float, rate_hz: float, channel: int = 0) -> None:
        self.rate_hz = rate_hz
        self.size = int(round(window_s * rate_hz))
        self.hop = int(round(hop_s * rate_hz))
        self.channel = channel
        self._x = np.zeros(0)
        self._gap = np.zeros(0, dtype=bool)
        self._leadoff = np.zeros(0, dtype=bool)
        self._sat = np.zeros(0, dtype=bool)
        self._end = 0                 # stream index one past the newest sample held
        self._next_emit: int | None = None

    def push(self, block: SampleBlock) -> list[Window]:
        """Windows completed by this block (a big block is taken a hop at a time, so none is skipped)."""
        if block.channels <= self.channel:
            raise ValueError(f"stream has {block.channels} channel(s); channel {self.channel} was asked for")
        out: list[Window] = []
        for i in range(0, block.n, self.hop):
            out += self._push(block, i, min(block.n, i + self.hop))
        return out

    def _push(self, block: SampleBlock, a: int, b: int) -> list[Window]:
        raw = block.samples[a:b, self.channel]
        first_index = block.first_index + a
        scale = block.mv_per_count if block.mv_per_count > 0 else 1.0
        gap = min(first_index - self._end, self.size) if self._next_emit is not None else 0
        parts_x = [self._x]
        parts_gap = [self._gap]
        parts_lo = [self._leadoff]
        parts_sat = [self._sat]
        if gap > 0:
            # lost samples occupy their true place in time, as zeros marked "gap"
            parts_x.append(np.zeros(gap))
            parts_gap.append(np.ones(gap, dtype=bool))
            parts_lo.append(np.zeros(gap, dtype=bool))
            parts_sat.append(np.zeros(gap, dtype=bool))
        parts_x.append(raw.astype(np.float64) * scale)
        parts_gap.append(np.zeros(raw.size, dtype=bool))
        parts_lo.append(np.full(raw.size, bool(block.flags & FLAG_LEAD_OFF)))
        sat = (raw >= INT24_MAX - SATURATION_MARGIN) | (raw <= INT24_MIN + SATURATION_MARGIN)
        parts_sat.append(sat | bool(block.flags & FLAG_SATURATED))
        keep = self.size + self.hop
        self._x = np.concatenate(parts_x)[-keep:]
        self._gap = np.concatenate(parts_gap)[-keep:]
        self._leadoff = np.concatenate(parts_lo)[-keep:]
        self._sat = np.concatenate(parts_sat)[-keep:]
        self._end = first_index + raw.size
        if self._next_emit is None:
            self._next_emit = first_index + self.size
        out = []
        while self._next_emit <= self._end:
            back = self._end - self._next_emit
            hi = self._x.size - back
            lo = hi - self.size
            if lo >= 0:
                flags = []
                if self._gap[lo:hi].any():
                    flags.append("gap")
                if self._leadoff[lo:hi].any():
                    flags.append("lead_off")
                if self._sat[lo:hi].any():
                    flags.append("saturated")
                out.append(Window(self._x[lo:hi].copy(), self.rate_hz, self._next_emit, block.t_host, flags))
            self._next_emit += self.hop
        return out
