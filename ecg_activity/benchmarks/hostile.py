"""Peak memory of ``import`` and ``plot`` on hostile files (``python -m ecg_activity.benchmarks.hostile``).

Each case is a small file that claims, or unpacks to, far more than it is: a 63 KB gzip of 31 M lines, a
WFDB header without a length beside a sparse 200 MB signal file, absurd gains and baselines, a capture
claiming endless gaps.  Each runs in a fresh process; the table gives its exit code and peak RSS (the
goal: every one refused in one line under 300 MB; the two largest CSVs the 64 MiB text limit lets in are
imported, under the same bound).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_PEAK = ("import resource, sys\nfrom ecg_activity.cli import main\ntry:\n    code = main(sys.argv[1:])\nfinally:\n"
         "    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10, file=sys.stderr)\n"
         "sys.exit(code)")


def peak(*args: str) -> tuple[int, int, str]:
    """(exit code, peak RSS in MB, the first line of stderr) of ``ecg-activity ARGS`` in a fresh process."""
    p = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True)
    lines = p.stderr.strip().splitlines()
    mb = int(lines[-1].split()[1]) if lines and lines[-1].startswith("PEAK") else -1
    return p.returncode, mb, (lines[0] if len(lines) > 1 else "")


def cases(d: Path) -> list[tuple[str, list[str]]]:
    """The hostile files, made in ``d``, and the command each is given to."""
    from ecg_activity.bridge.blocks import Packet
    from ecg_activity.bridge.capture import CaptureHeader, CaptureWriter
    from ecg_activity.bridge.protocol_frame import encode_frame

    out = []
    bomb = d / "bomb.csv.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(b"0\n" * (31 << 20))
    out.append((f"gzip CSV of 31 M lines ({bomb.stat().st_size >> 10} KB)", ["import", str(bomb), "--rate", "250"]))
    (d / "s.hea").write_text("s 1 250\ns.dat 16 200/mV 16 0 0 0 0 ECG\n")
    with open(d / "s.dat", "wb") as f:
        f.truncate(200 << 20)
    out.append(("WFDB header without a length, sparse 200 MB .dat", ["import", str(d / "s.hea")]))
    for name, spec, what in (("g", "16 1e-9/mV 16 0 0 0 0 ECG", "WFDB gain 1e-9"),
                             ("b", "16 200(100000000000)/mV 16 0 0 0 0 ECG", "WFDB baseline 1e11")):
        (d / f"{name}.hea").write_text(f"{name} 1 250 2500\n{name}.dat {spec}\n")
        np.zeros(2500, "<i2").tofile(d / f"{name}.dat")
        out.append((what, ["import", str(d / f"{name}.hea")]))
    gaps = d / "gaps.ecgcap"                      # 26 KB of frames, each claiming a gap of 65 000 frames
    with CaptureWriter(gaps, CaptureHeader(protocol="frame", rate_hz=250.0, channels=1, mv_per_count=0.001)) as w:
        for k in range(300):
            w.write_packet(Packet(encode_frame(np.zeros(25, np.int32), (k * 65_000) % (1 << 32)), 1.7e9 + k))
    out.append((f"capture of {gaps.stat().st_size >> 10} KB claiming endless gaps", ["plot", str(gaps)]))
    return out


def accepted_cases(d: Path) -> list[tuple[str, list[str]]]:
    """The largest files the limits let in (imported, not refused), made in ``d``."""
    out = []
    big = d / "values.csv"                        # accepted: 17.9 M one-column values just under 64 MiB of text
    big.write_bytes(b"0.1\n12\n" * 8_950_000)
    out.append((f"CSV of 17.9 M values ({big.stat().st_size >> 20} MiB, accepted)", ["import", str(big), "--rate", "250"]))
    timed = d / "timed.csv"                       # accepted: 5.5 M time,value rows, the rate fitted over them
    t = np.arange(5_500_000) / 250.0
    with open(timed, "w") as f:
        for i in range(0, t.size, 500_000):
            f.write("".join(f"{x:.3f},1\n" for x in t[i:i + 500_000]))
    out.append((f"CSV of 5.5 M time,value rows ({timed.stat().st_size >> 20} MiB, accepted)", ["import", str(timed)]))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"{'case':58} {'exit':>4} {'peak MB':>8}  first line")
        for what, args in cases(d) + accepted_cases(d):
            target = ["-o", str(d / ("out.png" if args[0] == "plot" else f"out{len(os.listdir(d))}.ecgcap"))]
            code, mb, line = peak(*args, *target)
            print(f"{what:58} {code:>4} {mb:>8}  {line[:90]}")


if __name__ == "__main__":
    main()
