import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from ecg_activity.bridge.capture_decode import decode_capture
from ecg_activity.bridge.simulator import device_samples

from conftest import cli

COMMANDS = ["devices", "record", "simulate", "info", "export"]


@pytest.mark.parametrize("cmd", [None] + COMMANDS)
def test_help_everywhere(cmd):
    p = cli(*([cmd] if cmd else []), "--help")
    assert p.returncode == 0 and "usage: ecg-activity" in p.stdout


@pytest.mark.parametrize("args", [
    ["record"],                                   # --source missing
    ["record", "--source", "x", "--duration", "-3"],
    ["simulate", "--drop", "2"],
    ["export", "a.ecgcap"],                        # --output missing
    ["frobnicate"],
])
def test_bad_arguments_exit_2_with_one_line(args):
    p = cli(*args)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "error:" in p.stderr


def test_sim_record_info_export_round_trip(tmp_path, demo_recording):
    cap = tmp_path / "walk.ecgcap"
    cli("record", "--source", "sim:polar", "--speed", "30", "-o", str(cap), "--label", "walk", "--quiet", check=True)
    info = json.loads(cli("info", str(cap), "--json", check=True).stdout)
    assert info["protocol"] == "polar" and info["rate_hz"] == 130.0 and info["label"] == "walk"
    assert info["lost_samples"] == 0 and abs(info["duration_s"] - demo_recording.duration_s) < 1.0

    csv = tmp_path / "walk.csv"
    cli("export", str(cap), "-o", str(csv), check=True)
    rows = np.loadtxt(csv, delimiter=",", skiprows=2)
    truth = device_samples(demo_recording, "polar")
    np.testing.assert_allclose(rows[:, 2], truth.counts[:rows.shape[0]] * 0.001, atol=1e-6)

    edf = tmp_path / "walk.edf"
    cli("export", str(cap), "-o", str(edf), check=True)
    with pyedflib.EdfReader(str(edf)) as f:
        assert f.getSampleFrequency(0) == 130 and f.getPhysicalDimension(0) == "mV"
        sig = f.readSignal(0)[:truth.counts.size]
    # EDF stores 16 bits: equal within one quantisation step of the channel's range
    step = (truth.counts.max() - truth.counts.min()) * 0.001 / 65535
    np.testing.assert_allclose(sig, truth.counts[:sig.size] * 0.001, atol=2 * step)


def test_export_marks_gaps(tmp_path):
    cap = tmp_path / "gappy.ecgcap"
    cli("record", "--source", "sim:frame", "--speed", "40", "--drop", "0.05", "--seed", "3", "-o", str(cap),
        "--quiet", check=True)
    d = decode_capture(str(cap))
    assert d.stats.lost_samples > 0
    edf = tmp_path / "gappy.edf"
    cli("export", str(cap), "-o", str(edf), check=True)
    with pyedflib.EdfReader(str(edf)) as f:
        notes = [t for t in f.readAnnotations()[2] if t.startswith("gap")]
    assert len(notes) == d.stats.gaps
    csv = tmp_path / "g.csv"
    cli("export", str(cap), "-o", str(csv), check=True)
    rows = np.loadtxt(csv, delimiter=",", skiprows=2)
    assert int(rows[-1, 0]) + 1 == d.total_samples and rows.shape[0] == d.total_samples - d.stats.lost_samples


def test_info_on_damaged_files(tmp_path):
    cap = tmp_path / "a.ecgcap"
    cli("record", "--source", "sim:frame", "--speed", "40", "-o", str(cap), "--quiet", check=True)
    data = cap.read_bytes()
    torn = tmp_path / "torn.ecgcap"
    torn.write_bytes(data[:-5])
    p = cli("info", str(torn), "--json")
    assert p.returncode == 0 and "warning:" in p.stderr and "byte offset" in p.stderr
    assert json.loads(p.stdout)["samples"] > 29000
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.ecgcap").write_bytes(bytes(bad))
    p = cli("info", str(tmp_path / "bad.ecgcap"))
    assert p.returncode == 1 and "byte offset" in p.stderr and "Traceback" not in p.stderr
    p = cli("info", str(tmp_path / "nothing.ecgcap"))
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    (tmp_path / "text.ecgcap").write_text("hello")
    p = cli("export", str(tmp_path / "text.ecgcap"), "-o", str(tmp_path / "t.csv"))
    assert p.returncode == 1 and "not an ecg-activity capture" in p.stderr


def _wait_for_bytes(path, n, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.stat().st_size >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not reach {n} bytes in {timeout} s")


def test_record_stops_cleanly_on_sigterm_and_never_overwrites(tmp_path):
    cap = tmp_path / "live.ecgcap"
    proc = subprocess.Popen([sys.executable, "-m", "ecg_activity", "record", "--source", "sim:attys",
                             "-o", str(cap), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_bytes(cap, 32768)          # started and recording (start-up time varies with machine load)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    d = decode_capture(str(cap))
    assert d.error is None and d.stats.samples == summary["samples"] > 250
    p = cli("record", "--source", "sim:frame", "-o", str(cap), "--duration", "1")
    assert p.returncode == 1 and "already exists" in p.stderr


def test_record_killed_mid_write_leaves_a_readable_capture(tmp_path):
    cap = tmp_path / "k.ecgcap"
    proc = subprocess.Popen([sys.executable, "-m", "ecg_activity", "record", "--source", "sim:frame", "--speed", "5",
                             "-o", str(cap), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_bytes(cap, 16384)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    p = cli("info", str(cap), "--json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["samples"] > 1000


def test_devices_without_a_radio():
    p = cli("devices", "--scan-time", "1")
    assert p.returncode == 0 and "Serial ports" in p.stdout and "BLE" in p.stdout


def test_simulate_polar_explains_itself():
    p = cli("simulate", "--protocol", "polar")
    assert p.returncode == 2 and "sim:polar" in p.stderr


def test_replaying_a_foreign_recording_points_to_import(tmp_path):
    f = tmp_path / "walk.edf"
    f.write_bytes(b"0       " * 32)
    p = cli("replay", str(f))
    assert p.returncode == 2 and "ecg-activity import" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_decisions_are_never_appended_to_a_capture(tmp_path):
    """``--jsonl CAPTURE`` would corrupt the recording: refused in one line, the capture unchanged."""
    from conftest import write_capture

    cap = write_capture(tmp_path / "a.ecgcap", seconds=5)
    before = cap.read_bytes()
    for args in (["--jsonl", str(cap)], ["--out", f"jsonl:{cap}"]):
        p = cli("demo", "--once", "--speed", "max", "--no-display", *args)
        assert p.returncode != 0 and "is a capture" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert cap.read_bytes() == before


def test_install_service_writes_a_unit_for_this_installation_that_systemd_accepts(tmp_path):
    """The unit names this venv's ecg-activity, the given user, a state folder systemd creates, and the
    run options quoted so systemd hands them over unchanged; ``systemd-analyze verify`` accepts it."""
    import shlex
    import shutil

    unit = tmp_path / "ecg-activity.service"
    url = "mqtts://broker.lan/ecg/site1/pi7?ca=/etc/ssl/it's 100%.crt"
    p = cli("install-service", "--source", "ble:Polar H10", "--protocol", "polar", "--out", url,
            "--user", "ecg", "-o", str(unit))
    assert p.returncode == 0 and "systemctl enable --now ecg-activity.service" in p.stderr, p.stderr
    text = unit.read_text()
    assert "User=ecg\n" in text and "StateDirectory=ecg-activity\n" in text and "UMask=0077\n" in text
    exec_line = next(x for x in text.splitlines() if x.startswith("ExecStart="))[len("ExecStart="):]
    argv = [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(exec_line)]
    assert argv[0] == str(Path(sys.executable).parent / "ecg-activity") and Path(argv[0]).is_file()
    assert argv[1:8] == ["run", "--source", "ble:Polar H10", "--protocol", "polar", "--out", url]
    assert argv[-1] == "%S/ecg-activity/capture-{start}.ecgcap"
    if shutil.which("systemd-analyze"):
        v = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert v.returncode == 0, v.stderr
    again = cli("install-service", "--source", "/dev/rfcomm0", "-o", str(unit))
    assert again.returncode == 1 and "never overwritten" in again.stderr


def test_a_capture_named_with_start_gets_the_start_time(tmp_path):
    p = cli("record", "--source", "sim:frame", "--speed", "max", "--duration", "5", "-q",
            "-o", str(tmp_path / "capture-{start}.ecgcap"))
    assert p.returncode == 0, p.stderr
    made = list(tmp_path.glob("capture-*.ecgcap"))
    assert len(made) == 1 and re.fullmatch(r"capture-\d{8}-\d{6}\.ecgcap", made[0].name)


def _session_capture(path, x, label_at=60.0, pause=(90.0, 100.0), marker_at=30.0, scale=0.008056640625):
    """What a keyed session records: a label change, a marker, and a pause whose frames were not written."""
    from ecg_activity.bridge.blocks import LinkEvent, Packet
    from ecg_activity.bridge.capture import CaptureHeader, CaptureWriter
    from ecg_activity.bridge.protocol_frame import encode_stream

    t0, per = 1.7e9, 25
    events = [(t0 + marker_at, "marker", {"n": 1}), (t0 + label_at, "label", {"label": "run"}),
              (t0 + pause[0], "pause", {}), (t0 + pause[1], "resume", {})]
    with CaptureWriter(path, CaptureHeader(protocol="frame", rate_hz=250.0, channels=1, mv_per_count=scale,
                                           label="walk")) as w:
        for i, f in enumerate(encode_stream(x, per)):
            t = t0 + (i + 1) * per / 250.0
            while events and events[0][0] <= t - per / 250.0:
                te, kind, detail = events.pop(0)
                w.write_event(LinkEvent(kind, te, detail))
            if not pause[0] <= t - t0 <= pause[1] + per / 250.0:
                w.write_packet(Packet(f, t))
    return path


def test_exports_keep_labels_markers_and_pauses_and_bdf_is_exact(tmp_path, demo_recording):
    """EDF+, BDF+ and CSV carry what the session recorded besides samples: the label changes (as the
    "activity X" annotations import reads back), markers, and a pause as "paused, not recorded" (it was
    exported as samples lost); BDF's physical values equal counts × scale (they were ½ LSB off)."""
    x = demo_recording.counts[:250 * 120]
    cap = _session_capture(tmp_path / "s.ecgcap", x)
    d = decode_capture(str(cap))
    for fmt in ("edf", "bdf"):
        out = tmp_path / f"s.{fmt}"
        cli("export", str(cap), "-o", str(out), check=True)
        with pyedflib.EdfReader(str(out)) as f:
            onsets, _, texts = f.readAnnotations()
            y = f.readSignal(0)
        notes = dict(zip(texts, onsets))
        assert notes["activity walk"] == 0 and abs(notes["activity run"] - 60.0) < 0.2
        assert abs(notes["marker 1"] - 30.0) < 0.2 and "recording paused" in notes and "recording resumed" in notes
        assert [t for t in texts if t.startswith("gap")] == [f"gap {d.stats.lost_samples} paused, not recorded"]
        if fmt == "bdf":
            real = np.concatenate([b.samples[:, 0] for b in d.blocks]) * d.header.mv_per_count
            idx = np.concatenate([np.arange(b.first_index, b.first_index + b.n) for b in d.blocks])
            assert np.abs(y[idx] - real).max() < 0.01 * d.header.mv_per_count
        back = tmp_path / f"back-{fmt}.ecgcap"
        cli("import", str(out), "-o", str(back), check=True)
        labels = [e.detail["label"] for e in decode_capture(str(back)).events if e.kind == "label"]
        assert labels[-1] == "run"
    csv = tmp_path / "s.csv"
    cli("export", str(cap), "-o", str(csv), check=True)
    events = [x for x in csv.read_text().splitlines() if x.startswith("# event")]
    assert any("activity run" in e for e in events) and any("marker 1" in e for e in events)


def test_edf_export_without_pyedflib_is_one_line(tmp_path):
    cap = tmp_path / "a.ecgcap"
    cli("record", "--source", "sim:frame", "--speed", "max", "--duration", "10", "-o", str(cap), "-q", check=True)
    code = ("import sys; sys.modules['pyedflib'] = None; from ecg_activity.cli import main; "
            f"sys.exit(main(['export', {str(cap)!r}, '-o', {str(tmp_path / 'a.edf')!r}]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 1 and "needs pyedflib" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_a_capture_without_a_scale_says_counts_and_gets_one_in_a_new_copy(tmp_path, demo_recording):
    """A frame-protocol sensor recorded without --mv-per-count is in counts: info says so, and
    ``info --set-scale`` writes a new capture (every chunk copied, the original untouched) whose exports
    are in millivolts."""
    from conftest import write_capture

    cap = write_capture(tmp_path / "c.ecgcap", demo_recording.counts[:250 * 30], mv_per_count=0.0,
                        events=[(1.7e9 + 10, "label", {"label": "walk"})])
    before = cap.read_bytes()
    p = cli("info", str(cap), "--json", check=True)
    assert json.loads(p.stdout)["unit"].startswith("counts")
    assert cli("info", str(cap), "--set-scale", "0.001").returncode == 2          # never in place
    new = tmp_path / "mv.ecgcap"
    p = cli("info", str(cap), "--set-scale", "0.001", "-o", str(new), check=True)
    assert cap.read_bytes() == before and json.loads(p.stdout)["chunks"] > 0
    a, b = decode_capture(str(cap)), decode_capture(str(new))
    assert b.header.mv_per_count == 0.001 and b.header.extra["scale_was"] == 0.0
    assert [e.detail for e in a.events] == [e.detail for e in b.events]
    np.testing.assert_array_equal(np.concatenate([x.samples for x in a.blocks]),
                                  np.concatenate([x.samples for x in b.blocks]))
    cli("export", str(new), "-o", str(tmp_path / "mv.csv"), check=True)
    assert "ch0_mv" in (tmp_path / "mv.csv").read_text()
    assert cli("info", str(cap), "--set-scale", "0.001", "-o", str(new)).returncode == 1      # exists: refused


def test_edf_and_bdf_keep_a_rate_that_is_not_a_whole_number(tmp_path, demo_recording):
    """256.016 Hz (a sensor's true crystal rate) was written as 256.08 Hz: the data record is chosen so the
    stored rate is within a part per million, said on stderr, and the filled-up last record is annotated
    as padding, not passed off as signal."""
    from conftest import write_capture

    x = demo_recording.counts[:12_000]
    cap = write_capture(tmp_path / "odd.ecgcap", samples=x, rate_hz=256.016)
    for fmt in ("edf", "bdf"):
        out = tmp_path / f"odd.{fmt}"
        p = cli("export", str(cap), "-o", str(out), check=True)
        with pyedflib.EdfReader(str(out)) as f:
            rate = f.getSampleFrequency(0)
            onsets, durations, texts = f.readAnnotations()
            n = f.getNSamples()[0]
        assert abs(rate - 256.016) / 256.016 < 1e-6, rate
        assert "stored as 256.0160" in p.stderr
        pad = [(o, d) for o, d, t in zip(onsets, durations, texts) if t.startswith("end:")]
        assert n > x.size and len(pad) == 1 and pad[0][0] == pytest.approx(x.size / 256.016, abs=1e-3)
    cap = write_capture(tmp_path / "whole.ecgcap", samples=x[:2500], rate_hz=250.0)
    p = cli("export", str(cap), "-o", str(tmp_path / "whole.edf"), check=True)
    with pyedflib.EdfReader(str(tmp_path / "whole.edf")) as f:
        assert f.getSampleFrequency(0) == 250.0 and f.datarecord_duration == 1.0
    assert "note" not in p.stderr


def test_record_with_its_progress_line(tmp_path):
    """Without --quiet, record prints its progress every few seconds (it ended at once with an internal
    error: the progress sink could not hear the link's state)."""
    cap = tmp_path / "p.ecgcap"
    p = cli("record", "--source", "sim:frame", "--speed", "4", "--duration", "3", "-o", str(cap))
    assert p.returncode == 0 and "recording sim:frame:" in p.stderr and "internal error" not in p.stderr, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["samples"] > 2000
