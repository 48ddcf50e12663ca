"""An int8 model and the metadata that travels with it (``NAME.tflite`` + ``NAME.json``).

The JSON says what the model expects (labels, rate, window, hop, the exact
preprocessing parameters, input quantization) and the SHA-256 of the
.tflite it belongs to, so the runner needs nothing else and refuses a model
that does not match its metadata or the stream.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import DEFAULT_MODEL, MODELS_DIR  # noqa: F401  (re-exported)
from .backends import BackendError, interpreter_class
from .preprocess import PreprocessConfig

FORMAT = "ecg-activity-model/1"


class ModelError(Exception):
    pass


@contextlib.contextmanager
def quiet_native_stderr():
    """The interpreter's C++ side prints an INFO line on creation; keep stderr for our own messages."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def metadata_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class ModelBundle:
    path: Path
    labels: tuple[str, ...]
    cfg: PreprocessConfig
    meta: dict
    interpreter: object
    backend: str

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL, backend: str = "auto") -> "ModelBundle":
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        mpath = metadata_path(path)
        if not mpath.is_file():
            raise ModelError(f"model {path.name} has no metadata file {mpath.name} beside it")
        try:
            meta = json.loads(mpath.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise ModelError(f"{mpath}: metadata is not valid JSON ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelError(f"{mpath}: not ecg-activity model metadata (format {FORMAT!r} expected)")
        digest = sha256_file(path)
        if meta.get("tflite_sha256") != digest:
            raise ModelError(f"{path.name} does not match its metadata (SHA-256 differs): refusing a mismatched model")
        try:
            Interpreter, name = interpreter_class(backend)
        except BackendError as e:
            raise ModelError(str(e)) from None
        try:
            with quiet_native_stderr():
                interp = Interpreter(model_path=str(path), num_threads=1)
                interp.allocate_tensors()
        except Exception as e:  # the interpreters raise ValueError/RuntimeError for bad flatbuffers
            raise ModelError(f"{path.name} is not a loadable TFLite model ({str(e).splitlines()[0]})") from None
        cfg = PreprocessConfig.from_dict(meta["preprocess"])
        labels = tuple(meta["labels"])
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        want = (1, *cfg.shape, 1)
        got = tuple(int(v) for v in inp["shape"])
        if got != want:
            raise ModelError(f"{path.name} takes input {got} but its metadata implies {want}")
        if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
            raise ModelError(f"{path.name} is not a full-integer int8 model (input {inp['dtype'].__name__})")
        if int(out["shape"][-1]) != len(labels):
            raise ModelError(f"{path.name} has {out['shape'][-1]} outputs for {len(labels)} labels")
        return cls(path, labels, cfg, meta, interp, name)

    def check_stream(self, rate_hz: float) -> None:
        """Any rate can be resampled; a rate too low to hold the model's band cannot."""
        if rate_hz < 2 * self.cfg.fmax_hz:
            raise ModelError(f"the stream's {rate_hz:g} Hz cannot carry the model's 0-{self.cfg.fmax_hz:g} Hz band")

    def predict(self, spec: np.ndarray) -> np.ndarray:
        """Class probabilities (dequantized) for one spectrogram."""
        return invoke_int8(self.interpreter, spec)


def invoke_int8(interp, spec: np.ndarray) -> np.ndarray:
    """Quantize one spectrogram, run a full-int8 interpreter, dequantize its output.

    The one place this happens: the edge runner and training's int8 evaluation both call it."""
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    scale, zero = inp["quantization"]
    q = np.clip(np.round(spec / scale + zero), -128, 127).astype(np.int8)
    interp.set_tensor(inp["index"], q[None, :, :, None])
    interp.invoke()
    o = interp.get_tensor(out["index"])[0].astype(np.float32)
    oscale, ozero = out["quantization"]
    return (o - ozero) * oscale
