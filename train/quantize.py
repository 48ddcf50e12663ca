"""Full-integer int8 TFLite conversion and the metadata that travels with the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..edge.model_bundle import FORMAT, metadata_path, sha256_file
from ..edge.preprocess import PreprocessConfig


def to_int8(model, representative: np.ndarray, n_rep: int = 300, seed: int = 0) -> bytes:
    """int8 weights, activations, input and output; calibrated on real training windows."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(representative), size=min(n_rep, len(representative)), replace=False)
    rep = representative[np.sort(idx)]

    def gen():
        for x in rep:
            yield [x[None, :, :, None].astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def input_quantization(tflite: bytes) -> dict:
    from ..edge.backends import interpreter_class

    Interpreter, _ = interpreter_class()
    it = Interpreter(model_content=tflite)
    d = it.get_input_details()[0]
    o = it.get_output_details()[0]
    return {"input": {"dtype": "int8", "shape": [int(v) for v in d["shape"]],
                      "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1])},
            "output": {"dtype": "int8", "shape": [int(v) for v in o["shape"]],
                       "scale": float(o["quantization"][0]), "zero_point": int(o["quantization"][1])}}


def write_model(path: str | Path, tflite: bytes, task: str, labels: tuple[str, ...], cfg: PreprocessConfig,
                extra: dict | None = None) -> dict:
    """Writes NAME.tflite and NAME.json (metadata + model card fields)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tflite)
    meta = {
        "format": FORMAT,
        "task": task,
        "labels": list(labels),
        "rate_hz": cfg.rate_hz,
        "window_s": cfg.window_s,
        "hop_s": cfg.hop_s,
        "preprocess": cfg.to_dict(),
        **input_quantization(tflite),
        "tflite_bytes": len(tflite),
        "tflite_sha256": sha256_file(path),
        **(extra or {}),
    }
    metadata_path(path).write_text(json.dumps(meta, indent=2) + "\n")
    return meta
