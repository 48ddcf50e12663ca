"""Ctrl-C before the session loop takes over: raised as ``KeyboardInterrupt`` *and* remembered.

An exception is a lossy way to carry a Ctrl-C through start-up: Python drops one raised inside an
import lock's weakref callback ("Exception ignored in ... cb"), a pybind11 extension turns one raised
during its initialisation into ``ImportError('initialization failed')``, and numpy's C extension one
raised while it imports ``datetime`` into ``ImportError('PyCapsule_Import could not import module')``
with no trace of the interrupt.  So the handler counts every Ctrl-C; ``stop_on_signals`` and
``cli.main`` look at the count and stop even when the exception itself was swallowed or replaced, and
the swallowed one is not printed as a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading

_received = 0


def _on_sigint(signum, frame) -> None:
    note()
    raise KeyboardInterrupt


def note() -> None:
    """Count a stopping signal (the session's own handlers call this too)."""
    global _received
    _received += 1


_previous_hook = sys.unraisablehook


def _unraisable(u) -> None:
    if u.exc_type is not None and issubclass(u.exc_type, KeyboardInterrupt):
        return                                      # counted already; ``received()`` acts on it
    _previous_hook(u)                               # anything else goes where it went before


def install() -> None:
    """Count-and-raise on SIGINT (main thread only: signals are the main thread's).  Idempotent: the
    console script installs it first thing and ``cli.main`` again (it can be called on its own)."""
    global _previous_hook
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
        if sys.unraisablehook is not _unraisable:
            _previous_hook = sys.unraisablehook
            sys.unraisablehook = _unraisable


def received() -> bool:
    """True once a Ctrl-C (or a stopping signal the session took) arrived in this process, whether or not
    its exception got through."""
    return _received > 0


def check() -> None:
    """Raise the ``KeyboardInterrupt`` again if a Ctrl-C arrived and something swallowed it."""
    if received():
        raise KeyboardInterrupt
