"""Decode a whole capture through the live decoder (what info, export and tests use)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blocks import DecodeStats, LinkEvent, SampleBlock
from .capture import CaptureError, CaptureHeader, CaptureReader
from .protocols import make_decoder
from .stream import stream_blocks
from .transport_replay import coalesced


@dataclass
class DecodedCapture:
    header: CaptureHeader
    blocks: list[SampleBlock]
    events: list[LinkEvent]
    stats: DecodeStats
    chunks: int
    raw_bytes: int
    error: CaptureError | None

    @property
    def total_samples(self) -> int:
        """Stream length including lost samples (the time axis)."""
        return self.blocks[-1].first_index + self.blocks[-1].n if self.blocks else 0

    @property
    def duration_s(self) -> float:
        return self.total_samples / self.header.rate_hz

    def contiguous(self, fill: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(counts on the full time axis, mask of real samples); gaps are filled, never hidden."""
        ch = max((b.channels for b in self.blocks), default=self.header.channels)
        out = np.full((self.total_samples, ch), fill, dtype=np.int32)
        mask = np.zeros(self.total_samples, dtype=bool)
        for b in self.blocks:
            out[b.first_index:b.first_index + b.n, :b.channels] = b.samples
            mask[b.first_index:b.first_index + b.n] = True
        return out, mask


def decode_capture(path: str) -> DecodedCapture:
    reader = CaptureReader(path)
    h = reader.header
    items, error = reader.read_all()
    dec = make_decoder(h.protocol, h.rate_hz, h.mv_per_count, h.channels)
    blocks: list[SampleBlock] = []
    events: list[LinkEvent] = []
    feed = coalesced(iter(items), 65536) if h.protocol != "polar" else items
    for item in stream_blocks(feed, dec):
        if isinstance(item, SampleBlock):
            blocks.append(item)
        else:
            events.append(item)
    raw = sum(len(i.data) for i in items if not isinstance(i, LinkEvent))
    return DecodedCapture(h, blocks, events, dec.stats, len(items), raw, error)
