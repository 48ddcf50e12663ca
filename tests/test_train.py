"""A real (quick) training run end to end, the metrics, the captures dataset, and the shipped model cards."""

import json
import platform

import numpy as np
import pytest

from ecg_activity.edge.model_bundle import MODELS_DIR, ModelBundle
from ecg_activity.train import metrics

from conftest import ROOT, cli, needs_datasets


def test_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    s = metrics.summary(y, p, ("a", "b", "c"))
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert s["per_class_f1"]["b"] == pytest.approx(0.8)       # tp 2, fp 1, fn 0
    assert s["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


@needs_datasets
@pytest.mark.slow
def test_quick_training_run_end_to_end(tmp_path):
    stem = tmp_path / "rr"
    p = cli("train", "--task", "rest_run", "--quick", "--holdout", "motion-04", "-o", str(stem), timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    info = json.loads(stem.with_suffix(".train.json").read_text())
    assert "motion-04" not in info["train_subjects"] and info["parameters"] < 50_000
    assert (tmp_path / "rr_curves.png").stat().st_size > 1000
    p = cli("quantize", str(stem.with_suffix(".keras")), "-o", str(tmp_path / "rr.tflite"), timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    b = ModelBundle.load(tmp_path / "rr.tflite")
    assert b.labels == ("rest", "run") and b.path.stat().st_size < 100_000
    assert b.meta.input.dtype == "int8" and b.meta.training["holdout_subjects"] == ["motion-04"]
    p = cli("bench", "--model", str(tmp_path / "rr.tflite"), "--quick", "-o", str(tmp_path / "rep" / "rr"),
            timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads((tmp_path / "rep" / "rr.json").read_text())
    lo = res["loso"]
    assert lo["protocol"].startswith("leave-one-subject-out")
    assert {f["subject"] for f in lo["folds"]} == {"motion-01", "motion-02", "motion-03", "motion-04", "wrist-3",
                                                   "wrist-6"}
    assert lo["agreement"] > 0.9 and abs(lo["int8"]["accuracy"] - lo["float"]["accuracy"]) < 0.05
    # leave-one-dataset-out first: the held-out dataset is scored on the classes both share
    assert set(res["lodo"]) == {"motion", "wrist"} and res["lodo"]["wrist"]["classes"] == ["run"]
    assert res["shipped"]["window_ms"] > 0 and res["shipped"]["holdout"]["subjects"] == ["motion-04"]
    assert res["shipped"]["stream_window_ms"] > 0 and res["shipped"]["machine"].startswith(platform.machine())
    md = (tmp_path / "rep" / "rr.md").read_text()
    assert "as a live stream pays it" in md and "for a window computed whole" in md
    assert md.index("Leave-one-dataset-out") < md.index("Leave-one-subject-out") and "int8 agrees with float" in md
    assert (tmp_path / "rep" / "rr_confusion.png").stat().st_size > 1000
    # every held-out window's outputs are kept beside the report (heads studied without retraining)
    kept = np.load(tmp_path / "rep" / "rr.folds.npz")
    assert len(kept["y"]) == len(kept["probs"]) == len(kept["embeddings"]) == lo["windows"] > 0


def test_labelled_captures_are_a_dataset(tmp_path):
    from ecg_activity.edge.preprocess import PreprocessConfig
    from ecg_activity.train import datasets
    from ecg_activity.train.windows import windows_from_recordings

    for who, label in (("alice", "rest"), ("bob", "run")):
        (tmp_path / who).mkdir()
        p = cli("record", "--source", "sim:frame", "--speed", "40", "--drop", "0.01", "--seed", "1",
                "-o", str(tmp_path / who / f"{label}.ecgcap"), "--label", label, "--quiet")
        assert p.returncode == 0, p.stderr
    assert "capture" in datasets.available(captures=tmp_path)
    cfg = PreprocessConfig()
    ws = windows_from_recordings(datasets.load(["capture"], cfg.rate_hz, captures=tmp_path), ("rest", "run"), cfg)
    assert set(ws.subjects) == {"capture-alice", "capture-bob"}
    assert set(ws.y.tolist()) == {0, 1} and len(ws) > 50
    # no window spans a gap: fewer windows than two gap-free recordings of the demo excerpt would give
    from ecg_activity.bridge.recording import load_demo_excerpt

    cfg = PreprocessConfig()
    gap_free = (load_demo_excerpt().counts.size - cfg.window_samples) // cfg.hop_samples + 1
    assert len(ws) < 2 * gap_free


@needs_datasets
@pytest.mark.parametrize("name", ["activity5", "rest_run"])
def test_shipped_model_card_matches_a_rerun(name):
    """Re-run the shipped int8 model on the person held out of its training, the way bench does; the card
    must say the same, and lead with the leave-one-dataset-out figures."""
    from ecg_activity.train import datasets
    from ecg_activity.train.augment import NONE
    from ecg_activity.train.windows import augmented_windows

    path = MODELS_DIR / f"{name}.tflite"
    b = ModelBundle.load(path)
    card = b.meta.card
    assert card, f"{name}.json has no model card (run: ecg-activity bench --model {path} --update-card)"
    hold = b.meta.training["holdout_subjects"]
    recs = datasets.load(["motion", "wrist"], b.cfg.rate_hz, subjects=set(hold))
    ws = augmented_windows(recs, b.labels, b.cfg, NONE, hop_s=b.cfg.hop_s)
    pred = np.array([np.argmax(b.predict(x)) for x in ws.x])
    acc = float(np.mean(pred == ws.y))
    assert acc == pytest.approx(card["shipped"]["holdout"]["accuracy"], abs=1e-9)
    assert card["shipped"]["sha256"] == b.meta.tflite_sha256
    md = (MODELS_DIR / f"{name}.md").read_text()
    assert md.count(f"{acc:.3f}") >= 1
    assert md.index("leave-one-dataset-out") < md.index("leave-one-subject-out")
    assert card["lodo"] and card["evaluation"]["per_dataset"].keys() >= {"motion", "wrist"}


@pytest.mark.parametrize("name", ["activity5", "rest_run"])
def test_cards_noise_figures_reproduce_and_noise_moves_decisions(name):
    """The card's stability under another device's noise floor is what the file does now; and the
    figure measures something: louder noise never keeps more decisions than quieter noise did."""
    from ecg_activity.train.bench import noise_stability

    b = ModelBundle.load(MODELS_DIR / f"{name}.tflite")
    got = noise_stability(b)
    assert got == b.meta.card["shipped"]["noise_stability"]
    assert (MODELS_DIR / f"{name}.md").read_text().count(f"{got['kept'][1]:.0%}") >= 1
    loud = noise_stability(b, snr_db=(40.0, 0.0))          # noise as strong as the ECG
    assert loud["kept"][1] < 0.9 and loud["kept"][1] <= got["kept"][1]


def test_demo_agrees_with_the_recording_as_the_card_says():
    """What `ecg-activity demo` shows on its excerpt (a person held out of the model) is in the card."""
    card = ModelBundle.load(MODELS_DIR / "activity5.tflite").meta.card
    p = cli("demo", "--once", "--speed", "50", "--no-display", "--jsonl", "/dev/null", "--summary-json", "-",
            timeout=300)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert "agreement with the virtual wearable's recording" in p.stderr.splitlines()[-1]
    assert summary["agreement"] == pytest.approx(card["shipped"]["demo_excerpt"]["agreement"], abs=1e-9)


def test_ensemble_is_one_model_averaging_members_trained_apart(tmp_path):
    """--members N ships N CNNs as one .tflite; the average must be exactly the members' mean, the
    members must differ (own seeds), and the whole survives int8 quantization and the spec round trip
    (with a strided first convolution, --time-stride)."""
    import keras

    from ecg_activity.bridge.recording import load_demo_excerpt
    from ecg_activity.edge.preprocess import PreprocessConfig
    from ecg_activity.train.evaluate import int8_predict
    from ecg_activity.train.model import ModelSpec, fit, load, predict_float
    from ecg_activity.train.quantize import to_int8
    from ecg_activity.train.windows import windows_from_recordings

    ws = windows_from_recordings([load_demo_excerpt()], ("rest", "walk", "run"),
                                 PreprocessConfig(hop_s=4.0, slow_nperseg=1024))
    spec = ModelSpec(members=2, time_stride=2)
    model, hist = fit(ws.x, ws.y, 3, 2, seed=0, spec=spec)
    members = [m for m in model.layers if isinstance(m, keras.Model)]
    assert len(members) == 2 and len(hist["loss"]) == 2
    for m in members:                                 # each member keeps the spec's first-layer stride
        assert [la for la in m.layers if isinstance(la, keras.layers.Conv2D)][0].strides == (1, 2)
    p = predict_float(model, ws.x)
    each = [m.predict(ws.x[..., None], verbose=0) for m in members]
    np.testing.assert_allclose(p, np.mean(each, axis=0), atol=1e-6)
    assert np.abs(each[0] - each[1]).max() > 1e-3
    q = int8_predict(to_int8(model, ws.x), ws.x)
    assert np.mean(q.argmax(1) == p.argmax(1)) > 0.9
    model.save(tmp_path / "e.keras")                  # what 'train' writes and 'quantize' reads back
    np.testing.assert_allclose(predict_float(load(tmp_path / "e.keras"), ws.x), p, atol=1e-6)
    assert ModelSpec.from_training({"seed": 0, **spec.to_dict()}) == spec
    old = ModelSpec.from_training({"filters": [8, 16, 24, 32]})
    assert old.head == "global" and old.time_stride == 1                        # models shipped before either


def test_calibration_figures_of_the_card_reproduce_from_the_saved_fold_outputs(tmp_path):
    """`bench --calibration-only` re-measures personal calibration on the last full bench's saved outputs
    (no training): on the shipped files it must give the card's own figures, it refuses the outputs of
    another model, and without --update-card it never rewrites the tracked report."""
    import shutil

    docs = ROOT / "docs" / "bench"
    for suffix in (".json", ".folds.npz"):
        shutil.copy(docs / f"activity5{suffix}", tmp_path / f"activity5{suffix}")
    out = str(tmp_path / "activity5")
    p = cli("bench", "--model", str(MODELS_DIR / "activity5.tflite"), "--calibration-only", "--from", out,
            "-o", out, check=True)
    got = json.loads(p.stdout)
    card = ModelBundle.load(MODELS_DIR / "activity5.tflite").meta.card["evaluation"]["calibration"]
    assert got["minutes_per_class"].keys() == card["minutes_per_class"].keys()
    for b, v in card["minutes_per_class"].items():             # (another BLAS may round the fit differently)
        g = got["minutes_per_class"][b]
        assert g["people"] == v["people"] and g["before"] == pytest.approx(v["before"], abs=1e-9)
        assert g["after"] == pytest.approx(v["after"], abs=0.005), b
    assert got["left_out_2min"]["after"] == pytest.approx(card["left_out_2min"]["after"], abs=0.005)
    assert (tmp_path / "activity5.md").read_text().count("left out of a 2-minute calibration") == 1
    res = json.loads((tmp_path / "activity5.json").read_text())
    ev = ModelBundle.load(MODELS_DIR / "activity5.tflite").meta.card["evaluation"]
    assert res["loso"]["int8"]["interval_people"] == ev["int8"]["interval_people"]         # seeded: the same draws
    p = cli("bench", "--model", str(MODELS_DIR / "rest_run.tflite"), "--calibration-only", "--from", out, "-o", out)
    assert p.returncode == 2 and "another file" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    (tmp_path / "docs" / "bench").mkdir(parents=True)           # a checkout's tracked report, read but not written
    for suffix in (".json", ".folds.npz", ".md"):
        shutil.copy(docs / f"activity5{suffix}", tmp_path / "docs" / "bench" / f"activity5{suffix}")
    before = {f.name: f.read_bytes() for f in (tmp_path / "docs" / "bench").iterdir()}
    cli("bench", "--model", str(MODELS_DIR / "activity5.tflite"), "--calibration-only", cwd=tmp_path, check=True)
    assert {f.name: f.read_bytes() for f in (tmp_path / "docs" / "bench").iterdir()} == before
    assert (tmp_path / "bench-activity5.md").exists()


def test_interval_over_people_spans_how_much_the_people_differ():
    """Alike people give a narrow interval around the pooled figure; one person far from the rest
    widens it; the same inputs give the same interval."""
    rng = np.random.default_rng(0)
    people = np.repeat([f"p{i}" for i in range(12)], 100)
    y = rng.integers(0, 3, people.size)
    alike = np.where(rng.random(people.size) < 0.8, y, (y + 1) % 3)            # everyone right 80 % of the time
    iv = metrics.people_interval(y, alike, people, 3)
    acc = np.mean(alike == y)
    assert iv["accuracy"][0] <= acc <= iv["accuracy"][1] and iv["accuracy"][1] - iv["accuracy"][0] < 0.06
    assert iv["macro_f1"][0] <= metrics.summary(y, alike, ("a", "b", "c"))["macro_f1"] <= iv["macro_f1"][1]
    odd = alike.copy()
    odd[people == "p0"] = (y[people == "p0"] + 1) % 3                             # one person always wrong
    wide = metrics.people_interval(y, odd, people, 3)
    assert wide["accuracy"][1] - wide["accuracy"][0] > 2 * (iv["accuracy"][1] - iv["accuracy"][0])
    assert metrics.people_interval(y, odd, people, 3) == wide and wide["people"] == 12


def test_mixup_blends_pairs_and_its_loss_is_the_usual_one_on_unmixed_targets():
    """--mixup: each example is blended with its partner in the reversed batch, inputs, targets and
    weights by the same share, reproducibly; the loss that reads mixed targets is the shipped loss on
    unmixed ones (so a recipe without mixup trains as before), masked classes included."""
    import tensorflow as tf

    from ecg_activity.train.model import ModelSpec, _mixed, partial_crossentropy, soft_crossentropy, targets

    rng = np.random.default_rng(0)
    p = tf.constant(rng.dirichlet(np.ones(4), size=6), tf.float32)
    allowed = np.ones((6, 4), bool)
    allowed[3:, 0] = False                                  # a dataset without class 0
    t = tf.constant(targets(np.array([0, 1, 2, 3, 1, 2]), 4, allowed))
    np.testing.assert_allclose(soft_crossentropy(t, p).numpy(), partial_crossentropy(t, p).numpy(), rtol=1e-5)

    x = tf.constant(rng.normal(size=(6, 3, 2, 1)), tf.float32)
    t = tf.constant(targets(np.array([0, 1, 2, 3, 0, 1]), 4))
    w = tf.constant(rng.uniform(0.5, 2, size=6), tf.float32)
    mx, mt, mw = (v.numpy() for v in _mixed(tf.constant(5, tf.int64), (x, t, w), 7, 0.3))
    again = _mixed(tf.constant(5, tf.int64), (x, t, w), 7, 0.3)
    np.testing.assert_array_equal(mx, again[0].numpy())
    share = mt[np.arange(6), [0, 1, 2, 3, 0, 1]] - 1.0       # each example's own class keeps its share
    assert ((share >= 0) & (share <= 1)).all() and np.ptp(share) > 0.05
    partner = x.numpy()[::-1]
    for i in range(6):
        np.testing.assert_allclose(mx[i], share[i] * x.numpy()[i] + (1 - share[i]) * partner[i], atol=1e-5)
        np.testing.assert_allclose(mw[i], share[i] * w.numpy()[i] + (1 - share[i]) * w.numpy()[::-1][i], atol=1e-5)
    np.testing.assert_allclose(mt.sum(1), t.numpy().sum(1), atol=1e-5)      # still one truth per example
    spec = ModelSpec(mixup=0.3)
    assert ModelSpec.from_training(spec.to_dict()) == spec and ModelSpec.from_training({}).mixup == 0.0
    with pytest.raises(ValueError):
        ModelSpec(mixup=-1)
