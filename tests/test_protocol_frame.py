import numpy as np
import pytest

from ecg_activity.bridge.protocol_frame import MAX_VALUES, FrameDecoder, encode_frame, encode_stream, frame_length


def decode_all(data: bytes, dec=None):
    dec = dec or FrameDecoder()
    blocks = dec.feed(data, 0.0)
    return dec, blocks


def test_worked_examples_from_the_spec():
    # the same bytes are printed in docs/protocol.md
    assert encode_frame(np.array([0, 1, -1, 1000]), 7).hex(" ") == \
        "a5 5a 01 00 07 00 01 04 00 00 00 01 00 00 ff ff ff e8 03 00 10 a6 04 43"
    assert encode_frame(np.array([[100, -100], [8388607, -8388608]]), 65535, 1).hex(" ") == \
        "a5 5a 01 01 ff ff 02 02 64 00 00 9c ff ff ff ff 7f 00 00 80 75 e6 33 dc"


def test_largest_frame_fits_one_ble_notification():
    assert frame_length(1, MAX_VALUES) <= 244
    with pytest.raises(ValueError):
        encode_frame(np.zeros(MAX_VALUES + 1), 0)
    with pytest.raises(ValueError):
        encode_frame(np.array([1 << 23]), 0)


def test_round_trip_two_channels_and_flags():
    x = np.arange(-300, 300).reshape(-1, 2) * 997
    frames = encode_stream(x, 30, flags=0x01)
    dec, blocks = decode_all(b"".join(frames))
    assert len(blocks) == 1
    assert blocks[0].flags == 0x01 and blocks[0].channels == 2
    np.testing.assert_array_equal(blocks[0].samples, x)
    assert dec.stats.frames == len(frames) and dec.stats.crc_errors == 0 and dec.stats.lost_samples == 0


def test_corrupt_frame_loses_only_itself_and_is_counted():
    x = np.arange(1000)
    frames = encode_stream(x, 20)
    bad = bytearray(frames[10])
    bad[15] ^= 0x40
    frames[10] = bytes(bad)
    dec, blocks = decode_all(b"".join(frames))
    assert dec.stats.crc_errors == 1
    assert dec.stats.lost_frames == 1 and dec.stats.lost_samples == 20 and dec.stats.gaps == 1
    assert [(b.first_index, b.n, b.gap_before) for b in blocks] == [(0, 200, 0), (220, 780, 20)]
    np.testing.assert_array_equal(blocks[1].samples[:, 0], x[220:])


def test_dropped_frames_and_sequence_wrap():
    x = np.arange(700)
    frames = encode_stream(x, 10, first_seq=65530)
    kept = frames[:3] + frames[8:]              # frames with seq 65533..65535, 0, 1 never arrive
    dec, blocks = decode_all(b"".join(kept))
    assert dec.stats.lost_frames == 5 and dec.stats.lost_samples == 50
    assert blocks[1].first_index == 80 and blocks[1].gap_before == 50


def test_garbage_between_frames_is_skipped_and_counted():
    frames = encode_stream(np.arange(100), 25)
    junk = b"\x00\xa5\x13\xa5\x5a\x07garbage"
    dec, blocks = decode_all(junk + frames[0] + junk + b"".join(frames[1:]))
    assert sum(b.n for b in blocks) == 100
    assert dec.stats.skipped_bytes == 2 * len(junk)
    assert dec.stats.resyncs == 2
    assert dec.stats.lost_samples == 0


def test_byte_by_byte_feeding_equals_one_shot():
    x = np.random.default_rng(3).integers(-(1 << 23), 1 << 23, 500)
    data = b"".join(encode_stream(x, 77))
    dec = FrameDecoder()
    got = [b.samples for i in range(len(data)) for b in dec.feed(data[i:i + 1], 0.0)]
    np.testing.assert_array_equal(np.concatenate(got)[:, 0], x)


def test_reconnect_keeps_exact_accounting_when_the_counter_continues():
    frames = encode_stream(np.arange(300), 10)
    dec = FrameDecoder(rate_hz=250)
    dec.feed(b"".join(frames[:10]), 100.0)
    dec.link_lost(100.1)
    blocks = dec.feed(b"".join(frames[15:]), 101.0)   # 5 frames missed while the link was down
    assert blocks[0].gap_before == 50 and blocks[0].first_index == 150
    assert dec.stats.lost_samples == 50


def test_reconnect_to_a_restarted_device_uses_the_host_clock():
    dec = FrameDecoder(rate_hz=250)
    dec.feed(b"".join(encode_stream(np.arange(100), 10, first_seq=4000)), 10.0)
    dec.link_lost(10.5)
    blocks = dec.feed(b"".join(encode_stream(np.arange(100), 10, first_seq=0)), 12.0)
    # the counter says 61,546 frames were lost: impossible in 2 s, so the host clock estimates it
    # (between 2 s x 250 Hz less the 100 samples that arrived and less one frame)
    assert 400 <= blocks[0].gap_before <= 490
    assert dec.stats.lost_samples == blocks[0].gap_before


def test_damaged_length_field_does_not_hold_back_the_frames_after_it():
    """Found by hypothesis: a flipped bit in the channel count promised a 210-byte frame; the
    ten real frames after it must still decode now, not wait for bytes that never come."""
    x = np.arange(60)
    frames = encode_stream(x, 2)
    bad = bytearray(frames[19])
    bad[6] ^= 1 << 5                      # channels 1 -> 33: 33 x 2 values fits the limit
    frames[19] = bytes(bad)
    dec, blocks = decode_all(b"".join(frames))
    got = np.concatenate([b.samples[:, 0] for b in blocks])
    np.testing.assert_array_equal(got, np.concatenate([x[:38], x[40:]]))
    assert dec.stats.lost_frames == 1 and dec.stats.lost_samples == 2 and dec.stats.malformed == 1


def test_a_device_that_names_itself_only_at_power_up_is_taken_after_a_while_with_a_notice():
    """Identity checks after a reconnect: ours names itself again (taken, nothing lost), another device
    names itself (none of its frames taken), one that never names itself again (old firmware) is taken
    after 40 frames, said in a notice, its samples in place."""
    from ecg_activity.bridge.protocol_frame import MAX_HELD_FRAMES, encode_identity

    x = np.arange(100 * 25)
    frames = encode_stream(x, 25)
    dec = FrameDecoder()
    out = dec.feed(encode_identity("strap-A") + b"".join(frames[:10]), 0.0)
    dec.link_lost(1.0)
    out += dec.feed(b"".join(frames[10:15]), 2.0)                  # held: not yet named
    assert sum(b.n for b in out) == 250 and dec.stats.unverified_frames == 0
    out += dec.feed(encode_identity("strap-A") + b"".join(frames[15:20]), 2.1)
    assert sum(b.n for b in out) == 500 and dec.stats.lost_samples == 0
    dec.link_lost(3.0)
    out += dec.feed(b"".join(frames[20:20 + MAX_HELD_FRAMES + 5]), 4.0)
    got = np.concatenate([b.samples[:, 0] for b in out])
    assert np.array_equal(got, x[:got.size]) and got.size == (20 + MAX_HELD_FRAMES + 5) * 25
    assert any("did not name itself" in n for n in dec.take_notices()) and dec.stats.unverified_frames == 0
