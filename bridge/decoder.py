"""What every protocol decoder shares: stats, stream position and block assembly.

A decoder is fed bytes exactly as the transport delivered them and returns
SampleBlocks.  It must never raise on any input: junk is counted and skipped.
"""

from __future__ import annotations

import numpy as np

from .blocks import DecodeStats, SampleBlock


class Decoder:
    """Base class; subclasses implement ``feed``."""

    name = "base"
    #: bytes a transport should send before data flows (one command per item)
    startup_commands: tuple[bytes, ...] = ()
    #: sent after the start-up commands, without waiting for an answer
    start_command: bytes | None = None

    def __init__(self, rate_hz: float, mv_per_count: float, channels: int = 1) -> None:
        self.rate_hz = float(rate_hz)
        self.mv_per_count = float(mv_per_count)
        self.channels = channels
        self.stats = DecodeStats()
        self._next_index = 0          # stream index of the next sample we expect
        self._t_last = None           # host time of the last emitted block
        self._link_lost = False

    def feed(self, data: bytes, t_host: float) -> list[SampleBlock]:  # pragma: no cover - abstract
        raise NotImplementedError

    def link_lost(self, t_host: float) -> None:
        """The link dropped (disconnect or watchdog): what arrives next may follow a hole.

        Subclasses whose counters survive a reconnect (frame seq, Polar timestamps) still
        measure the hole exactly; otherwise ``_emit`` estimates it from the host clock."""
        self._link_lost = True
        self.reset_continuity()

    def reset_continuity(self) -> None:
        """Forget counters and partial input (subclasses extend)."""

    def _lost(self, samples: int, frames: int = 0) -> int:
        if samples <= 0 and frames <= 0:
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
            if self._t_last is not None:
                elapsed = (t_host - self._t_last) * self.rate_hz - samples.shape[0]
                est = max(0, int(round(elapsed)))
                gap += self._lost(est)
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
        self._t_last = t_host
        self.stats.samples += block.n
        return block
