"""A fleet over MQTT, against a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import cli_popen

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="the Debian package mosquitto is not installed")
paho = pytest.importorskip("paho.mqtt.client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A real mosquitto with persistence (so a restart keeps what it had acknowledged)."""

    def __init__(self, folder):
        self.port = free_port()
        self.folder = folder
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {folder}/\nautosave_interval 1\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: _can_connect(self.port), 20, "broker to listen")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)


def _can_connect(port) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop(signal.SIGKILL)


def _lines(path):
    try:
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    except FileNotFoundError:
        return []


_cli = cli_popen


def test_every_decision_reaches_the_collector_once_and_in_order_across_a_broker_restart(broker, tmp_path):
    out = tmp_path / "collected"
    col = _cli("collect", f"mqtt://127.0.0.1:{broker.port}/ecg/site1/#", "--out", str(out), "--no-display")
    local = tmp_path / "local.jsonl"
    url = f"mqtt://127.0.0.1:{broker.port}/ecg/site1/pi7?spool={tmp_path / 'spool'}&status=1"
    pub = _cli("run", "--source", "sim:frame", "--speed", "8", "--duration", "45", "--no-display",
               "--out", url, "--jsonl", str(local))
    dev = out / "pi7.jsonl"
    try:
        wait_for(lambda: len(_lines(dev)) >= 20, 120, "the first decisions at the collector")
        broker.stop()                                  # the broker goes away mid-stream ...
        n_down = len(_lines(local))
        wait_for(lambda: len(_lines(local)) >= n_down + 30, 120, "decisions made while the broker is down")
        broker.start()                                 # ... and comes back
        _, err = pub.communicate(timeout=180)
        assert pub.returncode == 0, err
        made = _lines(local)
        wait_for(lambda: len(_lines(dev)) >= len(made), 60, "the spool to drain")
        time.sleep(1.0)                                # nothing more (no duplicates) arrives after that
    finally:
        col.send_signal(signal.SIGTERM)
        col.communicate(timeout=30)
    got = _lines(dev)
    assert [g["seq"] for g in got] == list(range(len(made)))          # exactly once, in order
    assert [g["end_s"] for g in got] == [m["end_s"] for m in made]
    assert [g["activity"] for g in got] == [m["activity"] for m in made]
    assert len({g["session"] for g in got}) == 1


def _watcher(port: int, topic: str, name: str):
    """A subscriber collecting the JSON payloads of ``topic``: (client, list)."""
    seen: list = []
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name)
    c.on_message = lambda cl, u, msg: seen.append(json.loads(msg.payload))
    c.connect("127.0.0.1", port)
    c.subscribe(topic, qos=1)
    c.loop_start()
    return c, seen


def test_last_will_says_offline_when_the_pi_is_killed(broker, tmp_path):
    c, seen = _watcher(broker.port, "ecg/lab/+/status", "watcher")
    url = f"mqtt://127.0.0.1:{broker.port}/ecg/lab/pi3?spool={tmp_path / 'spool'}&status=1"
    pub = _cli("run", "--source", "sim:frame", "--no-display", "--out", url, "--jsonl", os.devnull)
    try:
        wait_for(lambda: any(s.get("state") == "online" for s in seen), 60, "status online")
        assert seen[-1]["device"] == "pi3" and "model" in seen[-1] and "health" in seen[-1]
        pub.send_signal(signal.SIGKILL)
        pub.communicate(timeout=30)
        wait_for(lambda: seen and seen[-1].get("state") == "offline", 30, "the last will")
    finally:
        c.loop_stop()
        c.disconnect()
    # retained: a watcher that connects later sees the device offline at once
    c2, late = _watcher(broker.port, "ecg/lab/pi3/status", "late")
    try:
        wait_for(lambda: late, 10, "the retained status")
    finally:
        c2.loop_stop()
        c2.disconnect()
    assert late[-1]["state"] == "offline"


def test_spool_survives_a_restart_and_is_bounded(tmp_path):
    from ecg_activity.fleet.spool import Spool

    s = Spool(tmp_path / "sp", max_messages=5)
    for i in range(8):
        s.add(lambda seq: f"m{seq}")
    assert [q for q, _ in s.pending] == [3, 4, 5, 6, 7] and s.dropped == 3
    s.ack(4)
    s.close()
    s2 = Spool(tmp_path / "sp", max_messages=5)
    assert [q for q, _ in s2.pending] == [5, 6, 7] and s2.session == s.session and s2.next_seq == 8
    assert oct((tmp_path / "sp" / "journal.jsonl").stat().st_mode)[-3:] == "600"


def test_lsl_outlet_streams_each_decision(tmp_path):
    """--out lsl:NAME: a lab's LSL inlet receives every window's probabilities and the decision marker."""
    pylsl = pytest.importorskip("pylsl")
    name = f"ecg-test-{os.getpid()}"
    pub = _cli("run", "--source", "sim:frame", "--speed", "4", "--duration", "40", "--no-display",
               "--out", f"lsl:{name}", "--jsonl", str(tmp_path / "d.jsonl"))
    try:
        found = []
        wait_for(lambda: found.extend(pylsl.resolve_byprop("name", name, timeout=0.5)) or found, 60, "the LSL outlet")
        markers = []
        wait_for(lambda: markers.extend(pylsl.resolve_byprop("name", name + "-markers", timeout=0.5)) or markers, 30,
                 "the marker outlet")
        inlet, mk = pylsl.StreamInlet(found[0]), pylsl.StreamInlet(markers[0])
        inlet.open_stream(timeout=10)
        mk.open_stream(timeout=10)
        got, labels = [], []
        deadline = time.monotonic() + 90
        while len(got) < 5 and time.monotonic() < deadline:
            got += inlet.pull_chunk(timeout=1.0)[0]
            labels += [m[0] for m in mk.pull_chunk(timeout=0.1)[0]]
    finally:
        pub.terminate()
        pub.communicate(timeout=60)
    assert len(got) >= 5 and len(got[0]) == 5 + 3
    assert all(abs(sum(s[:5]) - 1.0) < 0.02 for s in got)          # probabilities of the five classes
    assert set(labels) <= {"rest", "arms", "walk", "run", "squats"} and labels


def test_the_live_table_survives_rogue_types(tmp_path):
    """A status whose health is a string, a decision whose heart rate is text or NaN: the table still
    draws (the rogue values shown as unknown), where it used to end ``collect`` with exit 70."""
    from types import SimpleNamespace

    from rich.console import Console

    from ecg_activity.fleet.collector import Collector

    col = Collector("mqtt://127.0.0.1:1/ecg/site1/#", tmp_path / "out")
    msgs = [("ecg/site1/pi7/status", {"state": "online", "health": "x"}),
            ("ecg/site1/pi7/decision", {"session": "s", "seq": 1, "activity": "rest", "hr_bpm": "abc"}),
            ("ecg/site1/pi8/status", {"state": ["a"], "health": {"lost_samples": 3}}),
            ("ecg/site1/pi8/decision", {"session": "s", "seq": 1, "activity": "run", "hr_bpm": 131.6})]
    for topic, body in msgs:
        col._on_message(None, None, SimpleNamespace(topic=topic, payload=json.dumps(body).encode(), qos=0, mid=0))
    console = Console(record=True, width=160, file=open(os.devnull, "w"))
    console.print(col.table())
    text = console.export_text()
    assert "pi7" in text and "pi8" in text and "132" in text



def _publisher(port: int, name: str = "rogue"):
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _decision(session, seq, **kw):
    return json.dumps({"t": 1.8e9, "end_s": 20.0, "activity": "walk", "probabilities": {"walk": 1.0},
                       "smoothed": "walk", "hr_bpm": 90.0, "quality": 1.0, "session": session, "seq": seq, **kw})


def test_no_message_silences_the_collector_and_nothing_rogue_is_written(broker, tmp_path):
    """Every trigger that used to end paho's thread or write what anyone sent, against a real broker: the
    collector keeps collecting, writes clean single lines, keeps its descriptors bounded and says what it
    rejected; a file it may not write (a symlink) makes its exit non-zero in one line."""
    out = tmp_path / "fleet"
    out.mkdir(mode=0o700)
    (out / "pi9.jsonl").write_text('{"session": "x", "seq": "abc"}\n')          # a damaged last line
    target = tmp_path / "elsewhere.txt"
    os.symlink(target, out / "evil.jsonl")
    summary = tmp_path / "summary.json"
    col = _cli("collect", f"mqtt://127.0.0.1:{broker.port}/ecg/site1/#", "--out", str(out), "--no-display",
               "--summary-json", str(summary))
    pub = _publisher(broker.port)
    base = "ecg/site1"
    try:
        wait_for(lambda: (out / ".collector-id").exists(), 30, "the collector to start")
        first = pub.publish(f"{base}/pi7/decision", _decision("abc", 0), qos=1)
        first.wait_for_publish(10)
        wait_for(lambda: len(_lines(out / "pi7.jsonl")) == 1, 60, "the first decision")
        rogue = [
            (f"{base}/pi7/decision", b"[" * 100000 + b"]" * 100000),           # RecursionError, 200 KB
            (f"{base}/pi7/decision", b"[" * 3000 + b"]" * 3000),               # deep but small
            (f"{base}/{'p' * 250}/decision", _decision("abc", 0)),            # ENAMETOOLONG
            (f"{base}/pi 7/decision", _decision("abc", 0)),
            (f"{base}/../decision", _decision("abc", 0)),
            (f"{base}//decision", _decision("abc", 0)),
            (f"{base}/pi7/decision", _decision("abc", 10 ** 12)),             # a forged far-ahead seq
            (f"{base}/pi7/decision", _decision("abc", 1.0)),
            (f"{base}/pi7/decision", _decision("abc", 2, activity='rest"}\n{"seq": 99')),   # a line injected
            (f"{base}/pi7/decision", _decision("abc", 3, hr_bpm="abc")),
            (f"{base}/pi7/decision", _decision("abc", 4, pad="x" * 20000)),  # too large
            (f"{base}/pi7/status", json.dumps({"state": "online", "health": "x"})),
            (f"{base}/evil/decision", _decision("e", 0)),                    # a symlinked file
            (f"{base}/pi9/decision", _decision("n", 0)),                     # after the damaged line
        ]
        rogue += [(f"{base}/dev{k:04d}/decision", _decision("d", 0)) for k in range(1100)]    # > 1024 files
        for topic, payload in rogue:
            pub.publish(topic, payload, qos=1)
        last = pub.publish(f"{base}/pi7/decision", _decision("abc", 1), qos=1)      # real, after all that
        last.wait_for_publish(30)
        wait_for(lambda: len(_lines(out / "pi7.jsonl")) == 2 and (out / "dev1099.jsonl").exists(), 120,
                 "the collector to go on after every rogue message")
        fds = len(os.listdir(f"/proc/{col.pid}/fd"))
    finally:
        pub.loop_stop()
        pub.disconnect()
        col.send_signal(signal.SIGTERM)
        _, err = col.communicate(timeout=30)
    assert col.returncode == 1 and err.strip().count("\n") == 1 and "Traceback" not in err, err
    assert "symbolic link" in err.splitlines()[-1]
    assert fds < 200, fds
    pi7 = (out / "pi7.jsonl").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in pi7] == [0, 1] and all(json.loads(x)["device"] == "pi7" for x in pi7)
    assert json.loads((out / "pi9.jsonl").read_text().splitlines()[-1])["session"] == "n"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".collector-id"]
    assert not target.exists()
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in out.glob("dev*.jsonl"))
    tot = json.loads(summary.read_text())
    assert tot["decisions"] == 2 + 1 + 1100 and tot["duplicates"] == 0
    assert tot["rejected"] == {"too large": 2, "nested too deep": 1, "bad device id": 4, "implausible seq": 1,
                               "bad seq": 1, "bad activity": 1, "bad hr_bpm": 1}, tot


def test_a_forged_seq_cannot_make_later_real_decisions_duplicates():
    from ecg_activity.fleet.sequence import SeqTracker

    t = SeqTracker()
    for seq in range(5):
        assert t.check("s", seq) == "new"
        t.written("s", seq)
    t.written("s", 9_000_000)            # forged, within the plausible step: written once ...
    assert t.check("s", 5) == "new"      # ... and the device's next real decision still counts
    assert t.check("s", 3) == "duplicate" and t.check("s", 10 ** 12) == "implausible"
    t.written("s", 5)
    assert t.gaps == 9_000_000 - 6      # the holes between the first and the highest seq


def _tls_files(folder):
    """A CA, the broker's certificate for 127.0.0.1 and a client certificate for device pi8 (cryptography)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(cn, issuer_key, issuer_name, key, ca=False, san=None):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def save(name, key, crt):
        (folder / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
        (folder / f"{name}.crt").write_bytes(crt.public_bytes(serialization.Encoding.PEM))
        os.chmod(folder / f"{name}.key", 0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    save("ca", ca_key, cert("test CA", ca_key, ca_name, ca_key, ca=True))
    for name, san in (("broker", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), ("pi8", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        save(name, key, cert(name, ca_key, ca_name, key, san=san))


class SecureBroker(Broker):
    """Mosquitto as a shared network's broker should run: TLS only, no anonymous clients, a password file,
    client certificates on a second listener, and docs/fleet.md's ACL (each Pi publishes only under its own
    id, the collector only reads)."""

    def __init__(self, folder):
        self.port, self.cert_port = free_port(), free_port()
        self.folder = folder
        _tls_files(folder)
        pw = folder / "passwords"
        for user, password in (("pi7", "pi7-secret"), ("collector", "collector-secret")):
            subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b",
                            *(["-c"] if not pw.exists() else []), str(pw), user, password], check=True)
        acl = folder / "acl"
        acl.write_text((Path(__file__).parent.parent / "ecg_activity" / "fleet" / "mosquitto-acl.example").read_text())
        tls = f"cafile {folder}/ca.crt\ncertfile {folder}/broker.crt\nkeyfile {folder}/broker.key\n"
        self.conf = folder / "mosquitto.conf"
        # as root, mosquitto drops to the user "mosquitto", which cannot read the test's 0600 files
        root = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"{root}per_listener_settings false\nallow_anonymous false\npassword_file {pw}\n"
                             f"acl_file {acl}\npersistence false\n"
                             f"listener {self.port} 127.0.0.1\n{tls}"
                             f"listener {self.cert_port} 127.0.0.1\n{tls}require_certificate true\n"
                             "use_identity_as_username true\n")
        self.proc = None


@pytest.mark.skipif(not (shutil.which("mosquitto_passwd") or os.path.exists("/usr/bin/mosquitto_passwd")),
                    reason="mosquitto_passwd is not installed")
def test_tls_passwords_client_certificates_and_the_acl_against_a_real_mosquitto(tmp_path):
    broker = SecureBroker(tmp_path)
    broker.start()
    try:
        _secure_fleet(broker, tmp_path)
    finally:
        broker.stop(signal.SIGKILL)


def _secure_fleet(broker, tmp_path):
    ca = tmp_path / "ca.crt"
    auth = tmp_path / "collector.auth"
    auth.write_text("collector:collector-secret\n")
    os.chmod(auth, 0o600)
    out = tmp_path / "fleet"
    site = f"127.0.0.1:{broker.port}/ecg/site1"
    env = {**os.environ, "ECG_ACTIVITY_MQTT_USERNAME": "pi7", "ECG_ACTIVITY_MQTT_PASSWORD": "pi7-secret"}
    col = _cli("collect", f"mqtts://{site}/#?ca={ca}&auth={auth}", "--out", str(out), "--no-display")
    try:
        pi7 = _cli("run", "--source", "sim:frame", "--speed", "8", "--duration", "8", "--no-display", "--jsonl",
                   os.devnull, "--out", f"mqtts://{site}/pi7?ca={ca}&spool={tmp_path / 's7'}", env=env)
        pi8 = _cli("run", "--source", "sim:frame", "--speed", "8", "--duration", "8", "--no-display", "--jsonl",
                   os.devnull, "--out", f"mqtts://127.0.0.1:{broker.cert_port}/ecg/site1/pi8?ca={ca}"
                   f"&cert={tmp_path / 'pi8.crt'}&key={tmp_path / 'pi8.key'}&spool={tmp_path / 's8'}")
        for p in (pi7, pi8):
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        wait_for(lambda: len(_lines(out / "pi7.jsonl")) >= 20 and len(_lines(out / "pi8.jsonl")) >= 20, 60,
                 "both devices' decisions")
        # the ACL: pi7 may not publish as pi9, the collector may not publish at all; a marker pi7 may send
        # goes after them, so once it is in, the refused ones would have been too
        for user, password in (("pi7", "pi7-secret"), ("collector", "collector-secret")):
            c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"acl-{user}")
            c.username_pw_set(user, password)
            c.tls_set(ca_certs=str(ca))
            c.connect("127.0.0.1", broker.port)
            c.loop_start()
            c.publish("ecg/site1/pi9/decision", _decision("forged", 0), qos=1).wait_for_publish(10)
            c.publish("ecg/site1/pi7/decision", _decision("forged", 0), qos=1).wait_for_publish(10)
            c.loop_stop()
            c.disconnect()
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="acl-marker")
        c.username_pw_set("pi7", "pi7-secret")
        c.tls_set(ca_certs=str(ca))
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        c.publish("ecg/site1/pi7/decision", _decision("marker", 0), qos=1).wait_for_publish(10)
        wait_for(lambda: any(d["session"] == "marker" for d in _lines(out / "pi7.jsonl")), 30, "the marker")
        c.loop_stop()
        c.disconnect()
    finally:
        col.send_signal(signal.SIGTERM)
        _, col_err = col.communicate(timeout=30)
    assert col.returncode == 0, col_err
    assert not (out / "pi9.jsonl").exists()
    sessions = [d["session"] for d in _lines(out / "pi7.jsonl")]
    assert sessions.count("forged") == 1 and sessions[-1] == "marker"      # pi7's own, not the collector's
    # refusals are one line and a non-zero exit, on both sides
    bad = {**env, "ECG_ACTIVITY_MQTT_PASSWORD": "wrong"}
    p = _cli("run", "--source", "sim:frame", "--no-display", "--jsonl", os.devnull,
             "--out", f"mqtts://{site}/pi7?ca={ca}&spool={tmp_path / 's7'}", env=bad)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "refused pi7" in err and "Traceback" not in err, err
    p = _cli("collect", f"mqtts://{site}/#?ca={ca}", "--out", str(out), "--no-display")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "refused the collector" in err and err.strip().count("\n") == 0, err
    p = _cli("collect", f"mqtt://{site}/#", "--out", str(out), "--no-display", "--connect-timeout", "3")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "unreachable" in err and err.strip().count("\n") == 0, err
    os.chmod(auth, 0o644)
    p = _cli("collect", f"mqtts://{site}/#?ca={ca}&auth={auth}", "--out", str(out), "--no-display")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "chmod 600" in err, err
    p = _cli("run", "--source", "sim:frame", "--out", f"mqtt://pi7:pw@{site}/pi7")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "never go in the URL" in err and "pw@" not in err, err


def _shipped_conf(folder, port) -> str:
    """The package's mosquitto.conf with this test's listener (plain, anonymous: this test is about
    persistence) and persistence folder in place of the machine's paths."""
    shipped = (Path(__file__).parent.parent / "ecg_activity" / "fleet" / "mosquitto.conf").read_text()
    machine = ("listener", "cafile", "certfile", "keyfile", "password_file", "acl_file", "persistence_location",
               "allow_anonymous")
    kept = [x for x in shipped.splitlines() if x.strip() and not x.startswith("#") and not x.startswith(machine)]
    root = ["user root"] if os.geteuid() == 0 else []
    return "\n".join(root + kept + [f"persistence_location {folder}/", "allow_anonymous true",
                                     f"listener {port} 127.0.0.1"]) + "\n"


@pytest.mark.parametrize("config", ["shipped", "no persistence"])
def test_a_broker_killed_while_the_collector_is_away_loses_nothing_with_the_shipped_config(tmp_path, config):
    """The collector goes away, a Pi goes on publishing, the broker is killed (-9) and restarted, the
    collector comes back: with the package's mosquitto.conf every decision arrives; without persistence the
    ones the broker held are lost, and the collector reports exactly that many missing (gaps)."""
    broker = Broker(tmp_path)
    if config == "shipped":
        broker.conf.write_text(_shipped_conf(tmp_path, broker.port))
    else:
        broker.conf.write_text(("user root\n" if os.geteuid() == 0 else "") +
                               f"listener {broker.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker.start()
    out, spool, local = tmp_path / "fleet", tmp_path / "spool", tmp_path / "local.jsonl"
    url = f"mqtt://127.0.0.1:{broker.port}/ecg/site1"
    col = _cli("collect", f"{url}/#", "--out", str(out), "--no-display")
    pub = _cli("run", "--source", "sim:frame", "--speed", "8", "--duration", "14", "--no-display",
               "--out", f"{url}/pi7?spool={spool}", "--jsonl", str(local))
    try:
        wait_for(lambda: len(_lines(out / "pi7.jsonl")) >= 5, 120, "the first decisions at the collector")
        col.send_signal(signal.SIGTERM)                 # the collector goes away ...
        col.communicate(timeout=30)
        _, err = pub.communicate(timeout=120)           # ... while the Pi publishes the rest
        assert pub.returncode == 0, err
        made = len(_lines(local))
        collected = len(_lines(out / "pi7.jsonl"))
        assert made > collected + 20
        if config == "shipped":                         # a change after all of them, saved: the last ones are too
            db = tmp_path / "mosquitto.db"
            before = db.stat().st_mtime_ns if db.exists() else 0
            sync = _publisher(broker.port, "sync")
            sync.publish("ecg/site1/sync", b"1", qos=1, retain=True).wait_for_publish(10)
            wait_for(lambda: db.exists() and db.stat().st_mtime_ns > before, 30, "the broker to save")
            sync.loop_stop()
            sync.disconnect()
        broker.stop(signal.SIGKILL)
        broker.start()
        summary = tmp_path / "summary.json"
        col = _cli("collect", f"{url}/#", "--out", str(out), "--no-display", "--summary-json", str(summary))
        session = json.loads((spool / "state.json").read_text())["session"]
        last = _publisher(broker.port, "pi7-next")      # the Pi's next decision, after the restart

        def arrived():                  # without persistence the collector must subscribe anew first
            last.publish("ecg/site1/pi7/decision", _decision(session, made), qos=1).wait_for_publish(10)
            return _lines(out / "pi7.jsonl")[-1]["seq"] == made
        wait_for(arrived, 60, "the next decision")
        last.loop_stop()
        last.disconnect()
    finally:
        col.send_signal(signal.SIGTERM)
        _, err = col.communicate(timeout=30)
        broker.stop(signal.SIGKILL)
    got = [d["seq"] for d in _lines(out / "pi7.jsonl")]
    tot = json.loads(summary.read_text())
    if config == "shipped":
        assert got == list(range(made + 1)) and tot["gaps"] == 0, err
    else:
        assert got == list(range(collected)) + [made]
        assert tot["gaps"] == made - collected and f"{made - collected} missing" in err, err
