"""Why do some subjects fail?  Heart rate per subject, electrode and activity, and per-recording accuracy.

    python -m ecg_activity.train.analysis [--bench docs/bench/rest_run.json]

The dataset README warns that "rest" is not always a resting heart; this
prints the evidence next to where a benchmark's held-out subjects fail.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from ..edge.heart_rate import heart_rate

from .datasets.motion import MOTION_ELECTRODES, load_motion_file, motion_file_info
from .datasets import get_dataset


def median_hr(path) -> float | None:
    """A recording's median heart rate over 2500-sample windows at half overlap (None when no window has one)."""
    rec = load_motion_file(path)
    x = rec.counts.astype(float)
    bpm = [heart_rate(x[s:s + 2500], rec.rate_hz).bpm for s in range(0, x.size - 2500, 1250)]
    bpm = [b for b in bpm if b is not None]
    return float(np.median(bpm)) if bpm else None


def main(argv: list[str] | None = None) -> None:
    """Print heart rate per person, electrode and activity, and with ``--bench`` where held-out people fail."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", help="a bench JSON report, to show per-recording accuracy of held-out subjects")
    ap.add_argument("--activities", default="rest,run")
    a = ap.parse_args(argv)
    acts = a.activities.split(",")
    hr = defaultdict(dict)
    for p in get_dataset("motion").files():
        subj, elec, act = motion_file_info(p)
        if act in acts:
            hr[subj][(elec, act)] = median_hr(p)
    elecs = list(MOTION_ELECTRODES.values())
    print("median heart rate (bpm) by subject; columns electrode/activity")
    print("subj  " + "  ".join(f"{e[:7]:>7}/{act[:4]:<4}" for act in acts for e in elecs))
    for subj in sorted(hr):
        row = "  ".join(f"{hr[subj].get((e, act)) or float('nan'):12.0f}" for act in acts for e in elecs)
        print(f"{subj:>4}  {row}")
    if a.bench:
        res = json.load(open(a.bench))
        print("\nheld-out accuracy per recording (int8):")
        for f in res["loso"]["folds"]:
            worst = sorted(f.get("per_source", {}).items(), key=lambda kv: kv[1].get("int8_accuracy", 1))[:3]
            print(f"{f['subject']}: {f.get('int8_accuracy', float('nan')):.3f}; worst: " +
                  ", ".join(f"{k.split('/')[-1]} {v.get('int8_accuracy', float('nan')):.2f}" for k, v in worst))


if __name__ == "__main__":
    main()
