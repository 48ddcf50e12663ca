"""TFLite interpreter backends, best first: LiteRT, tflite-runtime, TensorFlow.

LiteRT (ai-edge-litert) is the maintained successor of tflite-runtime;
tflite-runtime 2.14 needs numpy<2 so it is only a fallback; TensorFlow is
the last resort and is never imported while a lighter backend exists.
"""

from __future__ import annotations

import importlib

from ..bridge.errors import EcgActivityError

BACKENDS = ("litert", "tflite_runtime", "tensorflow")
_MODULES = {
    "litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow",
}


class BackendError(EcgActivityError):
    """No usable TFLite interpreter (or an unknown backend asked for)."""

    pass


def interpreter_class(backend: str = "auto"):
    """(Interpreter class, backend name)."""
    names = BACKENDS if backend == "auto" else (backend,)
    if backend != "auto" and backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r} (choose from auto, {', '.join(BACKENDS)})")
    missing = []
    for name in names:
        try:
            mod = importlib.import_module(_MODULES[name])
        except ImportError as e:
            _reraise_interrupt(e)
            missing.append(f"{name}: {e}")
            continue
        return (mod.lite.Interpreter if name == "tensorflow" else mod.Interpreter), name
    raise BackendError("no TFLite interpreter is installed (pip install ai-edge-litert); tried "
                       + "; ".join(missing))


def _reraise_interrupt(e: BaseException) -> None:
    """A Ctrl-C that lands inside an extension's initialisation comes back as pybind11's
    ``ImportError('initialization failed')`` caused by the ``KeyboardInterrupt``: re-raise the interrupt,
    or the loop would take the backend for missing, import TensorFlow instead and lose the Ctrl-C."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (KeyboardInterrupt, SystemExit)):
            raise cur
        cur = cur.__cause__ or cur.__context__
