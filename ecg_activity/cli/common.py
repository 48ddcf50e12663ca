"""What several commands share that is not an option: how a capture's damage ends a command, and the
training commands' check for their extra."""

from __future__ import annotations

import argparse
import sys

from ..bridge.errors import EcgActivityError as Fail

TRAIN_EXTRA = ("tensorflow", "keras", "matplotlib", "pyedflib")


def report_damage(error) -> int:
    """A torn last chunk (a kill mid-write) is expected and only warned about; damage inside is an error."""
    if error is None:
        return 0
    if error.truncated:
        print(f"warning: {error} (everything before it was read)", file=sys.stderr)
        return 0
    print(f"ecg-activity: error: {error} (everything before it was read)", file=sys.stderr)
    return 1


def say(msg: str) -> None:
    """A progress line on stderr (stdout stays for results)."""
    print(msg, file=sys.stderr, flush=True)


def needs_train_extra(cmd):
    """Training commands need TensorFlow & co. (the "train" extra): say so in one line if absent."""
    def run(a: argparse.Namespace) -> int:
        import importlib.util

        for name in ("tensorflow", "keras"):        # checked up front (without importing: no TensorFlow noise)
            try:
                found = importlib.util.find_spec(name) is not None
            except ValueError:
                found = False
            if not found:
                raise Fail(f"'{a.command}' needs {name}, part of the train extra: "
                           "pip install 'ecg-activity[train]' (or -e '.[train]' in a source tree)")
        try:
            return cmd(a)
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in TRAIN_EXTRA:
                raise
            raise Fail(f"'{a.command}' needs {e.name}, part of the train extra: "
                       "pip install 'ecg-activity[train]' (or -e '.[train]' in a source tree)") from None
    return run
