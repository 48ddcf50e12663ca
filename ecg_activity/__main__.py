"""``python -m ecg_activity`` is the ``ecg-activity`` command."""

import sys

from .cli import main

sys.exit(main())
