"""One exception family for everything a user can cause: the CLI catches ``EcgActivityError`` once.

Each subclass is a kind of problem the user can act on (a source that will not
open, a damaged capture, a model that does not fit, an output that cannot be
written, bad arguments).  Their message is one line that names the thing and
what to do; the CLI prints it and exits with ``exit_code``.  Anything that is
not an ``EcgActivityError`` is a bug in ecg-activity.
"""

from __future__ import annotations


class EcgActivityError(Exception):
    """Base of every error a user can cause (exit 1 with one line)."""

    exit_code = 1


class UsageError(EcgActivityError):
    """Arguments that cannot work together (exit 2, like argparse's own errors)."""

    exit_code = 2


class SourceError(EcgActivityError):
    """A source (serial port, BLE device, virtual wearable, recording file) cannot be opened or read."""


class OutputError(EcgActivityError):
    """An output (capture, export, JSON lines, fault log) cannot be created or written."""


class NoDataError(EcgActivityError):
    """A finite session decoded no sample at all: wrong protocol, wrong port or a silent device."""


class RefusedError(EcgActivityError):
    """A service refused our credentials (an MQTT broker): nothing will work until they are fixed, so the
    session ends, unlike an output that merely failed (a full disk stops only that output)."""
