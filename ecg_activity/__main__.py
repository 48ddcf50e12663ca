"""``python -m ecg_activity`` is the ``ecg-activity`` command."""

from ._entry import run

run()
