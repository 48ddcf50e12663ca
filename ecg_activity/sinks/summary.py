"""What a session amounted to: windows per activity, agreement with the label or the virtual
wearable's truth, samples and losses (printed by run and replay)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass

from ..bridge.printable import printable
from . import SessionInfo, Sink


TRUTH = "virtual wearable's recording"


@dataclass
class SessionSummary:
    """A finished session in numbers: windows, flagged and repaired, decisions per class, agreement with the
    label when there is one, lost samples."""

    windows: int
    flagged: int
    repaired: int                    # classified although a few samples were missing (bridged)
    per_activity: dict[str, int]
    per_smoothed: dict[str, int]
    label: str | None                # what the windows are scored against
    agreement: float | None          # share of classified windows whose decision equals it
    smoothed_agreement: float | None
    samples: int
    lost_samples: int
    elapsed_s: float
    stream_s: float
    outages: int = 0                 # times data stopped for more than SILENT_S (link lost or sensor silent)
    outage_s: float = 0.0            # seconds without data in them, an outage still going at the end included
    reconnect_attempts: int = 0      # failed attempts to reopen the link
    failed_outputs: list = None      # one-line errors of outputs that stopped (a full disk), if any
    not_scored: dict = None          # windows whose label/truth is no class of the model, per that label

    def __post_init__(self) -> None:
        self.failed_outputs = list(self.failed_outputs or [])
        self.not_scored = dict(self.not_scored or {})

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        if not d["failed_outputs"]:
            del d["failed_outputs"]
        if not d["not_scored"]:
            del d["not_scored"]
        if d["smoothed_agreement"] is None:
            del d["smoothed_agreement"]
        if d["agreement"] is None:
            del d["agreement"]
            del d["label"]
        return d

    def text(self, window_s: float = 0.0) -> str:
        per = ", ".join(f"{k} {v}" for k, v in sorted(self.per_activity.items(), key=lambda kv: -kv[1]))
        msg = f"{self.windows} windows in {self.elapsed_s:.2f} s ({self.stream_s:.0f} s of signal)"
        if per:
            msg += f": {per}"
        if self.windows == 0 and window_s and self.stream_s < window_s:
            msg += f" (the stream is shorter than one {window_s:g} s window)"
        if self.repaired:
            msg += f"; {self.repaired} repaired over short gaps"
        if self.flagged:
            msg += f"; {self.flagged} flagged"
        if self.outages:
            msg += (f"; no data for {self.outage_s:.1f} s in {self.outages} outage{'s' * (self.outages > 1)}"
                    + (f" ({self.reconnect_attempts} failed reconnect attempts)" if self.reconnect_attempts else ""))
        for reason in self.failed_outputs:
            msg += f"; stopped: {reason}"
        if self.agreement is not None:
            what = "the virtual wearable's recording" if self.label == TRUTH else f"label '{printable(self.label)}'"
            msg += f"; agreement with {what}: {self.agreement:.1%}"
            if self.smoothed_agreement is not None:
                msg += f" (smoothed {self.smoothed_agreement:.1%})"
        if self.not_scored:
            msg += "; not scored (no class of this model): " + ", ".join(
                f"{printable(k)} {v}" for k, v in sorted(self.not_scored.items()))
        return msg


class SummarySink(Sink):
    """Counts every window of a session for the summary printed at its end."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.smoothed: Counter = Counter()
        self.windows = self.flagged = self.repaired = 0
        self.truth_n = self.truth_ok = self.smooth_ok = 0
        self.t0 = time.monotonic()
        self.info: SessionInfo | None = None
        self.current: str | None = None          # the label in force (--label, or set by a key / event)
        self.labelled_n = self.labelled_ok = 0
        self.label_events = 0
        self.outages = self.failed_reconnects = 0
        self.outage_s = 0.0
        self._outage_since: float | None = None     # time.monotonic() when the current outage began
        self.failed_outputs: list[str] = []
        self.not_scored: Counter = Counter()     # windows labelled with something the model cannot say

    def on_start(self, info: SessionInfo) -> None:
        self.info = info
        self.t0 = time.monotonic()
        self.current = info.header.label

    def on_event(self, event) -> None:
        if event.kind == "label":
            self.current = event.detail.get("label")
            self.label_events += 1

    def on_link(self, status) -> None:
        if status.state in ("no_data", "reconnecting") and self._outage_since is None:
            self._outage_since = status.since
            self.outages += 1
        elif status.state == "live" and self._outage_since is not None:
            self.outage_s += status.outage_s
            self._outage_since = None
        if status.state == "reconnecting" and status.attempt:
            self.failed_reconnects += 1

    def on_output_failed(self, name: str, reason: str) -> None:
        self.failed_outputs.append(reason)

    def on_window(self, r) -> None:
        self.windows += 1
        if r.activity is None:
            self.flagged += 1
            return
        self.counts[r.activity] += 1
        if r.smoothed:
            self.smoothed[r.smoothed] += 1
        if r.missing_fraction:
            self.repaired += 1
        classes = self.info.labels if self.info is not None else ()
        if self.current:
            if self.current in classes:
                self.labelled_n += 1
                self.labelled_ok += r.activity == self.current
            else:
                self.not_scored[self.current] += 1
        if r.truth is not None:
            if r.truth in classes:
                self.truth_n += 1
                self.truth_ok += r.activity == r.truth
                self.smooth_ok += r.smoothed == r.truth
            elif not self.current:
                self.not_scored[r.truth] += 1

    def summary(self) -> SessionSummary:
        info = self.info
        st = info.stats
        label = info.header.label
        classified = sum(self.counts.values())
        agree = sagree = None
        if self.label_events and self.labelled_n:
            label, agree = "labels set during the session", self.labelled_ok / self.labelled_n
        elif label and label in info.labels and classified:
            agree, sagree = self.counts[label] / classified, self.smoothed[label] / classified
        elif self.truth_n:
            label = TRUTH
            agree, sagree = self.truth_ok / self.truth_n, self.smooth_ok / self.truth_n
        else:
            label = None
        return SessionSummary(self.windows, self.flagged, self.repaired, dict(self.counts), dict(self.smoothed),
                              label, agree, sagree, st.samples, st.lost_samples, time.monotonic() - self.t0,
                              (st.samples + st.lost_samples) / info.header.rate_hz, self.outages,
                              round(self.outage_s + (time.monotonic() - self._outage_since
                                                     if self._outage_since is not None else 0.0), 3),
                              self.failed_reconnects, self.failed_outputs, dict(self.not_scored))


class NoticeSink(Sink):
    """Headless sessions: notices, and the link's outages as they begin and end, go to stderr."""

    def on_notice(self, text: str) -> None:
        print(f"ecg-activity: warning: {text}", file=sys.stderr, flush=True)

    _link = None                            # the last LinkStatus heard

    def on_output_failed(self, name: str, reason: str) -> None:
        self.on_notice(f"{reason}: {name} stopped; classification and the other outputs go on")

    def on_link(self, status) -> None:
        if status.worth_a_line(self._link):
            self.on_notice(status.sentence(time.monotonic()))
        self._link = status


class ProgressSink(Sink):
    """``record``'s progress line on stderr every few seconds."""

    _link = None                            # the last LinkStatus heard (NoticeSink.on_link keeps it)

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self.t0 = self.last = time.monotonic()
        self.info: SessionInfo | None = None

    def on_start(self, info: SessionInfo) -> None:
        self.info = info
        self.t0 = self.last = time.monotonic()

    def on_tick(self, now: float) -> None:
        if now - self.last < self.every_s:
            return
        self.last = now
        s = self.info.stats
        print(f"recording {self.info.title}: {now - self.t0:6.1f} s, {s.samples} samples, lost {s.lost_samples}, "
              f"CRC errors {s.crc_errors}, reconnects {s.reconnects}", file=sys.stderr, flush=True)

    on_notice = NoticeSink.on_notice
    on_link = NoticeSink.on_link
    on_output_failed = NoticeSink.on_output_failed
