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


def cli_popen(*args: str, **kw) -> subprocess.Popen:
    """The real console entry point started in the background (stdout and stderr piped, text)."""
    return subprocess.Popen([sys.executable, "-m", "ecg_activity", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def write_capture(path, samples=None, seconds: float = 20, rate_hz: float = 250.0, per_frame: int = 25,
                  t0: float = 1.7e9, label: str | None = None, mv_per_count: float = 0.001, events=()):
    """A frame-protocol capture written directly (what ``record`` would write for these samples): one
    packet per frame, ``per_frame / rate_hz`` apart from ``t0``; ``events`` are (t_host, kind, detail)."""
    import numpy as np

    from ecg_activity.bridge.blocks import LinkEvent, Packet
    from ecg_activity.bridge.capture import CaptureHeader, CaptureWriter
    from ecg_activity.bridge.protocol_frame import encode_stream

    x = np.arange(int(rate_hz * seconds)) % 1000 if samples is None else np.asarray(samples)
    header = CaptureHeader(protocol="frame", rate_hz=rate_hz, channels=1, mv_per_count=mv_per_count, label=label)
    pending = sorted(events)
    with CaptureWriter(path, header) as w:
        for i, f in enumerate(encode_stream(x, per_frame)):
            t = t0 + i * per_frame / rate_hz
            while pending and pending[0][0] <= t:
                te, kind, detail = pending.pop(0)
                w.write_event(LinkEvent(kind, te, detail))
            w.write_packet(Packet(f, t))
    return path


@pytest.fixture(scope="session")
def shipped_bundle():
    """The shipped activity5 model, loaded once for every test that only reads it."""
    from ecg_activity.edge.model_bundle import ModelBundle

    return ModelBundle.load()
