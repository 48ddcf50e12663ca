"""``ecg-activity import``: a foreign recording (CSV, EDF/BDF, WFDB) as a new capture."""

from __future__ import annotations

import argparse
import json

from .options import number


def cmd(a: argparse.Namespace) -> int:
    """Read the recording, check its labels against every class a task knows, write the capture."""
    from ..bridge.importer import import_recording
    from ..train.tasks import ALL_LABELS

    res = import_recording(a.recording, a.output, a.format, a.rate, a.mv_per_count, a.channel, a.label, ALL_LABELS)
    print(json.dumps(res))
    if res.get("rate_note"):
        import sys

        print(f"ecg-activity: {res['rate_note']}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``import``."""
    s = sub.add_parser("import", help="CSV, EDF/EDF+/BDF+ or WFDB recording -> a capture (replay, label, train on it)")
    s.add_argument("recording", help="file.csv, file.edf, file.bdf or a WFDB record (NAME.hea)")
    s.add_argument("--output", "-o", required=True, help="the capture to create (.ecgcap)")
    s.add_argument("--format", choices=["csv", "edf", "bdf", "wfdb"], help="default: from the file name")
    s.add_argument("--rate", type=number(float, 0.0, 100_000.0), help="sampling rate (CSV of values only)")
    s.add_argument("--mv-per-count", type=number(float, 0.0, 1e6),
                   help="CSV: resolution to store the millivolts at (default 0.001 = 1 µV)")
    s.add_argument("--channel", type=number(int, 0, 4096, lo_open=False),
                   help="which signal or CSV column (default: the one named ECG, else the first/last)")
    s.add_argument("--label", help="activity of the whole recording (annotations naming one set labels too)")
    s.set_defaults(func=cmd)
