"""``ecg-activity bench``: leave-one-dataset-out and leave-one-subject-out, float against int8, as a report
and in the model card."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import needs_train_extra, say
from .options import positive_int


def cmd(a: argparse.Namespace) -> int:
    """Retrain a model's recipe fold by fold and report LODO, LOSO, calibration and latency (or
    only re-measure calibration from saved fold outputs)."""
    from ..edge.model_bundle import ModelBundle
    from ..train.bench import run_bench

    ModelBundle.load(a.model)             # a model that cannot load is refused before any training
    shipped = str(Path("docs") / "bench" / Path(a.model).stem)
    if a.calibration_only:
        from ..train.bench import refresh_calibration

        # the tracked report is rewritten only together with the card it must agree with
        a.out = a.out or (shipped if a.update_card else f"bench-{Path(a.model).stem}")
        cal = refresh_calibration(a.model, a.out, update_card=a.update_card, progress=say,
                                  source=a.bench_from or shipped)["loso"]["calibration"]
        print(json.dumps({"minutes_per_class": cal["minutes_per_class"], "left_out_2min": cal.get("left_out_2min"),
                          "report": str(Path(a.out).with_suffix(".md"))}))
        return 0
    a.out = a.out or shipped
    res = run_bench(a.model, quick=a.quick, jobs=a.jobs, out=a.out, update_card=a.update_card,
                    lodo=not a.no_lodo, progress=say)
    lo = res["loso"]
    print(json.dumps({"lodo": {d: {k: c["correct"] for k, c in v["int8"].items()} for d, v in res["lodo"].items()},
                      "float_accuracy": lo["float"]["accuracy"], "int8_accuracy": lo["int8"]["accuracy"],
                      "float_macro_f1": lo["float"]["macro_f1"], "int8_macro_f1": lo["int8"]["macro_f1"],
                      "worst_person": lo["int8"]["per_fold"]["min"], "agreement": lo["agreement"],
                      "minutes": round(res["wall_time_s"] / 60, 1), "report": str(Path(a.out).with_suffix(".md"))}))
    return 0


def register(sub) -> None:
    """Add ``bench``."""
    s = sub.add_parser("bench", help="leave-one-dataset-out and leave-one-subject-out, float vs int8, as a report")
    s.add_argument("--model", "-m", required=True, help="the int8 .tflite (its metadata gives the recipe)")
    s.add_argument("--jobs", "-j", type=positive_int, default=1, help="folds trained in parallel processes")
    s.add_argument("--out", "-o", help="report path stem (default docs/bench/MODEL; with --calibration-only "
                                       "and no --update-card, bench-MODEL here: the tracked report stays)")
    s.add_argument("--from", dest="bench_from", metavar="STEM",
                   help="with --calibration-only: the full bench's saved outputs (default docs/bench/MODEL)")
    s.add_argument("--quick", action="store_true", help="6 people, 2 epochs: a smoke run")
    s.add_argument("--no-lodo", action="store_true", help="skip leave-one-dataset-out")
    s.add_argument("--update-card", action="store_true", help="write the numbers into the model card")
    s.add_argument("--calibration-only", action="store_true",
                   help="re-measure personal calibration and the interval over people on the last bench's "
                        "saved fold outputs, and the file's noise stability, robustness suite and latency "
                        "(no training)")
    s.set_defaults(func=needs_train_extra(cmd))
