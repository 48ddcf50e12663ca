"""The shipped int8 models (``NAME.tflite`` + ``NAME.json`` metadata + ``NAME.md`` card), as package data."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = MODELS_DIR / "activity5.tflite"
