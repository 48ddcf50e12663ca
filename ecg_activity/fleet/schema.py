"""What the collector accepts from the broker: any client on a shared broker can publish anything, so
every message is checked here before a byte of it reaches a file or the live table.

Pure functions, no I/O: a payload goes in, a clean dict (only the known
fields, each of its type, numbers finite, strings bounded) comes out, or
``Rejected`` with a short reason that the collector counts.  What is written
is the clean dict re-serialised, so a payload can never inject a second line
or carry a 200 MB field into a device's file.
"""

from __future__ import annotations

import json
import math
import re

#: a decision line is about 500 bytes; anything far bigger is not one of ours
MAX_MESSAGE_BYTES = 16 * 1024
#: a device id: a letter or digit, then letters, digits, ``_ . -``; one-to-one with its file name
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: a session id (the device spool's uuid4 prefix, or anything as tame)
SESSION_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: seq may jump ahead (a device's spool drops its oldest messages when full), but not absurdly
MAX_SEQ_STEP = 10_000_000
MAX_LABEL = 64
MAX_LIST = 1000


class Rejected(ValueError):
    """A message the collector drops; ``str()`` is the reason it is counted under."""


def valid_device_id(name: str) -> bool:
    """Whether ``name`` may name a device (and its file): no wildcards, slashes, spaces or hidden names."""
    return isinstance(name, str) and DEVICE_ID.fullmatch(name) is not None


def parse(payload: bytes) -> dict:
    """The payload as a JSON object, bounded in size and depth."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise Rejected("too large")
    try:
        body = json.loads(payload)
    except RecursionError:
        raise Rejected("nested too deep") from None
    except (ValueError, UnicodeDecodeError):
        raise Rejected("not JSON") from None
    if not isinstance(body, dict):
        raise Rejected("not a JSON object")
    return body


def _number(v, name: str, lo: float = -1e12, hi: float = 1e12, optional: bool = True):
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise Rejected(f"bad {name}")
    return v


def _label(v, name: str, optional: bool = True):
    if v is None and optional:
        return None
    if not isinstance(v, str) or len(v) > MAX_LABEL or any(c < " " for c in v):
        raise Rejected(f"bad {name}")
    return v


def decision(body: dict, device: str) -> dict:
    """A device's decision, cleaned: ``session`` and ``seq`` required, the window's fields each of its type
    (unknown fields dropped); ``device`` is the topic's, whatever the body claims."""
    session = body.get("session")
    if not isinstance(session, str) or SESSION_ID.fullmatch(session) is None:
        raise Rejected("bad session")
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2 ** 53:
        raise Rejected("bad seq")
    out = {"t": _number(body.get("t"), "t", 0, 1e11),
           "end_s": _number(body.get("end_s"), "end_s", 0, 1e11),
           "activity": _label(body.get("activity"), "activity"),
           "smoothed": _label(body.get("smoothed"), "smoothed"),
           "hr_bpm": _number(body.get("hr_bpm"), "hr_bpm", 0, 400),
           "quality": _number(body.get("quality", 0.0), "quality", 0, 1, optional=False),
           "rmssd_ms": _number(body.get("rmssd_ms"), "rmssd_ms", 0, 1e5),
           "missing_fraction": _number(body.get("missing_fraction", 0.0), "missing_fraction", 0, 1, False),
           "clipped_fraction": _number(body.get("clipped_fraction", 0.0), "clipped_fraction", 0, 1, False),
           "compute_ms": _number(body.get("compute_ms", 0.0), "compute_ms", 0, 1e7, False)}
    probs = body.get("probabilities")
    if probs is not None:
        if not isinstance(probs, dict) or len(probs) > 64:
            raise Rejected("bad probabilities")
        probs = {_label(k, "class", False): _number(v, "probability", 0, 1, False) for k, v in probs.items()}
    out["probabilities"] = probs
    rr = body.get("rr_ms")
    if rr is not None:
        if not isinstance(rr, list) or len(rr) > MAX_LIST:
            raise Rejected("bad rr_ms")
        rr = [_number(v, "rr_ms", 0, 1e5, False) for v in rr]
    out["rr_ms"] = rr
    out["quality_reason"] = _label(body.get("quality_reason", ""), "quality_reason", False)
    flags = body.get("flags", [])
    if not isinstance(flags, list) or len(flags) > 32:
        raise Rejected("bad flags")
    out["flags"] = [_label(f, "flag", False) for f in flags]
    if "truth" in body:
        out["truth"] = _label(body.get("truth"), "truth")
    out.update(device=device, session=session, seq=seq)
    return out


def status(body: dict) -> dict:
    """A device's retained status, cleaned for the live table (state, link, counts; unknown fields dropped)."""
    out: dict = {}
    for key in ("state", "link", "model", "source", "session"):
        v = body.get(key)
        if isinstance(v, str):
            out[key] = v[:MAX_LABEL]
    for key in ("pending", "dropped", "t"):
        v = body.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[key] = v
    health = body.get("health")
    if isinstance(health, dict):
        out["health"] = {k: v for k, v in health.items() if isinstance(k, str) and len(k) <= MAX_LABEL
                         and isinstance(v, int) and not isinstance(v, bool)}
    return out


def line(clean: dict) -> bytes:
    """The one line written for a clean decision (JSON escapes every newline inside a value)."""
    return json.dumps(clean, separators=(", ", ": ")).encode() + b"\n"
