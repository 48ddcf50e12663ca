"""Benchmarks: numbers printed on this machine, never tests.  Each is a module run with ``python -m``:

- ``ecg_activity.benchmarks.decoders``: decoder throughput per protocol and read size;
- ``ecg_activity.benchmarks.edge``: per-window cost, an hour replayed, a live run's start-up, CPU and
  memory, and the old PNG-spectrogram approach side by side (it imports Keras: that is why it lives
  here and not under ``edge/``);
- ``ecg_activity.benchmarks.fleet``: many devices publishing to one collector through a real broker;
- ``ecg_activity.benchmarks.calibration``: calibration time and the calibrated model's extra cost.

The latency functions the model cards use live in ``edge/latency.py``.
"""
