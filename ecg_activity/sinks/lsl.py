"""``lsl:NAME``: decisions as Lab Streaming Layer streams, for lab recordings that sync everything by LSL.

Two outlets: ``NAME`` (type "ActivityProbabilities", one float32 sample per
window: the class probabilities, heart rate, quality and missing fraction;
flagged windows are NaN) and ``NAME-markers`` (type "Markers", the decided
activity as a string).  Needs the "lsl" extra (pylsl).
"""

from __future__ import annotations

import math

from ..bridge.errors import UsageError
from . import SessionInfo, Sink


class LslSink(Sink):
    """``lsl:NAME``: the decisions as a Lab Streaming Layer stream, for lab software that records LSL."""

    def __init__(self, name: str) -> None:
        try:
            import pylsl
        except (ModuleNotFoundError, RuntimeError, OSError):
            raise UsageError("lsl: outputs need the lsl extra: pip install 'ecg-activity[lsl]'") from None
        if not name:
            raise UsageError("lsl: needs a stream name (lsl:ecg-activity)")
        self.name = name
        self._pylsl = pylsl
        self.outlet = self.markers = None
        self.labels: tuple[str, ...] = ()

    @classmethod
    def from_url(cls, url: str) -> "LslSink":
        return cls(url.split(":", 1)[1])

    def on_start(self, info: SessionInfo) -> None:
        lsl = self._pylsl
        self.labels = info.labels
        channels = [f"p_{lab}" for lab in info.labels] + ["hr_bpm", "quality", "missing_fraction"]
        si = lsl.StreamInfo(self.name, "ActivityProbabilities", len(channels), 1.0 / (info.hop_s or 1.0),
                            lsl.cf_float32, f"{self.name}-{info.header.source}")
        chans = si.desc().append_child("channels")
        for c in channels:
            chans.append_child("channel").append_child_value("label", c)
        si.desc().append_child_value("model", info.model)
        self.outlet = lsl.StreamOutlet(si)
        self.markers = lsl.StreamOutlet(lsl.StreamInfo(f"{self.name}-markers", "Markers", 1, 0.0, lsl.cf_string,
                                                       f"{self.name}-markers-{info.header.source}"))

    def on_window(self, r) -> None:
        nan = math.nan
        probs = [(r.probabilities or {}).get(lab, nan) if r.probabilities else nan for lab in self.labels]
        self.outlet.push_sample(probs + [nan if r.hr_bpm is None else r.hr_bpm, r.quality, r.missing_fraction])
        self.markers.push_sample([r.activity or "flagged: " + ",".join(r.flags)])

    def close(self) -> None:
        self.outlet = self.markers = None
