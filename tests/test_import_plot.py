"""Recordings from other tools in and out: import -> replay -> export round trips on real recordings, and
the picture of a capture."""

from __future__ import annotations

import json

import numpy as np
import pyedflib
import pytest

from ecg_activity.bridge.capture_decode import decode_capture

from conftest import DATASETS, cli, needs_datasets

WRIST = DATASETS / "wrist-ppg-exercise" / "edf" / "s6_walk.edf"


def _decoded(cap):
    d = decode_capture(str(cap))
    counts, mask = d.contiguous()
    assert mask.all()
    return d, counts[:, 0] * d.header.mv_per_count


@needs_datasets
def test_edf_import_replay_and_export_round_trip(tmp_path):
    with pyedflib.EdfReader(str(WRIST)) as f:
        ch = f.getSignalLabels().index("chest_ecg")
        truth = f.readSignal(ch)
        step = (f.getPhysicalMaximum(ch) - f.getPhysicalMinimum(ch)) / (f.getDigitalMaximum(ch) - f.getDigitalMinimum(ch))
    cap = tmp_path / "w.ecgcap"
    p = cli("import", str(WRIST), "-o", str(cap), "--label", "walk", check=True)
    assert json.loads(p.stdout)["rate_hz"] == 256.0
    d, mv = _decoded(cap)
    assert d.header.label == "walk" and mv.size == truth.size
    np.testing.assert_allclose(mv, truth, atol=step)                       # the source's own resolution
    p = cli("replay", str(cap), "-q", check=True)
    assert json.loads(p.stdout.strip().splitlines()[-1])["windows"] > 200
    for fmt in ("edf", "bdf"):
        out = tmp_path / f"w.{fmt}"
        cli("export", str(cap), "-o", str(out), check=True)
        with pyedflib.EdfReader(str(out)) as f:
            back = f.readSignal(0)
        # EDF+ 16 bits over the signal's range; BDF+ 24 bits: the counts exactly (to float rounding)
        tol = step if fmt == "bdf" else 2 * np.ptp(truth) / 65535 + step
        np.testing.assert_allclose(back[:truth.size], truth, atol=tol)
        # and back in again: BDF+ is lossless
        cap2 = tmp_path / f"w2-{fmt}.ecgcap"
        cli("import", str(out), "-o", str(cap2), check=True)
        _, mv2 = _decoded(cap2)
        np.testing.assert_allclose(mv2[:truth.size], truth, atol=tol + step)


@needs_datasets
def test_csv_import_with_time_column_and_annotated_labels(tmp_path):
    from ecg_activity.train.datasets.motion import load_motion_file

    rec = load_motion_file(DATASETS / "ecg-motion-artefacts" / "data" / "05" / "05_01_chodza.csv.gz")
    mv = rec.millivolts()[:5000]
    csv = tmp_path / "x.csv"
    t = np.arange(mv.size) / rec.rate_hz
    csv.write_text("time_s,ecg_mv\n" + "\n".join(f"{a:.6f},{b:.6f}" for a, b in zip(t, mv)) + "\n")
    cap = tmp_path / "x.ecgcap"
    cli("import", str(csv), "-o", str(cap), "--label", "walk", check=True)
    d, back = _decoded(cap)
    assert d.header.rate_hz == 250.0
    np.testing.assert_allclose(back, mv, atol=0.0005 + 1e-6)               # 1 µV resolution, 6 decimals
    out = tmp_path / "back.csv"
    cli("export", str(cap), "-o", str(out), check=True)
    rows = np.loadtxt(out, delimiter=",", comments="#", skiprows=2)
    np.testing.assert_allclose(rows[:, 2], mv, atol=0.0005 + 1e-6)
    one = tmp_path / "one.csv"
    one.write_text("\n".join(f"{v:.4f}" for v in mv[:2000]))
    p = cli("import", str(one), "-o", str(tmp_path / "one.ecgcap"))
    assert p.returncode == 1 and "--rate" in p.stderr                     # a column of values needs its rate
    cli("import", str(one), "-o", str(tmp_path / "one.ecgcap"), "--rate", "250", check=True)
    # EDF+ annotations that name an activity become label events in the capture
    edf = tmp_path / "ann.edf"
    w = pyedflib.EdfWriter(str(edf), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([{"label": "ECG", "dimension": "mV", "sample_frequency": 250, "physical_min": -10,
                         "physical_max": 10, "digital_min": -32768, "digital_max": 32767}])
    w.writeAnnotation(0, -1, "rest")
    w.writeAnnotation(10, -1, "activity run")
    w.writeSamples([np.ascontiguousarray(mv)])
    w.close()
    cli("import", str(edf), "-o", str(tmp_path / "ann.ecgcap"), check=True)
    d = decode_capture(str(tmp_path / "ann.ecgcap"))
    assert [(e.kind, e.detail["label"]) for e in d.events] == [("label", "rest"), ("label", "run")]
    assert d.events[1].t_host - d.header.start_time == pytest.approx(10, abs=0.2)


@needs_datasets
def test_wfdb_import(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    with pyedflib.EdfReader(str(WRIST)) as f:
        x = f.readSignal(f.getSignalLabels().index("chest_ecg"))[:20000] / 1000.0
    wfdb.wrsamp("rec", fs=256, units=["mV"], sig_name=["ECG"], p_signal=x[:, None], fmt=["16"],
                write_dir=str(tmp_path))
    cap = tmp_path / "rec.ecgcap"
    cli("import", str(tmp_path / "rec.hea"), "-o", str(cap), check=True)
    d, back = _decoded(cap)
    r = wfdb.rdrecord(str(tmp_path / "rec"))
    np.testing.assert_allclose(back, r.p_signal[:, 0], atol=1.01 / r.adc_gain[0])
    assert d.header.rate_hz == 256


def test_bad_imports_are_one_line(tmp_path):
    (tmp_path / "e.csv").write_text("")
    (tmp_path / "t.csv").write_text("a,b\n1,2\nx,y\n")
    (tmp_path / "b.edf").write_bytes(b"0" * 300)
    for f in ("e.csv", "t.csv", "b.edf", "missing.csv", "nope.xyz"):
        p = cli("import", str(tmp_path / f), "-o", str(tmp_path / f"{f}.ecgcap"))
        assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr


def test_plot_of_a_labelled_session(tmp_path):
    cap = tmp_path / "s.ecgcap"
    cli("record", "--source", "sim:frame", "--speed", "max", "--drop", "0.005", "-o", str(cap), "--label", "rest",
        "-q", check=True)
    png = tmp_path / "s.png"
    p = cli("plot", str(cap), "-o", str(png), check=True)
    res = json.loads(p.stdout)
    assert res["windows"] > 100 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    assert {"decision", "label rest", "samples lost"} <= set(res["legend"]), res["legend"]
    p = cli("plot", str(cap), "-o", str(png))
    assert p.returncode == 1 and "--force" in p.stderr                    # an existing picture is kept


@pytest.mark.parametrize("rate", [256, 360])
def test_csv_times_rounded_to_milliseconds_give_the_true_rate(tmp_path, rate):
    """A median of millisecond-rounded differences says 250 Hz for 256 and 333 for 360: the rate is fitted
    over the whole span, said on stderr, and a file whose times jump is refused instead of misplaced."""
    t = np.arange(rate * 30) / rate
    csv = tmp_path / "r.csv"
    csv.write_text("time_s,ecg_mv\n" + "\n".join(f"{a:.3f},{np.sin(a):.4f}" for a in t) + "\n")
    p = cli("import", str(csv), "-o", str(tmp_path / "r.ecgcap"))
    assert p.returncode == 0 and json.loads(p.stdout)["rate_hz"] == rate, p.stderr
    assert f"rate {rate} Hz fitted to the time column" in p.stderr
    t[1000:] += 0.25                                     # a quarter second missing mid-file
    csv.write_text("\n".join(f"{a:.3f},0.1" for a in t) + "\n")
    p = cli("import", str(csv), "-o", str(tmp_path / "gap.ecgcap"))
    assert p.returncode == 1 and "stray from a steady" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "gap.ecgcap").exists()


def test_a_csv_longer_than_one_parsing_slice_is_read_whole_and_its_faults_found_where_they_are(tmp_path):
    """The CSV is parsed a few MB at a time (bounded memory): the slices join without a seam (every value,
    the rate fitted across them), and a bad value or a short row deep in the file is said at its own row."""
    rng = np.random.default_rng(3)
    n = 700_000                                          # about 12 MB of text: several slices
    t = np.arange(n) / 500.0
    mv = np.round(rng.normal(0, 1.5, n), 4)
    lines = [f"{a:.3f},{b:.4f}" for a, b in zip(t, mv)]
    csv = tmp_path / "long.csv"
    csv.write_text("time_s,ecg_mv\n" + "\n".join(lines) + "\n")
    p = cli("import", str(csv), "-o", str(tmp_path / "long.ecgcap"))
    assert p.returncode == 0 and json.loads(p.stdout)["rate_hz"] == 500.0, p.stderr
    d = decode_capture(str(tmp_path / "long.ecgcap"))
    got = np.concatenate([b.samples[:, 0] for b in d.blocks])
    assert np.array_equal(got, np.round(mv / 0.001).astype(np.int32))
    for k, bad, said in ((612_345, "0.1,x", "line 612347 is not numbers"), (650_000, "0.1", "line 650002 has 1 columns")):
        broken = list(lines)
        broken[k] = bad
        csv.write_text("time_s,ecg_mv\n" + "\n".join(broken) + "\n")
        p = cli("import", str(csv), "-o", str(tmp_path / f"bad{k}.ecgcap"))
        assert p.returncode == 1 and said in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_the_plot_says_what_each_mark_is(tmp_path):
    """Label changes, markers, lost samples and withheld decisions each have a legend entry (once); events
    are drawn where they fall in the samples (a capture whose events carry another clock than its header's
    start was an internal error: a label drawn 54 years to the left)."""
    from conftest import write_capture

    cap = tmp_path / "m.ecgcap"
    write_capture(cap, seconds=60, events=[(1.7e9 + 20, "label", {"label": "walk"}), (1.7e9 + 30, "marker", {"n": 1}),
                                           (1.7e9 + 40, "marker", {"n": 2})])
    res = json.loads(cli("plot", str(cap), "-o", str(tmp_path / "m.png"), check=True).stdout)
    assert res["legend"].count("label set") == 1 and res["legend"].count("marker") == 1, res["legend"]
    assert "probability (row height)" in res["legend"]
