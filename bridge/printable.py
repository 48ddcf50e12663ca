"""Text from a file or a device shown on a terminal: control and format characters escaped.

A capture's label, device or source is whatever its writer put there; shown raw, ``\\x1b[31m`` turns the
terminal red and U+202E reverses what follows.  Everything such text passes through ``printable`` first.
"""

from __future__ import annotations

import unicodedata


def printable(text) -> str:
    """``text`` (any value, as ``str``) with every control (Cc) and format (Cf: bidi overrides, zero-width)
    character written as an escape, so it shows as what it is."""
    s = str(text)
    if s.isprintable():
        return s
    out = []
    for c in s:
        if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)
