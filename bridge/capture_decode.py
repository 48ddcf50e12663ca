"""Decode a capture through the live decoder (what info, export, training and tests use).

``iter_capture`` streams (memory bounded whatever the file holds);
``decode_capture`` keeps every block, for captures small enough to hold.
Both decode exactly as the live session did: the same decoder, fed the
same reads, with the same receive times where the decoder uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .blocks import DecodeStats, LinkEvent, SampleBlock
from .capture import CaptureError, CaptureHeader, CaptureReader
from .protocols import get_protocol
from .stream import stream_blocks
from .transport_replay import coalesced

#: the longest time axis ``contiguous`` lays out in memory (a day at 250 Hz is 86 MB of int32)
MAX_CONTIGUOUS_SAMPLES = 24 * 3600 * 250


@dataclass
class CaptureTally:
    """What streaming a capture found, filled in as it goes."""

    header: CaptureHeader
    stats: DecodeStats = field(default_factory=DecodeStats)
    chunks: int = 0
    raw_bytes: int = 0
    events: list[LinkEvent] = field(default_factory=list)
    #: the stream sample index at which each of ``events`` took effect (what was decoded before it)
    event_index: list[int] = field(default_factory=list)
    total_samples: int = 0            # the time axis, lost samples included
    channels: int = 0
    error: CaptureError | None = None
    rate_hz: float = 0.0              # the stream's rate as its decoder last said it (a Polar's learnt one)
    device_id: str | None = None      # what the device called itself on the wire (our frame protocol's identity)

    @property
    def duration_s(self) -> float:
        return self.total_samples / (self.rate_hz or self.header.rate_hz)


def iter_capture(path: str) -> tuple[CaptureTally, Iterator[SampleBlock]]:
    """(tally, blocks): iterate the blocks; the tally is complete once they are exhausted."""
    reader = CaptureReader(path)
    tally = CaptureTally(reader.header)
    return tally, _blocks(reader, tally)


def _blocks(reader: CaptureReader, tally: CaptureTally) -> Iterator[SampleBlock]:
    h = reader.header
    p = get_protocol(h.protocol)
    dec = p.make_decoder(h.rate_hz, h.mv_per_count, h.channels)
    tally.stats = dec.stats

    def items():
        try:
            for item in reader.items():
                tally.chunks += 1
                if not isinstance(item, LinkEvent):
                    tally.raw_bytes += len(item.data)
                yield item
        except CaptureError as e:
            tally.error = e

    feed = items() if p.packets_are_frames else coalesced(items(), 65536)
    try:
        for item in stream_blocks(feed, dec):
            if isinstance(item, SampleBlock):
                tally.total_samples = item.first_index + item.n
                tally.rate_hz = item.rate_hz
                tally.device_id = dec.device_id
                tally.channels = max(tally.channels, item.channels)
                yield item
            else:                   # reads around an event are never joined: it sits where it happened
                tally.events.append(item)
                tally.event_index.append(tally.total_samples)
    finally:
        tally.device_id = dec.device_id
        reader.close()


def label_track(header: CaptureHeader, events: list[LinkEvent], event_index: list[int]) -> list[tuple[int, str | None]]:
    """The label in force along the stream, by sample position: ``(index, label)`` pairs, the first at 0
    (the capture's ``--label``), one more at each label change, pause (None: nothing is labelled while
    the recording is paused) and resume (the label in force again).  Sample positions, not host times:
    a replay joins reads into large pieces stamped with their last read's time."""
    label = header.label or None
    paused = False
    track = [(0, label)]
    for ev, at in zip(events, event_index):
        if ev.kind == "label":
            label = ev.detail.get("label") or None
        elif ev.kind == "pause":
            paused = True
        elif ev.kind == "resume":
            paused = False
        else:
            continue
        now = None if paused else label
        if track[-1][0] == at:
            track[-1] = (at, now)
        elif track[-1][1] != now:
            track.append((at, now))
    return track


def label_over(track: list[tuple[int, str | None]], start: int, end: int) -> str | None:
    """The one label in force over samples ``[start, end)``; None when there is none, or when the label
    changes (or a pause starts) inside the span: a window straddling a change belongs to no class."""
    label = None
    for at, lab in track:
        if at <= start:
            label = lab
        elif at < end:
            return None
    return label


@dataclass
class DecodedCapture:
    """A whole capture decoded in memory (tests and small tools): its header, sample blocks, link events,
    decoder tallies and, if reading stopped early, why.  Long captures go through ``iter_capture`` instead."""

    header: CaptureHeader
    blocks: list[SampleBlock]
    events: list[LinkEvent]
    stats: DecodeStats
    chunks: int
    raw_bytes: int
    error: CaptureError | None
    event_index: list[int] = field(default_factory=list)   # stream sample index of each event

    @property
    def total_samples(self) -> int:
        """Stream length including lost samples (the time axis)."""
        return self.blocks[-1].first_index + self.blocks[-1].n if self.blocks else 0

    @property
    def duration_s(self) -> float:
        return self.total_samples / self.header.rate_hz

    def contiguous(self, fill: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(counts on the full time axis, mask of real samples); gaps are filled, never hidden."""
        if self.total_samples > MAX_CONTIGUOUS_SAMPLES:
            raise CaptureError(self.header.source or "capture", 0,
                               f"its time axis spans {self.duration_s / 3600:.1f} h, too long to lay out")
        ch = max((b.channels for b in self.blocks), default=self.header.channels)
        out = np.full((self.total_samples, ch), fill, dtype=np.int32)
        mask = np.zeros(self.total_samples, dtype=bool)
        for b in self.blocks:
            out[b.first_index:b.first_index + b.n, :b.channels] = b.samples
            mask[b.first_index:b.first_index + b.n] = True
        return out, mask


def decode_capture(path: str) -> DecodedCapture:
    """The whole capture in memory (blocks, events, stats, and the damage that stopped reading)."""
    tally, blocks = iter_capture(path)
    kept = list(blocks)
    return DecodedCapture(tally.header, kept, tally.events, tally.stats, tally.chunks, tally.raw_bytes, tally.error,
                          tally.event_index)
