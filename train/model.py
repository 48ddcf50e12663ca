"""The compact CNN (TensorFlow/Keras; imported only by training commands)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def keras():
    import keras as k

    return k


def build_cnn(n_classes: int, shape: tuple[int, int], filters: tuple[int, ...] = (8, 16, 24, 32),
              dropout: float = 0.3, lr: float = 2e-3):
    """Four conv blocks (conv-BN-ReLU-pool), global average pooling, one dense layer (12k parameters with
    the default filters, 47k with 16,32,48,64).

    Global pooling instead of Flatten keeps the parameter count independent of
    the window length, which is what makes it hundreds of times smaller than
    the notebook's Flatten/Dense network.
    """
    k = keras()
    inp = k.Input(shape=(*shape, 1), name="spectrogram")
    x = inp
    for f in filters:
        x = k.layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.ReLU()(x)
        x = k.layers.MaxPooling2D(2, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dropout(dropout)(x)
    out = k.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    model = k.Model(inp, out)
    model.compile(k.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


DEFAULT_FILTERS = (8, 16, 24, 32)


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, epochs: int, seed: int = 0, batch_size: int = 64,
        validation: tuple[np.ndarray, np.ndarray] | None = None, verbose: int = 0,
        filters: tuple[int, ...] = DEFAULT_FILTERS):
    """Deterministic training (fixed seeds, class-balanced weights): the same run gives the same model."""
    k = keras()
    k.utils.set_random_seed(seed)
    model = build_cnn(n_classes, x.shape[1:3], filters=tuple(filters))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    weights = {i: (len(y) / (n_classes * c) if c else 0.0) for i, c in enumerate(counts)}
    hist = model.fit(x[..., None], y, epochs=epochs, batch_size=batch_size, verbose=verbose, shuffle=True,
                     class_weight=weights,
                     validation_data=None if validation is None else (validation[0][..., None], validation[1]))
    return model, hist.history


def predict_float(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x[..., None], verbose=0, batch_size=256)
