"""Hostile files, full disks, odd arguments: one line and a non-zero exit, bounded memory and time,
nothing recorded ever lost or overwritten.  Every case is generated here, at test time."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import resource
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path
import zlib

import numpy as np
import pytest

from ecg_activity.bridge.blocks import LinkEvent, Packet
from ecg_activity.bridge.capture import MAGIC, CaptureHeader, CaptureReader, CaptureWriter
from ecg_activity.bridge.capture_decode import decode_capture, iter_capture
from ecg_activity.bridge.protocol_frame import encode_frame, encode_stream
from ecg_activity.bridge import protocol_attys as attys
from ecg_activity.bridge import protocol_polar as polar
from ecg_activity.bridge.stream import stream_blocks
from ecg_activity.models import DEFAULT_MODEL

from conftest import DATASETS, TIME_SCALE, cli, needs_datasets, write_capture

MAX_RSS_MB = 300
MAX_S = 30


#: runs the CLI and, at exit, writes the process's own peak resident memory (VmHWM: counted from its exec,
#: unlike rusage's maxrss, which a child forked from a big test process inherits)
_PEAK_WRAPPER = """import atexit, os, sys
def _peak():
    with open(os.environ["ECG_TEST_PEAK"], "w") as f:
        f.write(next(ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmHWM")))
atexit.register(_peak)
from ecg_activity.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_bounded(*args, stdin=None, preexec=None, timeout=MAX_S, env=None):
    """Run the CLI; return (returncode, stdout, stderr, its own peak RSS in MB, seconds)."""
    import tempfile

    fd, peak = tempfile.mkstemp(prefix="peak-")
    os.close(fd)
    env = {**(env or os.environ), "ECG_TEST_PEAK": peak}
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", _PEAK_WRAPPER, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=stdin, preexec_fn=preexec, env=env)
    try:
        out, err = p.communicate(timeout=timeout * 3 * TIME_SCALE)   # generous on a loaded machine; checked below
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError(f"ecg-activity {' '.join(args)} hung")
    secs = time.monotonic() - t0
    try:
        rss = int(open(peak).read() or 0) / 1024
    except (OSError, ValueError):
        rss = 0.0
    os.unlink(peak)
    return p.returncode, out.decode(), err.decode(), rss, secs


def one_line_error(code, err, expect_code=None):
    assert "Traceback" not in err and "internal error" not in err, err
    assert code != 0 if expect_code is None else code == expect_code, (code, err)
    assert len(err.strip().splitlines()) == 1, err


# -- hostile capture builders ------------------------------------------------

def raw_capture(path, header: dict | bytes | str, chunks=()):
    """A capture with a CRC-valid header of any content and any CRC-valid chunks (kind, time, payload)."""
    body = header if isinstance(header, bytes) else (header if isinstance(header, str) else json.dumps(header)).encode()
    out = MAGIC + struct.pack("<I", len(body)) + body + struct.pack("<I", zlib.crc32(body))
    for kind, t, payload in chunks:
        head = struct.pack("<2sBId", b"CK", kind, len(payload), t)
        out += head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head[2:]))) + payload
    path.write_bytes(out)
    return path


def good_header(**kw):
    h = {"protocol": "frame", "rate_hz": 250.0, "channels": 1, "mv_per_count": 0.001, "start_time": 1.7e9,
         "format_version": 1}
    h.update(kw)
    return h


def polar_jump_capture(path, jump_ns=10**18):
    ts = 10**15
    chunks = [(0, 1.7e9, polar.encode_notification(np.arange(73), ts)),
              (0, 1.7e9 + 1, polar.encode_notification(np.arange(73), ts + jump_ns))]
    return raw_capture(path, good_header(protocol="polar", rate_hz=130.0, mv_per_count=0.001), chunks)


def seq_jump_capture(path, frames=60):
    """Every frame jumps the 16-bit sequence by 65,000: 5 M samples claimed per 250-byte frame."""
    chunks = [(0, 1.7e9 + i, encode_frame(np.arange(77), (i * 65000) & 0xFFFF)) for i in range(frames)]
    return raw_capture(path, good_header(), chunks)


HOSTILE_HEADERS = {
    "rate0": good_header(rate_hz=0), "rate-null": good_header(rate_hz=None), "rate-inf": b'{"protocol": "frame", '
    b'"rate_hz": Infinity, "channels": 1, "mv_per_count": 0.001, "start_time": 1.7e9}',
    "rate-text": good_header(rate_hz="fast"), "proto-unknown": good_header(protocol="morse"),
    "proto-number": good_header(protocol=7), "start-huge": good_header(start_time=1e20),
    "start-negative": good_header(start_time=-1e20), "channels-0": good_header(channels=0),
    "scale-nan": b'{"protocol": "frame", "rate_hz": 250, "channels": 1, "mv_per_count": NaN, "start_time": 1.7e9}',
    "nested": ("[" * 100000) + ("]" * 100000), "list": [1, 2, 3], "label-number": good_header(label=5),
    "extra-list": good_header(extra=[1]),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_HEADERS))
def test_absurd_capture_headers_are_one_line_errors(tmp_path, name):
    cap = raw_capture(tmp_path / f"{name}.ecgcap", HOSTILE_HEADERS[name],
                      [(0, 1.7e9, b"".join(encode_stream(np.arange(500), 25)))])
    for args in (["info", str(cap)], ["replay", str(cap)], ["export", str(cap), "-o", str(tmp_path / f"{name}.csv")]):
        code, _, err, _, _ = run_bounded(*args)
        one_line_error(code, err, 1)
        assert "invalid header" in err or "not an ecg-activity capture" in err or "header" in err, err


def test_odd_chunks_are_damage_not_crashes(tmp_path):
    frames = b"".join(encode_stream(np.arange(2500), 25))
    cap = raw_capture(tmp_path / "events.ecgcap", good_header(), [
        (0, 1.7e9, frames[:5000]), (1, 1.7e9 + 1, b"[1, 2]"), (0, 1.7e9 + 2, frames[5000:])])
    code, out, err, _, _ = run_bounded("info", str(cap), "--json")
    assert code == 1 and "Traceback" not in err and "not a JSON object" in err
    assert json.loads(out)["samples"] > 0          # everything before the damage was read
    # receive times that are not numbers: replaced, never a crash (decoders are documented to never raise)
    nan_cap = raw_capture(tmp_path / "nan.ecgcap", good_header(),
                          [(0, float("nan"), frames[:4000]), (1, float("inf"), b'{"kind": "watchdog"}'),
                           (0, float("-inf"), frames[4000:])])
    for args in (["info", str(nan_cap)], ["replay", str(nan_cap), "-q"], ["replay", str(nan_cap), "--speed", "1", "-q"]):
        code, _, err, _, _ = run_bounded(*args)
        assert code == 0 and "Traceback" not in err, err


@pytest.mark.parametrize("make", [polar_jump_capture, seq_jump_capture], ids=["polar-timestamp", "frame-seq"])
def test_huge_jumps_cost_neither_memory_nor_time(tmp_path, make):
    cap = make(tmp_path / "jump.ecgcap")
    assert cap.stat().st_size < 20_000
    for args in (["info", str(cap)], ["replay", str(cap), "-q"], ["export", str(cap), "-o", str(tmp_path / "j.csv")],
                 ["export", str(cap), "-o", str(tmp_path / "j.edf")]):
        code, _, err, rss, secs = run_bounded(*args)
        assert "Traceback" not in err and rss < MAX_RSS_MB and secs < MAX_S, (args, rss, secs, err)
        if args[0] == "export" and args[-1].endswith(".edf") and make is seq_jump_capture:
            one_line_error(code, err, 1)            # days of zeros refused: EDF needs a continuous axis
    d = decode_capture(str(cap))
    assert d.stats.lost_samples <= 60 * 65536 * 77


def test_replay_of_a_maximal_jump_obeys_sigterm(tmp_path):
    cap = seq_jump_capture(tmp_path / "jump.ecgcap", frames=2000)
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "replay", str(cap), "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=MAX_S)
    assert "Traceback" not in err.decode()


def test_decoders_treat_implausible_jumps_as_restarts():
    dec = polar.PolarDecoder()
    blocks = dec.feed(polar.encode_notification(np.arange(73), 10**15), 1.0)
    blocks += dec.feed(polar.encode_notification(np.arange(73), 10**15 + 10**18), 2.0)   # 31 years later
    assert blocks[-1].gap_before == 0 and dec.stats.restarts == 1 and dec.stats.lost_samples == 0


# -- data loss ---------------------------------------------------------------

def _capture(tmp_path, name="a.ecgcap", seconds=20):
    return write_capture(tmp_path / name, seconds=seconds)


def test_export_never_overwrites_a_capture_or_an_existing_file(tmp_path):
    cap = _capture(tmp_path)
    before = hashlib.sha256(cap.read_bytes()).hexdigest()
    for force in ([], ["--force"]):
        code, _, err, _, _ = run_bounded("export", str(cap), "-o", str(cap), *force)
        one_line_error(code, err, 1)
        other = _capture(tmp_path, f"other{len(force)}.ecgcap")
        code, _, err, _, _ = run_bounded("export", str(cap), "-o", str(other), "--format", "csv", *force)
        one_line_error(code, err, 1)
        assert "capture" in err
    assert hashlib.sha256(cap.read_bytes()).hexdigest() == before
    csv = tmp_path / "a.csv"
    csv.write_text("precious\n")
    code, _, err, _, _ = run_bounded("export", str(cap), "-o", str(csv))
    one_line_error(code, err, 1)
    assert csv.read_text() == "precious\n" and "--force" in err
    code, _, err, _, _ = run_bounded("export", str(cap), "-o", str(csv), "--force")
    assert code == 0 and csv.read_text().startswith("# ecg-activity export")
    assert stat.S_IMODE(csv.stat().st_mode) == 0o600
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    for force in ([], ["--force"]):
        code, _, err, _, _ = run_bounded("export", str(cap), "-o", str(link), *force)
        one_line_error(code, err, 1)
    assert not (tmp_path / "elsewhere.csv").exists()
    code, _, err, _, _ = run_bounded("export", str(cap), "-o", "/dev/full", "--force")
    one_line_error(code, err, 1)


def _limit_file_size(limit):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_full_disk_while_recording_keeps_the_capture_readable(tmp_path):
    """RLIMIT_FSIZE makes the disk "full" at 20 kB for the recorder only (writes fail with EFBIG,
    the first of them short), exactly the path ENOSPC takes."""
    cap = tmp_path / "full.ecgcap"
    code, _, err, _, _ = run_bounded("record", "--source", "sim:frame", "--speed", "20", "-o", str(cap), "-q",
                                     preexec=_limit_file_size(20_000))
    one_line_error(code, err, 1)
    assert "whole up to byte" in err
    r = CaptureReader(cap)
    items, damage = r.read_all()
    assert damage is None and len(items) > 10          # every chunk written is whole; nothing torn
    assert stat.S_IMODE(cap.stat().st_mode) == 0o600


def test_full_disk_stops_only_the_recording_and_classification_goes_on(tmp_path):
    """``run --record`` on a disk that fills at 20 kB: the recording stops (readable up to its last whole
    chunk), the decisions go on to the end, stderr says so as it happens and in the summary, and the exit
    is 1 with the error as the last line (a script or systemd sees it)."""
    cap = tmp_path / "full.ecgcap"
    code, out, err, _, _ = run_bounded("run", "--source", "sim:frame", "--speed", "20", "--duration", "8",
                                       "--no-display", "--record", str(cap), preexec=_limit_file_size(20_000))
    assert code == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert "whole up to byte" in lines[-1] and "stopped; classification and the other outputs go on" in err
    assert "stopped:" in lines[-2]                                   # the summary sentence says it too
    decisions = [json.loads(x) for x in out.splitlines()]
    assert len(decisions) >= 60 and all("activity" in d for d in decisions)      # 160 s of signal classified
    items, damage = CaptureReader(cap).read_all()
    assert damage is None and 10 < len(items)


def test_full_disk_while_exporting_leaves_no_half_file(tmp_path):
    cap = _capture(tmp_path, seconds=120)
    for out in ("x.edf", "x.bdf", "x.csv"):
        code, _, err, _, _ = run_bounded("export", str(cap), "-o", str(tmp_path / out),
                                         preexec=_limit_file_size(cap.stat().st_size // 4))
        one_line_error(code, err, 1)
        assert not (tmp_path / out).exists() and not list(tmp_path.glob(f".{out}.partial*")), err


def test_outputs_are_private_and_never_follow_links(tmp_path):
    cap = tmp_path / "p.ecgcap"
    log = tmp_path / "p.jsonl"
    code, _, err, _, _ = run_bounded("run", "--source", "sim:frame", "--speed", "20", "--duration", "30",
                                     "--no-display", "--record", str(cap), "--jsonl", str(log))
    assert code == 0, err
    assert stat.S_IMODE(cap.stat().st_mode) == 0o600 and stat.S_IMODE(log.stat().st_mode) == 0o600
    link = tmp_path / "l.jsonl"
    link.symlink_to(tmp_path / "target.jsonl")
    for bad in (str(link), str(tmp_path), "/dev/full"):
        code, _, err, _, _ = run_bounded("run", "--source", "sim:frame", "--speed", "20", "--duration", "5",
                                         "--no-display", "--jsonl", bad)
        one_line_error(code, err, 1)
    assert not (tmp_path / "target.jsonl").exists()


# -- hostile model bundles and recordings -------------------------------------

def _model_case(tmp_path, name, meta_change=None, tflite=None, raw_meta=None):
    good = DEFAULT_MODEL.read_bytes()
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    t = tmp_path / f"{name}.tflite"
    t.write_bytes(good if tflite is None else tflite)
    if raw_meta is not None:
        t.with_suffix(".json").write_text(raw_meta)
    else:
        meta_change(meta)
        t.with_suffix(".json").write_text(json.dumps(meta))
    return t


MODEL_CASES = {
    "no-preprocess": lambda m: m.pop("preprocess"), "no-labels": lambda m: m.pop("labels"),
    "labels-5": lambda m: m.update(labels=5), "labels-dupes": lambda m: m.update(labels=["a", "a", "b", "c", "d"]),
    "rate-0": lambda m: m["preprocess"].update(rate_hz=0), "rate-x": lambda m: m["preprocess"].update(rate_hz="x"),
    "nperseg-0": lambda m: m["preprocess"].update(nperseg=0), "hop-negative": lambda m: m["preprocess"].update(hop_s=-1),
    "window-inf": lambda m: m["preprocess"].update(window_s=1e308 * 10), "input-text": lambda m: m.update(input="x"),
    "scale-0": lambda m: m["input"].update(scale=0), "training-list": lambda m: m.update(training=[1]),
}


@pytest.mark.parametrize("name", sorted(MODEL_CASES) + ["nested", "huge"])
def test_hostile_model_bundles_are_one_line_errors(tmp_path, name):
    if name == "nested":
        t = _model_case(tmp_path, name, raw_meta="[" * 100000 + "]" * 100000)
    elif name == "huge":
        t = tmp_path / "huge.tflite"
        with open(t, "wb") as f:
            f.truncate(1 << 30)                          # a sparse 1 GB file: refused before it is read
        t.with_suffix(".json").write_text(DEFAULT_MODEL.with_suffix(".json").read_text())
    else:
        t = _model_case(tmp_path, name, MODEL_CASES[name])
    cap = _capture(tmp_path, seconds=30)
    code, _, err, rss, secs = run_bounded("replay", str(cap), "--model", str(t))
    one_line_error(code, err, 1)
    assert rss < MAX_RSS_MB and secs < MAX_S


def test_hostile_recording_files_are_one_line_errors(tmp_path):
    bomb = tmp_path / "01_01_klud.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        line = b"2024-01-01 00:00:00.000000 ; 1\n" * 32768
        for _ in range(4096):                            # 4 GB of text in a few MB
            f.write(line)
    truncated = tmp_path / "02_01_klud.csv.gz"
    truncated.write_bytes(gzip.compress(b"2024-01-01 00:00:00.000000 ; 1\n" * 1000)[:200])
    empty = tmp_path / "03_01_klud.csv.gz"
    empty.write_bytes(b"")
    garbage = tmp_path / "04_01_klud.csv"
    garbage.write_text("hello\nworld\n")
    edf = tmp_path / "s1_walk.edf"
    edf.write_bytes(b"0       " + b"x" * 300)
    for f in (bomb, truncated, empty, garbage, edf, tmp_path / "missing.csv"):
        code, _, err, rss, secs = run_bounded("record", "--source", "sim:frame", "--recording", str(f), "-o",
                                              str(tmp_path / "r.ecgcap"), "-q")
        one_line_error(code, err, 1)
        assert rss < MAX_RSS_MB and secs < MAX_S, (f.name, rss, secs)


# -- arguments and operating-system errors -----------------------------------

BAD_ARGS = [
    ["record", "--source", "sim:frame", "--duration", "inf"], ["record", "--source", "sim:frame", "--duration", "1e300"],
    ["record", "--source", "sim:frame", "--duration", "nan"], ["record", "--source", "sim:frame", "--speed", "nan"],
    ["record", "--source", "sim:frame", "--speed", "-1"], ["record", "--source", "sim:frame", "--pause", "nan"],
    ["record", "--source", "sim:frame", "--rate", "nan"], ["record", "--source", "sim:frame", "--mv-per-count", "nan"],
    ["record", "--source", "sim:frame", "--mv-per-count", "-1"], ["record", "--source", "sim:frame", "--drop", "nan"],
    ["record", "--source", "sim:frame", "--seed", "-1"], ["run", "--source", "sim:frame", "--channel", "-7"],
    ["run", "--source", "sim:frame", "--smooth", "0"], ["simulate", "--speed", "inf"], ["simulate", "--pause", "-3"],
    ["simulate", "--pause-at", "nan"], ["replay", "x.ecgcap", "--speed", "fast"], ["devices", "--scan-time", "nan"],
    ["demo", "--duration", "0"], ["train", "--window", "nan"], ["train", "--epochs", "0"], ["bench"],
    ["export", "x.ecgcap", "-o", "y.csv", "--format", "wav"], ["run", "--source", "sim:frame", "--out", "ftp://x"],
    ["record", "--source", "sim:polar", "--noise-every", "5"], ["info"], ["nonsense"],
    ["run", "--source", "sim:frame", "--speed", "max", "--duration", "30", "--no-display", "--channel", "3"],
    ["run", "--source", "sim:frame", "--out", "mqtt://h/ecg/pi+7"], ["run", "--source", "sim:frame", "--out",
                                                                   "mqtt://h/ecg/pi7?max=-5"],
    ["run", "--source", "sim:frame", "--out", "mqtt://h/ecg/pi7?status=nan"],
    ["run", "--source", "sim:frame", "--out", "mqtt://h/x/+"], ["run", "--source", "sim:frame", "--out", "mqtt://h/ecg/.."],
    ["collect", "mqtt://h/ecg", "--out", "x"],
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=[" ".join(a) for a in BAD_ARGS])
def test_bad_arguments_exit_2_with_one_line(args, capsys):
    from ecg_activity.cli import main

    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    one_line_error(code, capsys.readouterr().err, 2)


def test_os_errors_are_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cap = _capture(tmp_path)
    cases = [
        ["record", "--source", "sim:frame", "-o", str(tmp_path / "missing" / "x.ecgcap")],
        ["run", "--source", "sim:frame", "--no-display", "--jsonl", str(tmp_path / "missing" / "x.jsonl")],
        ["simulate", "--fault-log", str(tmp_path), "--duration", "1"],
        ["export", str(cap), "-o", str(tmp_path / "nowhere" / "x.csv")],
        ["info", "/dev/zero"], ["info", str(tmp_path)], ["info", str(fifo)],
        ["record", "--source", str(fifo), "--duration", "2", "-o", str(tmp_path / "f.ecgcap")],
        ["record", "--source", str(cap.with_suffix(".csv")), "--duration", "2", "-o", str(tmp_path / "g.ecgcap")],
        ["bench", "--model", str(cap)],
        ["replay", str(cap), "--model", str(cap)],
    ]
    if os.geteuid() != 0:              # root writes anywhere: the read-only case only means something to others
        cases.append(["record", "--source", "sim:frame", "-o", str(ro / "x.ecgcap")])
    for args in cases:
        code, _, err, rss, secs = run_bounded(*args)
        one_line_error(code, err)
        assert secs < MAX_S, args


def test_training_without_the_train_extra_says_what_to_install(tmp_path):
    cap = _capture(tmp_path)
    code = ("import sys\nfor m in ('tensorflow', 'keras', 'matplotlib'): sys.modules[m] = None\n"
            "from ecg_activity.cli import main\nsys.exit(main(sys.argv[1:]))")
    for args in (["train", "--task", "rest_run", "--quick", "-o", str(tmp_path / "m")],
                 ["quantize", str(cap), "-o", str(tmp_path / "q.tflite")], ["bench", "--model", str(DEFAULT_MODEL)]):
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        one_line_error(p.returncode, p.stderr, 1)
        assert "train extra" in p.stderr or "both needed" in p.stderr, p.stderr


def test_zero_data_is_not_success(tmp_path):
    code, _, err, _, _ = run_bounded("record", "--source", "loop://", "--duration", "2", "-o", str(tmp_path / "l.ecgcap"),
                                     "-q")
    one_line_error(code, err, 1)
    assert "no samples decoded" in err
    # ...but one the user stops before anything arrived is not an error: a stop is not a failure
    cap = tmp_path / "stopped.ecgcap"
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "record", "--source", "loop://", "-o", str(cap), "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60 * TIME_SCALE
    while not cap.exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60 * TIME_SCALE)
    assert p.returncode == 0 and err == "" and json.loads(out)["samples"] == 0, (p.returncode, err)
    assert decode_capture(str(cap)).error is None
    # an Attys speaking to a reader that expects frames: warned while it runs, an error at the end
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "simulate", "--protocol", "attys", "--speed", "1",
                          "--duration", "20"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = p.stdout.readline().strip()
        code, _, err, _, _ = run_bounded("record", "--source", port, "--protocol", "attys", "--duration", "0.1",
                                         "-o", str(tmp_path / "hs.ecgcap"), "-q")
        # the handshake gets the virtual Attys streaming; now read it as the wrong protocol
        code, _, err, _, _ = run_bounded("record", "--source", port, "--protocol", "frame", "--duration", "8",
                                         "-o", str(tmp_path / "w.ecgcap"), "-q")
    finally:
        p.terminate()
        p.wait()
    assert code == 1 and "Traceback" not in err
    assert "warning" in err and "no valid 'frame' frame" in err and "no samples decoded" in err


def test_broken_pipe_and_ctrl_c_are_quiet():
    p = subprocess.run(f"{sys.executable} -m ecg_activity demo --no-display --speed 20 | head -3", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert len(p.stdout.splitlines()) == 3 and "Error" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    # Ctrl-C at three moments of our start-up, each waited for (not slept for): while numpy loads (the
    # first heavy import), once the model's interpreter is loaded, and once decisions are flowing.
    # (Before the interpreter has even imported ``site``, a Ctrl-C is Python's own, not ours.)
    def mapped(pid: int, name: str) -> bool:
        try:
            return name in Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            return False

    # the extensions' stages are races (a Ctrl-C inside LiteRT's initialisation came back as an
    # ImportError, TensorFlow was imported instead and the Ctrl-C was lost; one inside numpy's came back as
    # an ImportError about "datetime", reported as an internal error): hit each several times
    for stage in ("numpy", "numpy", "numpy", "numpy", "litert", "litert", "litert", "litert", "running"):
        q = subprocess.Popen([sys.executable, "-m", "ecg_activity", "demo", "--no-display"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60 * TIME_SCALE
        if stage == "running":
            assert q.stdout.readline()
        else:
            while not mapped(q.pid, stage) and q.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert mapped(q.pid, stage), stage
        q.send_signal(signal.SIGINT)
        _, err = q.communicate(timeout=60 * TIME_SCALE)
        assert "Traceback" not in err.decode() and q.returncode in (0, 130), (stage, q.returncode, err.decode())
        assert "TensorFlow" not in err.decode(), (stage, err.decode())   # the interrupt was not taken for a missing backend


# -- counting and timing ---------------------------------------------------------

def test_one_damaged_attys_counter_is_one_bad_line():
    x = np.arange(1000)
    lines = attys.encode_lines(x).split(b"\r\n")[:-1]
    raw = bytearray(__import__("base64").b64decode(lines[500]))
    raw[7] ^= 0x5A                                   # the counter byte, still valid base64
    lines[500] = __import__("base64").b64encode(bytes(raw))
    dec = attys.AttysDecoder()
    blocks = dec.feed(b"\r\n".join(lines) + b"\r\n", 0.0) + dec.flush()
    assert dec.stats.lost_samples == 1 and dec.stats.malformed == 1
    assert blocks[-1].first_index + blocks[-1].n == 1000      # nothing after it moved


def test_replay_reproduces_the_live_hole_estimates(tmp_path):
    """An Attys capture with a silence the counter cannot measure (watchdog, reconnect): the clock
    estimate of the hole is the same live (one read at a time) and replayed (reads coalesced)."""
    x = np.arange(250 * 60) % 2000
    lines = attys.encode_lines(x).split(b"\r\n")[:-1]
    items, t = [], 1.7e9
    for i in range(0, 250 * 25, 7):                  # 28 ms reads
        items.append(Packet(b"\r\n".join(lines[i:i + 7]) + b"\r\n", t))
        t += 0.028
    items += [LinkEvent("watchdog", t + 2.0, {}), LinkEvent("reconnect", t + 4.3, {})]
    t += 4.4
    for i in range(250 * 29, 250 * 60, 7):
        items.append(Packet(b"\r\n".join(lines[i:i + 7])[3:] + b"\r\n", t))   # first read starts mid-line
        t += 0.028
    cap = tmp_path / "holes.ecgcap"
    with CaptureWriter(cap, CaptureHeader(protocol="attys", rate_hz=250, channels=2, mv_per_count=0.001)) as w:
        for it in items:
            w.write_packet(it) if isinstance(it, Packet) else w.write_event(it)
    live = [b for b in stream_blocks(iter(items), attys.AttysDecoder()) if not isinstance(b, LinkEvent)]
    tally, blocks = iter_capture(str(cap))
    replayed = list(blocks)
    assert [(b.first_index, b.n) for b in live] != [] and tally.stats.lost_samples > 0
    assert sum(b.n for b in live) == sum(b.n for b in replayed)
    assert live[-1].first_index + live[-1].n == replayed[-1].first_index + replayed[-1].n
    gaps_live = [b.gap_before for b in live if b.gap_before]
    assert gaps_live == [b.gap_before for b in replayed if b.gap_before]


@pytest.mark.parametrize("true_rate", [128.0, 131.0])
def test_polar_gaps_are_counted_in_the_sensors_own_clock(true_rate):
    rng = np.random.default_rng(1)
    dec = polar.PolarDecoder()
    blocks, k, ts0 = [], 0, 10**15
    for frame in range(300):
        last = k + 72
        ts = ts0 + int(last * 1e9 / true_rate) + int(rng.normal(0, 2e5))       # 0.2 ms timestamp jitter
        if frame != 150:                                                       # one notification lost
            blocks += dec.feed(polar.encode_notification(np.arange(73), ts), frame * 0.56)
        k += 73
    assert dec.stats.gaps == 1 and dec.stats.lost_samples == 73
    assert abs(dec.device_rate_hz - true_rate) < 0.5
    assert blocks[-1].first_index + blocks[-1].n == 300 * 73
    assert abs(blocks[-1].rate_hz - true_rate) < 0.05            # downstream sees the unit's own rate


def test_a_slow_polar_units_heart_rate_and_duration_are_its_own(demo_recording, shipped_bundle):
    """An H10 whose crystal runs at 128 Hz: the blocks, windows, heart rate and the duration follow the
    learnt rate (at the nominal 130 Hz each was 1.5 % off), and a frame lost in the first seconds is
    counted as the one frame it was."""
    from scipy.signal import resample_poly

    from ecg_activity.edge.pipeline import ActivityPipeline

    x = np.rint(resample_poly(demo_recording.counts[:250 * 120].astype(float), 64, 125)).astype(np.int32)
    dec = polar.PolarDecoder()
    blocks = []
    for f, k in enumerate(range(0, x.size - 73, 73)):
        if f != 3:
            blocks += dec.feed(polar.encode_notification(x[k:k + 73], 10**15 + int((k + 72) * 1e9 / 128.0)), f)
    assert dec.stats.gaps == 1 and dec.stats.lost_samples == 73
    pipe = ActivityPipeline(shipped_bundle, dec.rate_hz)
    hr = [r.hr_bpm for b in blocks for r in pipe.push(b) if r.hr_bpm]
    ref = ActivityPipeline(shipped_bundle, 250.0)
    ref_hr = [r.hr_bpm for r in ref.push(_block_of(demo_recording.counts[:250 * 120], 250.0)) if r.hr_bpm]
    assert abs(np.median(hr) / np.median(ref_hr) - 1) < 0.005, (np.median(hr), np.median(ref_hr))
    assert abs(blocks[-1].rate_hz - 128.0) < 0.05 and pipe.windower.size == round(20 * blocks[-1].rate_hz)


def _block_of(counts, rate):
    from ecg_activity.bridge.blocks import SampleBlock

    return SampleBlock(np.asarray(counts, np.int32).reshape(-1, 1), rate, 0.001, 1.7e9)


def test_small_backward_polar_timestamp_is_jitter_not_a_reboot():
    dec = polar.PolarDecoder()
    a = dec.feed(polar.encode_notification(np.arange(73), 10**15), 0.0)
    b = dec.feed(polar.encode_notification(np.arange(73), 10**15 - 10**6), 0.5)
    assert dec.stats.restarts == 0 and b[0].first_index == 73 and not b[0].gap_before and a


def test_flagged_windows_carry_no_decision_no_heart_rate_and_forget_the_past(demo_recording):
    from ecg_activity.bridge.blocks import FLAG_LEAD_OFF, SampleBlock
    from ecg_activity.edge.model_bundle import ModelBundle
    from ecg_activity.edge.pipeline import ActivityPipeline

    b = ModelBundle.load(DEFAULT_MODEL)
    pipe = ActivityPipeline(b, 250.0, smooth=5)
    x = demo_recording.counts[:, None]
    n = b.cfg.window_samples + 10 * 250
    good = pipe.push(SampleBlock(x[:n], 250.0, demo_recording.mv_per_count, 0.0))
    assert good[-1].smoothed is not None
    bad = pipe.push(SampleBlock(x[n:n + 30 * 250], 250.0, demo_recording.mv_per_count, 1.0, first_index=n,
                                flags=FLAG_LEAD_OFF))
    assert all(r.activity is None and r.hr_bpm is None and r.quality == 0 for r in bad)
    assert bad[0].smoothed is not None                 # within the smoothing horizon: still the recent past
    assert all(r.smoothed is None for r in bad[5:])    # after it: nothing carried over


def test_speed_zero_means_as_fast_as_possible_everywhere(tmp_path):
    t0 = time.monotonic()
    code, _, err, _, _ = run_bounded("record", "--source", "sim:frame", "--speed", "0", "-o",
                                     str(tmp_path / "fast.ecgcap"), "-q")
    assert code == 0 and time.monotonic() - t0 < 60, err        # 180 s of recording
    for s in ("0", "max"):
        code, _, err, _, _ = run_bounded("replay", str(tmp_path / "fast.ecgcap"), "--speed", s, "-q")
        assert code == 0, err


@needs_datasets
def test_every_real_window_is_clean_and_crafted_clipping_is_flagged():
    """No false alarm on real recordings of two devices; a device that clips at its own limit (far
    from the 24-bit rails), a flat line and NaN samples are always flagged."""
    from ecg_activity.train.datasets.motion import load_motion_file
    from ecg_activity.train.datasets.wrist import load_wrist_edf
    from ecg_activity.edge.signal_checks import signal_problems

    recs = [load_motion_file(DATASETS / "ecg-motion-artefacts" / "data" / "03" / f"03_0{e}_{a}.csv.gz")
            for e in (1, 3) for a in ("beh", "klud")]
    recs += [load_wrist_edf(DATASETS / "wrist-ppg-exercise" / "edf" / "s3_run.edf")]
    n = 0
    for rec in recs:
        x = rec.counts.astype(float)
        for s in range(0, x.size - 5000, 2500):
            w = x[s:s + 5000]
            assert signal_problems(w, 250.0) == [], rec.source
            limit = np.percentile(np.abs(w - np.median(w)), 97)
            clipped = np.clip(w, np.median(w) - limit, np.median(w) + limit)
            assert {"clipped", "saturated"} & set(signal_problems(np.round(clipped), 250.0))
            flat = w.copy()
            flat[1000:1300] = flat[1000]
            assert "flat" in signal_problems(flat, 250.0)
            bad = w.copy()
            bad[7] = np.nan
            assert signal_problems(bad, 250.0) == ["invalid"]
            n += 1
    assert n > 40


def test_attys_with_every_fault_replays_with_the_live_timing(tmp_path):
    """The issue's scenario on a real pty: drops, corruption, line noise and a 4 s silence that the
    modulo-256 counter cannot measure (watchdog, reconnect, handshake).  What `info` reads back from
    the capture equals what the live recorder counted: lost samples and duration."""
    sim = subprocess.Popen([sys.executable, "-m", "ecg_activity", "simulate", "--protocol", "attys", "--drop", ".01",
                            "--corrupt", ".01", "--noise-every", "10", "--pause-at", "10", "--pause", "4", "--seed",
                            "3", "--duration", "60"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = sim.stdout.readline().strip()
        cap = tmp_path / "att.ecgcap"
        code, out, err, _, _ = run_bounded("record", "--source", port, "--protocol", "attys", "--duration", "25",
                                           "-o", str(cap), "-q")
        assert code == 0, err
    finally:
        sim.terminate()
        sim.wait()
    live = json.loads(out)
    code, out, err, _, _ = run_bounded("info", str(cap), "--json")
    info = json.loads(out)
    assert live["reconnects"] >= 1 and live["lost_samples"] > 250        # the silence was seen and estimated
    for k in ("lost_samples", "samples", "gaps"):
        assert info[k] == live[k], k
    assert info["duration_s"] == pytest.approx((live["samples"] + live["lost_samples"]) / 250, abs=1e-6)


def test_what_the_project_writes_is_private_whole_and_never_through_a_link(tmp_path):
    """A picture (0600, refused for a format matplotlib would choke on), the spool's state (its temporary
    file never followed through a symlink), a model whose metadata is a FIFO (refused, not a hang) and a
    capture whose label holds terminal escapes (shown escaped by info)."""
    from ecg_activity.fleet.spool import Spool

    cap = _capture(tmp_path, seconds=40)
    code, out, err, _, _ = run_bounded("plot", str(cap), "-o", str(tmp_path / "p.png"))
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "p.png").stat().st_mode) == 0o600
    code, _, err, _, _ = run_bounded("plot", str(cap), "-o", str(tmp_path / "out.evil"))
    one_line_error(code, err, 2)
    sp = tmp_path / "spool"
    sp.mkdir(mode=0o700)
    (sp / "state.tmp").symlink_to(tmp_path / "victim")
    s = Spool(sp)
    s.add(lambda seq: "x")
    s.close()
    assert not (tmp_path / "victim").exists() and stat.S_IMODE((sp / "state.json").stat().st_mode) == 0o600
    model = tmp_path / "m.tflite"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    os.mkfifo(tmp_path / "m.json")
    code, _, err, _, _ = run_bounded("replay", str(cap), "--model", str(model))
    one_line_error(code, err, 1)
    assert "not a regular file" in err
    evil = tmp_path / "evil.ecgcap"
    write_capture(evil, seconds=5, label="\x1b[31mred\u202e")
    code, out, err, _, _ = run_bounded("info", str(evil))
    assert code == 0 and "\x1b" not in out and "\u202e" not in out and "\\x1b[31mred\\u202e" in out, out


def test_a_full_disk_never_leaves_a_half_file_or_ends_more_than_its_output(tmp_path):
    """``import`` removes its half capture, JSON lines are never torn, ``simulate --fault-log`` leaves no
    empty log, and a fleet spool that cannot be written stops the fleet output only: the decisions go on."""
    t = np.arange(250 * 120) / 250
    csv = tmp_path / "long.csv"
    csv.write_text("\n".join(f"{a:.3f},{np.sin(a):.4f}" for a in t) + "\n")
    code, _, err, _, _ = run_bounded("import", str(csv), "-o", str(tmp_path / "i.ecgcap"),
                                     preexec=_limit_file_size(20_000))
    one_line_error(code, err, 1)
    assert not (tmp_path / "i.ecgcap").exists()
    log = tmp_path / "d.jsonl"
    code, _, err, _, _ = run_bounded("run", "--source", "sim:frame", "--speed", "20", "--duration", "8",
                                     "--no-display", "--jsonl", str(log), preexec=_limit_file_size(3_000))
    one_line_error(code, err, 1)
    text = log.read_text()
    assert text and text.endswith("\n") and all(json.loads(x) for x in text.splitlines())
    code, _, err, _, _ = run_bounded("simulate", "--speed", "max", "--duration", "1", "--fault-log",
                                     str(tmp_path / "f.json"), preexec=_limit_file_size(0))
    assert code == 1 and "no fault log kept" in err and not (tmp_path / "f.json").exists(), err
    code, out, err, _, _ = run_bounded("run", "--source", "sim:frame", "--speed", "20", "--duration", "8",
                                       "--no-display", "--out", f"mqtt://127.0.0.1:1/ecg/pi7?spool={tmp_path / 'sp'}",
                                       preexec=_limit_file_size(20_000))
    assert code == 1 and "cannot write the MQTT spool" in err.strip().splitlines()[-1], err
    assert len(out.splitlines()) >= 60 and "Traceback" not in err         # 160 s of signal, all decided


def test_hostile_imports_and_plots_are_refused_early_in_one_line(tmp_path):
    """The benchmark's hostile files (``python -m ecg_activity.benchmarks.hostile``): a 63 KB gzip of 31 M
    lines, a WFDB header without a length beside a sparse 200 MB signal, absurd gains and baselines, a
    capture claiming endless gaps: each refused in one line, under the memory bound, nothing written."""
    from ecg_activity.benchmarks.hostile import cases

    for what, args in cases(tmp_path):
        target = tmp_path / ("out.png" if args[0] == "plot" else "out.ecgcap")
        code, _, err, rss, secs = run_bounded(*args, "-o", str(target))
        one_line_error(code, err)
        assert rss < MAX_RSS_MB and not target.exists(), (what, rss, err)
    code, _, err, _, _ = run_bounded("import", str(_csv_of(tmp_path)), "-o", str(tmp_path / "r.ecgcap"),
                                     "--rate", "1e-9")
    one_line_error(code, err, 1)


def _csv_of(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text("1\n2\n3\n")
    return p
