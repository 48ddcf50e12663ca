"""Sample blocks -> overlapping analysis windows, with gaps and bad samples marked, never hidden.

A window with a few short holes (lost frames) is bridged (``edge.repair``) and
carries its missing fraction; a window with long holes, lead-off, ADC
saturation, clipping, a flat line or non-finite samples is flagged and never
classified.  A hole longer than a window is skipped in one step, however long
it claims to be.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..bridge.blocks import FLAG_LEAD_OFF, FLAG_SATURATED, SampleBlock
from ..bridge.errors import UsageError
from ..bridge.int24 import INT24_MAX, INT24_MIN
from .repair import bridge_gaps, longest_run, repairable
from .signal_checks import check_signal, rail_flag, withholds

SATURATION_MARGIN = 16          # counts from the 24-bit rails that count as clipped


@dataclass
class Window:
    """One window of one channel, where it ends in the stream, and which of its samples were missing."""

    samples: np.ndarray          # float64, at the stream's rate, in mV (or counts if the scale is unknown)
    rate_hz: float
    end_index: int               # stream index one past the window's last sample
    t_host: float                # host receive time of the newest sample
    flags: list[str] = field(default_factory=list)
    missing_fraction: float = 0.0  # share of samples that were lost and bridged
    clipped_fraction: float = 0.0  # share of samples pinned at a rail (clipped QRS tips: still classified)

    @property
    def clean(self) -> bool:
        """Classifiable: no flag but notes (``clipped`` tips are a note, not a fault)."""
        return not withholds(self.flags)


class Windower:
    """Sample blocks in, windows out every hop: samples are placed by their stream index, so a gap stays a gap
    (marked missing) instead of silently joining the signal either side of it."""

    def __init__(self, window_s: float, hop_s: float, rate_hz: float, channel: int = 0) -> None:
        self.rate_hz = rate_hz
        self.window_s, self.hop_s = window_s, hop_s
        self.size = int(round(window_s * rate_hz))
        self.hop = int(round(hop_s * rate_hz))
        if self.size < 1 or self.hop < 1:
            raise ValueError(f"window {window_s:g} s and hop {hop_s:g} s are too short at {rate_hz:g} Hz")
        self.channel = channel
        keep = self.size + self.hop
        self._x = np.zeros(0)
        self._gap = np.zeros(0, dtype=bool)
        self._bad = np.zeros(0, dtype=np.uint8)     # bit 0 lead-off, bit 1 saturated
        self._keep = keep
        self._end = 0                 # stream index one past the newest sample held
        self._next_emit: int | None = None

    def retune(self, rate_hz: float) -> None:
        """The stream's rate turned out slightly different (learnt from the device's clock): windows and
        hops in samples follow it; the samples held stay where they are."""
        size, hop = int(round(self.window_s * rate_hz)), int(round(self.hop_s * rate_hz))
        self.rate_hz, self.size, self.hop, self._keep = rate_hz, size, hop, size + hop

    def push(self, block: SampleBlock) -> list[Window]:
        """Windows completed by this block (a big block is taken a hop at a time, so none is skipped)."""
        if block.channels <= self.channel:
            raise UsageError(f"the stream has {block.channels} channel(s): --channel {self.channel} is not one "
                             f"(channels count from 0)")
        out: list[Window] = []
        for i in range(0, block.n, self.hop):
            out += self._push(block, i, min(block.n, i + self.hop))
        return out

    def _skip_gap(self, first_index: int) -> None:
        """A hole longer than a window: nothing before it can complete a window, start afresh after it."""
        self._x = np.zeros(0)
        self._gap = np.zeros(0, dtype=bool)
        self._bad = np.zeros(0, dtype=np.uint8)
        self._end = first_index
        self._next_emit = None

    def _push(self, block: SampleBlock, a: int, b: int) -> list[Window]:
        raw = block.samples[a:b, self.channel]
        first_index = block.first_index + a
        scale = block.mv_per_count if block.mv_per_count > 0 else 1.0
        if self._next_emit is not None and first_index - self._end >= self.size:
            self._skip_gap(first_index)
        gap = first_index - self._end if self._next_emit is not None else 0
        xs, gaps, bads = [self._x], [self._gap], [self._bad]
        if gap > 0:
            # lost samples occupy their true place in time, marked "missing"
            xs.append(np.zeros(gap))
            gaps.append(np.ones(gap, dtype=bool))
            bads.append(np.zeros(gap, dtype=np.uint8))
        xs.append(raw.astype(np.float64) * scale)
        gaps.append(np.zeros(raw.size, dtype=bool))
        sat = (raw >= INT24_MAX - SATURATION_MARGIN) | (raw <= INT24_MIN + SATURATION_MARGIN)
        sat |= bool(block.flags & FLAG_SATURATED)
        bads.append((np.uint8(1) if block.flags & FLAG_LEAD_OFF else np.uint8(0)) | (sat.astype(np.uint8) << 1))
        self._x = np.concatenate(xs)[-self._keep:]
        self._gap = np.concatenate(gaps)[-self._keep:]
        self._bad = np.concatenate(bads)[-self._keep:]
        self._end = first_index + raw.size
        if self._next_emit is None:
            self._next_emit = first_index + self.size
        out = []
        while self._next_emit <= self._end:
            back = self._end - self._next_emit
            hi = self._x.size - back
            lo = hi - self.size
            if lo >= 0:
                out.append(self._window(lo, hi, block.t_host))
            self._next_emit += self.hop
        return out

    def _window(self, lo: int, hi: int, t_host: float) -> Window:
        x = self._x[lo:hi]
        missing = self._gap[lo:hi]
        bad = self._bad[lo:hi]
        flags, frac = [], 0.0
        if missing.any():
            if repairable(missing, self.rate_hz):
                frac = float(missing.mean())
                x = bridge_gaps(x, missing)
            else:
                flags.append("gap")
        if (bad & 1).any():
            flags.append("lead_off")
        if (bad & 2).any():                 # at the 24-bit rails: a few tips are a note, a long stay a fault
            at = (bad & 2) != 0
            flags.append(rail_flag(float(at.mean()), longest_run(at) / self.rate_hz))
        real = x if not missing.any() else self._x[lo:hi][~missing]
        found, clipped = check_signal(real, self.rate_hz)
        flags += [f for f in found if f not in flags]
        return Window(x.copy(), self.rate_hz, self._next_emit, t_host, flags, frac, clipped)
