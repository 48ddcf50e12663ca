"""Personal calibration on this machine, printed (a benchmark, not a test).

    python -m ecg_activity.benchmarks.calibration [--model models/activity5.tflite] [--subject 05]

Issue #12's cost targets, measured on real recordings: one person of
ecg-motion-artefacts (electrode sets 01 and 02: about 2 minutes of each of
five activities, 10 minutes in all) written as labelled captures, then
``ecg-activity calibrate`` in a fresh process with TensorFlow made
unimportable, as on a Pi with the edge extra alone (target <= 10 s for 10
minutes of data); and the per-window cost of the calibrated model against
its base model, measured alternately in the same run, in either order (target within 10 %).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..bridge.importer import Imported, write_capture
from ..edge.latency import per_window
from ..edge.model_bundle import DEFAULT_MODEL, ModelBundle
from ..train.datasets.base import shared_datasets
from ..train.datasets.motion import MOTION_ACTIVITIES, load_motion_file

NO_TENSORFLOW = ("import sys\nfor m in ('tensorflow', 'keras'): sys.modules[m] = None\n"
                 "from ecg_activity.cli import main\nsys.exit(main(sys.argv[1:]))")


def labelled_captures(folder: Path, subject: str, electrodes=("01", "02")) -> tuple[list[str], float]:
    """The person's recordings as labelled captures, one per electrode set and activity (what ``record
    --label`` would have written); returns their paths and total minutes.  The tests use them too."""
    out, seconds = [], 0.0
    root = shared_datasets() / "ecg-motion-artefacts" / "data" / subject
    for e in electrodes:
        for act, label in MOTION_ACTIVITIES.items():
            rec = load_motion_file(root / f"{subject}_{e}_{act}.csv.gz")
            path = folder / f"{subject}_{e}_{label}.ecgcap"
            write_capture(Imported(rec.counts, rec.rate_hz, rec.mv_per_count, 1.7e9), str(path), label=label)
            out.append(str(path))
            seconds += rec.duration_s
    return out, seconds / 60.0


def main(argv: list[str] | None = None) -> None:
    """Print the calibration time and the calibrated model's per-window cost against its base model."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--subject", default="05", help="ecg-motion-artefacts person (01-10)")
    ap.add_argument("--rounds", type=int, default=6, help="alternating per-window measurements of each model")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        caps, minutes = labelled_captures(Path(d), a.subject)
        me = Path(d) / "me.tflite"
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, "calibrate", *caps, "--model", a.model,
                            "-o", str(me)], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"calibrate failed: {p.stderr.strip()}")
        res = json.loads(p.stdout)
        print(f"calibrate {minutes:.1f} min of person {a.subject} ({', '.join(res['calibrated'])}), TensorFlow "
              f"unimportable: {wall:.2f} s wall incl. process start, of which windows + fit {res['fit_seconds']:.2f} s "
              f"(target <= 10 s for 10 minutes)")
        base, mine = ModelBundle.load(a.model), ModelBundle.load(me)
        costs: dict[str, list[float]] = {"base": [], "calibrated": []}
        pair = (("base", base), ("calibrated", mine))
        for r in range(a.rounds):            # the order swaps every round: the second measured ran ~1 % slower
            for name, b in (pair if r % 2 == 0 else pair[::-1]):    # even for the same model twice (measured)
                costs[name].append(sum(per_window(b, runs=300)))
    cb, cc = float(np.median(costs["base"])), float(np.median(costs["calibrated"]))
    print(f"per window: base {cb:.3f} ms, calibrated {cc:.3f} ms ({cc / cb - 1:+.1%}; target within 10 %), "
          f"median of {a.rounds} alternating rounds")


if __name__ == "__main__":
    main()
