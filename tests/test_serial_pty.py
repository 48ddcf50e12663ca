"""The virtual wearable on a real pseudo-terminal, read by pyserial: decoded == source, faults counted exactly."""

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from ecg_activity.bridge.capture_decode import decode_capture
from ecg_activity.bridge.protocols import get_protocol, make_decoder
from ecg_activity.bridge.simulator import FaultPlan, PtyWearable, device_samples
from ecg_activity.bridge.stream import stream_blocks
from ecg_activity.bridge.transport_serial import SerialTransport, TransportError

from conftest import TIME_SCALE, cli


def _check_exact(cap, dev_counts):
    for b in cap.blocks:
        np.testing.assert_array_equal(b.samples[:, 0], dev_counts[b.first_index:b.first_index + b.n])


@pytest.mark.parametrize("protocol", ["frame", "attys"])
def test_simulate_then_record_over_a_pty(tmp_path, protocol, demo_recording):
    """Two real processes: `simulate` prints its pty, `record` opens it with pyserial."""
    log = tmp_path / "faults.json"
    sim = subprocess.Popen([sys.executable, "-m", "ecg_activity", "simulate", "--protocol", protocol, "--speed", "20",
                            "--drop", "0.01", "--corrupt", "0.01", "--noise-every", "2", "--seed", "7",
                            "--fault-log", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/pts/"), sim.stderr.read()
        out = tmp_path / "rec.ecgcap"
        # 13 s at 20x holds the whole 180 s recording; a slow machine (the emulated Pi) streams slower
        rec = cli("record", "--source", port, "--protocol", protocol, "-o", str(out), "--label", "walk",
                  "--duration", f"{13 * TIME_SCALE:g}", "--quiet", check=True, timeout=60)
        sim.wait(timeout=30 * TIME_SCALE)
    finally:
        sim.kill()
    faults = json.loads(log.read_text())
    summary = json.loads(rec.stdout.strip().splitlines()[-1])
    cap = decode_capture(str(out))
    assert cap.error is None and cap.header.label == "walk"
    dev = device_samples(demo_recording, protocol).counts
    _check_exact(cap, dev)
    assert cap.total_samples == dev.size                    # the whole recording, end to end
    lost = faults["dropped_samples"] + faults["corrupted_samples"]
    assert faults["dropped_frames"] > 0 and faults["corrupted_frames"] > 0 and faults["noise_bursts"] > 0
    assert cap.stats.lost_samples == lost == summary["lost_samples"]
    assert sum(b.n for b in cap.blocks) == dev.size - lost
    if protocol == "frame":
        assert cap.stats.crc_errors == faults["corrupted_frames"]
    else:
        assert cap.stats.malformed == faults["corrupted_frames"] + faults["noise_bursts"]


def test_watchdog_reconnects_and_redoes_the_attys_handshake(demo_recording):
    sim = PtyWearable(demo_recording, "attys", speed=10, faults=FaultPlan(pause_at_s=30, pause_s=25))
    threading.Thread(target=sim.run, daemon=True).start()
    dec = make_decoder("attys")
    proto = get_protocol("attys")
    tr = SerialTransport(sim.path, startup_commands=proto.startup_commands(250), start_command=proto.start_command,
                         watchdog_s=1.0, backoff_s=(0.1,))
    blocks, events, before_first_event = [], [], []
    try:
        for item in stream_blocks(tr, dec):
            (events if hasattr(item, "kind") else blocks).append(item)
            if not events and not hasattr(item, "kind"):
                before_first_event.append(item)
            if sim.finished.is_set():
                break
    finally:
        tr.stop.set()
        sim.close()
    # while the device is paused it opens but does not acknowledge the handshake: failed attempts
    assert [e.kind for e in events if e.kind != "reconnect_failed"][:2] == ["watchdog", "reconnect"]
    assert all("no b'OK" in e.detail["reason"] for e in events if e.kind == "reconnect_failed")
    assert dec.stats.reconnects >= 1
    assert sim.commands.count(b"x=1") >= 2 and sim.commands.count(b"d=1") >= 2   # handshake redone
    dev = device_samples(demo_recording, "attys").counts
    # samples never lie: everything decoded sits at its true place in the recording
    got = sum(b.n for b in blocks)
    assert got > 0.9 * dev.size
    # Index 0 is the first line the host saw; on a loaded machine the first lines after the handshake
    # can be missed, and an Attys counter has no absolute origin.  Every block up to the first link
    # event must sit at the same offset from the device's own sample numbers (after a reconnect the
    # gap is a host-clock estimate, by design).
    first = blocks[0].samples[:8, 0]
    offsets = [o for o in range(256) if np.array_equal(dev[o:o + first.size], first)]
    assert offsets, "the first decoded samples are not in the recording"
    off = offsets[0]
    assert len(before_first_event) >= 2
    for b in before_first_event:
        np.testing.assert_array_equal(b.samples[:, 0], dev[off + b.first_index:off + b.first_index + b.n])


def test_frame_device_reconnect_is_exact_when_the_counter_continues(demo_recording):
    sim = PtyWearable(demo_recording, "frame", speed=10, faults=FaultPlan(pause_at_s=40, pause_s=20))
    threading.Thread(target=sim.run, daemon=True).start()
    dec = make_decoder("frame")
    tr = SerialTransport(sim.path, watchdog_s=0.5, backoff_s=(0.1,))
    blocks = []
    try:
        for item in stream_blocks(tr, dec):
            if not hasattr(item, "kind"):
                blocks.append(item)
            if sim.finished.is_set():
                break
    finally:
        tr.stop.set()
        sim.close()
    assert dec.stats.reconnects >= 1 and dec.device_id == "ecg-sim-0001"
    dev = demo_recording.counts
    for b in blocks:
        np.testing.assert_array_equal(b.samples[:, 0], dev[b.first_index:b.first_index + b.n])
    assert dec.stats.lost_samples == sim.log.unsent_frames * 25 and dec.stats.unverified_frames == 0


def test_missing_port_fails_fast_with_one_line():
    with pytest.raises(TransportError, match="cannot open serial source"):
        SerialTransport("/dev/does-not-exist").open_first()
    p = cli("record", "--source", "/dev/does-not-exist", "--duration", "1")
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0 and "cannot open serial source" in p.stderr


def _read_with_a_pause_near_the_end(near: int) -> tuple[int, int, int]:
    """Read a top-speed virtual wearable; the first time at most ``near`` samples are left, stop reading
    until the device has sent everything, then stay busy longer than the end-of-stream grace.
    Returns (samples read, samples unread at the pause, samples the device had)."""
    import time

    from ecg_activity.bridge.blocks import Packet
    from ecg_activity.bridge.sources import open_source

    src = open_source("sim:frame", speed=0)
    total = src.simulator.dev.counts.size
    samples, unread = 0, 0
    for item in src.transport:
        if isinstance(item, Packet):
            samples += sum(b.n for b in src.decoder.feed(item.data, item.t_host))
            if not unread and total - near <= samples < total:
                unread = total - samples
                assert src.simulator.finished.wait(30 * TIME_SCALE)     # the device has sent it all
                time.sleep(1.0)          # the reader's own work: longer than the end-of-stream grace
    for c in src.closers:
        c()
    return samples, unread, total


def test_a_busy_reader_still_gets_the_end_of_a_finished_virtual_wearable(demo_recording):
    """At top speed the virtual wearable finishes while a slow reader (a Pi classifying a big block) has
    not read what the pty still holds: the stream ends only once the reader has caught up, so the
    recording's last seconds are not lost (they were, on the emulated Pi: 142 of 161 windows)."""
    # 4000 samples of 25-sample frames are 13.9 KB: they fit in a pty's 18 KB, so the device can finish
    # while they wait.  A reader far behind (a loaded machine) can take the whole rest in one read and
    # never be near the end with something left: then the scenario did not happen and is run again.
    for _ in range(4):
        samples, unread, total = _read_with_a_pause_near_the_end(4000)
        assert samples == total
        if unread:
            break
    assert unread > 0


def test_headless_run_tells_of_a_lost_port_and_its_summary_counts_the_outage(tmp_path):
    """``run --no-display`` on a port that vanishes: JSON lines say the link is lost and each doubling of
    failed attempts, stderr says so in words, SIGTERM ends it promptly, and the summary counts the outage."""
    import signal
    import time

    from conftest import cli_popen

    sim = cli_popen("simulate", "--loop", "--speed", "4")
    summary_path = tmp_path / "summary.json"
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/"), sim.stderr.read()
        run = cli_popen("run", "--source", port, "--no-display", "--summary-json", str(summary_path))
        first = json.loads(run.stdout.readline())                 # a decision: data was flowing
        assert "activity" in first
        sim.kill()
        sim.wait()
        states = []
        while not any(d.get("failed_attempts", 0) >= 2 for d in states):
            line = run.stdout.readline()
            assert line, run.stderr.read()
            d = json.loads(line)
            if d.get("event") == "link":
                states.append(d)
        t0 = time.monotonic()
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=30 * TIME_SCALE)
        took = time.monotonic() - t0
    finally:
        sim.kill()
    assert run.returncode == 0 and took < 10 * TIME_SCALE, (took, err)
    assert states[0]["state"] == "reconnecting" and states[0]["reason"] == "the device disconnected"
    assert "the port is gone" in states[-1]["reason"]
    assert "link lost (the device disconnected): reconnecting" in err and "Traceback" not in err
    assert "no data for" in err.strip().splitlines()[-1]
    summary = json.loads(summary_path.read_text())
    # >= 1: on a machine running other tests the freed /dev/pts/N can be reopened as another's device
    assert summary["outages"] >= 1 and summary["reconnect_attempts"] >= 2 and summary["outage_s"] > 0
    assert summary_path.stat().st_mode & 0o777 == 0o600


def test_a_reader_that_stops_reading_loses_frames_instead_of_getting_a_stale_backlog(demo_recording):
    """A host that keeps the port open but stops reading (a stalled Pi): after a few seconds the virtual
    wearable drops what it produces, as a real device's full buffer does, instead of blocking and then
    sending minutes of old frames as if live.  Every dropped frame is in its log, and the receiver counts
    exactly those samples as lost."""
    import time

    import serial

    sim = PtyWearable(demo_recording, "frame", speed=20)
    threading.Thread(target=sim.run, daemon=True).start()
    port = serial.Serial(sim.path, timeout=0.1)
    dec = make_decoder("frame")
    got, stalled = 0, False
    try:
        while not sim.finished.is_set() or port.in_waiting:
            if not stalled and got > 2500:
                stalled = True                     # stop reading until the device has started dropping
                deadline = time.monotonic() + 60 * TIME_SCALE
                while sim.log.unsent_frames < 40 and time.monotonic() < deadline:
                    time.sleep(0.05)
            got += sum(b.n for b in dec.feed(port.read(4096), time.monotonic()))
    finally:
        port.close()
        sim.close()
    assert sim.log.unsent_frames >= 40
    assert dec.stats.lost_samples == sim.log.unsent_frames * 25
    assert dec.stats.crc_errors + dec.stats.malformed <= 1          # at most the frame the stall cut short
    assert got + dec.stats.lost_samples == sim.dev.counts.size


def test_another_device_on_the_reopened_port_is_never_taken_for_ours(demo_recording, tmp_path):
    """The port vanishes and its name comes back on another sensor (a reused /dev/pts/N, a re-paired
    rfcomm: here a symlink repointed), then on ours again.  The other device's frames are never decoded
    as ours: a notice names it, its frames are counted as not taken; ours are taken again once it names
    itself."""
    import dataclasses
    import os
    import time

    from ecg_activity.bridge.blocks import LinkEvent
    from ecg_activity.session import LINK_LOST

    other = dataclasses.replace(demo_recording, counts=demo_recording.counts + 5_000_000)   # unmistakable
    port = tmp_path / "ttyECG"

    def plug(rec, name):
        sim = PtyWearable(rec, "frame", speed=4, loop=True, device_id=name)
        threading.Thread(target=sim.run, daemon=True).start()
        tmp = tmp_path / "next"
        tmp.symlink_to(sim.path)
        os.replace(tmp, port)                                  # the same name, now this device
        return sim

    sims = [plug(demo_recording, "strap-A")]
    dec = make_decoder("frame")
    tr = SerialTransport(str(port), watchdog_s=1.0, backoff_s=(0.1,))
    samples, notices, phase = [], [], "A"
    deadline = time.monotonic() + 120 * TIME_SCALE
    try:
        for item in tr:
            assert time.monotonic() < deadline, (phase, notices, dec.stats)
            if isinstance(item, LinkEvent):
                if item.kind in LINK_LOST:
                    dec.link_lost(item.t_host)
                continue
            if not hasattr(item, "data"):
                continue
            samples += [b.samples[:, 0] for b in dec.feed(item.data, item.t_host)]
            notices += dec.take_notices()
            got = sum(s.size for s in samples)
            if phase == "A" and got > 2000:
                phase = "B"
                sims[-1].close()
                sims.append(plug(other, "strap-B"))
            elif phase == "B" and dec.stats.unverified_frames >= 30:
                phase, taken_before = "A again", got
                sims[-1].close()
                sims.append(plug(demo_recording, "strap-A"))
            elif phase == "A again" and got > taken_before + 1000:
                break
    finally:
        tr.stop.set()
        for s in sims:
            s.close()
    assert dec.device_id == "strap-A"
    assert any("another device (strap-B)" in n for n in notices) and any("strap-A is back" in n for n in notices)
    every = np.concatenate(samples)
    assert every.max() < 4_000_000, "a frame of the other device was decoded as ours"
