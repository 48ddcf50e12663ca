"""``ecg-activity export``: a capture's samples to CSV, EDF+ or BDF+."""

from __future__ import annotations

import argparse
import sys

from .common import report_damage


def cmd(a: argparse.Namespace) -> int:
    """Damage inside the capture exports what precedes it and exits 1 (a torn last chunk, as a kill leaves,
    only warns)."""
    from ..bridge.export import export

    res = export(a.capture, a.output, a.format, a.force, a.stream)
    print(f"wrote {a.output}: {res.samples} samples ({res.fmt})", file=sys.stderr)
    if res.note:
        print(f"ecg-activity: note: {res.note}", file=sys.stderr)
    return report_damage(res.damage)


def register(sub) -> None:
    """Add ``export``."""
    s = sub.add_parser("export", help="capture -> CSV, EDF+ (16-bit) or BDF+ (24-bit), in millivolts "
                                            "(in counts when the capture has no scale: info --set-scale)")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--output", "-o", required=True,
                   help="file to write: .csv, .edf or .bdf (another name gets BDF+, which keeps all 24 bits)")
    s.add_argument("--format", choices=["csv", "edf", "bdf"], help="default: from the output's extension")
    s.add_argument("--force", action="store_true",
                   help="replace an existing output (never a capture, a link or a device)")
    s.add_argument("--stream", choices=["ecg", "acc", "mag"], default="ecg",
                   help="which stream: the ECG (default), or the accelerometer / magnetometer as CSV")
    s.set_defaults(func=cmd)
