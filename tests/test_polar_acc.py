"""Polar H10 accelerometer, heart rate and battery: worked examples byte for byte, fuzzing, and the
virtual H10's streams recorded, replayed bit for bit and exported."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecg_activity.bridge import polar_acc as acc
from ecg_activity.bridge import protocol_polar as polar

from conftest import cli

TS = bytes.fromhex("0011223344556677")          # u64 LE timestamp 0x7766554433221100


@pytest.mark.parametrize("frame, expect", [
    # raw type 0: 8-bit x, y, z
    ("02" + TS.hex() + "00" + "01ff7f", [[1, -1, 127]]),
    # raw type 1: 16-bit little-endian (the H10's uncompressed form)
    ("02" + TS.hex() + "01" + "640038ffe803" + "0100ffff0080", [[100, -200, 1000], [1, -1, -32768]]),
    # raw type 2: 24-bit
    ("02" + TS.hex() + "02" + "010000ffffff000080", [[1, -1, -8388608]]),
    # compressed type 1: reference (100, -200, 1000), then 2 samples of 4-bit deltas
    # (+1, -1, +2), (+3, 0, -8), packed least significant bit first: f1 32 80
    ("02" + TS.hex() + "81" + "640038ffe803" + "0402f13280", [[100, -200, 1000], [101, -201, 1002], [104, -201, 994]]),
    # two delta blocks of different widths: 2 bits (+1, -1, 0) then 8 bits (-128, +127, +5)
    ("02" + TS.hex() + "81" + "000000000000" + "02010d" + "0801807f05", [[0, 0, 0], [1, -1, 0], [-127, 126, 5]]),
])
def test_acc_frames_decode_byte_exactly(frame, expect):
    ts, xyz = acc.decode_acc(bytes.fromhex(frame))
    assert ts == 0x7766554433221100
    assert xyz.tolist() == expect


def test_heart_rate_and_battery_worked_examples():
    # flags 0x16: contact supported + detected, RR present; 72 bpm; RR 1024/1024 s and 768/1024 s
    assert acc.decode_heart_rate(bytes.fromhex("1648" "0004" "0003")) == {"bpm": 72, "rr_ms": [1000, 750],
                                                                          "contact": True}
    # 16-bit bpm, contact supported but lost, energy expended present, no RR
    assert acc.decode_heart_rate(bytes.fromhex("0d" "2c01" "1000")) == {"bpm": 300, "rr_ms": [], "contact": False}
    assert acc.decode_heart_rate(bytes.fromhex("0048")) == {"bpm": 72, "rr_ms": [], "contact": None}
    assert acc.decode_battery(b"\x57") == {"percent": 87}
    assert acc.encode_heart_rate(72, [1000, 750]) == bytes.fromhex("1648" "0004" "0003")
    assert acc.start_acc(200, 16, 8) == bytes.fromhex("0202" "0001c800" "01011000" "02010800")
    for bad in (b"", bytes([101])):
        with pytest.raises(ValueError):
            acc.decode_battery(bad)
    for bad in (b"", b"\x16", b"\x01\x48"):
        with pytest.raises(ValueError):
            acc.decode_heart_rate(bad)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-32768, 32767)] * 3), min_size=1, max_size=80))
def test_delta_frames_round_trip(samples):
    x = np.array(samples, dtype=np.int64)
    frame = acc.encode_acc(x, 12345)
    ts, back = acc.decode_acc(frame)
    assert ts == 12345 and back.tolist() == x.tolist()


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_acc_bytes_never_crash_the_decoder(data):
    dec = polar.PolarDecoder()
    dec.feed(bytes([acc.MEASUREMENT_ACC]) + data, 0.0)
    for a in dec.take_aux():
        assert a.samples.shape[1] == 3
    assert dec.stats.malformed <= 1


def test_virtual_h10_accelerometer_heart_rate_and_battery_recorded_replayed_and_exported(tmp_path):
    from ecg_activity.bridge.capture_decode import decode_capture
    from ecg_activity.bridge.recording import load_demo_excerpt
    from ecg_activity.bridge.simulator_ble import synthetic_acc

    cap = tmp_path / "h10.ecgcap"
    cli("record", "--source", "sim:polar", "--speed", "40", "--duration", "6", "-o", str(cap), "-q", check=True)
    d = decode_capture(str(cap))
    kinds = {e.kind for e in d.events}
    assert {"battery", "heart_rate"} <= kinds
    assert next(e for e in d.events if e.kind == "battery").detail["percent"] == 87
    hr = [e.detail for e in d.events if e.kind == "heart_rate"]
    assert all(h["contact"] for h in hr) and any(h["rr_ms"] for h in hr)
    out = tmp_path / "acc.csv"
    cli("export", str(cap), "-o", str(out), "--stream", "acc", check=True)
    rows = np.loadtxt(out, delimiter=",", comments="#", skiprows=2)
    truth = synthetic_acc(load_demo_excerpt(), 200, 180.0)
    assert rows.shape[0] > 1000
    np.testing.assert_array_equal(rows[:, 2:], truth[:rows.shape[0]])          # bit for bit, as generated
    assert np.allclose(np.diff(rows[:, 1]), 0.005, atol=1e-6)                  # 200 Hz on the sensor's clock
    assert rows[0, 1] == 0.0 and "sensor's own clock" in out.read_text().splitlines()[0]    # an epoch stated
    again = tmp_path / "acc2.csv"
    cli("export", str(cap), "-o", str(again), "--stream", "acc", check=True)
    assert again.read_bytes() == out.read_bytes()                              # replays identically
