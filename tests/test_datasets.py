"""Loaders on the real files in ../shared/datasets (GUDB: a fixture in its exact layout + real annotations)."""

import numpy as np
import pytest

from ecg_activity.bridge.recording import resample

from conftest import DATASETS, needs_datasets


@needs_datasets
def test_motion_artefacts_loader_resamples_jittery_timestamps():
    from ecg_activity.bridge.recording_files import read_motion_csv
    from ecg_activity.train.datasets.motion import load_motion_file

    path = DATASETS / "ecg-motion-artefacts" / "data" / "03" / "03_02_chodza.csv.gz"
    t, raw = read_motion_csv(path)
    dt = np.diff(t)
    assert 0.0019 < np.median(dt) < 0.0021 and dt.std() > 1e-5   # jittery ~2 ms steps, as documented
    rec = load_motion_file(path)
    assert rec.rate_hz == 250.0 and rec.subject == "motion-03" and rec.segments[0][2] == "walk"
    assert abs(rec.duration_s - t[-1]) < 0.05              # same span of time, uniform grid
    # the same signal: the mean level and the spread survive resampling
    assert abs(rec.counts.mean() - raw.mean()) < 0.01 * abs(raw.mean()) + 5
    assert 0.8 < rec.counts.std() / raw.std() < 1.05


@needs_datasets
def test_wrist_ppg_exercise_edf_loader():
    from ecg_activity.train.datasets.wrist import load_wrist_edf

    rec = load_wrist_edf(DATASETS / "wrist-ppg-exercise" / "edf" / "s6_run.edf")
    assert rec.rate_hz == 250.0 and rec.mv_per_count == 0.001 and rec.segments[0][2] == "run"
    assert 200 < rec.duration_s < 700


def test_resampler_keeps_a_tone_and_kills_aliases():
    t = np.arange(0, 10, 1 / 500)
    x = np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 200 * t)   # 200 Hz would fold onto 50 Hz at 250 Hz
    y = resample(x, 500, 250)
    assert y.size == 2500
    f = np.fft.rfftfreq(y.size, 1 / 250)
    spec = np.abs(np.fft.rfft(y))
    assert abs(f[np.argmax(spec)] - 10) < 0.2
    assert spec[np.abs(f - 50) < 1].max() < 0.01 * spec.max()


def _write_gudb_fixture(root, subject, activity, n=30000):
    """A recording in GUDB's exact file layout; the signal is a real excerpt, the annotations are GUDB's own."""
    from ecg_activity.bridge.recording import load_demo_excerpt

    d = root / f"subject_{subject:02d}" / activity
    d.mkdir(parents=True)
    ecg_v = load_demo_excerpt().millivolts()[:n] / 1000.0
    cols = np.column_stack([ecg_v, ecg_v * 0.5, ecg_v * 0.25, np.zeros((n, 3))])
    np.savetxt(d / "ECG.tsv", cols, delimiter="\t", fmt="%.9e")
    return ecg_v


@pytest.mark.skipif(not (DATASETS / "gudb-annotations").is_dir(), reason="gudb-annotations not in ../shared/datasets")
def test_gudb_loader_on_its_layout_with_real_annotations(tmp_path):
    from ecg_activity.train.datasets.gudb import load_gudb

    ecg_v = _write_gudb_fixture(tmp_path, 3, "jogging")
    rec, peaks = load_gudb(tmp_path, 3, "jogging", annotations_root=DATASETS / "gudb-annotations")
    assert rec.rate_hz == 250 and rec.subject == "gudb-03" and rec.segments[0][2] == "jogging"
    np.testing.assert_allclose(rec.millivolts(), ecg_v * 1000, atol=0.001)
    real = np.loadtxt(DATASETS / "gudb-annotations" / "subject_03" / "jogging" / "annotation_cs.tsv", dtype=int)
    np.testing.assert_array_equal(peaks, real)
    assert peaks.size > 100 and np.all(np.diff(peaks) > 0)
    rec1, peaks1 = load_gudb(tmp_path, 3, "jogging", channel="einthoven_I",
                             annotations_root=DATASETS / "gudb-annotations")
    np.testing.assert_allclose(rec1.millivolts(), ecg_v * 250, atol=0.001)   # II - III
    with pytest.raises(ValueError, match="unknown GUDB activity"):
        load_gudb(tmp_path, 3, "swimming")
