"""``ecg-activity info``: what a capture holds, read to its end whatever its state."""

from __future__ import annotations

import argparse
import json

from .common import report_damage


def cmd(a: argparse.Namespace) -> int:
    """A capture's header, start time, duration, frames, gaps and damage."""
    from datetime import datetime, timezone

    from ..bridge.capture_decode import iter_capture
    from ..bridge.printable import printable

    tally, blocks = iter_capture(a.capture)
    for _ in blocks:
        pass
    h = tally.header
    started = datetime.fromtimestamp(h.start_time, timezone.utc).astimezone()
    info = {
        "capture": a.capture, "protocol": h.protocol, "device": h.device, "label": h.label,
        "rate_hz": h.rate_hz, "channels": h.channels, "mv_per_count": h.mv_per_count,
        "start_time": h.start_time, "started": started.isoformat(timespec="seconds"),
        "software_version": h.software_version, "duration_s": round(tally.duration_s, 3), "chunks": tally.chunks,
        "raw_bytes": tally.raw_bytes, **tally.stats.as_dict(), "link_events": len(tally.events),
        "damage": str(tally.error) if tally.error else None,
    }
    if a.json:
        print(json.dumps(info))
    else:
        info.pop("start_time")
        for k, v in info.items():
            print(f"{k:>17}: {printable(v)}")      # header text is the writer's: no terminal escapes
    return report_damage(tally.error)


def register(sub) -> None:
    """Add ``info``."""
    s = sub.add_parser("info", help="header, duration, frames, gaps and errors of a capture")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--json", action="store_true", help="one JSON object instead of aligned text")
    s.set_defaults(func=cmd)
