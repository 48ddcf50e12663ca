"""ecg-activity bridge: from the wearable's bytes to gap-accounted ECG sample blocks.

Data flows one way: transport bytes -> protocol decoder -> SampleBlock ->
capture writer and/or the edge runner.  Codecs here are pure (no I/O) so
they can be fuzzed and benchmarked without a device.
"""

__version__ = "0.1.0"
