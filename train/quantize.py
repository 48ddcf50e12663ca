"""Full-integer int8 TFLite conversion and the metadata that travels with the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..edge.model_bundle import metadata_path, sha256_file
from ..edge.model_meta import ModelMeta, Quantization
from ..edge.preprocess import PreprocessConfig


def to_int8(model, representative: np.ndarray, n_rep: int = 300, seed: int = 0, embedding: bool = False) -> bytes:
    """int8 weights, activations, input and output(s); calibrated on real training windows.  With
    ``embedding`` the file has a second output, the features the final layer sees (for calibration)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(representative), size=min(n_rep, len(representative)), replace=False)
    rep = representative[np.sort(idx)]

    def gen():
        for x in rep:
            yield [x[None, :, :, None].astype(np.float32)]

    from .model import with_embedding

    conv = tf.lite.TFLiteConverter.from_keras_model(with_embedding(model) if embedding else model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def quantization(tflite: bytes) -> tuple[Quantization, Quantization]:
    """(input, output) int8 quantisation of a converted model, as the edge interpreter reads it."""
    from ..edge.backends import interpreter_class

    Interpreter, _ = interpreter_class()
    it = Interpreter(model_content=tflite)

    def q(d) -> Quantization:
        return Quantization("int8", tuple(int(v) for v in d["shape"]), float(d["quantization"][0]),
                            int(d["quantization"][1]))
    from ..edge.model_bundle import probability_output

    out, _ = probability_output(it)
    return q(it.get_input_details()[0]), q(out)


def write_model(path: str | Path, tflite: bytes, task: str, labels: tuple[str, ...], cfg: PreprocessConfig,
                training: dict | None = None, **extra) -> ModelMeta:
    """Writes NAME.tflite and its metadata NAME.json (the one place a model's metadata is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tflite)
    inp, out = quantization(tflite)
    meta = ModelMeta(task, tuple(labels), cfg, inp, out, len(tflite), sha256_file(path), training or {}, **extra)
    meta.write(metadata_path(path))
    return meta
