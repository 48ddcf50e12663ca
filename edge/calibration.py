"""Personal calibration: a new final layer for one wearer, fitted on the Pi with numpy and scipy.

The shipped int8 model has two outputs: class probabilities and its
embedding (what its final layer sees).  A wearer's own labelled windows go
through the same preprocessing and the same interpreter; a multinomial
logistic regression on their embeddings becomes the personal head.

The head is a correction of the base model, not a replacement: its logits
are the base model's log-probabilities plus a linear function of the
standardised embedding, and only the correction is fitted (L2-regularised
towards zero).  With no data it is the base model exactly; half a minute per
activity moves it a little, a few minutes a lot (measured in the card).

Classes the wearer did not calibrate keep the base model's behaviour: the
base model decides how likely "one of the calibrated classes" is, the
personal head decides which of them::

    p(c) = p_base(calibrated) * p_head(c)   for a calibrated class c
    p(c) = p_base(c)                        otherwise

so with every class calibrated the head alone decides.  Nothing here needs
TensorFlow; a test runs it with TensorFlow made unimportable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: a calibrated class needs at least this much of the wearer's signal (seconds of windows)
MIN_SECONDS = 30.0
L2 = 0.1


@dataclass
class PersonalHead:
    classes: list[int]              # which of the model's classes the head decides among
    mean: list[float]               # embedding standardisation (from the wearer's windows)
    scale: list[float]
    weights: list[list[float]]      # (embedding, len(classes))
    bias: list[float]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PersonalHead":
        h = cls([int(c) for c in d["classes"]], list(d["mean"]), list(d["scale"]),
                [list(r) for r in d["weights"]], list(d["bias"]))
        w = np.asarray(h.weights, dtype=float)
        if w.ndim != 2 or w.shape != (len(h.mean), len(h.classes)) or len(h.scale) != len(h.mean) \
                or len(h.bias) != len(h.classes) or len(h.classes) < 2 or not np.isfinite(w).all():
            raise ValueError("calibration head has inconsistent shapes or values")
        return h

    def _arrays(self):
        if not hasattr(self, "_cache"):
            self._cache = (np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.weights),
                           np.asarray(self.bias), np.asarray(self.classes))
        return self._cache

    def apply(self, p_base: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """Final probabilities for one window (or a batch: rows)."""
        mean, scale, w, b, cls = self._arrays()
        p_base = np.atleast_2d(np.asarray(p_base, dtype=np.float64))
        z = base_logits(p_base[:, cls]) + ((np.atleast_2d(embedding) - mean) / scale) @ w + b
        z -= z.max(axis=1, keepdims=True)
        head = np.exp(z)
        head /= head.sum(axis=1, keepdims=True)
        out = p_base.copy()
        mass = p_base[:, cls].sum(axis=1, keepdims=True)
        out[:, cls] = mass * head
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out if np.ndim(embedding) > 1 else out[0]


def base_logits(p: np.ndarray) -> np.ndarray:
    """The base model's log-probabilities (floored: an int8 output of 0 is "small", not impossible)."""
    return np.log(np.maximum(p, 1e-3))


def fit_head(embeddings: np.ndarray, y: np.ndarray, classes: list[int], l2: float = L2,
             p_base: np.ndarray | None = None) -> PersonalHead:
    """The correction (weights on the standardised embedding, and biases) that, added to the base model's
    log-probabilities, best fits the wearer's windows: multinomial logistic regression with an offset,
    L2 towards no correction, by L-BFGS (scipy).  Without ``p_base`` the offset is zero."""
    from scipy.optimize import minimize

    x = np.asarray(embeddings, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xs = (x - mean) / scale
    idx = {c: i for i, c in enumerate(classes)}
    t = np.array([idx[int(v)] for v in y])
    n, d = xs.shape
    k = len(classes)
    onehot = np.eye(k)[t]
    offset = np.zeros((n, k)) if p_base is None else base_logits(np.asarray(p_base, dtype=np.float64)[:, classes])
    counts = np.bincount(t, minlength=k).astype(float)
    sw = (n / (k * counts))[t]                      # every class counts alike, however long it was recorded

    def loss(theta):
        w = theta[:d * k].reshape(d, k)
        b = theta[d * k:]
        z = offset + xs @ w + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        f = -(sw * (onehot * logp).sum(axis=1)).sum() / n + 0.5 * l2 * (w ** 2).sum()
        g = (sw[:, None] * (p - onehot)) / n
        return f, np.concatenate([(xs.T @ g + l2 * w).ravel(), g.sum(axis=0)])

    res = minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    w = res.x[:d * k].reshape(d, k)
    return PersonalHead(list(classes), mean.tolist(), scale.tolist(), w.tolist(), res.x[d * k:].tolist())


def check_amounts(seconds: dict[str, float], labels: tuple[str, ...], min_s: float = MIN_SECONDS) -> list[str]:
    """The classes to calibrate; raises ValueError (one line) when the data cannot make a head."""
    short = {c: s for c, s in seconds.items() if 0 < s < min_s}
    if short:
        raise ValueError("too little data to calibrate " + ", ".join(f"{c} ({s:.0f} s)" for c, s in short.items())
                         + f": at least {min_s:.0f} s of clean signal per class")
    ok = [c for c in labels if seconds.get(c, 0) >= min_s]
    if len(ok) < 2:
        missing = [c for c in labels if c not in ok]
        raise ValueError(f"calibration needs at least two activities; missing: {', '.join(missing)} "
                         "(record them with --label, or label them during a session)")
    return ok
