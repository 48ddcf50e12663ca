"""Decoder throughput on this machine (a benchmark that prints numbers, not a test).

    python -m ecg_activity.benchmarks.decoders [--seconds 600]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..bridge import protocol_attys as attys
from ..bridge import protocol_polar as polar
from ..bridge.protocol_frame import encode_stream
from ..bridge.protocols import make_decoder


def _payloads(protocol: str, x: np.ndarray, read_size: int) -> list[bytes]:
    if protocol == "polar":      # one notification per frame, as BLE delivers them
        step = 1e9 / polar.RATE_HZ
        return [polar.encode_notification(x[i:i + 73], 10**15 + int(round((min(i + 73, x.size) - 1) * step)))
                for i in range(0, x.size, 73)]
    data = b"".join(encode_stream(x, 77)) if protocol == "frame" else attys.encode_lines(x)
    return [data[i:i + read_size] for i in range(0, len(data), read_size)]


def bench(protocol: str, seconds: float, read_size: int = 4096, repeats: int = 3) -> float:
    """Best-of-``repeats`` decoder throughput (samples/s) for ``seconds`` of random 24-bit signal cut into
    ``read_size``-byte transport reads: the decoder must keep up with any link, so it is measured alone."""
    rate = 250 if protocol != "polar" else 130
    x = np.random.default_rng(0).integers(-(1 << 23), 1 << 23, int(seconds * rate))
    payloads = _payloads(protocol, x, read_size)
    best = float("inf")
    for _ in range(repeats):
        dec = make_decoder(protocol)
        t = time.perf_counter()
        n = 0
        for p in payloads:
            for b in dec.feed(p, 0.0):
                n += b.n
        best = min(best, time.perf_counter() - t)
        assert n == x.size and dec.stats.lost_samples == 0
    return x.size / best


def main(argv: list[str] | None = None) -> None:
    """``python -m ecg_activity.benchmarks.decoders``: print the decoders' throughput per read size (a benchmark, not
    a test: speed targets live here)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3600.0, help="recording length to decode")
    ap.add_argument("--read-sizes", default="512,4096,65536", help="bytes per transport read (comma-separated)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.read_sizes.split(",")]
    print(f"decoder throughput, samples/s, decoding {a.seconds:.0f} s of random 24-bit signal (target >= 2,000,000)")
    print(f"{'protocol':<8}" + "".join(f"{str(s) + '-byte reads':>20}" for s in sizes))
    for proto in ("frame", "attys"):
        print(f"{proto:<8}" + "".join(f"{bench(proto, a.seconds, s):>20,.0f}" for s in sizes))
    print(f"{'polar':<8}{bench('polar', a.seconds):>20,.0f}  (one BLE notification per feed)")


if __name__ == "__main__":
    main()
