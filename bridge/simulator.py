"""The virtual wearable: streams a real recording the way each device would.

It turns a Recording into the device's native samples (rate and count scale
of that device), cuts them into the device's frames, injects faults from a
seeded plan and logs exactly what it injected, so tests can demand that the
decoder's accounting matches to the sample.
"""

from __future__ import annotations

import json
import os
import select
import threading
import time
import tty
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np

from .protocols import get_protocol
from .recording import Recording, to_rate


@dataclass
class FaultPlan:
    """What the virtual wearable does wrong, reproducibly (``seed``): lost and damaged frames, line noise, a
    silent pause; the faults a field link shows, injected so every counter can be checked against the log."""

    drop: float = 0.0            # probability that a frame is never sent
    corrupt: float = 0.0         # probability that a frame is damaged in flight
    noise_every_s: float = 0.0   # a burst of random bytes between frames this often
    noise_bytes: int = 64
    pause_at_s: float = -1.0     # the device stops sending for pause_s (link stays up)
    pause_s: float = 0.0
    seed: int = 0


@dataclass
class FaultLog:
    """What the virtual wearable actually did (frames and samples sent, lost, damaged, noise): the ground truth
    the receiver's counts are compared with."""

    frames_sent: int = 0
    samples_sent: int = 0
    dropped_frames: int = 0
    dropped_samples: int = 0
    corrupted_frames: int = 0
    corrupted_samples: int = 0
    noise_bursts: int = 0
    noise_bytes: int = 0
    unsent_frames: int = 0       # produced while no host was connected or read (lost like on a real device)
    dropped_indices: list[int] = field(default_factory=list)   # first sample index of each lost frame

    def as_dict(self) -> dict:
        return asdict(self)


def device_samples(rec: Recording, protocol: str) -> Recording:
    """The recording as the device would digitise it: its rate and its count scale."""
    p = get_protocol(protocol)
    if p.keeps_own_scale:
        return rec if rec.rate_hz == p.rate_hz else to_rate(rec, p.rate_hz)
    if rec.mv_per_count <= 0:
        raise ValueError(f"a {protocol} device needs a recording with a known mV scale")
    return to_rate(rec, p.rate_hz, p.mv_per_count)


@dataclass
class DeviceFrame:
    """One encoded frame and the stream index of its first sample."""

    data: bytes
    first_index: int
    n: int


def device_frames(dev: Recording, protocol: str, start_frame: int = 0, t0_ns: int = 10**18) -> list[DeviceFrame]:
    """Every frame the device sends for ``dev`` (already at device scale)."""
    return list(iter_device_frames(dev, protocol, start_frame, t0_ns))


def frame_count(dev: Recording, protocol: str) -> int:
    """How many frames ``protocol`` needs to send all of ``dev``."""
    per = get_protocol(protocol).frame_samples
    return (dev.counts.size + per - 1) // per


def iter_device_frames(dev: Recording, protocol: str, start_frame: int = 0,
                       t0_ns: int = 10**18) -> Iterator[DeviceFrame]:
    """The frames one at a time, made as they are sent: a long Attys recording is tens of thousands
    of lines, and building them all before the first (seconds on a busy machine) would trip the
    host's watchdog before the device ever spoke."""
    p = get_protocol(protocol)
    per = p.frame_samples
    x = dev.counts
    for k, i in enumerate(range(0, x.size, per)):
        chunk = x[i:i + per]
        data = p.encode(chunk, start_frame + k, i + chunk.size - 1, dev.rate_hz, t0_ns)
        yield DeviceFrame(data, i, int(chunk.size))


class FaultInjector:
    """Applies a ``FaultPlan`` frame by frame (drop, corrupt, noise bursts, pause) and logs every fault, so a
    simulated link is as bad as asked and the damage is known exactly."""

    def __init__(self, plan: FaultPlan, protocol: str) -> None:
        self.plan = plan
        self.protocol = get_protocol(protocol)
        self.rng = np.random.default_rng(plan.seed)
        self.log = FaultLog()
        self._next_noise_s = plan.noise_every_s if plan.noise_every_s > 0 else None

    def apply(self, f: DeviceFrame, t_s: float) -> list[bytes]:
        """What actually goes on the wire for this frame (possibly nothing, possibly noise first)."""
        out: list[bytes] = []
        if self._next_noise_s is not None and t_s >= self._next_noise_s:
            self._next_noise_s += self.plan.noise_every_s
            noise = self.protocol.line_noise(self.rng, self.plan.noise_bytes)
            if noise is not None:
                out.append(noise)
                self.log.noise_bursts += 1
                self.log.noise_bytes += len(noise)
        r = self.rng.random(2)
        if r[0] < self.plan.drop:
            self.log.dropped_frames += 1
            self.log.dropped_samples += f.n
            self.log.dropped_indices.append(f.first_index)
            return out
        data = f.data
        if r[1] < self.plan.corrupt:
            data = self.protocol.corrupt(data, self.rng)
            self.log.corrupted_frames += 1
            self.log.corrupted_samples += f.n
            self.log.dropped_indices.append(f.first_index)
        out.append(data)
        self.log.frames_sent += 1
        self.log.samples_sent += f.n
        return out


class PtyWearable:
    """A wearable on a pseudo-terminal: the host opens ``path`` with pyserial like a real port."""

    def __init__(self, rec: Recording, protocol: str, speed: float = 1.0, faults: FaultPlan | None = None,
                 loop: bool = False, device_id: str | None = "ecg-sim-0001") -> None:
        self.proto = get_protocol(protocol)
        # how the device names itself (our frame protocol: an identity frame on connecting and every
        # few frames, so a host that reopens the port can tell it from another device); None: never
        self.identity = self.proto.identity(device_id) if device_id else None
        if not self.proto.serial:
            raise ValueError(f"a {protocol} device speaks BLE, not serial: use the virtual BLE sensor (sim:{protocol})")
        self.dev = device_samples(rec, protocol)
        self.protocol = protocol
        self.speed = speed
        self.loop = loop
        self.injector = FaultInjector(faults or FaultPlan(), protocol)
        self.master, slave = os.openpty()
        os.set_blocking(self.master, False)      # a frame is written whole or, after a stall, dropped
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        self.stop = threading.Event()
        self.finished = threading.Event()
        self._poll = select.poll()
        self._poll.register(self.master, select.POLLIN | select.POLLHUP)
        self.commands: list[bytes] = []
        self._cmd_buf = b""
        self._streaming = not self.proto.waits_for_start
        self._write_poll = select.poll()
        self._write_poll.register(self.master, select.POLLOUT)

    #: a host that keeps the port open but reads nothing for this long (wall seconds) overflows the
    #: device's buffer: what it produces meanwhile is lost, not sent late as a stale backlog
    STALL_S = 3.0

    def _send(self, data: bytes, patience_s: float | None) -> bool:
        """Write ``data`` whole, waiting for room up to ``patience_s`` (None: as long as it takes, a file
        player at top speed).  False when the reader did not make room in time: the rest is dropped, as a
        real device's full buffer drops it."""
        view = memoryview(data)
        while view and not self.stop.is_set():
            try:
                view = view[os.write(self.master, view):]
                continue
            except BlockingIOError:
                pass
            if patience_s is None:
                self._write_poll.poll(100)        # top speed: wait for the reader, checking stop
            elif not self._write_poll.poll(int(patience_s * 1000)):
                return False
        return not view

    @property
    def log(self) -> FaultLog:
        return self.injector.log

    def _connected(self) -> bool:
        return not any(ev & select.POLLHUP for _, ev in self._poll.poll(0))

    def _wait_connected(self) -> bool:
        while not self.stop.is_set():
            if self._connected():
                time.sleep(0.2)       # let pyserial finish configuring and flushing the port
                return True
            time.sleep(0.02)
        return False

    def _read_commands(self, timeout: float = 0.0) -> None:
        """Commands from the host, answered as the device would (an Attys: OK to every ``k=v``)."""
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return
        try:
            self._cmd_buf += os.read(self.master, 256)
        except OSError:
            return
        while b"\n" in self._cmd_buf:
            line, self._cmd_buf = self._cmd_buf.split(b"\n", 1)
            cmd = line.strip()
            if not cmd:
                continue
            self.commands.append(cmd)
            reply, streaming = self.proto.device_command(cmd)
            try:
                if reply:
                    self._send(reply, self.STALL_S)
            except OSError:
                return
            if streaming is not None:
                self._streaming = streaming

    def run(self) -> FaultLog:
        try:
            self._serve()
        finally:
            self.finished.set()
        return self.log

    def _serve(self) -> None:
        # The device clock starts when a host first connects (and, for an Attys, sends x=1).
        while not self.stop.is_set():
            if self._connected():
                if not self.proto.waits_for_start:
                    time.sleep(0.2)      # let pyserial finish configuring and flushing the port
                    break
                self._read_commands(0.05)
                if self._streaming:
                    break
            else:
                time.sleep(0.02)
        n_frames = frame_count(self.dev, self.protocol)
        frames = iter_device_frames(self.dev, self.protocol)
        rate = self.dev.rate_hz
        t_start = time.monotonic()
        k = 0
        lap = 0
        plan = self.injector.plan
        paused = False
        was_connected = True
        stalled = False
        since_identity: int | None = None          # data frames since the identity was last sent
        while not self.stop.is_set():
            if k == n_frames:
                if not self.loop:
                    time.sleep(0.3)
                    return
                lap += 1
                k = 0
                frames = iter_device_frames(self.dev, self.protocol, start_frame=lap * n_frames)
            f = next(frames)
            t_dev = (lap * self.dev.counts.size + f.first_index + f.n) / rate
            if plan.pause_at_s >= 0 and not paused and t_dev >= plan.pause_at_s:
                paused = True
                t_start += plan.pause_s / self.speed     # the device stops sending, then resumes where it was
                self._sleep_until(time.monotonic() + plan.pause_s / self.speed)
            self._sleep_until(t_start + t_dev / self.speed)
            k += 1
            connected = self._connected()
            if connected and not was_connected and not self.proto.waits_for_start:
                time.sleep(0.2)
            was_connected = connected
            if connected and self.proto.waits_for_start:
                self._read_commands()
            if not connected or not self._streaming:
                self.log.unsent_frames += 1
                since_identity = None                  # a host that connects next hears the name first
                continue
            if stalled and not self._write_poll.poll(0):
                self.log.unsent_frames += 1        # the reader still reads nothing: the buffer overflows
                continue
            patience = None if self.speed <= 0 else (0.0 if stalled else self.STALL_S)
            due = self.identity is not None and (since_identity is None
                                                 or since_identity >= self.proto.identity_every_frames - 1)
            if due:
                since_identity = 0
            elif since_identity is not None:
                since_identity += 1
            packets = ([self.identity] if due else []) + self.injector.apply(f, t_dev)
            try:
                stalled = not all(self._send(p, patience) for p in packets)     # stops at the first refused
            except OSError:
                stalled = True
            if stalled:
                self.log.unsent_frames += 1        # (a frame cut short arrives damaged: lost all the same)

    def _sleep_until(self, when: float) -> None:
        while not self.stop.is_set():
            d = when - time.monotonic()
            if d <= 0:
                return
            time.sleep(min(d, 0.05))

    def close(self) -> None:
        self.stop.set()
        try:
            os.close(self.master)
        except OSError:
            pass


def write_fault_log(log: FaultLog, path: str) -> None:
    """The fault log as JSON (``simulate --fault-log``): what a test or a developer compares the receiver's
    counts with."""
    with open(path, "w") as f:
        json.dump(log.as_dict(), f)
