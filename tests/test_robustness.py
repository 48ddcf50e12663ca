"""Robustness to devices never seen: clipped QRS tips still decide, real noise is read exactly, slow
resting hearts are made from real rest, and the shipped models keep rest under a device's transforms."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_activity.bridge.blocks import SampleBlock
from ecg_activity.bridge.recording import resample
from ecg_activity.edge.heart_rate import heart_rate
from ecg_activity.edge.signal_checks import signal_problems
from ecg_activity.edge.windower import Windower
from ecg_activity.train.augment import clip_to_rails, lengthen_rr

from conftest import DATASETS, needs_datasets


def _real(name: str, rate: float) -> np.ndarray:
    from ecg_activity.train.datasets.motion import load_motion_file

    rec = load_motion_file(DATASETS / "ecg-motion-artefacts" / "data" / name[:2] / f"{name}.csv.gz", rate)
    return rec.counts.astype(np.float64)


@needs_datasets
@pytest.mark.parametrize("rate", [100.0, 125.0, 250.0, 500.0, 1000.0])
@pytest.mark.parametrize("bits", [10, 12])
def test_clipped_qrs_tips_are_a_note_and_sustained_saturation_withholds(rate, bits):
    """QRS tips at either rail of a 10- or 12-bit ADC, any rate 100-1000 Hz: the window is classified
    (``clean``) and noted ``clipped`` with its share; 0.3 s at a rail withholds it."""
    x = _real("03_01_beh", rate)[: int(20 * rate)]
    rng = np.random.default_rng(0)
    for sides in ("top", "bottom", "both"):
        for level in (0.4, 0.7):
            y = clip_to_rails(x, rng, level=level, bits=bits, sides=sides)
            flags = signal_problems(y, rate)
            assert flags == ["clipped"], (sides, level, flags)
            w = Windower(20.0, 1.0, rate).push(SampleBlock(y.reshape(-1, 1), rate, 1.0, 0.0))
            assert w and w[0].clean and "clipped" in w[0].flags and 0 < w[0].clipped_fraction < 0.35
            hr = heart_rate(y, rate)
            assert hr.bpm is not None and abs(hr.bpm - heart_rate(x, rate).bpm) < 3
    sat = clip_to_rails(x, rng, level=0.7, bits=bits, sides="top")
    i = int(5 * rate)
    sat[i:i + int(0.6 * rate)] = sat.max()               # the amplifier driven to its rail for 0.6 s
    assert "saturated" in signal_problems(sat, rate)
    w = Windower(20.0, 1.0, rate).push(SampleBlock(sat.reshape(-1, 1), rate, 1.0, 0.0))
    assert w and not w[0].clean


@needs_datasets
def test_unclipped_real_windows_carry_no_clipping_note():
    """The note is not noise: real windows of two electrode types carry no flag at all."""
    for name in ("03_01_klud", "03_03_beh", "07_02_chodza"):
        x = _real(name, 250.0)
        for s in range(0, x.size - 5000, 2500):
            assert signal_problems(x[s:s + 5000], 250.0) == []


@needs_datasets
def test_nstdb_format212_reader_equals_wfdb_and_keeps_test_noise_apart():
    wfdb = pytest.importorskip("wfdb")
    from ecg_activity.train import noise

    d = DATASETS / "nstdb-noise"
    for kind in noise.NSTDB_KINDS:
        ours = noise.read_format212(d / f"{kind}.dat", d / f"{kind}.hea")
        ref = wfdb.rdrecord(str(d / kind)).p_signal
        np.testing.assert_allclose(ours, ref, atol=1e-12)
        train, test = noise.noise(kind, "train", 360.0), noise.noise(kind, "test", 360.0)
        assert train[0].size + test[0].size == ref.shape[0]
        # the test part is the record's end: no training stretch equals it
        np.testing.assert_allclose(test[0] + ref[int(noise.TRAIN_SHARE * ref.shape[0]):, 0].mean(),
                                   ref[int(noise.TRAIN_SHARE * ref.shape[0]):, 0], atol=1e-9)


@needs_datasets
@pytest.mark.parametrize("target", [57.0, 48.0, 40.0])
def test_lengthened_rr_reaches_the_heart_rate_and_keeps_every_beat(target):
    """Held-out rest slowed to an athlete's heart by isoelectric stretches: the heart rate is the target,
    and each QRS (R peak +/- 60 ms) is the recorded one, sample for sample."""
    x = _real("10_01_klud", 250.0)
    peaks = heart_rate(x, 250.0).peaks
    bpm = 60 * 250.0 / np.median(np.diff(peaks))
    y = lengthen_rr(x, 250.0, bpm / target, peaks)
    got = np.median([h.bpm for h in (heart_rate(y[s:s + 2500], 250.0) for s in range(0, y.size - 2500, 1250))
                     if h.bpm])
    assert got == pytest.approx(target, rel=0.04)
    new_peaks = heart_rate(y, 250.0).peaks
    shapes = {y[b - 15:b + 15].tobytes() for b in new_peaks}
    assert all(x[a - 15:a + 15].tobytes() in shapes for a in peaks[1:-1])
    assert np.abs(np.diff(y)).max() <= np.abs(np.diff(x)).max()     # every joint continuous


def test_rail_clipping_keeps_the_shape_below_the_rails():
    rng = np.random.default_rng(1)
    t = np.arange(5000) / 250.0
    x = np.sin(2 * np.pi * 1.2 * t) ** 15 * 100 + rng.standard_normal(5000)
    y = clip_to_rails(x, rng, level=0.5, bits=24, sides="top")
    hi = np.median(x) + 0.5 * (x.max() - np.median(x))
    assert y.max() == pytest.approx(hi, rel=1e-6)
    inside = x < hi - 1
    np.testing.assert_allclose(y[inside], x[inside], atol=(hi - x.min()) / 2 ** 24)
    assert resample(y, 250.0, 125.0).size == 2500


@needs_datasets
@pytest.mark.parametrize("name", ["activity5", "rest_run"])
def test_shipped_models_keep_rest_on_slow_hearts_and_decide_clipped_windows(name):
    """A few of the suite's transforms on the shipped models' held-out person (motion-10, rest and run,
    two electrode sets): rest slowed to 48 bpm stays rest, QRS tips clipped at 12 bits still decide, real
    breathing wander leaves the decision alone."""
    from ecg_activity.edge.model_bundle import ModelBundle
    from ecg_activity.models import MODELS_DIR
    from ecg_activity.train.datasets.motion import load_motion_file
    from ecg_activity.train.robustness import robustness

    b = ModelBundle.load(MODELS_DIR / f"{name}.tflite")
    assert "motion-10" in b.meta.training["holdout_subjects"]
    recs = [load_motion_file(DATASETS / "ecg-motion-artefacts" / "data" / "10" / f"10_0{e}_{a}.csv.gz")
            for e in (1, 2) for a in ("klud", "beh")]
    r = robustness(b, recs)
    assert r["rest_48bpm"]["rest_kept"] >= 0.95, r["rest_48bpm"]
    assert r["clip_12bit"]["decided"] >= 0.9, r["clip_12bit"]
    assert r["nstdb_wander_20db"]["unchanged"] >= 0.9, r["nstdb_wander_20db"]
