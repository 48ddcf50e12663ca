import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ecg_activity.bridge.blocks import LinkEvent, Packet
from ecg_activity.bridge.capture import CaptureError, CaptureHeader, CaptureReader, CaptureWriter
from ecg_activity.bridge.capture_decode import decode_capture
from ecg_activity.bridge.errors import OutputError
from ecg_activity.bridge.protocol_frame import encode_stream


def _write(path, packets):
    with CaptureWriter(path, CaptureHeader(protocol="frame", rate_hz=250, channels=1, mv_per_count=0.001,
                                           label="walk")) as w:
        for p in packets:
            w.write_event(p) if isinstance(p, LinkEvent) else w.write_packet(p)


def test_round_trip_is_bit_exact(tmp_path):
    frames = encode_stream(np.arange(5000), 25)
    packets = [Packet(f + b"\x00junk" * (i % 3), 1000.0 + i / 10) for i, f in enumerate(frames)]
    packets.insert(50, LinkEvent("reconnect", 1005.0, {"attempts": 2}))
    path = tmp_path / "a.ecgcap"
    _write(path, packets)
    r = CaptureReader(path)
    assert r.header.label == "walk" and r.header.protocol == "frame"
    items, err = r.read_all()
    assert err is None
    assert [(type(i), getattr(i, "data", None), i.t_host) for i in items] == \
        [(type(p), getattr(p, "data", None), p.t_host) for p in packets]
    assert items[50].detail == {"attempts": 2}
    # the same samples every time it is replayed
    a, b = decode_capture(str(path)), decode_capture(str(path))
    assert np.array_equal(a.contiguous()[0], b.contiguous()[0])
    assert a.stats.lost_samples == 0 and a.total_samples == 5000


def test_never_overwrites(tmp_path):
    path = tmp_path / "a.ecgcap"
    _write(path, [])
    with pytest.raises(OutputError, match="never overwritten"):
        _write(path, [])


def test_truncation_anywhere_keeps_everything_before(tmp_path):
    frames = encode_stream(np.arange(300), 30)
    path = tmp_path / "full.ecgcap"
    _write(path, [Packet(f, float(i)) for i, f in enumerate(frames)])
    data = path.read_bytes()
    header_end = CaptureReader(path).data_offset
    chunk_len = (len(data) - header_end) // len(frames)
    for cut in range(header_end, len(data), 7):
        p = tmp_path / f"cut{cut}.ecgcap"
        p.write_bytes(data[:cut])
        items, err = CaptureReader(p).read_all()
        whole = (cut - header_end) // chunk_len
        assert len(items) == whole
        if (cut - header_end) % chunk_len:
            assert err is not None and err.truncated and err.offset == header_end + whole * chunk_len
            assert f"byte offset {err.offset}" in str(err)
        else:
            assert err is None


def test_corruption_names_the_offset(tmp_path):
    frames = encode_stream(np.arange(300), 30)
    path = tmp_path / "c.ecgcap"
    _write(path, [Packet(f, float(i)) for i, f in enumerate(frames)])
    data = bytearray(path.read_bytes())
    start = CaptureReader(path).data_offset
    chunk_len = (len(data) - start) // len(frames)
    data[start + 4 * chunk_len + 30] ^= 0xFF            # inside the payload of chunk 4
    path.write_bytes(bytes(data))
    items, err = CaptureReader(path).read_all()
    assert len(items) == 4
    assert err is not None and not err.truncated and err.offset == start + 4 * chunk_len
    assert "CRC" in err.reason


def test_not_a_capture(tmp_path):
    p = tmp_path / "x.ecgcap"
    p.write_bytes(b"hello world")
    with pytest.raises(CaptureError, match="bad magic"):
        CaptureReader(p)
    with pytest.raises(CaptureError, match="no such capture file$"):
        CaptureReader(tmp_path / "missing.ecgcap")


WRITER = r"""
import sys, time, numpy as np
from ecg_activity.bridge.blocks import Packet
from ecg_activity.bridge.capture import CaptureHeader, CaptureWriter
from ecg_activity.bridge.protocol_frame import encode_stream
w = CaptureWriter(sys.argv[1], CaptureHeader(protocol="frame", rate_hz=250, channels=1, mv_per_count=0.0))
frames = encode_stream(np.arange(10**6) % 5000, 25)
print("started", flush=True)
for i, f in enumerate(frames):
    w.write_packet(Packet(f, time.time()))
    if i % 50 == 0:
        time.sleep(0.001)
"""


def test_readable_after_kill_9(tmp_path):
    path = tmp_path / "killed.ecgcap"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"started"
    time.sleep(0.7)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cap = decode_capture(str(path))
    assert cap.chunks > 100
    assert cap.error is None or cap.error.truncated
    got = np.concatenate([b.samples[:, 0] for b in cap.blocks])
    np.testing.assert_array_equal(got, np.arange(got.size) % 5000)
    assert cap.stats.lost_samples == 0 and cap.stats.crc_errors == 0


def test_labels_follow_sample_positions_not_the_time_of_a_replayed_piece(tmp_path):
    """The issue's reproduction: 60 s walk then 60 s run, labels as events.  Replay joins reads into
    pieces of up to 64 KiB stamped with their last read's time; training and calibration must still see
    60 s of each, split where the label changed."""
    import numpy as np

    from conftest import write_capture
    from ecg_activity.bridge.capture_decode import iter_capture, label_over, label_track
    from ecg_activity.train.captures import capture_recordings

    t0 = 1.7e9
    folder = tmp_path / "anna"
    folder.mkdir()
    path = write_capture(folder / "s.ecgcap", np.arange(250 * 120) % 1000, t0=t0,
                         events=[(t0, "label", {"label": "walk"}), (t0 + 60.0, "label", {"label": "run"})])
    tally, blocks = iter_capture(str(path))
    assert max(b.n for b in blocks) > 250 * 10                      # replay really joined reads
    track = label_track(tally.header, tally.events, tally.event_index)
    assert track == [(0, "walk"), (250 * 60, "run")]
    assert label_over(track, 0, 5000) == "walk" and label_over(track, 14000, 16000) is None
    recs = capture_recordings(tmp_path, 250.0)
    assert [(r.segments[0][2], r.counts.size) for r in recs] == [("walk", 15000), ("run", 15000)]
