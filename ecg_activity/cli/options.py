"""Argument types, the option groups several commands share, and ``SourceOptions``.

Every number is checked for what it means (finite, in range): ``--duration
inf``, ``--speed nan`` or ``--channel -7`` are refused by argparse with one
line and exit 2, never passed on to die in a thread.  Nothing here imports
more than argparse at import time, so ``--help`` and argument errors stay
instant.  ``SourceOptions`` is the one place the source options' defaults
live: commands that choose their source themselves (demo, replay, guided
calibrate) build one instead of copying them.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from dataclasses import dataclass, fields, replace

#: longest duration anything accepts (a year): a timer must be able to wait for it
MAX_DURATION_S = 366 * 24 * 3600.0


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2): bad input gets one line, not a usage dump."""

    def error(self, message: str) -> None:   # one line, exit 2 (argparse's own default prints usage too)
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def number(kind=float, lo: float = 0.0, hi: float = math.inf, lo_open: bool = True, what: str = ""):
    """An argparse type: a finite ``kind`` in (lo, hi] (or [lo, hi] when not ``lo_open``)."""
    def conv(s: str):
        try:
            v = kind(s)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{s!r} is not a {'whole ' if kind is int else ''}number") from None
        if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
            rng = f"{'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if math.isfinite(hi) else "")
            raise argparse.ArgumentTypeError(f"must be a finite number {rng}, got {s}")
        return v
    return conv


positive_float = number(float)
positive_int = number(int)
duration = number(float, 0.0, MAX_DURATION_S)
probability = number(float, 0.0, 1.0, lo_open=False)
non_negative = number(float, 0.0, MAX_DURATION_S, lo_open=False)


def positive(kind):
    """Back-compatible name for ``number(kind)``."""
    return number(kind)


def speed(s: str) -> float:
    """'max' or 0 = as fast as possible (returned as infinity); otherwise a finite factor > 0."""
    if s.strip().lower() in ("max", "0", "0.0"):
        return math.inf
    v = number(float, 0.0, 1e6)(s)
    return v


def protocol_names() -> list[str]:
    """The registered wire protocols, for choices and help."""
    from ..bridge.protocols import names

    return list(names())


@dataclass(frozen=True)
class SourceOptions:
    """What opens a source: the wearable (or ``sim:``, a capture, ``replay:FILE``), how to read it and the
    virtual wearable's faults.  Built once from the arguments (``from_args``); a command that does not
    expose an option gets the default here, the same one the option's ``--help`` names."""

    source: str = ""
    protocol: str | None = None
    baud: int = 115200
    rate: float | None = None
    mv_per_count: float | None = None
    recording: str | None = None
    speed: float = 1.0
    drop: float = 0.0
    corrupt: float = 0.0
    noise_every: float = 0.0
    pause_at: float = -1.0
    pause: float = 0.0
    seed: int = 0

    @classmethod
    def from_args(cls, a: argparse.Namespace, **override) -> "SourceOptions":
        """The options the command's arguments give (those it lacks at their defaults), then ``override``."""
        given = {f.name: getattr(a, f.name) for f in fields(cls) if getattr(a, f.name, None) is not None}
        return replace(cls(**given), **override)

    def fault_plan(self):
        """The virtual wearable's ``FaultPlan`` these options describe."""
        from ..bridge.simulator import FaultPlan

        return FaultPlan(drop=self.drop, corrupt=self.corrupt, noise_every_s=self.noise_every,
                         pause_at_s=self.pause_at, pause_s=self.pause, seed=self.seed)

    def open(self, stop: threading.Event | None = None, label: str | None = None, loop: bool = False):
        """The source these options describe (raises SourceError or UsageError with one line)."""
        from ..bridge.errors import UsageError
        from ..bridge.protocols import get_protocol
        from ..bridge.sources import open_source

        sim = self.source[4:] if self.source.startswith("sim:") else None
        if self.noise_every and sim in protocol_names() and not get_protocol(sim).serial:
            raise UsageError(f"--noise-every: a {self.source} link delivers whole notifications, never line noise")
        return open_source(self.source, self.protocol, baudrate=self.baud, rate_hz=self.rate,
                           mv_per_count=self.mv_per_count, speed=self.speed,
                           recording=load_recording_file(self.recording), stop=stop,
                           faults=self.fault_plan(), label=label, loop=loop)


def load_recording_file(path: str | None):
    """``--recording``: None (the virtual wearable's bundled excerpt) or a dataset file, read by the dataset
    that claims its name (``train/datasets``): the bridge streams recordings, training knows datasets."""
    if not path:
        return None
    from pathlib import Path

    from ..bridge.errors import SourceError
    from ..train.datasets import load_file

    p = Path(path)
    if not p.is_file():
        raise SourceError(f"recording {path!r} does not exist or is not a file")
    rec = load_file(p)
    if rec is None:
        raise SourceError(f"{p.name}: not a file of a known dataset (ecg-motion-artefacts NN_EE_ACT.csv.gz, "
                          "wrist-ppg-exercise sN_ACT.edf); 'ecg-activity import' makes a capture of any CSV, EDF "
                          "or WFDB recording")
    return rec


def add_source_args(p: argparse.ArgumentParser, protocols: list[str]) -> None:
    """The options every command that reads a wearable shares (source, protocol, baud, rate, scale, and the
    virtual wearable's recording and speed)."""
    p.add_argument("--source", "-s", required=True,
                   help="serial port or pyserial URL (/dev/ttyUSB0, /dev/rfcomm0, loop://), ble:NAME-OR-ADDRESS, "
                        "sim:" + "|sim:".join(protocols) + " (virtual wearable) or a .ecgcap capture")
    p.add_argument("--protocol", "-p", choices=protocols,
                   help="wire protocol (default: frame; captures and sim: sources know their own)")
    p.add_argument("--baud", type=positive_int, default=SourceOptions.baud,
                   help=f"serial baud rate (default {SourceOptions.baud})")
    p.add_argument("--rate", type=number(float, 0.0, 100_000.0),
                   help="sampling rate in Hz if the device differs from its default")
    p.add_argument("--mv-per-count", type=number(float, 0.0, 1e6),
                   help="millivolts per ADC count if the device does not say")
    p.add_argument("--recording", help="for sim: sources, a dataset file to stream instead of the bundled excerpt")
    p.add_argument("--speed", type=speed, default=SourceOptions.speed,
                   help="for sim: sources and captures: playback speed, or 'max' (= 0) for as fast as possible")
    add_fault_args(p)


def add_fault_args(p: argparse.ArgumentParser) -> None:
    """The virtual wearable's fault options (drop, corrupt, line noise, pause, seed)."""
    g = p.add_argument_group("fault injection (virtual wearable)")
    g.add_argument("--drop", type=probability, default=SourceOptions.drop, help="probability a frame is lost")
    g.add_argument("--corrupt", type=probability, default=SourceOptions.corrupt, help="probability a frame is damaged")
    g.add_argument("--noise-every", type=non_negative, default=SourceOptions.noise_every, metavar="S",
                   help="a burst of line noise every S seconds (serial links only: BLE notifications arrive whole)")
    g.add_argument("--pause-at", type=number(float, -1.0, MAX_DURATION_S, lo_open=False),
                   default=SourceOptions.pause_at, metavar="S", help="the device goes silent at S seconds")
    g.add_argument("--pause", type=non_negative, default=SourceOptions.pause, metavar="S", help="... for this many seconds")
    g.add_argument("--seed", type=number(int, 0, 2**32 - 1, lo_open=False), default=SourceOptions.seed,
                   help="random seed of the fault plan")


def add_output_args(p: argparse.ArgumentParser, record_flag: bool = True) -> None:
    """The sink options (``--out URL`` repeatable, and the ``--jsonl``/``--record`` shorthands)."""
    p.add_argument("--out", action="append", default=[], metavar="URL",
                   help="an output, repeatable: capture:FILE.ecgcap, jsonl:FILE (jsonl:- = stdout), "
                        "mqtt[s]://HOST[:PORT]/PREFIX/DEVICE, lsl:NAME (Lab Streaming Layer)")
    p.add_argument("--jsonl", metavar="FILE", help="same as --out jsonl:FILE ('-' = stdout)")
    if record_flag:
        p.add_argument("--record", metavar="FILE", help="same as --out capture:FILE (the raw stream, bit for bit; {start} in FILE: "
                            "the start time)")


def add_summary_arg(p: argparse.ArgumentParser) -> None:
    """``--summary-json FILE``: the session's summary for scripts (the terminal gets a sentence)."""
    p.add_argument("--summary-json", metavar="FILE",
                   help="write the session's summary as JSON to FILE ('-' = stdout; a new file, never overwritten)")


class SummaryJson:
    """``--summary-json``'s target, created when the command starts (an existing file is refused before a
    long session, not after it) and written once at the end."""

    def __init__(self, path: str | None) -> None:
        from ..bridge.capture import create_private

        self.path = path
        self.fd = create_private(path) if path and path != "-" else None

    def write(self, summary: dict) -> None:
        """Write ``summary`` as one JSON line and close."""
        import json
        import os

        from ..bridge.capture import write_fully
        from ..bridge.errors import OutputError

        if not self.path:
            return
        text = json.dumps(summary) + "\n"
        if self.fd is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        try:
            write_fully(self.fd, text.encode())
        except OSError as e:
            raise OutputError(f"cannot write {self.path} ({e.strerror or e})") from None
        finally:
            os.close(self.fd)
            self.fd = None


def output_urls(a: argparse.Namespace) -> list[str]:
    """Every sink URL the options ask for, shorthands included."""
    urls = list(a.out)
    if getattr(a, "jsonl", None):
        urls.append("jsonl:" + a.jsonl)
    if getattr(a, "record", None):
        urls.append("capture:" + a.record)
    return urls


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The options of every command that classifies (model, interpreter, channel, smoothing)."""
    from ..edge.backends import BACKENDS
    from ..models import DEFAULT_MODEL

    p.add_argument("--model", "-m", default=str(DEFAULT_MODEL),
                   help=f"int8 .tflite model (default: the shipped {DEFAULT_MODEL.name})")
    p.add_argument("--backend", choices=("auto",) + BACKENDS, default="auto", help="TFLite interpreter to use")
    p.add_argument("--channel", type=number(int, 0, 255, lo_open=False), default=0,
                   help="which ECG channel to classify (default 0)")
    p.add_argument("--smooth", type=positive_int, default=5, help="windows averaged for the smoothed decision")
