"""Property tests: round trips are identities, arbitrary bytes never crash a decoder,
and damaging one frame costs exactly that frame."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecg_activity.bridge import protocol_attys as attys
from ecg_activity.bridge import protocol_polar as polar
from ecg_activity.bridge.protocol_frame import MAX_VALUES, FrameDecoder, encode_stream
from ecg_activity.bridge.protocols import make_decoder

int24 = st.integers(-(1 << 23), (1 << 23) - 1)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts}) if data else []
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def _feed(dec, pieces):
    blocks = []
    for p in pieces:
        blocks += dec.feed(p, 0.0)
    return blocks + dec.flush()


@SETTINGS
@given(st.lists(int24, min_size=1, max_size=400), st.integers(1, MAX_VALUES), st.integers(0, 65535),
       st.lists(st.integers(0, 10**6), max_size=8))
def test_frame_round_trip_any_chunking(values, per, seq, cuts):
    data = b"".join(encode_stream(np.array(values), per, first_seq=seq))
    dec = FrameDecoder()
    blocks = _feed(dec, _chunks(data, cuts))
    assert np.concatenate([b.samples[:, 0] for b in blocks]).tolist() == values
    assert dec.stats.lost_samples == 0 and dec.stats.crc_errors == 0 and dec.stats.skipped_bytes == 0


@SETTINGS
@given(st.lists(int24, min_size=1, max_size=300), st.integers(0, 255), st.lists(st.integers(0, 10**6), max_size=8))
def test_attys_round_trip_any_chunking(values, counter, cuts):
    data = attys.encode_lines(np.array(values), first_counter=counter)
    dec = attys.AttysDecoder()
    blocks = _feed(dec, _chunks(data, cuts))
    assert np.concatenate([b.samples[:, 0] for b in blocks]).tolist() == values
    assert dec.stats.lost_samples == 0 and dec.stats.malformed == 0


@SETTINGS
@given(st.lists(st.lists(int24, min_size=1, max_size=73), min_size=1, max_size=10))
def test_polar_round_trip(frames):
    dec = polar.PolarDecoder()
    ts, out = 10**15, []
    for f in frames:
        ts += int(round(len(f) * 1e9 / polar.RATE_HZ))
        out += dec.feed(polar.encode_notification(np.array(f), ts), 0.0)
    assert np.concatenate([b.samples[:, 0] for b in out]).tolist() == [v for f in frames for v in f]
    assert dec.stats.lost_samples == 0


@SETTINGS
@given(st.sampled_from(["frame", "attys", "polar"]), st.lists(st.binary(max_size=300), max_size=20))
def test_arbitrary_bytes_never_crash(protocol, pieces):
    dec = make_decoder(protocol)
    for b in _feed(dec, pieces):
        assert b.samples.dtype == np.int32 and b.samples.ndim == 2
    s = dec.stats
    assert min(s.as_dict().values()) >= 0


@SETTINGS
@given(st.lists(int24, min_size=60, max_size=400), st.integers(1, 20), st.data())
def test_frame_corrupting_one_frame_loses_only_it(values, per, data):
    values = values[:len(values) // per * per]      # lost samples = lost frames x the next frame's n
    frames = encode_stream(np.array(values), per)
    k = data.draw(st.integers(1, len(frames) - 2))   # frames before and after must reveal the gap
    pos = data.draw(st.integers(2, len(frames[k]) - 1))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(frames[k])
    bad[pos] ^= 1 << bit
    frames[k] = bytes(bad)
    dec = FrameDecoder()
    blocks = _feed(dec, [b"".join(frames)])
    got = np.concatenate([b.samples[:, 0] for b in blocks]).tolist()
    expect = values[:k * per] + values[(k + 1) * per:]
    assert got == expect
    assert dec.stats.lost_samples == per and dec.stats.lost_frames == 1


@SETTINGS
@given(st.lists(int24, min_size=3, max_size=300), st.data())
def test_attys_damaging_one_line_loses_only_it(values, data):
    raw = attys.encode_lines(np.array(values))
    lines = raw.split(b"\r\n")[:-1]
    k = data.draw(st.integers(1, len(lines) - 2))     # loss before the first line is invisible
    how = data.draw(st.sampled_from(["char", "truncate", "extend"]))
    line = bytearray(lines[k])
    if how == "char":
        line[data.draw(st.integers(0, 26))] = ord(data.draw(st.sampled_from("!*#$ .")))
    elif how == "truncate":
        line = line[:data.draw(st.integers(0, 27))]
    else:
        line += b"A"
    lines[k] = bytes(line)
    dec = attys.AttysDecoder()
    blocks = dec.feed(b"\r\n".join(lines) + b"\r\n", 0.0) + dec.flush()
    got = np.concatenate([b.samples[:, 0] for b in blocks]).tolist()
    assert got == values[:k] + values[k + 1:]
    assert dec.stats.lost_samples == 1
    # an OK-shaped or blank leftover is protocol, not damage; anything else is counted
    assert dec.stats.malformed == (0 if bytes(line) in (b"", b"OK") else 1)


@SETTINGS
@given(st.lists(int24, min_size=12, max_size=200), st.data())
def test_attys_damaged_counters_decode_the_same_live_and_replayed(values, data):
    """Counter characters damaged (one line, two in a row, or the last line), read one line at a time (a
    live link) or all at once (a replay): the same samples, each damaged line one lost sample at its place,
    never 255 phantom ones."""
    raw = attys.encode_lines(np.array(values))
    lines = raw.split(b"\r\n")[:-1]
    where = data.draw(st.sampled_from(["one", "two", "last"]))
    k = len(lines) - 1 if where == "last" else data.draw(st.integers(1, len(lines) - 5))
    hit = [k] if where != "two" else [k, k + 1]
    jump = data.draw(st.integers(17, 239))
    for i in hit:                                    # the same sample, its counter off by a random jump
        lines[i] = attys.encode_lines(np.array([values[i]]), first_counter=(i + jump) & 0xFF).split(b"\r\n")[0]
    whole = b"\r\n".join(lines) + b"\r\n"
    results = []
    for reads in ([whole], [ln + b"\r\n" for ln in lines]):
        dec = attys.AttysDecoder()
        blocks = [b for r in reads for b in dec.feed(r, 0.0)] + dec.flush()
        got = np.concatenate([b.samples[:, 0] for b in blocks]).tolist()
        results.append((got, dec.stats.lost_samples, blocks[-1].first_index + blocks[-1].n))
    assert results[0] == results[1]
    got, lost, end = results[0]
    assert got == [v for i, v in enumerate(values) if i not in hit]
    assert lost == (len(hit) if where != "last" else 0) and end == len(values) - (where == "last")


@SETTINGS
@given(st.lists(int24, min_size=50, max_size=400), st.integers(1, 40), st.data())
def test_a_damaged_frame_stream_is_counted_the_same_live_and_replayed(values, per, data):
    """Junk and corrupted frames, read in whatever pieces a live link delivers or in one piece (a replay):
    the same samples, and the same tallies, resyncs included (a run of junk split across two reads was
    two resyncs live and one replayed)."""
    frames = encode_stream(np.array(values), per)
    stream = bytearray()
    for f in frames:
        what = data.draw(st.sampled_from(["ok", "ok", "ok", "junk", "flip"]))
        if what == "junk":
            stream += data.draw(st.binary(min_size=1, max_size=40))
        if what == "flip":
            f = bytearray(f)
            f[data.draw(st.integers(2, len(f) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        stream += f
    stream = bytes(stream)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    live, replay = FrameDecoder(), FrameDecoder()
    a = _feed(live, _chunks(stream, cuts))
    b = _feed(replay, [stream])
    cat = lambda bl: np.concatenate([x.samples[:, 0] for x in bl]).tolist() if bl else []   # noqa: E731
    assert cat(a) == cat(b)
    assert live.stats == replay.stats


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_attys_silences_hide_no_whole_counter_laps_and_replay_decides_the_same(data):
    """An Attys counter has 8 bits: a link silent for 256 lines lost 256 lines the counter cannot see.
    Reads come every few lines; at random places the link goes silent and loses some lines (any number,
    whole laps of 256 included), or the host stalls and the lines arrive late in one burst (nothing
    lost).  The host clock counts the laps: every sample lands at its true index, the losses are exact,
    and replay (reads joined) decides exactly as live."""
    from ecg_activity.bridge.blocks import Packet
    from ecg_activity.bridge.stream import stream_blocks
    from ecg_activity.bridge.transport_replay import coalesced

    rate, total = 250.0, 4000
    raw = attys.encode_lines(np.arange(total))
    line = len(raw) // total
    events = sorted(data.draw(st.dictionaries(st.integers(200, total - 800), st.tuples(
        st.sampled_from(["hole", "burst"]), st.sampled_from([1, 30, 200, 255, 256, 257, 300, 512, 600])),
        max_size=3)).items())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    packets, t, i, lost_true = [], 100.0, 0, 0
    while i < total:
        if events and i >= events[0][0]:
            _, (kind, n) = events.pop(0)
            n = min(n, total - i - 1)
            t += n / rate
            if kind == "hole":
                i += n
                lost_true += n
            else:
                packets.append(Packet(raw[i * line:(i + n) * line], t))
                i += n
            continue
        n = min(int(rng.integers(1, 13)), total - i)
        t += n / rate + float(rng.uniform(0, 0.02))
        packets.append(Packet(raw[i * line:(i + n) * line], t))
        i += n
    results = []
    for items in (packets, list(coalesced(iter(packets), 65536))):
        dec = attys.AttysDecoder()
        blocks = list(stream_blocks(iter(items), dec))
        for b in blocks:                       # each sample at its true place (the device's own index)
            assert np.array_equal(b.samples[:, 0], np.arange(b.first_index, b.first_index + b.n))
        where = np.concatenate([np.arange(b.first_index, b.first_index + b.n) for b in blocks])
        results.append((where.tolist(), dec.stats))
    assert results[0] == results[1]
    assert results[0][1].lost_samples == lost_true
