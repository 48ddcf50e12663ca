"""``ecg-activity``: one console script, one module per subcommand.

Each command is ``ecg_activity/cli/<name>.py`` with its ``register(sub)``
(the parser) and its ``cmd`` (the work), listed once in ``COMMANDS`` in the
order ``--help`` shows them: a new command is one file plus one line here.
Each imports what it needs only when it runs, so ``--help`` is instant and
a Pi never loads TensorFlow.  Shared option groups are in ``options.py``.
``main`` is the one place errors become messages: every ``EcgActivityError``
is one line and its exit code.
"""

from __future__ import annotations

import os
import sys

from ..bridge import __version__
from ..bridge.errors import EcgActivityError, UsageError  # noqa: F401  (the one family main() catches)
from ..bridge.registry import registered_module
from .options import Parser

#: a clear runtime failure: exit 1 with one line, no traceback
Fail = EcgActivityError

#: every command's module (here, or any importable module), in the order ``--help`` lists them
#: (``import_``: ``import`` is a keyword; ``install_service`` is ``install-service``)
COMMANDS = ("devices", "record", "simulate", "info", "import_", "export", "run", "demo", "calibrate", "plot",
            "replay", "collect", "train", "quantize", "bench", "install_service")


def build_parser() -> Parser:
    """The ``ecg-activity`` parser, each command registered by its own module."""
    p = Parser(prog="ecg-activity", description="Live physical-activity recognition from a wearable ECG.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        registered_module(__name__, name).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; the one place errors become a line and an exit code (an EcgActivityError's own, usage
    2, Ctrl-C 130), never a traceback."""
    from .. import interrupts

    try:
        interrupts.install()                            # Ctrl-C is KeyboardInterrupt, and is remembered
        parser = build_parser()
        a = parser.parse_args(argv)
        if not getattr(a, "func", None):
            parser.print_help()
            return 2
        interrupts.check()                              # one an import swallowed still ends us here
        return int(a.func(a) or 0)
    except EcgActivityError as e:
        _say(f"error: {e}")
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except MemoryError:
        _say("error: out of memory")
        return 1
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        _say(f"error: {where}{e.strerror or e}")
        return 1
    except Exception as e:                              # a bug in ecg-activity, not the user's input ...
        if interrupts.received():                       # ... unless a Ctrl-C caused it: C code that imports
            return 130                                  # (numpy's PyCapsule_Import) turns one into ImportError
        if os.environ.get("ECG_ACTIVITY_DEBUG"):
            raise
        _say(f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
             "(ECG_ACTIVITY_DEBUG=1 shows where; please report it)")
        return 70


def _say(msg: str) -> None:
    try:
        print(f"ecg-activity: {msg}", file=sys.stderr, flush=True)
    except (BrokenPipeError, OSError):
        pass
