import base64

import numpy as np

from ecg_activity.bridge import protocol_attys as attys
from ecg_activity.bridge import protocol_polar as polar


def test_attys_line_layout_matches_the_firmware():
    line = attys.encode_lines(np.array([-1]), np.array([5]), first_counter=200)
    assert line.endswith(b"\r\n") and len(line) == 30
    raw = base64.b64decode(line[:-2])
    assert raw[0:3] == bytes([0xFF, 0xFF, 0x7F])       # -1 in offset binary = 0x7FFFFF
    assert raw[3:6] == bytes([0x05, 0x00, 0x80])       # 5 -> 0x800005
    assert raw[7] == 200
    assert raw[8:20] == b"\x00\x80" * 6                 # accel/mag at their zero


def test_attys_counter_wraps_modulo_256_without_false_gaps():
    x = np.arange(600)
    dec = attys.AttysDecoder()
    blocks = dec.feed(attys.encode_lines(x, first_counter=250), 0.0)
    assert dec.stats.lost_samples == 0 and sum(b.n for b in blocks) == 600


def test_attys_loss_across_the_wrap_is_counted_modulo_256():
    x = np.arange(20)
    data = attys.encode_lines(x, first_counter=250).split(b"\r\n")
    kept = data[:4] + data[9:]                         # counters 254, 255, 0, 1, 2 lost
    dec = attys.AttysDecoder()
    blocks = dec.feed(b"\r\n".join(kept), 0.0)
    assert dec.stats.lost_samples == 5
    assert blocks[1].first_index == 9 and blocks[1].gap_before == 5


def test_attys_acks_and_startup_commands():
    assert attys.startup_commands(250)[:3] == (b"x=0", b"d=1", b"r=1")
    dec = attys.AttysDecoder()
    dec.feed(b"OK\r\nOK\r\n" + attys.encode_lines(np.arange(3)), 0.0)
    assert dec.acks == 2 and dec.stats.malformed == 0 and dec.stats.samples == 3


def test_attys_scale_is_volts_over_gain():
    # 2^23 counts at gain 6 is the 2.42 V reference / 6, in mV
    assert abs(attys.mv_per_count(0) * (1 << 23) - 2420.0 / 6) < 1e-9


def test_polar_gap_from_timestamps():
    dec = polar.PolarDecoder()
    step = 1e9 / polar.RATE_HZ
    ts = 10**12
    frames = []
    for k in range(5):
        ts += int(round(73 * step))
        frames.append(polar.encode_notification(np.full(73, k), ts))
    blocks = []
    for k, f in enumerate(frames):
        if k != 2:
            blocks += dec.feed(f, 0.0)
    assert dec.stats.lost_samples == 73 and dec.stats.lost_frames == 1
    assert blocks[2].gap_before == 73 and blocks[2].first_index == 3 * 73
    assert blocks[0].rate_hz == 130.0 and blocks[0].mv_per_count == 0.001


def test_polar_rejects_non_ecg_frames_and_control_responses():
    dec = polar.PolarDecoder()
    assert dec.feed(bytes([0x02]) + bytes(9) + bytes(6), 0.0) == []      # accelerometer frame: not ECG ...
    aux = dec.take_aux()
    assert len(aux) == 1 and aux[0].stream == "acc" and aux[0].samples.shape == (2, 3)   # ... but kept
    assert dec.feed(polar.control_ok(), 0.0) == []
    assert dec.feed(bytes([0x02]) + bytes(8) + bytes([0x05]) + bytes(6), 0.0) == []      # unknown ACC type
    assert dec.stats.malformed == 2
    assert polar.parse_control(polar.control_ok(0x02)) == (0x02, 0)
