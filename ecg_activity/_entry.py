"""The console script's first code: Ctrl-C during start-up ends quietly (exit 130), not with a traceback
from whichever import it interrupted; ``cli.main`` then takes over the handling."""

import signal
import sys


def _quiet(*_):
    sys.exit(130)


def run() -> None:
    signal.signal(signal.SIGINT, _quiet)
    from .cli import main

    sys.exit(main())
