from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("ECG_DATASETS", ROOT.parent / "shared" / "datasets"))

needs_datasets = pytest.mark.skipif(
    not (DATASETS / "ecg-motion-artefacts").is_dir(),
    reason=f"real datasets not found at {DATASETS} (../shared/datasets beside the project)")


def _time_scale() -> float:
    """How much slower this machine is than the one the time limits were set on (an emulated Pi is ~10-30x):
    $ECG_TEST_TIME_SCALE, or measured once with a fixed numpy workload.  Limits scale; they never shrink."""
    if os.environ.get("ECG_TEST_TIME_SCALE"):
        return max(1.0, float(os.environ["ECG_TEST_TIME_SCALE"]))
    import time

    import numpy as np

    x = np.random.default_rng(0).standard_normal((64, 4096))
    t0 = time.perf_counter()
    for _ in range(20):
        np.fft.rfft(x, axis=1)
    reference_s = 0.06                     # this workload on the 2-core x86 machine the limits were set on
    return max(1.0, (time.perf_counter() - t0) / reference_s)


TIME_SCALE = _time_scale()


def cli(*args: str, timeout: float = 120, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (its time limit scaled to this machine)."""
    p = subprocess.run([sys.executable, "-m", "ecg_activity", *args], capture_output=True, text=True,
                       timeout=timeout * TIME_SCALE, cwd=kw.pop("cwd", None), **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"ecg-activity {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def demo_recording():
    from ecg_activity.bridge.recording import load_demo_excerpt

    return load_demo_excerpt()
