"""``ecg-activity plot``: one picture of a capture (ECG strip, heart rate, decisions against labels, gaps)."""

from __future__ import annotations

import argparse
import json


def cmd(a: argparse.Namespace) -> int:
    """Classify the capture and draw it to a new PNG (an existing one only with ``--force``)."""
    from ..bridge.outfile import check_target
    from ..models import DEFAULT_MODEL
    from ..plot import plot

    from pathlib import Path

    from ..bridge.errors import UsageError
    from ..plot import FORMATS

    if Path(a.output).suffix.lower() not in FORMATS:
        raise UsageError(f"{a.output}: a picture ends in {', '.join(FORMATS)}")
    check_target(a.output, a.force)
    print(json.dumps(plot(a.capture, a.model or str(DEFAULT_MODEL), a.output, a.force)))
    return 0


def register(sub) -> None:
    """Add ``plot``."""
    s = sub.add_parser("plot", help="one picture of a capture: ECG strip, heart rate, decisions vs labels, gaps")
    s.add_argument("capture", help="a .ecgcap file")
    s.add_argument("--model", "-m", help="int8 model to classify with (default: the shipped activity5)")
    s.add_argument("--output", "-o", required=True, help="picture to write (.png, .svg or .pdf; 0600)")
    s.add_argument("--force", action="store_true", help="replace an existing picture")
    s.set_defaults(func=cmd)
