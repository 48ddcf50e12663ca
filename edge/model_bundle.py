"""An int8 model and the metadata that travels with it (``NAME.tflite`` + ``NAME.json``).

The JSON says what the model expects (labels, rate, window, hop, the exact
preprocessing parameters, input quantization) and the SHA-256 of the
.tflite it belongs to, so the runner needs nothing else and refuses a model
that does not match its metadata or the stream.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import DEFAULT_MODEL, MODELS_DIR  # noqa: F401  (re-exported)
from .backends import BackendError, interpreter_class
from .model_meta import FORMAT, ModelError, ModelMeta  # noqa: F401  (re-exported)
from .preprocess import PreprocessConfig

#: no shipped or calibrated model comes near this; anything bigger is refused before it is read
MAX_MODEL_BYTES = 16 << 20


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
    """A model's metadata file (``X.json`` beside ``X.tflite``)."""
    return Path(model_path).with_suffix(".json")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (memory stays flat whatever its size)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ModelBundle:
    """An int8 model ready to run: its interpreter, metadata and preprocessing, checked against each other."""

    path: Path
    labels: tuple[str, ...]
    cfg: PreprocessConfig
    meta: ModelMeta
    interpreter: object
    backend: str
    has_embedding: bool = False
    head: object = None                    # a personal calibration head (edge.calibration), if any
    _batched: object = None                # the batch interpreter, made when first needed

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL, backend: str = "auto") -> "ModelBundle":
        """Load and cross-check ``NAME.tflite`` with ``NAME.json``; raises ModelError with one line."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist" if not path.exists() else
                             f"model {path} is not a regular file")
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{path.name} is {size >> 20} MiB; models are at most {MAX_MODEL_BYTES >> 20} MiB")
        meta = ModelMeta.read(metadata_path(path))
        if meta.tflite_bytes != size or meta.tflite_sha256 != sha256_file(path):
            raise ModelError(f"{path.name} does not match its metadata (size or SHA-256 differs): "
                             "refusing a mismatched model")
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
        cfg, labels = meta.preprocess, meta.labels
        inp = interp.get_input_details()[0]
        out, emb = probability_output(interp)
        want = (1, *cfg.shape, 1)
        got = tuple(int(v) for v in inp["shape"])
        if got != want:
            raise ModelError(f"{path.name} takes input {got} but its metadata implies {want}")
        if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
            raise ModelError(f"{path.name} is not a full-integer int8 model (input {inp['dtype'].__name__})")
        if int(out["shape"][-1]) != len(labels):
            raise ModelError(f"{path.name} has {out['shape'][-1]} outputs for {len(labels)} labels")
        head = None
        if meta.calibration:
            from .calibration import PersonalHead

            if emb is None:
                raise ModelError(f"{path.name} is calibrated but has no embedding output")
            try:
                head = PersonalHead.from_dict(meta.calibration.get("head") if isinstance(meta.calibration, dict)
                                              else None)
            except (ValueError, KeyError, TypeError, OverflowError) as e:
                raise ModelError(f"{path.name}: invalid calibration ({e})") from None
            if max(head.classes) >= len(labels) or len(head.mean) != int(emb["shape"][-1]):
                raise ModelError(f"{path.name}: the calibration does not fit this model")
        return cls(path, labels, cfg, meta, interp, name, emb is not None, head)

    def check_stream(self, rate_hz: float) -> None:
        """Any rate can be resampled; a rate too low to hold the model's band cannot."""
        if not math.isfinite(rate_hz) or rate_hz < 2 * self.cfg.fmax_hz:
            raise ModelError(f"the stream's {rate_hz:g} Hz cannot carry the model's 0-{self.cfg.fmax_hz:g} Hz band")

    def predict(self, spec: np.ndarray) -> np.ndarray:
        """Class probabilities (dequantized) for one spectrogram (through the personal head, if calibrated)."""
        if self.head is None:
            return invoke_int8(self.interpreter, spec)
        out, emb = run_int8(self.interpreter, spec)
        get = self.interpreter.get_tensor
        return self.head.apply_int8(get(out[0])[0], out[1:], get(emb[0])[0], emb[1:])

    def predict_batch(self, specs: np.ndarray) -> np.ndarray:
        """Probabilities for many spectrograms in one invoke per ``BATCH`` (a second interpreter whose
        input is resized to a batch; models without a resizable input go one by one)."""
        if self._batched is None:
            self._batched = _batch_interpreter(self, BATCH) or False
        if self._batched is False:
            return np.stack([self.predict(x) for x in specs])
        out = []
        for i in range(0, len(specs), BATCH):
            part = specs[i:i + BATCH]
            probs, emb = invoke_int8_batch(self._batched, part, BATCH, embedding=self.head is not None)
            out.append(probs if self.head is None else self.head.apply(probs, emb))
        return np.concatenate(out)

    def embed(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base probabilities, embedding) for one spectrogram."""
        if not self.has_embedding:
            raise ModelError(f"{self.path.name} has no embedding output (models shipped before calibration existed)")
        return invoke_int8(self.interpreter, spec, embedding=True)


BATCH = 32
#: the batched interpreter (a replay's many windows at once) may use the cores a live run leaves idle
BATCH_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _batch_interpreter(bundle: "ModelBundle", batch: int):
    """An interpreter of the same file with its input resized to ``batch`` windows (None if it cannot)."""
    try:
        Interpreter, _ = interpreter_class(bundle.backend)
        with quiet_native_stderr():
            it = Interpreter(model_path=str(bundle.path), num_threads=BATCH_THREADS)
            inp = it.get_input_details()[0]
            if int(inp.get("shape_signature", inp["shape"])[0]) != -1:
                return None
            it.resize_tensor_input(inp["index"], [batch, *[int(v) for v in inp["shape"][1:]]])
            it.allocate_tensors()
        return it
    except Exception:       # the interpreters raise several kinds for a model they cannot batch
        return None


def invoke_int8_batch(interp, specs: np.ndarray, batch: int, embedding: bool = False):
    """``invoke_int8`` for up to ``batch`` spectrograms at once (padded); (probabilities, embeddings or None)."""
    inp, out, emb = _io(interp)
    n = len(specs)
    q = np.zeros((batch, *specs.shape[1:], 1), np.int8)
    q[:n, ..., 0] = _quantize(specs, inp)
    interp.set_tensor(inp[0], q)
    interp.invoke()
    return _dequantize(interp, out, n), (_dequantize(interp, emb, n) if embedding and emb is not None else None)


def probability_output(interp) -> tuple[dict, dict | None]:
    """(probabilities, embedding or None) among a model's outputs: the class probabilities are the
    narrow one (a handful of classes against a hundred-odd embedding features)."""
    outs = sorted(interp.get_output_details(), key=lambda d: int(d["shape"][-1]))
    return outs[0], (outs[-1] if len(outs) > 1 else None)


def _io(interp) -> tuple[tuple, tuple, tuple | None]:
    """(input, probabilities, embedding or None) as (tensor index, scale, zero point), looked up once per
    interpreter: LiteRT builds its detail dicts anew on every call, ~20 us a window (measured)."""
    io = getattr(interp, "_ecg_activity_io", None)
    if io is None:
        inp = interp.get_input_details()[0]
        out, emb = probability_output(interp)
        io = tuple(None if d is None else (d["index"], *d["quantization"]) for d in (inp, out, emb))
        interp._ecg_activity_io = io
    return io


def _dequantize(interp, io: tuple, rows: int | None = None) -> np.ndarray:
    """The output tensor ``io`` as float: its first row (one window), or its first ``rows`` rows."""
    t = interp.get_tensor(io[0])
    o = (t[0] if rows is None else t[:rows]).astype(np.float32)
    return (o - io[2]) * io[1]


def _quantize(x: np.ndarray, io: tuple) -> np.ndarray:
    """The model's int8 input: ``clip(round(x / scale + zero point), -128, 127)``, by the ufuncs those
    call, in place on one temporary (the same numbers, a few microseconds less a window)."""
    v = x / io[1]
    v += io[2]
    np.rint(v, out=v)
    np.maximum(v, -128, out=v)
    np.minimum(v, 127, out=v)
    return v.astype(np.int8)


def run_int8(interp, spec: np.ndarray) -> tuple[tuple, tuple | None]:
    """Quantize one spectrogram into a full-int8 interpreter and invoke it; the (tensor index, scale,
    zero point) of its probabilities and of its embedding (or None), to be read before the next invoke."""
    inp, out, emb = _io(interp)
    interp.set_tensor(inp[0], _quantize(spec, inp)[None, :, :, None])
    interp.invoke()
    return out, emb


def invoke_int8(interp, spec: np.ndarray, embedding: bool = False):
    """Quantize one spectrogram, run a full-int8 interpreter, dequantize its probabilities (and, with
    ``embedding``, also return its embedding).

    The one place this happens: the edge runner, calibration and training's int8 evaluation call it."""
    out, emb = run_int8(interp, spec)
    probs = _dequantize(interp, out)
    if embedding:
        return probs, (None if emb is None else _dequantize(interp, emb))
    return probs
