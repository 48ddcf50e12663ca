"""Edge performance on this machine, printed (a benchmark, not a test).

    python -m ecg_activity.benchmarks.edge [--model models/activity5.tflite] [--hours 1] [--no-old]

Per-window cost, one hour of capture replayed at max speed, the resident
memory / start-up / CPU of a real ``ecg-activity run`` process, and the same
per-window cost for the old notebook approach (a matplotlib spectrogram PNG
per window fed to a 7.4M-parameter Flatten/Dense float CNN).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..bridge.blocks import Packet
from ..bridge.capture import CaptureHeader, CaptureWriter
from ..bridge.protocol_frame import encode_stream
from ..bridge.recording import load_demo_excerpt
from ..edge.latency import per_window
from ..edge.model_bundle import DEFAULT_MODEL, ModelBundle


def make_capture(path: Path, hours: float) -> int:
    """An hour of the real excerpt, looped, written as a serial link delivers it (~100 ms reads)."""
    rec = load_demo_excerpt()
    loops = int(np.ceil(hours * 3600 / rec.duration_s))
    x = np.tile(rec.counts, loops)[: int(hours * 3600 * rec.rate_hz)]
    frames = encode_stream(x, 25)
    with CaptureWriter(path, CaptureHeader(protocol="frame", rate_hz=250, channels=1, mv_per_count=rec.mv_per_count,
                                           label="walk")) as w:
        for i in range(0, len(frames), 1):
            w.write_packet(Packet(frames[i], 1e9 + i * 0.1))
    return x.size


def replay_seconds(path: Path) -> tuple[float, dict]:
    """Wall time of ``ecg-activity replay`` of ``path`` in a fresh process (start-up included), and its summary."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "ecg_activity", "replay", str(path), "-q"], capture_output=True, text=True,
                       check=True)
    wall = time.perf_counter() - t0
    return wall, json.loads(p.stdout.strip().splitlines()[-1])


def run_process_numbers(path: Path, realtime_s: float = 20.0, window_s: float = 20.0) -> dict:
    """Start-up to first window (replaying at max speed), the first decision after the window fills
    (the virtual wearable at real time), and, at real time, CPU share and peak RSS."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "run", "--source", str(path), "--speed", "0",
                          "--no-display", "--jsonl", "-"], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    first = time.perf_counter() - t0
    p.kill()
    p.wait()
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "run", "--source", "sim:frame", "--no-display",
                          "--jsonl", "-", "--duration", str(window_s + 10)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    import json as _json

    line = p.stdout.readline()
    t_line = time.time()
    p.kill()
    p.wait()
    after_fill = t_line - _json.loads(line)["t"] if line else float("nan")
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "run", "--source", "sim:frame", "--no-display",
                          "--duration", str(realtime_s), "--jsonl", os.devnull], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    hz = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        stat = Path(f"/proc/{p.pid}/stat").read_text().split(")")[1].split()
        return (int(stat[11]) + int(stat[12])) / hz

    time.sleep(5.0)                       # past start-up: measure the steady state only
    c0, t0 = cpu_s(), time.perf_counter()
    time.sleep(realtime_s - 7.0)
    c1, t1 = cpu_s(), time.perf_counter()
    status = Path(f"/proc/{p.pid}/status").read_text()
    p.wait()
    rss = int([ln for ln in status.splitlines() if ln.startswith("VmHWM")][0].split()[1]) / 1024
    return {"first_window_s": first, "after_fill_s": after_fill, "peak_rss_mb": rss, "cpu_share": (c1 - c0) / (t1 - t0)}


def old_approach(runs: int = 30) -> dict:
    """The notebook: matplotlib specgram -> PNG -> image -> Flatten/Dense float CNN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    x = load_demo_excerpt().millivolts()[:1250]
    k = keras
    m = k.Sequential([k.Input((128, 128, 3)), k.layers.Conv2D(32, 3, activation="relu"), k.layers.MaxPooling2D(2),
                      k.layers.Conv2D(64, 3, activation="relu"), k.layers.MaxPooling2D(2), k.layers.Flatten(),
                      k.layers.Dense(128, activation="relu"), k.layers.Dense(5, activation="softmax")])
    render, infer = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        fig = plt.figure(figsize=(1.28, 1.28), dpi=100)
        plt.specgram(x, Fs=250, NFFT=128, noverlap=96)
        plt.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        buf.seek(0)
        img = plt.imread(buf)[:, :, :3]
        t1 = time.perf_counter()
        m(img[None].astype(np.float32), training=False)
        infer.append(time.perf_counter() - t1)
        render.append(t1 - t0)
    return {"params": int(m.count_params()), "render_ms": float(np.median(render) * 1e3),
            "infer_ms": float(np.median(infer) * 1e3)}


def main(argv: list[str] | None = None) -> None:
    """Print per-window cost, replay time and the live run's start-up, CPU and memory (a benchmark, not a test)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--no-old", action="store_true", help="skip the old approach (needs TensorFlow + matplotlib)")
    ap.add_argument("--per-window-only", action="store_true", help="only the per-window cost (e.g. in an emulator)")
    ap.add_argument("--pi", metavar="IN_ARM64_SH",
                    help="also run the per-window cost inside the emulated Raspberry Pi OS (../shared/pi/in-arm64.sh, "
                         "with /opt/venv made there) and print it as a ratio to this machine's, measured in this run")
    a = ap.parse_args(argv)
    bundle = ModelBundle.load(a.model)
    pre, inv = per_window(bundle)
    print(f"model {Path(a.model).name} ({bundle.path.stat().st_size} bytes, {bundle.backend})")
    print(f"per window (streaming, one window a hop): preprocess {pre:.3f} ms + int8 invoke {inv:.3f} ms = "
          f"{pre + inv:.3f} ms median (target <= 0.3 ms)")
    if a.pi:
        out = subprocess.run([a.pi, "cd /src && /opt/venv/bin/python -m ecg_activity.benchmarks.edge --per-window-only"],
                             capture_output=True, text=True, timeout=3600).stdout
        line = next((ln for ln in out.splitlines() if ln.startswith("per window")), "")
        import re

        m = re.search(r"= ([0-9.]+) ms", line)
        if m:
            print(f"emulated arm64 (QEMU, {os.environ.get('QEMU_CPU', 'cortex-a72')}): {line}")
            print(f"ratio emulator / this machine: {float(m.group(1)) / (pre + inv):.1f}x (the emulator's, not a Pi's)")
        else:
            print("emulated arm64: no result (is the root built and /opt/venv installed?)")
    if a.per_window_only:
        return
    with tempfile.TemporaryDirectory() as d:
        cap = Path(d) / "hour.ecgcap"
        n = make_capture(cap, a.hours)
        wall, summary = replay_seconds(cap)
        print(f"replay {a.hours:g} h capture ({n} samples, {cap.stat().st_size / 1e6:.1f} MB, {summary['windows']} windows)"
              f" at max speed: {wall:.2f} s wall incl. process start (target <= 3 s)")
        r = run_process_numbers(cap, window_s=bundle.cfg.window_s)
    print(f"ecg-activity run: first decision printed {r['after_fill_s']:.2f} s after its window filled "
          f"(target <= 1 s); first window of a capture {r['first_window_s']:.2f} s after launch; "
          f"peak resident memory {r['peak_rss_mb']:.0f} MB (target <= 150 MB); "
          f"CPU at real time {r['cpu_share']:.1%} of one core, steady state (target <= 5%)")
    if not a.no_old:
        o = old_approach()
        old = o["render_ms"] + o["infer_ms"]
        print(f"old approach: PNG render {o['render_ms']:.1f} ms + {o['params'] / 1e6:.1f}M-parameter float CNN "
              f"{o['infer_ms']:.1f} ms = {old:.1f} ms per window; new is {old / (pre + inv):.0f}x faster (target >= 60x), "
              f"{o['params'] / max(1, bundle.meta.training.get('parameters') or 1):.0f}x fewer parameters")


if __name__ == "__main__":
    main()
