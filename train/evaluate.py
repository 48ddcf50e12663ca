"""int8 evaluation helpers: a model file's probabilities (and embeddings) on many windows, as the edge runs it."""

from __future__ import annotations

import numpy as np


def _interpreter(tflite: bytes, backend: str = "auto"):
    from ..edge.backends import interpreter_class

    Interpreter, _ = interpreter_class(backend)
    it = Interpreter(model_content=tflite, num_threads=1)
    it.allocate_tensors()
    return it


def int8_predict(tflite: bytes, x: np.ndarray, backend: str = "auto") -> np.ndarray:
    """Probabilities from a full-int8 model, window by window as the edge runs it."""
    from ..edge.model_bundle import invoke_int8

    it = _interpreter(tflite, backend)
    return np.stack([invoke_int8(it, np.asarray(w)) for w in x]) if len(x) else np.empty((0, 0), np.float32)


def int8_embed(tflite: bytes, x: np.ndarray, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, embeddings) from an int8 model with an embedding output."""
    from ..edge.model_bundle import invoke_int8

    it = _interpreter(tflite, backend)
    out = [invoke_int8(it, np.asarray(w), embedding=True) for w in x]
    if not out:
        return np.empty((0, 0), np.float32), np.empty((0, 0), np.float32)
    return np.stack([p for p, _ in out]), np.stack([e for _, e in out])
