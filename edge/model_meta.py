"""A model's metadata (``NAME.json`` beside ``NAME.tflite``) as one validated dataclass.

Written by training (``train.quantize``), updated by ``bench`` and
``calibrate``, read by the edge: one author, one reader, one shape.  Every
field is checked for type and range when read, so a hostile or damaged
file is one ``ModelError`` line, never a traceback or a silent zero-window run.
"""

from __future__ import annotations

import json
import math
import stat
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..bridge.errors import EcgActivityError
from .preprocess import PreprocessConfig

FORMAT = "ecg-activity-model/1"
#: metadata files are a few hundred KB at most (the card included)
MAX_METADATA_BYTES = 8 << 20


class ModelError(EcgActivityError):
    """A model that cannot be used: missing, damaged, mismatched or not what the stream needs."""


@dataclass(frozen=True)
class Quantization:
    """One int8 tensor's shape and affine quantisation (real = scale * (q - zero_point))."""

    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @classmethod
    def from_dict(cls, d: Any, what: str) -> "Quantization":
        if not isinstance(d, dict):
            raise ValueError(f"{what} is not an object")
        shape = d.get("shape")
        if not isinstance(shape, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                  for v in shape):
            raise ValueError(f"{what}.shape is not a list of positive whole numbers")
        scale, zero = d.get("scale"), d.get("zero_point")
        if not _number(scale) or not 0 < scale < 1e6:
            raise ValueError(f"{what}.scale {scale!r} is not a positive number")
        if not isinstance(zero, int) or isinstance(zero, bool) or not -128 <= zero <= 127:
            raise ValueError(f"{what}.zero_point {zero!r} is not an int8")
        return cls(str(d.get("dtype")), tuple(shape), float(scale), zero)


@dataclass
class ModelMeta:
    """What a model is, expects and was trained on."""

    task: str
    labels: tuple[str, ...]
    preprocess: PreprocessConfig
    input: Quantization
    output: Quantization
    tflite_bytes: int
    tflite_sha256: str
    training: dict = field(default_factory=dict)     # recipe, data and ModelSpec (train's own keys)
    card: dict | None = None                          # bench's evaluation, for the model card
    calibration: dict | None = None                   # a personal head's provenance (calibrate)
    format: str = FORMAT

    @property
    def rate_hz(self) -> float:
        return self.preprocess.rate_hz

    @property
    def window_s(self) -> float:
        return self.preprocess.window_s

    @property
    def hop_s(self) -> float:
        return self.preprocess.hop_s

    def to_dict(self) -> dict:
        d = {"format": self.format, "task": self.task, "labels": list(self.labels),
             # the stream facts a reader wants first, repeated from "preprocess"
             "rate_hz": self.rate_hz, "window_s": self.window_s, "hop_s": self.hop_s,
             "preprocess": self.preprocess.to_dict(),
             "input": {**asdict(self.input), "shape": list(self.input.shape)},
             "output": {**asdict(self.output), "shape": list(self.output.shape)},
             "tflite_bytes": self.tflite_bytes, "tflite_sha256": self.tflite_sha256, "training": self.training}
        for k in ("card", "calibration"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, d: Any) -> "ModelMeta":
        """Validated; raises ValueError naming the first bad field."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"not ecg-activity model metadata (format {FORMAT!r} expected)")
        missing = [f.name for f in fields(cls) if f.name not in d and f.name not in ("training", "card",
                                                                                     "calibration", "format")]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        labels = d["labels"]
        if not isinstance(labels, list) or not labels or not all(isinstance(v, str) and v for v in labels) \
                or len(set(labels)) != len(labels):
            raise ValueError("labels is not a list of distinct class names")
        if not isinstance(d["task"], str):
            raise ValueError("task is not text")
        if not isinstance(d["preprocess"], dict):
            raise ValueError("preprocess is not an object")
        cfg = PreprocessConfig.from_dict(d["preprocess"])
        size, digest = d["tflite_bytes"], d["tflite_sha256"]
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError("tflite_bytes is not a positive whole number")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("tflite_sha256 is not a SHA-256")
        for k in ("training", "card", "calibration"):
            if d.get(k) is not None and not isinstance(d[k], dict):
                raise ValueError(f"{k} is not an object")
        return cls(d["task"], tuple(labels), cfg, Quantization.from_dict(d["input"], "input"),
                   Quantization.from_dict(d["output"], "output"), size, digest, d.get("training") or {},
                   d.get("card"), d.get("calibration"))

    @classmethod
    def read(cls, path: str | Path) -> "ModelMeta":
        """From a metadata file; raises ModelError with one line."""
        path = Path(path)
        try:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):          # a FIFO would block the reader for ever
                raise ModelError(f"{path}: metadata is not a regular file")
            if st.st_size > MAX_METADATA_BYTES:
                raise ModelError(f"{path}: metadata larger than {MAX_METADATA_BYTES >> 20} MiB")
            d = json.loads(path.read_text())
            return cls.from_dict(d)
        except FileNotFoundError:
            raise ModelError(f"no metadata file {path.name} beside the model") from None
        except ModelError:
            raise
        except RecursionError:
            raise ModelError(f"{path}: metadata nested too deeply") from None
        except json.JSONDecodeError as e:
            raise ModelError(f"{path}: metadata is not valid JSON ({e})") from None
        except (ValueError, TypeError, UnicodeDecodeError, OSError) as e:
            raise ModelError(f"{path}: invalid model metadata ({e})") from None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
