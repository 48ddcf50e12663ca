"""The live view, rendered by rich's own recording console and in a real terminal under tmux."""

import shutil
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from rich.console import Console

from ecg_activity.edge.display import DisplayState, render, trace_rows
from ecg_activity.edge.pipeline import WindowResult


def _state():
    s = DisplayState(labels=("rest", "walk", "run"), source="sim:frame", model="m.tflite", backend="litert",
                     recording="x.ecgcap", recorded_bytes=4096)
    t = np.arange(1000) / 250
    s.trace = np.where((t % 0.8) < 0.02, 5.0, 0.0)         # spikes every 0.8 s
    s.last = WindowResult(t=0, end_s=10, activity="walk", probabilities={"rest": 0.1, "walk": 0.7, "run": 0.2},
                          smoothed="walk", hr_bpm=75.0, quality=0.9)
    s.stats.frames, s.stats.lost_samples, s.stats.crc_errors, s.stats.reconnects = 120, 25, 1, 2
    return s


def _text(renderable, width):
    c = Console(record=True, width=width, color_system=None)
    c.print(renderable)
    return c.export_text()


def test_render_shows_everything_a_tester_needs():
    out = _text(render(_state(), 80), 80)
    for needle in ("75 bpm", "walk", "70%", "lost 25", "CRC 1", "reconnects 2", "REC x.ecgcap"):
        assert needle in out, needle


def test_render_degrades_on_a_tiny_terminal_and_flagged_windows():
    s = _state()
    s.last = WindowResult(t=0, end_s=10, activity=None, probabilities=None, smoothed="walk", hr_bpm=None,
                          quality=0.0, flags=["gap"])
    out = _text(render(s, 30), 30)
    assert "(gap)" in out and "-- bpm" in out
    assert max(len(line) for line in out.splitlines()) <= 30


def test_trace_keeps_qrs_spikes():
    x = np.zeros(1000)
    x[::200] = 10.0
    rows = trace_rows(x, 50, height=4)
    assert len(rows) == 4 and all(len(r) == 50 for r in rows)
    assert rows[0].count("█") == 5                          # five beats reach the top row


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_live_demo_in_a_real_terminal():
    name = f"ecg-{uuid.uuid4().hex[:8]}"
    cmd = f"{sys.executable} -m ecg_activity demo --speed 4 --duration 20"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd], check=True)
    try:
        screen = ""
        for _ in range(40):
            time.sleep(0.5)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                    text=True).stdout
            if "bpm" in screen and "smoothed" in screen and "%" in screen:
                break
        assert "ecg-activity" in screen and "bpm" in screen and "smoothed" in screen, screen
        assert "rest" in screen and "squats" in screen and "frames" in screen
        assert "Traceback" not in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
