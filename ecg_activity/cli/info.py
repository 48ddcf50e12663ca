"""``ecg-activity info``: what a capture holds, read to its end whatever its state."""

from __future__ import annotations

import argparse
import json

from .common import report_damage
from .options import number


def cmd(a: argparse.Namespace) -> int:
    """A capture's header, start time, duration, frames, gaps and damage."""
    from datetime import datetime, timezone

    from ..bridge.capture_decode import iter_capture
    from ..bridge.printable import printable

    if a.set_scale is not None:
        return set_scale(a)
    tally, blocks = iter_capture(a.capture)
    for _ in blocks:
        pass
    h = tally.header
    started = datetime.fromtimestamp(h.start_time, timezone.utc).astimezone()
    info = {
        "capture": a.capture, "protocol": h.protocol, "device": h.device, "device_id": tally.device_id,
        "label": h.label,
        "rate_hz": h.rate_hz, "channels": h.channels, "mv_per_count": h.mv_per_count,
        "unit": "mV" if h.mv_per_count > 0 else "counts (no scale: --set-scale MV -o NEW.ecgcap)",
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


def set_scale(a: argparse.Namespace) -> int:
    """``--set-scale MV -o NEW``: the capture copied with its scale set (never changed in place)."""
    from ..bridge.capture import copy_with_scale
    from ..bridge.errors import UsageError

    if not a.output:
        raise UsageError("--set-scale writes a new capture: give -o NEW.ecgcap (the recording is never changed)")
    chunks, damage = copy_with_scale(a.capture, a.output, a.set_scale)
    print(json.dumps({"capture": a.output, "from": a.capture, "mv_per_count": a.set_scale, "chunks": chunks}))
    return report_damage(damage)


def register(sub) -> None:
    """Add ``info``."""
    s = sub.add_parser("info", help="header, duration, frames, gaps and errors of a capture")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--json", action="store_true", help="one JSON object instead of aligned text")
    s.add_argument("--set-scale", type=number(float, 0.0, 1e6), metavar="MV",
                   help="millivolts per count for a capture recorded without a scale: written to -o, a new copy")
    s.add_argument("--output", "-o", help="the new capture --set-scale writes")
    s.set_defaults(func=cmd)
