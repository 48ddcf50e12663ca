"""Fleet throughput on this machine, printed (a benchmark, not a test).

    python -m ecg_activity.benchmarks.fleet [--devices 1,10,100] [--seconds 20] [--speed 10]

Starts a real Mosquitto on a free loopback port, a collector, and N simulated
devices, each publishing one decision per (1 / speed) s through the real
``MqttSink`` (disk spool, QoS 1).  Prints messages/s at the collector,
end-to-end latency percentiles and loss; then the peak memory of a real
``ecg-activity run --out mqtt://...`` process (the Pi side).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


class _Result:
    """What the sink needs of a WindowResult: its JSON line (with the send time, for latency)."""

    def __init__(self, i: int) -> None:
        self.i = i

    def to_json(self) -> str:
        return json.dumps({"t": time.time(), "end_s": self.i, "activity": "walk", "hr_bpm": 100.0})


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(n_devices: int, seconds: float, speed: float, port: int, folder: Path) -> dict:
    """``n_devices`` simulated devices publishing decisions through a real broker for ``seconds``: messages
    sent, received, lost, duplicated, the rate and latency percentiles."""
    from ..sinks import SessionInfo
    from ..sinks.mqtt import MqttSink
    from ..fleet import MqttUrl
    from ..fleet.collector import Collector

    latencies: list[float] = []
    col = Collector(f"mqtt://127.0.0.1:{port}/bench{n_devices}/#", folder / f"out{n_devices}",
                    client_id=f"bench-col-{n_devices}")
    orig = col._on_message

    def on_message(client, userdata, msg):
        if msg.topic.endswith("/decision"):
            latencies.append(time.time() - json.loads(msg.payload)["t"])
        orig(client, userdata, msg)
    col.client.on_message = on_message
    col.start()
    col.connected.wait(10)
    sinks = [MqttSink(MqttUrl.parse(f"mqtt://127.0.0.1:{port}/bench{n_devices}/dev{k:03d}"),
                      folder / f"spool{n_devices}" / f"dev{k:03d}", client_id=f"bench-{n_devices}-{k}")
             for k in range(n_devices)]
    info = SessionInfo(header=None, title="bench", kind="sim")
    for s in sinks:
        s.on_start(info)
    for s in sinks:
        s.connected.wait(10)
    period = 1.0 / speed
    t0 = time.monotonic()
    sent = 0
    i = 0
    while time.monotonic() - t0 < seconds:
        for s in sinks:
            s.on_window(_Result(i))
            sent += 1
        now = time.monotonic()
        for s in sinks:
            s.on_tick(now)
        i += 1
        time.sleep(max(0.0, t0 + i * period - time.monotonic()))
    for s in sinks:
        s.close(flush_s=30.0)
    deadline = time.monotonic() + 30
    while sum(d.decisions for d in col.devices.values()) < sent and time.monotonic() < deadline:
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    got = sum(d.decisions for d in col.devices.values())
    dup = sum(d.duplicates for d in col.devices.values())
    col.stop()
    lat = np.array(latencies) * 1e3 if latencies else np.zeros(1)
    return {"devices": n_devices, "sent": sent, "received": got, "lost": sent - got, "duplicates": dup,
            "msgs_per_s": got / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99))}


def pi_side_memory(port: int, folder: Path, seconds: float = 30.0) -> float:
    """Peak RSS (MB) of a real ``run --out mqtt://`` at real time."""
    url = f"mqtt://127.0.0.1:{port}/mem/pi1?spool={folder / 'memspool'}"
    p = subprocess.Popen([sys.executable, "-m", "ecg_activity", "run", "--source", "sim:frame", "--no-display",
                          "--duration", str(seconds), "--out", url, "--jsonl", os.devnull],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while p.poll() is None:
        try:
            status = Path(f"/proc/{p.pid}/status").read_text()
            peak = max(peak, int([ln for ln in status.splitlines() if ln.startswith("VmHWM")][0].split()[1]) / 1024)
        except (OSError, IndexError):
            pass
        time.sleep(0.5)
    return peak


def main(argv: list[str] | None = None) -> None:
    """Print the fleet figures for each device count (a benchmark, not a test)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", default="1,10,100")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=10.0, help="decisions per second per device (10 = 10x real time)")
    a = ap.parse_args(argv)
    broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        port = _port()
        conf = folder / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
        mq = subprocess.Popen([broker, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            for n in [int(v) for v in a.devices.split(",")]:
                r = run(n, a.seconds, a.speed, port, folder)
                print(f"{r['devices']:>4} devices at {a.speed:g} decisions/s each: {r['msgs_per_s']:8.0f} msgs/s "
                      f"received, latency p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; "
                      f"sent {r['sent']}, lost {r['lost']}, duplicates dropped {r['duplicates']}", flush=True)
            mem = pi_side_memory(port, folder)
            print(f"Pi side: ecg-activity run --out mqtt://... peak resident memory {mem:.0f} MB (target <= 150 MB)")
        finally:
            mq.terminate()
            mq.wait()


if __name__ == "__main__":
    threading.current_thread().name = "fleet-benchmark"
    main()
