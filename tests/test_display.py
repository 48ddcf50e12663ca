"""The live view, rendered by rich's own recording console and in a real terminal under tmux."""

import re
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
                          smoothed="walk", hr_bpm=75.0, quality=0.9, rr_ms=[800, 790, 810], rmssd_ms=17.3)
    s.stats.frames, s.stats.lost_samples, s.stats.crc_errors, s.stats.reconnects = 120, 25, 1, 2
    return s


def _text(renderable, width):
    c = Console(record=True, width=width, color_system=None)
    c.print(renderable)
    return c.export_text()


class Tmux:
    """A real terminal: ``cmd`` in a detached tmux session of ``width`` x ``height``."""

    def __init__(self, cmd: str, width: int, height: int) -> None:
        self.name = f"ecg-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), cmd],
                       check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def wait(self, pred, what: str, timeout: float = 60) -> str:
        """The screen once ``pred`` holds for it (polled), or an AssertionError showing the last one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.screen()
            if pred(out):
                return out
            time.sleep(0.25)
        raise AssertionError(f"no {what} on screen:\n{out}")

    def ended(self, timeout: float = 30) -> bool:
        """Has the command ended (its session gone) within ``timeout``?"""
        deadline = time.monotonic() + timeout
        while subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)



def test_render_shows_everything_a_tester_needs():
    s = _state()
    s.keys, s.label, s.markers = True, "walk", 2
    out = _text(render(s, 100), 100)
    for needle in ("75 bpm", "RR 810 ms", "RMSSD 17 ms", "quality", "0.90", "walk", "70%", "lost 25", "CRC 1",
                   "reconnects 2", "REC x.ecgcap", "label walk", "markers 2", "1 rest", "m marker", "space pause",
                   "0:00:0", "±"):
        assert needle in out, needle


def test_poor_quality_says_why_and_the_first_decision_is_counted_down():
    s = _state()
    s.last = WindowResult(t=0, end_s=10, activity="walk", probabilities={"rest": 0.1, "walk": 0.7, "run": 0.2},
                          smoothed="walk", hr_bpm=None, quality=0.2, quality_reason="irregular beats: noise or motion?")
    out = _text(render(s, 100), 100)
    assert "irregular beats" in out
    s.last, s.window_s, s.stream_s, s.stats.samples = None, 20.0, 7.0, 1750
    out = _text(render(s, 100), 100)
    assert "first decision in 13 s" in out


def test_the_trace_is_band_passed_and_on_a_fixed_millivolt_scale(demo_recording):
    from ecg_activity.edge.display import display_filter, scale_for, trace_lines

    x = demo_recording.millivolts()[:1000]
    wander = x + 5.0 * np.sin(np.arange(1000) / 250 * 2 * np.pi * 0.2)      # 5 mV of baseline wander
    y = display_filter(wander, 250.0)
    assert np.abs(y - display_filter(x, 250.0))[250:-250].max() < 0.5       # 5 mV of wander down to < 0.5 mV
    assert scale_for(y) < scale_for(wander)
    assert scale_for(np.array([0.3, -0.4])) == 0.5 and scale_for(np.array([1.7])) == 2.0
    lines = trace_lines(y, 60, 5, scale_for(y))
    assert len(lines) == 5 and all(len(line) == 60 for line in lines)
    # QRS spikes reach the top rows: the trace is not a flat band
    assert any(ch != chr(0x2800) for ch in lines[0] + lines[1])


def test_render_degrades_on_a_tiny_terminal_and_flagged_windows():
    s = _state()
    s.last = WindowResult(t=0, end_s=10, activity=None, probabilities=None, smoothed="walk", hr_bpm=None,
                          quality=0.0, flags=["gap"])
    out = _text(render(s, 30), 30)
    assert "(gap)" in out and "-- bpm" in out and "gap" in out
    assert max(len(line) for line in out.splitlines()) <= 30


def test_an_80x24_terminal_keeps_the_decision_the_recording_and_the_keys_on_screen():
    """Over SSH at 80×24 the panel was cropped (keys and recording line off screen): the trace shrinks or
    goes first; with room to spare it keeps its full height."""
    s = _state()
    s.labels = ("rest", "arms", "walk", "run", "squats")
    s.last.probabilities = {k: 0.2 for k in s.labels}
    s.keys, s.label, s.last.truth = True, "walk", "walk"
    for outage, banner in (("", ""), ("no data for 5 s: check the strap", "walk now: 1:40 left")):
        s.outage, s.banner = outage, banner
        out = _text(render(s, 80, 24), 80).rstrip("\n").splitlines()
        assert len(out) <= 23, "\n".join(out)
        text = "\n".join(out)
        for needle in ("75 bpm", "smoothed", "squats", "REC x.ecgcap", "q quit", outage, banner):
            assert needle in text, needle
    s.outage = s.banner = ""
    roomy = _text(render(s, 100, 50), 100)
    assert roomy.count("\n") > len(out) and len(_text(render(s, 100), 100)) == len(roomy)


def test_trace_keeps_qrs_spikes():
    x = np.zeros(1000)
    x[::200] = 10.0
    rows = trace_rows(x, 50, height=4)
    assert len(rows) == 4 and all(len(r) == 50 for r in rows)
    assert rows[0].count("█") == 5                          # five beats reach the top row


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_live_demo_in_a_real_terminal():
    term = Tmux(f"{sys.executable} -m ecg_activity demo --speed 4 --duration 20", 100, 30)
    try:
        screen = term.wait(lambda s: "bpm" in s and "smoothed" in s and "%" in s, "decision", timeout=20)
        assert "ecg-activity" in screen and "bpm" in screen and "smoothed" in screen, screen
        assert "rest" in screen and "squats" in screen and "frames" in screen
        assert "Traceback" not in screen
    finally:
        term.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_keys_label_mark_pause_and_quit_in_a_real_terminal(tmp_path):
    """Over a real terminal (tmux): 3 sets the label to the third class, m drops a marker, space pauses
    and resumes the recording, q ends the session; all of it lands in the capture as timed events."""
    from ecg_activity.bridge.capture_decode import decode_capture

    cap = tmp_path / "keys.ecgcap"
    cmd = f"{sys.executable} -m ecg_activity demo --speed 4 --record {cap}"
    term = Tmux(cmd, 110, 70)
    try:
        term.wait(lambda s: "m marker" in s, "key hints")
        for key, seen in (("3", "label walk"), ("m", "markers 1"), ("Space", "PAUSED"), ("Space", "● REC")):
            term.keys(key)
            term.wait(lambda s, seen=seen: seen in s, seen)
        term.keys("q")
        term.ended()
    finally:
        term.kill()
    # a starved machine may also stall the virtual link: its disconnect/reconnect events are real ones
    events = [e for e in decode_capture(str(cap)).events
              if e.kind not in ("disconnect", "reconnect", "reconnect_failed", "watchdog")]
    kinds = [e.kind for e in events]
    assert kinds[:4] == ["label", "marker", "pause", "resume"], kinds
    assert events[0].detail == {"label": "walk"} and events[1].detail == {"n": 1}
    assert events[0].t_host < events[1].t_host < events[2].t_host < events[3].t_host


def test_the_trace_filter_keeps_the_qrs_and_drops_wander_and_mains():
    """The live view's 0.5-40 Hz band-pass (numpy FIR): a 10 Hz tone (QRS) through at its height and
    without delay, 5 mV of 0.2 Hz baseline wander down to under 0.4 mV, 50 Hz mains removed; the newest
    samples (the right edge of the trace) stay on the scale (measured: the 2nd-order Butterworth this
    replaced left 0.7 inside and 2.8 at the edge on the same signal)."""
    from ecg_activity.edge.display import display_filter

    t = np.arange(1000) / 250.0
    qrs = np.sin(2 * np.pi * 10 * t)
    err = np.abs(display_filter(qrs + 5 * np.sin(2 * np.pi * 0.2 * t) + np.sin(2 * np.pi * 50 * t), 250.0) - qrs)
    assert err[100:900].max() < 0.35 and err.max() < 2.0
    assert np.abs(display_filter(5 * np.sin(2 * np.pi * 0.2 * t), 250.0))[125:-125].max() < 0.4


def test_a_dumb_terminal_gets_json_lines_as_they_come(tmp_path):
    """``TERM=dumb`` on a real terminal: no live view (rich would print nothing until the end), one JSON
    line per window while the session runs."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()
    env = dict(os.environ, TERM="dumb")
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "demo", "--speed", "20", "--duration", "60"],
                         stdin=slave, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    try:
        while out.count(b'"activity"') < 3 and time.monotonic() < deadline:
            if select.select([master], [], [], 1.0)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
        assert p.poll() is None, "the session ended before printing its lines"
    finally:
        p.terminate()
        p.wait(30)
        os.close(master)
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.startswith("{")]
    assert len(lines) >= 3 and all('"activity"' in ln for ln in lines[:3])


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_port_gone_is_on_screen_and_q_still_quits(tmp_path):
    """The wearable's port vanishes mid-session (the simulator killed): the view says the link is lost and
    that it is reconnecting, the last decision is shown as stale, and q ends the session at once; the
    capture keeps the disconnect and each failed attempt."""
    from ecg_activity.bridge.capture_decode import decode_capture

    sim = subprocess.Popen([sys.executable, "-m", "ecg_activity", "simulate", "--loop", "--speed", "4"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cap = tmp_path / "gone.ecgcap"
    term = None
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/"), sim.stderr.read()
        term = Tmux(f"{sys.executable} -m ecg_activity run --source {port} --record {cap}", 110, 40)
        term.wait(lambda s: "smoothed" in s and "bpm" in s, "decision", timeout=90)
        sim.kill()
        sim.wait()
        out = term.wait(lambda s: "reconnecting" in s and "attempt 2" in s, "reconnecting state", timeout=90)
        assert "link lost" in out and "stale" in out, out
        term.keys("q")
        ended = term.ended()
    finally:
        sim.kill()
        if term is not None:
            term.kill()
    assert ended, "q did not end the session while the link was down"
    kinds = [e.kind for e in decode_capture(str(cap)).events]
    assert "disconnect" in kinds and kinds.count("reconnect_failed") >= 1, kinds


def test_the_view_marks_a_decision_stale_while_data_is_missing():
    s = _state()
    s.outage = "no data for 12 s: check the strap, cable or radio"
    out = _text(render(s, 100), 100)
    assert "no data for 12 s" in out and "stale" in out and "quality -- (no data)" in out
    s.outage = ""
    assert "stale" not in _text(render(s, 100), 100)


def test_the_view_says_when_the_recording_stopped():
    s = _state()
    s.recording_stopped = "x.ecgcap: no space left on device"
    out = _text(render(s, 100), 100)
    assert "RECORDING STOPPED: x.ecgcap: no space left on device" in out and "● REC" not in out


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_guided_calibration_shows_heart_rate_and_ignores_keys_typed_while_recording(tmp_path):
    """In a real terminal: while an activity is recorded the view shows the heart rate, the quality and the
    capture growing; an 's' typed meanwhile does not skip the next activity (input is flushed before
    each prompt)."""
    out = tmp_path / "me.tflite"
    cmd = (f"env -u COLUMNS -u LINES {sys.executable} -m ecg_activity calibrate --guided --source sim:frame "
           f"--speed 4 --seconds 48 --activities rest,walk --min-seconds 5 -o {out}")
    term = Tmux(cmd, 110, 70)
    try:
        term.wait(lambda s: "next: rest" in s, "first prompt", timeout=90)
        term.keys("Enter")
        s = term.wait(lambda s: re.search(r"♥ \d+ bpm", s) and re.search(r"[1-9]\d* KiB", s), "heart rate and KiB",
                      timeout=90)
        assert "rest now:" in s and "quality" in s
        term.keys("s", "Enter")                                                     # typed ahead
        assert "next: walk" not in term.screen(), "rest ended before the typed-ahead key: the test proves nothing:\n" + s
        term.wait(lambda s: "next: walk" in s, "second prompt", timeout=90)
        term.keys("Enter")
        deadline = time.monotonic() + 90
        while not (tmp_path / "me-captures" / "calibrate-walk.ecgcap").exists() and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        term.kill()
    assert (tmp_path / "me-captures" / "calibrate-walk.ecgcap").exists(), "the typed-ahead s skipped walk"
