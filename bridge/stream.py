"""The one stream API: any transport + a decoder (+ an optional capture) -> SampleBlocks.

Live links and replays go through this same function, so a replay decodes
exactly as the live session did.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from .blocks import LinkEvent, Packet, SampleBlock
from .capture import CaptureWriter
from .decoder import Decoder

LINK_LOST = ("disconnect", "watchdog")


def stream_blocks(transport: Iterable[Packet | LinkEvent], decoder: Decoder,
                  writer: CaptureWriter | None = None) -> Iterator[SampleBlock | LinkEvent]:
    """Record every packet first (nothing received is ever lost), then decode it; a live link's Idle
    items (nothing arrived) are passed over."""
    for item in transport:
        if isinstance(item, Packet):
            if writer is not None:
                writer.write_packet(item)
            yield from decoder.feed(item.data, item.t_host, item.t_first)
        elif isinstance(item, LinkEvent):
            if writer is not None:
                writer.write_event(item)
            if item.kind in LINK_LOST:
                decoder.link_lost(item.t_host)
            elif item.kind == "reconnect":
                decoder.stats.reconnects += 1
            yield item
    yield from decoder.flush()
