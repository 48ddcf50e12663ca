"""The console script's first code: Ctrl-C during start-up ends quietly (exit 130), not with a traceback
from whichever import it interrupted; ``cli.main`` then takes over the handling."""

import sys

from . import interrupts


def run() -> None:
    """The console script: Ctrl-C during start-up exits 130 quietly instead of printing an import traceback."""
    interrupts.install()
    try:
        from .cli import main
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        if interrupts.received():       # an import the Ctrl-C broke (it may come back as an ImportError)
            sys.exit(130)
        raise
    sys.exit(main())
