"""``Session`` in-process: a fake source (a transport that yields chosen packets and link events, the real
frame decoder) and sinks that record every hook, with and without the real int8 pipeline."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ecg_activity.bridge.blocks import LinkEvent, Packet
from ecg_activity.bridge.capture import CaptureHeader
from ecg_activity.bridge.errors import NoDataError, OutputError
from ecg_activity.bridge.protocol_frame import encode_stream
from ecg_activity.bridge.protocols import get_protocol, make_decoder
from ecg_activity.bridge.sources import OpenSource
from ecg_activity.edge.pipeline import ActivityPipeline
from ecg_activity.session import Session
from ecg_activity.sinks import Sink


class FakeTransport:
    """What a transport offers the session: ``open_first``, iteration, ``stop``, ``close``."""

    def __init__(self, items, stop_after: int | None = None):
        self.items = list(items)
        self.stop = threading.Event()
        self.error = None
        self.closed = False
        self.stop_after = stop_after

    def open_first(self):
        pass

    def __iter__(self):
        for i, item in enumerate(self.items):
            if self.stop_after is not None and i == self.stop_after:
                self.stop.set()                     # as Ctrl-C would, mid-stream
            yield item

    def close(self):
        self.closed = True


def _source(items, **kw) -> OpenSource:
    header = CaptureHeader(protocol="frame", rate_hz=250.0, channels=1, mv_per_count=0.001, source="fake")
    return OpenSource(FakeTransport(items, **kw), make_decoder("frame", 250.0, 0.001), header, "sim",
                      get_protocol("frame"), title="fake")


def _packets(x, per_frame=25, drop=(), t0=1.7e9):
    frames = encode_stream(np.asarray(x), per_frame)
    return [Packet(f, t0 + i * per_frame / 250.0) for i, f in enumerate(frames) if i not in drop]


class Recorder(Sink):
    """Remembers every hook the session calls, in order."""

    raw = True

    def __init__(self, fail_on: str | None = None):
        self.calls: list[str] = []
        self.windows, self.events, self.blocks = [], [], []
        self.fail_on = fail_on

    def _hook(self, name):
        self.calls.append(name)
        if name == self.fail_on:
            raise OutputError(f"{name}: no space left on device")

    def on_start(self, info):
        self.info = info
        self._hook("start")

    def on_packet(self, packet):
        self._hook("packet")

    def on_event(self, event):
        self.events.append(event)
        self._hook("event")

    def on_block(self, block):
        self.blocks.append(block)
        self._hook("block")

    def on_window(self, result):
        self.windows.append(result)
        self._hook("window")

    def close(self):
        self._hook("close")


def test_start_blocks_and_close_in_order_without_a_pipeline(demo_recording):
    rec = Recorder()
    counts = Session(_source(_packets(demo_recording.counts[:2500])), [rec]).run()
    assert rec.calls[0] == "start" and rec.calls[-1] == "close" and rec.calls.count("close") == 1
    assert rec.info.title == "fake" and rec.info.labels == ()
    assert counts.samples == 2500 == sum(b.n for b in rec.blocks)
    assert rec.calls.count("packet") == 100 and counts.bytes > 0
    assert "window" not in rec.calls


def test_windows_through_the_real_model_carry_the_truth_free_decision(demo_recording, shipped_bundle):
    rec = Recorder()
    pipe = ActivityPipeline(shipped_bundle, 250.0)
    x = demo_recording.counts[:250 * 30]
    counts = Session(_source(_packets(x)), [rec], pipe).run()
    # a 20 s window every second once the first one is full: 11 of them in 30 s
    assert counts.windows == len(rec.windows) == 11
    assert all(w.activity in shipped_bundle.labels and abs(sum(w.probabilities.values()) - 1) < 0.03
               for w in rec.windows)
    assert rec.info.labels == tuple(shipped_bundle.labels) and rec.info.window_s == 20.0


def test_a_lost_frame_is_a_gap_and_the_window_says_how_much_was_missing(demo_recording, shipped_bundle):
    rec = Recorder()
    pipe = ActivityPipeline(shipped_bundle, 250.0)
    src = _source(_packets(demo_recording.counts[:250 * 25], drop={150}))
    Session(src, [rec], pipe).run()
    assert src.decoder.stats.lost_samples == 25 and src.decoder.stats.gaps == 1
    assert any(b.gap_before == 25 for b in rec.blocks)
    spanning = [w for w in rec.windows if w.missing_fraction > 0]
    assert spanning and all(w.activity is not None for w in spanning)       # 0.1 s bridged, still decided


def test_link_events_reach_every_sink_and_count_reconnects(demo_recording):
    rec = Recorder()
    items = _packets(demo_recording.counts[:1000])
    items.insert(20, LinkEvent("disconnect", 1.7e9 + 2.0, {"why": "port gone"}))
    items.insert(21, LinkEvent("reconnect", 1.7e9 + 2.5, {}))
    src = _source(items)
    Session(src, [rec]).run()
    assert [e.kind for e in rec.events] == ["disconnect", "reconnect"]
    assert src.decoder.stats.reconnects == 1


def test_stop_ends_the_loop_mid_stream_and_still_closes_every_sink(demo_recording):
    a, b = Recorder(), Recorder()
    src = _source(_packets(demo_recording.counts[:5000]), stop_after=50)
    counts = Session(src, [a, b]).run()
    assert 0 < counts.samples < 5000
    assert a.calls[-1] == b.calls[-1] == "close" and src.transport.closed


def test_a_failing_sink_ends_the_session_with_its_error_and_the_others_are_closed(demo_recording, shipped_bundle):
    good, bad = Recorder(), Recorder(fail_on="window")
    pipe = ActivityPipeline(shipped_bundle, 250.0)
    with pytest.raises(OutputError, match="no space left"):
        Session(_source(_packets(demo_recording.counts[:250 * 25])), [good, bad], pipe).run()
    assert good.calls[-1] == "close" and bad.calls[-1] == "close"


def test_a_source_that_decodes_nothing_is_an_error_not_a_silent_success():
    rec = Recorder()
    with pytest.raises(NoDataError, match="no samples decoded"):
        Session(_source([Packet(b"\x00garbage" * 10, 1.7e9)]), [rec]).run()
    assert rec.calls[-1] == "close"


class LinkRecorder(Recorder):
    """Also remembers the link states the session announces."""

    def __init__(self):
        super().__init__()
        self.links = []

    def on_link(self, status):
        self.links.append(status)


class SilentThenBack(FakeTransport):
    """Samples, then a silent sensor (Idle until the session has said "no data"), then the link lost, one
    failed reopening, the link back and samples again: what a pulled cable and a re-seated one look like."""

    def __init__(self, before, after, sink):
        super().__init__([])
        self.before, self.after, self.sink = before, after, sink

    def __iter__(self):
        import time

        from ecg_activity.bridge.blocks import Idle

        yield from self.before
        deadline = time.monotonic() + 60
        while not any(s.state == "no_data" for s in self.sink.links) and time.monotonic() < deadline:
            yield Idle(time.time())
            self.stop.wait(0.05)
        yield LinkEvent("watchdog", time.time(), {"silent_s": 2.0})
        yield LinkEvent("reconnect_failed", time.time(), {"attempt": 1, "reason": "the port is gone"})
        yield LinkEvent("reconnect", time.time(), {"attempts": 2})
        yield from self.after


def test_a_silent_sensor_and_a_lost_link_are_told_to_every_sink_and_counted_in_the_summary(demo_recording, tmp_path):
    import json

    from ecg_activity.session import SILENT_S
    from ecg_activity.sinks.jsonl import JsonlSink
    from ecg_activity.sinks.summary import SummarySink

    rec, summary, jsonl = LinkRecorder(), SummarySink(), JsonlSink(str(tmp_path / "d.jsonl"))
    packets = _packets(demo_recording.counts[:2000])
    src = _source([])
    src.transport = SilentThenBack(packets[:40], packets[40:], rec)
    Session(src, [rec, summary, jsonl]).run()
    states = [(s.state, s.attempt) for s in rec.links]
    assert states == [("live", 0), ("no_data", 0), ("reconnecting", 0), ("reconnecting", 1), ("no_data", 1),
                      ("live", 1)]
    assert rec.links[2].reason == "silent" and rec.links[3].reason == "the port is gone"
    assert rec.links[-1].outage_s >= SILENT_S
    got = summary.summary()
    assert got.outages == 1 and got.reconnect_attempts == 1 and got.outage_s == pytest.approx(
        rec.links[-1].outage_s, abs=1e-3)
    assert "no data for" in got.text() and got.as_dict()["outages"] == 1
    lines = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [(d["state"], d.get("failed_attempts", 0)) for d in lines] == states[1:]
    assert all(d["event"] == "link" for d in lines) and lines[-1]["outage_s"] == pytest.approx(
        rec.links[-1].outage_s, abs=1e-3)


def test_a_recording_that_fails_stops_alone_and_the_session_goes_on(demo_recording, shipped_bundle):
    class FailingRecording(Recorder):
        fail_alone = True
        path = "r.ecgcap"

    class Told(Recorder):
        def __init__(self):
            super().__init__()
            self.told = []

        def on_output_failed(self, name, reason):
            self.told.append((name, reason))

    bad, other = FailingRecording(fail_on="packet"), Told()
    pipe = ActivityPipeline(shipped_bundle, 250.0)
    s = Session(_source(_packets(demo_recording.counts[:250 * 25])), [bad, other], pipe)
    s.run()
    assert [str(e) for e in s.failed] == ["packet: no space left on device"]
    assert other.told == [("r.ecgcap", "packet: no space left on device")]
    assert bad.calls == ["start", "packet", "close"] and len(other.windows) == 6    # classified to the end
    # without a pipeline a failing recording is all there was: the session ends with it
    with pytest.raises(OutputError):
        Session(_source(_packets(demo_recording.counts[:2500])), [FailingRecording(fail_on="packet")]).run()


def test_windows_of_an_activity_the_model_cannot_say_are_not_scored_but_told():
    """rest_run on the virtual wearable's rest, walk, run: walking windows are neither right nor wrong for a
    model without "walk"; the summary scores the rest and says how many windows it left out, and of what."""
    from types import SimpleNamespace

    from ecg_activity.edge.pipeline import WindowResult
    from ecg_activity.sinks.summary import SummarySink

    s = SummarySink()
    stats = SimpleNamespace(samples=250 * 30, lost_samples=0)
    s.on_start(SimpleNamespace(labels=("rest", "run"), header=SimpleNamespace(label=None, rate_hz=250.0), stats=stats))
    for truth, said in (("rest", "rest"),) * 3 + (("walk", "run"),) * 4 + (("run", "run"),) * 2 + (("run", "rest"),):
        s.on_window(WindowResult(0.0, 0.0, said, {}, said, None, 1.0, truth=truth))
    out = s.summary()
    assert out.agreement == pytest.approx(5 / 6) and out.not_scored == {"walk": 4}
    assert "not scored (no class of this model): walk 4" in out.text()
    s.on_event(LinkEvent("label", 0.0, {"label": "squats"}))             # a key set a label it cannot say
    s.on_window(WindowResult(0.0, 0.0, "run", {}, "run", None, 1.0))
    assert s.summary().not_scored == {"walk": 4, "squats": 1}
