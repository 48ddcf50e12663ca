"""The compact CNN (TensorFlow/Keras; imported only by training commands)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dataclasses import asdict, dataclass, replace  # noqa: E402

import numpy as np  # noqa: E402


def keras():
    """Keras, imported on first use so the edge and ``--help`` never load TensorFlow."""
    import keras as k

    return k


DEFAULT_FILTERS = (8, 16, 24, 32)
HEADS = ("rows", "global")


@dataclass(frozen=True)
class ModelSpec:
    """What ``fit`` builds and how it trains it; stored in the model's metadata so ``bench`` can
    retrain the same thing fold by fold."""
    filters: tuple[int, ...] = DEFAULT_FILTERS
    head: str = "rows"            # "rows": pool over time only; "global": pool over time and frequency
    augment: bool = True          # spectrogram masking while training
    members: int = 1              # CNNs trained with successive seeds, probabilities averaged in one model
    time_stride: int = 1          # the first convolution's stride along time (2: every later layer sees
                                  # half the frames, about half the int8 invoke; measured in the README)
    mixup: float = 0.0            # > 0: each training batch mixed with itself reversed, Beta(mixup, mixup)
                                  # shares of inputs, targets and weights (0: off, the shipped recipes)

    def __post_init__(self):
        if self.members < 1:
            raise ValueError("members must be at least 1")
        if self.time_stride < 1:
            raise ValueError("time_stride must be at least 1")
        if not 0.0 <= self.mixup <= 10.0:
            raise ValueError("mixup must be in [0, 10]")
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r} (choose from {', '.join(HEADS)})")
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d

    @classmethod
    def from_training(cls, training: dict) -> "ModelSpec":
        """From a model's ``training`` metadata; models written before the head existed pooled globally."""
        return cls(tuple(training.get("filters") or DEFAULT_FILTERS), training.get("head", "global"),
                   bool(training.get("augment", False)), int(training.get("members", 1)),
                   int(training.get("time_stride", 1)), float(training.get("mixup", 0.0)))


def build_cnn(n_classes: int, shape: tuple[int, int], filters: tuple[int, ...] = DEFAULT_FILTERS,
              head: str = "rows", dropout: float = 0.3, lr: float = 2e-3, time_stride: int = 1):
    """Four conv blocks (conv-BN-ReLU-pool), pooling over time, one dense layer (about 12k parameters
    with the default filters).

    Pooling instead of Flatten keeps the parameter count independent of the
    window length, which is what makes it hundreds of times smaller than the
    notebook's Flatten/Dense network.  The "rows" head averages over time only,
    so the dense layer still knows which rows a feature came from: with the
    slow motion and beat rows stacked under the QRS band, pooling over
    frequency too would mix the three (measured: it loses 8 points on the
    hardest subjects).
    """
    k = keras()
    inp = k.Input(shape=(*shape, 1), name="spectrogram")
    x = inp
    for i, f in enumerate(filters):
        x = k.layers.Conv2D(f, 3, strides=(1, time_stride) if i == 0 else 1, padding="same", use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.ReLU()(x)
        x = k.layers.MaxPooling2D(2, padding="same")(x)
    if head == "global":
        x = k.layers.GlobalAveragePooling2D()(x)
    else:
        x = k.layers.Flatten()(k.layers.AveragePooling2D((1, x.shape[2]))(x))
    x = k.layers.Dropout(dropout)(x)
    out = k.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    model = k.Model(inp, out)
    model.compile(k.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


FREQ_MASK = 6          # at most this many frequency rows blanked per training example
TIME_MASK = 12         # at most this many time frames blanked per training example


def _dataset(x: np.ndarray, t: np.ndarray, w: np.ndarray | None, batch_size: int, seed: int, augment: bool,
             shuffle: bool = True, mixup: float = 0.0):
    """tf.data pipeline; with ``augment``, SpecAugment-style masking: one random frequency band and one
    time span set to 0 (the per-window mean).  It stops the network from leaning on any one band or
    beat, which is what generalises to people it never saw (measured: +7 points on the hardest
    subjects).  Stateless random ops keyed on (seed, position) keep training reproducible."""
    import tensorflow as tf

    n_f, n_t = x.shape[1], x.shape[2]

    def mask(i, item):
        xi = item[0]
        r = tf.random.stateless_uniform((4,), seed=tf.stack([tf.constant(seed, tf.int64), i]), dtype=tf.float32)
        f0 = tf.cast(r[0] * (n_f - FREQ_MASK), tf.int32)
        fw = tf.cast(r[1] * (FREQ_MASK + 1), tf.int32)
        t0 = tf.cast(r[2] * (n_t - TIME_MASK), tf.int32)
        tw = tf.cast(r[3] * (TIME_MASK + 1), tf.int32)
        fi = tf.range(n_f)[:, None]
        ti = tf.range(n_t)[None, :]
        m = ((fi >= f0) & (fi < f0 + fw)) | ((ti >= t0) & (ti < t0 + tw))
        return (tf.where(m[..., None], tf.zeros_like(xi), xi), *item[1:])

    parts = (x[..., None].astype(np.float32), t.astype(np.float32)) + (() if w is None else (w.astype(np.float32),))
    ds = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        ds = ds.shuffle(len(t), seed=seed, reshuffle_each_iteration=True)
    if augment:
        ds = ds.enumerate().map(mask)
    ds = ds.batch(batch_size)
    if mixup > 0:
        ds = ds.enumerate().map(lambda i, b: _mixed(i, b, seed, mixup))
    return ds


def _mixed(i, batch: tuple, seed: int, alpha: float) -> tuple:
    """Mixup: every example of a batch blended with its partner in the reversed batch, by a share
    drawn from Beta(alpha, alpha) (two stateless gammas, so training stays reproducible).  Targets mix
    as well, which ``soft_crossentropy`` reads as class shares."""
    import tensorflow as tf

    n = tf.shape(batch[0])[0]
    key = tf.stack([tf.constant(seed, tf.int64), i])
    g1 = tf.random.stateless_gamma((n,), seed=key, alpha=alpha)
    g2 = tf.random.stateless_gamma((n,), seed=key + 1, alpha=alpha)
    lam = g1 / (g1 + g2 + 1e-12)

    def blend(v):
        shape = tf.concat([[n], tf.ones(tf.rank(v) - 1, tf.int32)], 0)
        lv = tf.reshape(tf.cast(lam, v.dtype), shape)
        return lv * v + (1 - lv) * tf.reverse(v, [0])

    return tuple(blend(v) for v in batch)


def targets(y: np.ndarray, n_classes: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Training targets that say which classes a window's dataset can show: 2 for the true class,
    1 for the other classes its dataset has, 0 for classes it lacks."""
    t = np.ones((len(y), n_classes), np.float32) if allowed is None else allowed.astype(np.float32)
    t[np.arange(len(y)), y] = 2.0
    return t


def partial_crossentropy(t, p):
    """Cross-entropy over the classes a window's dataset can show (softmax renormalised over them):
    -log p(true) + log sum p(allowed).  With every class allowed it is the usual cross-entropy; a
    dataset without "rest" then never teaches that its windows are not rest."""
    import tensorflow as tf

    eps = 1e-7
    true = tf.reduce_sum(p * tf.cast(t > 1.5, p.dtype), axis=-1)
    allowed = tf.reduce_sum(p * tf.cast(t > 0.5, p.dtype), axis=-1)
    return -tf.math.log(true + eps) + tf.math.log(allowed + eps)


def soft_crossentropy(t, p):
    """``partial_crossentropy`` for mixed targets: ``max(t - 1, 0)`` is each class's share of the truth
    and ``min(t, 1)`` whether the dataset can show it; on unmixed targets it is the same loss."""
    import tensorflow as tf

    eps = 1e-7
    share = tf.nn.relu(t - 1.0)
    allowed = tf.reduce_sum(p * tf.minimum(t, 1.0), axis=-1)
    return -tf.reduce_sum(share * tf.math.log(p + eps), axis=-1) \
        + tf.reduce_sum(share, axis=-1) * tf.math.log(allowed + eps)


def target_accuracy(t, p):
    """Accuracy against the (possibly soft or masked) targets, as a Keras metric."""
    import tensorflow as tf

    return tf.cast(tf.equal(tf.argmax(t, -1), tf.argmax(p, -1)), tf.float32)


def load(path):
    """A ``.keras`` written by ``train``, for inference: an ensemble's members were saved compiled with
    our own loss and metric, and Keras rebuilds a nested model's compile state even with
    ``compile=False``, so it must be able to find them by name."""
    return keras().models.load_model(path, compile=False, custom_objects={
        "partial_crossentropy": partial_crossentropy, "soft_crossentropy": soft_crossentropy,
        "target_accuracy": target_accuracy})


def balanced_weights(y: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Per-window weights giving every (dataset, class) cell the same total weight (mean 1)."""
    keys = np.asarray(y).astype(str) if groups is None else np.char.add(np.asarray(groups).astype(str),
                                                                        "/" + np.asarray(y).astype(str))
    _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv]
    return (w * len(w) / w.sum()).astype(np.float32)


def build_model(n_classes: int, shape: tuple[int, int], spec: ModelSpec = ModelSpec()):
    """The untrained model ``fit`` would return for ``spec`` (for parameter counts and latency)."""
    members = [build_cnn(n_classes, shape, filters=spec.filters, head=spec.head, time_stride=spec.time_stride)
               for _ in range(spec.members)]
    return members[0] if spec.members == 1 else ensemble(members)


def with_embedding(model):
    """The same model with a second output: its embedding, what the final dense layer(s) see (every
    member's pooled features side by side).  Shipped this way, the edge can fit a personal final
    layer on it (``ecg-activity calibrate``) with numpy alone, through the same int8 interpreter."""
    k = keras()
    members = [m for m in model.layers if isinstance(m, k.Model)] or [model]
    inp = k.Input(shape=model.input_shape[1:], name="spectrogram")
    feats = []
    for i, m in enumerate(members):
        drop = next(layer for layer in m.layers if isinstance(layer, k.layers.Dropout))
        feats.append(k.Model(m.inputs, drop.input, name=f"features_{i}")(inp))
    emb = feats[0] if len(feats) == 1 else k.layers.Concatenate(name="embedding")(feats)
    return k.Model(inp, [model(inp), emb])


def ensemble(members: list):
    """One model that averages its members' probabilities: one .tflite, one invoke on the edge."""
    k = keras()
    inp = k.Input(shape=members[0].input_shape[1:], name="spectrogram")
    out = k.layers.Average(name="probabilities")([m(inp) for m in members])
    return k.Model(inp, out)


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, epochs: int, seed: int = 0, batch_size: int = 64,
        validation: tuple | None = None, verbose: int = 0, spec: ModelSpec = ModelSpec(),
        allowed: np.ndarray | None = None, groups: np.ndarray | None = None, patience: int = 0,
        min_epochs: int = 0):
    """Deterministic training (fixed seeds, balanced weights): the same run gives the same model.

    ``allowed`` (windows x classes, bool) says which classes each window's dataset can show
    (``partial_crossentropy``); ``groups`` (each window's dataset) balances the weights per
    (dataset, class), so a big dataset does not drown a small one.  ``validation`` is
    ``(x, y)`` or ``(x, y, allowed)`` of people not trained on; with ``patience`` > 0 training
    stops when their loss has not improved for that many epochs and keeps the best epoch
    (``history["best_epoch"]``, 1-based).  With several members each is trained on its own (seeds
    seed, seed+1, ...), so they err differently and their average is steadier on people none of
    them saw; the history holds the members' histories."""
    if spec.members > 1:
        single = replace(spec, members=1)
        runs = [fit(x, y, n_classes, epochs, seed + i, batch_size, validation, verbose, single, allowed, groups,
                    patience, min_epochs) for i in range(spec.members)]
        hist = {"members": [h for _, h in runs], "best_epoch": [h["best_epoch"] for _, h in runs]}
        hist["loss"] = runs[0][1]["loss"]
        return ensemble([m for m, _ in runs]), hist
    k = keras()
    k.utils.set_random_seed(seed)
    model = build_cnn(n_classes, x.shape[1:3], filters=spec.filters, head=spec.head, time_stride=spec.time_stride)
    model.compile(k.optimizers.Adam(2e-3), soft_crossentropy if spec.mixup else partial_crossentropy,
                  metrics=[target_accuracy])
    train = _dataset(x, targets(y, n_classes, allowed), balanced_weights(y, groups), batch_size, seed, spec.augment,
                     mixup=spec.mixup)
    val = None
    callbacks = []
    if validation is not None and len(validation[1]):
        vallow = validation[2] if len(validation) > 2 and validation[2] is not None else None
        val = _dataset(validation[0], targets(validation[1], n_classes, vallow), None, 256, seed, False,
                       shuffle=False)
        if patience:
            callbacks.append(k.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                       restore_best_weights=True, start_from_epoch=min_epochs))
    hist = model.fit(train, epochs=epochs, verbose=verbose, validation_data=val, callbacks=callbacks)
    h = {key.replace("target_accuracy", "accuracy"): [float(v) for v in vs] for key, vs in hist.history.items()}
    if callbacks and "val_loss" in h:
        h["best_epoch"] = min_epochs + int(np.argmin(h["val_loss"][min_epochs:])) + 1 \
            if len(h["val_loss"]) > min_epochs else len(h["val_loss"])
    else:
        h["best_epoch"] = len(h["loss"])
    return model, h


def predict_float(model, x: np.ndarray) -> np.ndarray:
    """The float model's probabilities for spectrograms ``x``."""
    return model.predict(x[..., None], verbose=0, batch_size=256)
