"""``ecg-activity install-service``: the systemd unit for a headless Pi, written for this installation
(its own ``ecg-activity``, the user, the source and outputs) from the template in the package."""

from __future__ import annotations

import argparse
import shlex


def unit_text(program: list[str], user: str, run_args: list[str]) -> str:
    """The unit: the package's template with this installation's program, user and ``run`` options."""
    from importlib.resources import files

    template = files("ecg_activity").joinpath("ecg-activity.service").read_text()
    return template.replace("@USER@", user).replace("@ECG_ACTIVITY@", _words(program)).replace("@ARGS@",
                                                                                               _words(run_args))


def _words(ws: list[str]) -> str:
    """Arguments as systemd's ExecStart parses them: plain, or double-quoted with C escapes; ``%`` and ``$``
    doubled so systemd expands neither specifiers nor variables in them."""
    import re

    out = []
    for w in ws:
        if not re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", w):
            w = '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(w.replace("%", "%%").replace("$", "$$"))
    return " ".join(out)


def this_program() -> list[str]:
    """The ``ecg-activity`` of the running installation (the venv's script), absolute."""
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "ecg-activity"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ecg_activity"]


def cmd(a: argparse.Namespace) -> int:
    """Print the unit, or write it to ``-o`` (a new file, never overwritten), with how to enable it."""
    import getpass
    import os
    import sys

    from ..bridge.capture import create_private, write_fully
    from ..bridge.errors import OutputError

    user = a.user or os.environ.get("SUDO_USER") or getpass.getuser()
    run_args = ["--source", a.source] + (["--protocol", a.protocol] if a.protocol else [])
    run_args += (["--model", a.model] if a.model else []) + [x for u in a.out for x in ("--out", u)]
    text = unit_text(this_program(), user, run_args)
    if not a.output or a.output == "-":
        sys.stdout.write(text)
        return 0
    fd = create_private(a.output)
    try:
        write_fully(fd, text.encode())
    except OSError as e:
        raise OutputError(f"cannot write {a.output} ({e.strerror or e})") from None
    finally:
        os.close(fd)
    os.chmod(a.output, 0o644)                    # a unit holds no secret; systemd reads it as root anyway
    name = os.path.basename(a.output)
    print(f"wrote {a.output}; install it with: sudo cp {shlex.quote(a.output)} /etc/systemd/system/ && "
          f"sudo systemctl daemon-reload && sudo systemctl enable --now {name}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``install-service``."""
    s = sub.add_parser("install-service", help="write the systemd unit for a headless Pi (this installation)")
    s.add_argument("--source", required=True, help="what `run` reads (e.g. /dev/rfcomm0, ble:\"Polar H10\")")
    s.add_argument("--protocol", help="the source's wire protocol (frame, attys, polar)")
    s.add_argument("--model", "-m", help="a model other than the default")
    s.add_argument("--out", action="append", default=[], metavar="URL",
                   help="an extra output for `run`, repeatable (e.g. mqtts://broker/ecg/site1/pi7)")
    s.add_argument("--user", help="the user the service runs as (default: the one running this, or SUDO_USER)")
    s.add_argument("--output", "-o", help="write the unit here (e.g. ecg-activity.service) instead of stdout")
    s.set_defaults(func=cmd)
