"""Every extension point, used the way ``docs/architecture.md`` says: a toy protocol, a toy output, a toy
dataset and a toy command, each one class (or module) plus one registry line, and then used for real."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecg_activity.bridge.decoder import Decoder
from ecg_activity.bridge.protocol_base import Protocol
from ecg_activity.bridge.recording import Recording
from ecg_activity.sinks import Sink
from ecg_activity.train.datasets.base import Dataset

from conftest import cli


# -- a protocol: text lines "SEQ,v1,...,v25" ------------------------------------------------------------

class ToyDecoder(Decoder):
    """Whole lines only; a damaged line is counted and skipped; a jump in SEQ is a gap."""

    name = "toy"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._buf, self._seq = b"", None

    def _feed(self, data, t_host):
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        out = []
        for line in lines:
            try:
                seq, *values = (int(v) for v in line.split(b","))
            except ValueError:
                self.stats.malformed += 1
                continue
            gap = 0
            if self._seq is not None and seq != self._seq + 1:
                gap = self._lost((seq - self._seq - 1) * 25, seq - self._seq - 1)
            self._seq = seq
            self.stats.frames += 1
            out.append(self._emit(np.array(values, dtype=np.int32)[:, None], t_host, gap=gap))
        return out

    def reset_continuity(self):
        self._buf, self._seq = b"", None


class ToyProtocol(Protocol):
    name = "toy"
    decoder = ToyDecoder
    rate_hz = 250.0
    mv_per_count = 0.001
    frame_samples = 25

    def encode(self, chunk, frame_index, last_sample_index, rate_hz, t0_ns):
        return f"{frame_index},{','.join(str(int(v)) for v in np.asarray(chunk).reshape(-1))}\n".encode()


@pytest.fixture
def toy_protocol(monkeypatch):
    from ecg_activity.bridge import protocols

    monkeypatch.setitem(protocols._REGISTERED, "toy", "test_extensions:ToyProtocol")
    yield
    protocols._loaded.pop("toy", None)


def test_a_new_protocol_is_one_class_and_one_registry_line(toy_protocol):
    """Registered, the virtual wearable speaks it over a real pseudo-terminal and a session decodes the
    bundled recording back, every sample."""
    from ecg_activity.bridge.protocols import get_protocol, names
    from ecg_activity.bridge.recording import load_demo_excerpt
    from ecg_activity.bridge.sources import open_source
    from ecg_activity.session import Session

    assert "toy" in names() and isinstance(get_protocol("toy"), ToyProtocol)
    blocks = []

    class Keep(Sink):
        def on_block(self, block):
            blocks.append(block.samples[:, 0].copy())

    src = open_source("sim:toy", speed=0)
    Session(src, [Keep()], duration_s=600).run()
    got = np.concatenate(blocks)
    ref = load_demo_excerpt()
    # the virtual device streams the recording in its own units (0.001 mV a count): equal to half a count
    np.testing.assert_allclose(got * ToyProtocol.mv_per_count, ref.millivolts()[:got.size], atol=0.0005 + 1e-9)
    assert got.size == ref.counts.size and src.decoder.stats.malformed == 0


# -- an output ---------------------------------------------------------------------------------------

class CountSink(Sink):
    """``count:FILE``: how many windows were decided, written as JSON at the end."""

    def __init__(self, path):
        self.path, self.n = path, 0

    @classmethod
    def from_url(cls, url):
        return cls(url.split(":", 1)[1])

    def on_window(self, result):
        self.n += result.activity is not None

    def close(self):
        with open(self.path, "x") as f:
            json.dump({"decided": self.n}, f)


def test_a_new_output_is_one_class_and_one_scheme_line(monkeypatch, tmp_path, shipped_bundle):
    """Registered, ``open_sink`` makes it from its URL and a replay session feeds it."""
    from ecg_activity import sinks
    from ecg_activity.bridge.sources import open_source
    from ecg_activity.edge.pipeline import ActivityPipeline
    from ecg_activity.session import Session

    from conftest import write_capture
    from ecg_activity.bridge.recording import load_demo_excerpt

    monkeypatch.setitem(sinks.SCHEMES, "count", "test_extensions:CountSink")
    out = tmp_path / "n.json"
    sink = sinks.open_sink(f"count:{out}")
    cap = write_capture(tmp_path / "a.ecgcap", load_demo_excerpt().counts[:250 * 40])
    src = open_source(str(cap), speed=0)
    Session(src, [sink], ActivityPipeline(shipped_bundle, src.decoder.rate_hz)).run()
    assert json.loads(out.read_text()) == {"decided": 21}          # 40 s, 20 s windows every second


# -- a dataset ---------------------------------------------------------------------------------------

class ToyDataset(Dataset):
    """Two people of the bundled excerpt, one folder each: ``ROOT/toy/PERSON.npy`` holding counts."""

    name = "toy"
    labels = frozenset({"rest", "walk"})
    activities = {"rest": "rest", "walk": "walk"}
    rate_hz = 250.0
    text = "a toy dataset (tests)"
    citation = "none"

    def files(self, base=None, **kw):
        return sorted((self.root(base) / "toy").glob("*.npy"))

    def subject_of(self, path):
        return f"toy-{path.stem}"

    def load_file(self, path, rate_hz=250.0):
        x = np.load(path)
        half = x.size // 2
        return Recording(x, 250.0, 0.001, [(0, half, "rest"), (half, x.size, "walk")], str(path.name),
                         f"toy-{path.stem}")


def test_a_new_dataset_is_one_class_and_one_registry_line(monkeypatch, tmp_path):
    """Registered, it is available, loads by person and trains windows (labels from its segments)."""
    from ecg_activity.bridge.recording import load_demo_excerpt
    from ecg_activity.edge.preprocess import PreprocessConfig
    from ecg_activity.train import datasets
    from ecg_activity.train.windows import windows_from_recordings

    monkeypatch.setitem(datasets._REGISTERED, "toy", "test_extensions:ToyDataset")
    monkeypatch.setattr(datasets, "DATASET_NAMES", tuple(datasets._REGISTERED))
    monkeypatch.setenv("ECG_DATASETS", str(tmp_path))
    (tmp_path / "toy").mkdir()
    x = load_demo_excerpt().counts
    for who in ("ann", "bo"):
        np.save(tmp_path / "toy" / f"{who}.npy", x[:250 * 60])
    assert "toy" in datasets.available()
    recs = datasets.load(["toy"], 250.0, subjects={"toy-bo"})
    assert [r.subject for r in recs] == ["toy-bo"]
    ws = windows_from_recordings(recs, ("rest", "walk"), PreprocessConfig())
    assert set(ws.y.tolist()) == {0, 1} and set(ws.subjects) == {"toy-bo"}
    assert datasets.labels_of("toy") == {"rest", "walk"}
    datasets._loaded.pop("toy", None)


# -- a command ---------------------------------------------------------------------------------------

def test_a_new_command_is_one_module_and_one_line(monkeypatch, tmp_path, capsys):
    """A module with ``register`` and ``cmd`` plus its name in ``COMMANDS`` is a subcommand with its help,
    its errors as one line, and its exit code."""
    import sys

    from ecg_activity import cli as cli_pkg

    (tmp_path / "toy_hello.py").write_text(
        '"""``ecg-activity hello``: a toy command."""\n'
        "def cmd(a):\n"
        "    from ecg_activity.bridge.errors import UsageError\n"
        "    if a.name == 'nobody':\n"
        "        raise UsageError('nobody is not a name')\n"
        "    print(f'hello {a.name}')\n"
        "    return 0\n\n"
        "def register(sub):\n"
        "    s = sub.add_parser('hello', help='say hello')\n"
        "    s.add_argument('name')\n"
        "    s.set_defaults(func=cmd)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli_pkg, "COMMANDS", cli_pkg.COMMANDS + ("toy_hello",))
    assert cli_pkg.main(["hello", "ann"]) == 0
    assert capsys.readouterr().out == "hello ann\n"
    assert cli_pkg.main(["hello", "nobody"]) == 2
    assert capsys.readouterr().err.strip() == "ecg-activity: error: nobody is not a name"
    sys.modules.pop("toy_hello", None)


def test_every_command_has_its_module_and_its_help():
    """The rule itself: one module per command, each listed once, each with its own ``--help``."""
    from pathlib import Path

    from ecg_activity import cli as cli_pkg

    here = Path(cli_pkg.__file__).parent
    shared = {"__init__", "options", "common", "live"}
    assert sorted(p.stem for p in here.glob("*.py") if p.stem not in shared) == sorted(cli_pkg.COMMANDS)
    for name in cli_pkg.COMMANDS:
        p = cli(name.rstrip("_").replace("_", "-"), "--help")       # import_ is import, install_service ...
        assert p.returncode == 0 and p.stdout.startswith("usage: ecg-activity"), name
