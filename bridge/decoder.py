"""What every protocol decoder shares: stats, stream position and block assembly.

A decoder is fed bytes exactly as the transport delivered them and returns
SampleBlocks.  It must never raise on any input: junk is counted and skipped,
and a receive time that is not a number is replaced by the last good one.

Gaps: a protocol's own counter or clock measures a hole exactly.  Where
nothing in the data can (a link that was down longer than the counter's
range), the hole is estimated from the host clock: from the last read
before the link was lost to the first read after it.  Only those two reads'
times are used, so a replay that decodes many reads at once (replay does,
for speed) gives exactly the live session's estimate, as long as it feeds
the first read after a link event on its own (``transport_replay.coalesced``).
No hole is taken to be longer than ``MAX_GAP_S``: a claim beyond that is a
restart (or a spoofer), never a reason to lay out days of empty time.
"""

from __future__ import annotations

import math

import numpy as np

from .blocks import DecodeStats, SampleBlock

#: the longest hole a decoder believes; anything longer is a restart with an unknown gap
MAX_GAP_S = 24 * 3600.0
#: no read for this long (host clock) is a silence: a counter that wraps may hide whole laps of loss in it
SILENCE_S = 0.5
#: after a silence, reads for this long tell a burst of held-back data (nothing lost) from a real hole
SETTLE_S = 0.5


class Decoder:
    """Base class; subclasses implement ``_feed``."""

    name = "base"

    def __init__(self, rate_hz: float, mv_per_count: float, channels: int = 1) -> None:
        self.rate_hz = float(rate_hz)
        self.mv_per_count = float(mv_per_count)
        self.channels = channels
        self.stats = DecodeStats()
        self._next_index = 0          # stream index of the next sample we expect
        self._t_feed: float | None = None     # host time of the last read fed
        self._t_before: float | None = None   # ... of the last read before the link was lost
        self._t_resume: float | None = None   # ... of the first read after it
        self._in_resume_feed = False
        self._link_lost = False
        self._t_first = 0.0                   # when the first byte of the read being fed arrived
        self.aux: list = []                   # AuxBlocks decoded beside the ECG, until taken
        self.device_id: str | None = None     # the device's own name for itself, where the protocol says it
        self.notices: list[str] = []          # what the session must tell the user, until taken

    def take_aux(self) -> list:
        """Accelerometer (and other side-stream) blocks decoded since the last call."""
        out, self.aux = self.aux, []
        return out

    def take_notices(self) -> list[str]:
        """Sentences for the user since the last call (another device on the link, ours back)."""
        out, self.notices = self.notices, []
        return out

    @property
    def max_gap_samples(self) -> int:
        return int(MAX_GAP_S * self.rate_hz)

    def feed(self, data: bytes, t_host: float, t_first: float | None = None) -> list[SampleBlock]:
        """Decode one read (or one BLE notification) received at host time ``t_host`` (replay's joined
        reads: ``t_first`` is when the first of them arrived)."""
        t = float(t_host) if isinstance(t_host, (int, float)) and math.isfinite(t_host) else (self._t_feed or 0.0)
        self._t_first = (float(t_first) if isinstance(t_first, (int, float)) and math.isfinite(t_first)
                         and t_first <= t else t)
        if self._link_lost and self._t_resume is None:
            self._t_resume = t
            self._in_resume_feed = True
        try:
            return self._feed(bytes(data), t)
        finally:
            self._in_resume_feed = False
            self._t_feed = t

    def _feed(self, data: bytes, t_host: float) -> list[SampleBlock]:  # pragma: no cover - abstract
        raise NotImplementedError

    def flush(self) -> list[SampleBlock]:
        """The stream has ended: blocks still held back waiting for what would follow (an Attys
        line whose counter the next line had to confirm)."""
        return []

    def link_lost(self, t_host: float) -> None:
        """The link dropped (disconnect or watchdog): what arrives next may follow a hole.

        Subclasses whose counters survive a reconnect (frame seq, Polar timestamps) still
        measure the hole exactly; otherwise ``_emit`` estimates it from the host clock."""
        if not self._link_lost:
            self._t_before = self._t_feed
        self._link_lost = True
        self._t_resume = None
        self.reset_continuity()

    def reset_continuity(self) -> None:
        """Forget counters and partial input (subclasses extend)."""

    def clock_gap(self, n_first: int) -> int:
        """Samples lost while the link was down, from the host clock (0 when unknown or implausible)."""
        if self._t_before is None or self._t_resume is None:
            return 0
        est = int(round((self._t_resume - self._t_before) * self.rate_hz))
        est -= n_first if self._in_resume_feed else 0
        return est if 0 < est <= self.max_gap_samples else 0

    def _lost(self, samples: int, frames: int = 0) -> int:
        if samples <= 0 and frames <= 0:
            return 0
        if samples > self.max_gap_samples:
            # a jump of more than a day: the device restarted (or the data lies); the hole is unknown
            self.stats.restarts += 1
            return 0
        self.stats.gaps += 1
        self.stats.lost_frames += frames
        self.stats.lost_samples += samples
        return samples

    def _emit(self, samples: np.ndarray, t_host: float, flags: int = 0, gap: int = 0) -> SampleBlock:
        if self._link_lost:
            # Nothing in the data says how much was lost while the link was down:
            # estimate it from the host clock so downstream time stays honest.
            self._link_lost = False
            gap += self._lost(self.clock_gap(samples.shape[0]))
        block = SampleBlock(
            samples=samples,
            rate_hz=self.rate_hz,
            mv_per_count=self.mv_per_count,
            t_host=t_host,
            gap_before=gap,
            flags=flags,
            first_index=self._next_index + gap,
        )
        self._next_index = block.first_index + block.n
        self.stats.samples += block.n
        return block
