"""BLE through bleak's client API: a virtual Polar H10 (and a raw fake client) behind the seam."""

import asyncio

import numpy as np
import pytest

from ecg_activity.bridge import protocol_frame as frame
from ecg_activity.bridge import protocol_polar as polar
from ecg_activity.bridge.protocols import make_decoder
from ecg_activity.bridge.simulator import FaultPlan, device_samples
from ecg_activity.bridge.simulator_ble import VirtualPolarH10
from ecg_activity.bridge.stream import stream_blocks
from ecg_activity.bridge.protocol_frame import NUS_TX
from ecg_activity.bridge.transport_ble import BleTransport
from ecg_activity.bridge.transport_serial import TransportError


def _run(dev, transport, decoder, limit_s=30):
    blocks, events = [], []
    for item in stream_blocks(transport, decoder):
        (events if hasattr(item, "kind") else blocks).append(item)
        if dev.done:
            break
    transport.close()
    return blocks, events


def test_polar_h10_start_command_notifications_and_faults(demo_recording):
    dev = VirtualPolarH10(demo_recording, speed=25, faults=FaultPlan(drop=0.05, corrupt=0.03, seed=4))
    tr = BleTransport(dev.address, "polar", client_factory=dev.client_factory, finder=None)
    dec = make_decoder("polar")
    blocks, events = _run(dev, tr, dec)
    assert dev.writes[0] == (polar.PMD_CONTROL, polar.START_ECG)
    assert tr.control_responses[0][:3] == bytes([0xF0, 0x02, 0x00])
    truth = device_samples(demo_recording, "polar").counts
    for b in blocks:
        assert b.rate_hz == 130.0
        np.testing.assert_array_equal(b.samples[:, 0], truth[b.first_index:b.first_index + b.n])
    log = dev.log
    assert log.dropped_frames > 0 and log.corrupted_frames > 0
    assert dec.stats.malformed == log.corrupted_frames
    # the last frame's loss cannot show (nothing follows it)
    assert dec.stats.lost_samples in (log.dropped_samples + log.corrupted_samples,
                                      log.dropped_samples + log.corrupted_samples - dev.frames[-1].n)


def test_polar_link_loss_reconnects_and_counts_the_gap_exactly(demo_recording):
    dev = VirtualPolarH10(demo_recording, speed=25, drop_link_at_s=(30.0, 70.0))
    tr = BleTransport(dev.address, "polar", client_factory=dev.client_factory, finder=None, backoff_s=(0.05,))
    dec = make_decoder("polar")
    blocks, events = _run(dev, tr, dec)
    kinds = [e.kind for e in events]
    assert kinds.count("reconnect") == 2 and dec.stats.reconnects == 2 and dev.connections == 3
    assert dec.stats.lost_frames == 2 and dec.stats.lost_samples == 2 * 73
    truth = device_samples(demo_recording, "polar").counts
    for b in blocks:
        np.testing.assert_array_equal(b.samples[:, 0], truth[b.first_index:b.first_index + b.n])


class FakeNusClient:
    """Bare BleakClient-shaped object: our frame format on the Nordic UART TX characteristic."""

    def __init__(self, payloads, disconnected_callback):
        self.payloads = payloads
        self.cb = None
        self.is_connected = False

    async def connect(self, **kw):
        self.is_connected = True

    async def disconnect(self):
        self.is_connected = False

    async def start_notify(self, char, callback, **kw):
        assert char == NUS_TX
        self.cb = callback
        asyncio.get_running_loop().call_later(0.01, self._send)

    def _send(self):
        for p in self.payloads:
            self.cb(NUS_TX, bytearray(p))

    async def write_gatt_char(self, *a, **kw):
        raise AssertionError("the frame profile writes nothing")


def test_frame_format_over_ble_notifications():
    x = np.arange(-500, 500)
    frames = frame.encode_stream(x, 77)
    tr = BleTransport("AA:BB:CC:DD:EE:FF", "frame", finder=None,
                      client_factory=lambda target, disconnected_callback: FakeNusClient(frames, disconnected_callback))
    dec = make_decoder("frame")
    got = []
    for item in stream_blocks(tr, dec):
        got.append(item.samples[:, 0])
        if sum(map(len, got)) >= x.size:
            break
    tr.close()
    np.testing.assert_array_equal(np.concatenate(got), x)


def test_unknown_device_is_a_clear_error():
    async def finder(name, timeout):
        return None

    tr = BleTransport("GN-ATTYS-nowhere", "polar", finder=finder)
    with pytest.raises(TransportError, match="no BLE device matching"):
        tr.open_first()


def test_sensor_that_never_acknowledges_start(demo_recording):
    dev = VirtualPolarH10(demo_recording)

    def factory(target, disconnected_callback):
        c = dev.client_factory(target, disconnected_callback)

        async def silent_write(char, data, response=False):
            return None
        c.write_gatt_char = silent_write
        return c

    tr = BleTransport("x", "polar", client_factory=factory, finder=None, control_timeout_s=0.2)
    with pytest.raises(TransportError, match="did not acknowledge"):
        tr.open_first()
