"""Argument types and the option groups several commands share.

Every number is checked for what it means (finite, in range): ``--duration
inf``, ``--speed nan`` or ``--channel -7`` are refused by argparse with one
line and exit 2, never passed on to die in a thread.  Nothing here imports
more than argparse, so ``--help`` and argument errors stay instant.
"""

from __future__ import annotations

import argparse
import math
import sys

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


def add_source_args(p: argparse.ArgumentParser, protocols: list[str]) -> None:
    """The options every command that reads a wearable shares (source, protocol, baud, rate, scale, and the
    virtual wearable's recording and speed)."""
    p.add_argument("--source", "-s", required=True,
                   help="serial port or pyserial URL (/dev/ttyUSB0, /dev/rfcomm0, loop://), ble:NAME-OR-ADDRESS, "
                        "sim:" + "|sim:".join(protocols) + " (virtual wearable) or a .ecgcap capture")
    p.add_argument("--protocol", "-p", choices=protocols,
                   help="wire protocol (default: frame; captures and sim: sources know their own)")
    p.add_argument("--baud", type=positive_int, default=115200, help="serial baud rate (default 115200)")
    p.add_argument("--rate", type=number(float, 0.0, 100_000.0),
                   help="sampling rate in Hz if the device differs from its default")
    p.add_argument("--mv-per-count", type=number(float, 0.0, 1e6),
                   help="millivolts per ADC count if the device does not say")
    p.add_argument("--recording", help="for sim: sources, a dataset file to stream instead of the bundled excerpt")
    p.add_argument("--speed", type=speed, default=1.0,
                   help="for sim: sources and captures: playback speed, or 'max' (= 0) for as fast as possible")
    add_fault_args(p)


def add_fault_args(p: argparse.ArgumentParser) -> None:
    """The virtual wearable's fault options (drop, corrupt, line noise, pause, seed)."""
    g = p.add_argument_group("fault injection (virtual wearable)")
    g.add_argument("--drop", type=probability, default=0.0, help="probability a frame is lost")
    g.add_argument("--corrupt", type=probability, default=0.0, help="probability a frame is damaged")
    g.add_argument("--noise-every", type=non_negative, default=0.0, metavar="S",
                   help="a burst of line noise every S seconds (serial links only: BLE notifications arrive whole)")
    g.add_argument("--pause-at", type=number(float, -1.0, MAX_DURATION_S, lo_open=False), default=-1.0,
                   metavar="S", help="the device goes silent at S seconds")
    g.add_argument("--pause", type=non_negative, default=0.0, metavar="S", help="... for this many seconds")
    g.add_argument("--seed", type=number(int, 0, 2**32 - 1, lo_open=False), default=0,
                   help="random seed of the fault plan")


def add_output_args(p: argparse.ArgumentParser, record_flag: bool = True) -> None:
    """The sink options (``--out URL`` repeatable, and the ``--jsonl``/``--record`` shorthands)."""
    p.add_argument("--out", action="append", default=[], metavar="URL",
                   help="an output, repeatable: capture:FILE.ecgcap, jsonl:FILE (jsonl:- = stdout), "
                        "mqtt://HOST[:PORT]/PREFIX/DEVICE, lsl:NAME (Lab Streaming Layer)")
    p.add_argument("--jsonl", metavar="FILE", help="same as --out jsonl:FILE ('-' = stdout)")
    if record_flag:
        p.add_argument("--record", metavar="FILE", help="same as --out capture:FILE (the raw stream, bit for bit)")


def output_urls(a: argparse.Namespace) -> list[str]:
    """Every sink URL the options ask for, shorthands included."""
    urls = list(a.out)
    if getattr(a, "jsonl", None):
        urls.append("jsonl:" + a.jsonl)
    if getattr(a, "record", None):
        urls.append("capture:" + a.record)
    return urls
