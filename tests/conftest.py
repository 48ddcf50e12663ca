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


def cli(*args: str, timeout: float = 120, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess."""
    p = subprocess.run([sys.executable, "-m", "ecg_activity", *args], capture_output=True, text=True,
                       timeout=timeout, cwd=kw.pop("cwd", None), **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"ecg-activity {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def demo_recording():
    from ecg_activity.bridge.recording import load_demo_excerpt

    return load_demo_excerpt()
