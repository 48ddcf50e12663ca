"""Rebuilds bridge/data/demo_excerpt.npz from ../shared/datasets (run once; the result is committed).

    python -m ecg_activity.train.make_demo_excerpt [--subject 10 --electrode 01 --seconds 60 --skip 1 --skip-rest 8]
"""

from __future__ import annotations

import argparse

import numpy as np

from ..bridge.recording import DEMO_EXCERPT
from .datasets.base import MODEL_RATE_HZ, shared_datasets
from .datasets.motion import load_motion_file

ACTS = (("klud", "rest"), ("chodza", "walk"), ("beh", "run"))


def main(argv: list[str] | None = None) -> None:
    """Write the bundled demo excerpt from ecg-motion-artefacts (a held-out person)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subject", default="10")
    ap.add_argument("--electrode", default="01")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--skip", type=float, default=1.0, help="seconds skipped at the start of each recording")
    ap.add_argument("--skip-rest", type=float, default=8.0,
                    help="... of the rest recording, which begins with the person still settling: the demo's "
                         "first impression should be a clean stretch")
    a = ap.parse_args(argv)
    parts, bounds, labels = [], [], []
    pos = 0
    for act, label in ACTS:
        path = shared_datasets() / "ecg-motion-artefacts" / "data" / a.subject / f"{a.subject}_{a.electrode}_{act}.csv.gz"
        rec = load_motion_file(path)
        s0 = int((a.skip_rest if label == "rest" else a.skip) * MODEL_RATE_HZ)
        x = rec.counts[s0:s0 + int(a.seconds * MODEL_RATE_HZ)]
        parts.append(x)
        bounds.append((pos, pos + x.size))
        labels.append(label)
        pos += x.size
    np.savez_compressed(
        DEMO_EXCERPT, counts=np.concatenate(parts).astype(np.int32), rate_hz=MODEL_RATE_HZ,
        mv_per_count=rec.mv_per_count, segment_bounds=np.array(bounds), segment_labels=np.array(labels),
        source=f"ecg-motion-artefacts (Kalouskova, GPL-3.0) subject {a.subject} electrode {a.electrode}",
        subject=f"motion-{a.subject}")
    print(f"wrote {DEMO_EXCERPT} ({pos} samples, {pos / MODEL_RATE_HZ:.0f} s: {', '.join(labels)})")


if __name__ == "__main__":
    main()
