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

Classes the wearer did not calibrate keep the base model's behaviour through
a gate: a window whose embedding lies among the wearer's calibration windows
(its distance to the nearest calibrated class centre within what 95 % of
them reach) is decided by the personal head alone; the further beyond, the
more the base model decides, until it alone does::

    p = g * p_head + (1 - g) * p_base,   g = 1 near the calibration data, 0 far from it

An earlier design let the base model's own belief in "one of the calibrated
classes" be the gate; it kept uncalibrated classes a little better but gave
back much of the gain, because the people who need calibration are exactly
those the base model misplaces (a wearer's walking windows called "squats"
stayed "squats").  Measured on held-out people (bench fold outputs, 2 minutes
per class): 0.853 -> 0.906 mean accuracy, weakest person 0.58 -> 0.74; an
activity left out of the calibration is still recognised on 0.71 of its
windows (0.81 with the old gate, base model 0.80).  The quantile and width
were chosen on the same fold outputs (wider: a little more accuracy, less
left for uncalibrated classes).  Nothing here needs TensorFlow; a test runs
it with TensorFlow made unimportable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: a calibrated class needs at least this much of the wearer's signal (seconds of windows)
MIN_SECONDS = 30.0
L2 = 0.1
#: the correction is pulled (L2) towards this multiple of a linear discriminant of the wearer's windows ...
PRIOR = 0.1
#: ... whose within-class covariance is shrunk this far towards a multiple of the identity
SHRINK = 0.6
#: the gate is fully open up to the distance this share of the calibration windows reach ...
GATE_QUANTILE = 0.95
#: ... and closes linearly over this many times that distance beyond it
GATE_WIDTH = 1.5


@dataclass
class PersonalHead:
    """A wearer's personal final layer: a correction of the base model's log-probabilities, linear in the
    standardised embedding, and the gate that hands windows unlike the calibration back to the base model.
    Stored in the model's metadata as plain lists."""

    classes: list[int]              # which of the model's classes the head decides among
    mean: list[float]               # embedding standardisation (from the wearer's windows)
    scale: list[float]
    weights: list[list[float]]      # (embedding, len(classes))
    bias: list[float]
    centres: list[list[float]] | None = None   # per calibrated class, standardised embedding (the gate)
    spread: list[float] | None = None          # pooled within-class std per embedding dimension
    reach: float | None = None                 # gate fully open up to this distance
    width: float = GATE_WIDTH

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PersonalHead":
        """The head a model's metadata holds, every field checked (a tampered file is refused with
        ValueError, never turned into NaN probabilities or a fixed decision)."""
        if not isinstance(d, dict):
            raise ValueError("the head is not an object")
        for key in ("classes", "mean", "scale", "weights", "bias"):
            if not isinstance(d.get(key), list):
                raise ValueError(f"head field {key!r} is not a list")
        cls_ = d["classes"]
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in cls_) or len(set(cls_)) != len(cls_):
            raise ValueError("head classes must be distinct class indices (whole numbers >= 0)")
        gate = d.get("centres") is not None
        h = cls([int(c) for c in d["classes"]], list(d["mean"]), list(d["scale"]),
                [list(r) for r in d["weights"]], list(d["bias"]),
                [list(r) for r in d["centres"]] if gate else None,
                list(d["spread"]) if gate else None, float(d["reach"]) if gate else None,
                float(d.get("width", GATE_WIDTH)))
        w = np.asarray(h.weights, dtype=float)
        if w.ndim != 2 or w.shape != (len(h.mean), len(h.classes)) or len(h.scale) != len(h.mean) \
                or len(h.bias) != len(h.classes) or len(h.classes) < 2 or not np.isfinite(w).all() \
                or not np.isfinite(np.asarray(h.mean, dtype=float)).all() \
                or not np.isfinite(np.asarray(h.bias, dtype=float)).all() \
                or not (np.isfinite(np.asarray(h.scale, dtype=float)).all() and min(h.scale) > 0):
            raise ValueError("calibration head has inconsistent shapes or values")
        if gate:
            c = np.asarray(h.centres, dtype=float)
            if c.shape != (len(h.classes), len(h.mean)) or len(h.spread) != len(h.mean) \
                    or not np.isfinite(c).all() or not np.isfinite(np.asarray(h.spread, dtype=float)).all() \
                    or min(h.spread) <= 0 or not (np.isfinite(h.reach) and h.reach > 0) \
                    or not (np.isfinite(h.width) and h.width > 0):
                raise ValueError("calibration head has an inconsistent gate")
        return h

    def _folded(self):
        """The head with the standardisation folded in (weights and gate in raw embedding units): one
        matrix product and one distance per window, ~2x cheaper than standardising first (measured)."""
        if not hasattr(self, "_cache"):
            mean, scale, w = np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.weights)
            gate = None
            if self.centres is not None:
                gate = (mean + np.asarray(self.centres) * scale, 1.0 / (scale * np.asarray(self.spread)))
            self._cache = (w / scale[:, None], np.asarray(self.bias) - (mean / scale) @ w,
                           np.asarray(self.classes), gate)
        return self._cache

    def distance(self, xs: np.ndarray) -> np.ndarray:
        """Per window (rows of standardised embeddings): mean squared distance, in within-class spreads,
        to the nearest calibrated class centre."""
        c = np.asarray(self.centres)
        return (((xs[:, None, :] - c[None]) / np.asarray(self.spread)) ** 2).mean(-1).min(1)

    def apply(self, p_base: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """Final probabilities for one window (or a batch: rows)."""
        if np.ndim(embedding) == 1 and self.centres is not None:
            return self.apply_one(np.asarray(p_base), np.asarray(embedding))    # (float32 in: float64 out)
        w, b, cls, gate = self._folded()
        p_base = np.atleast_2d(np.asarray(p_base, dtype=np.float64))
        e = np.atleast_2d(np.asarray(embedding, dtype=np.float64))
        z = base_logits(p_base[:, cls]) + e @ w + b
        head = np.exp(z - z.max(axis=1, keepdims=True))
        head /= head.sum(axis=1, keepdims=True)
        if gate is None:                               # a head from before the gate: the base model's belief
            out = p_base.copy()                        # in the calibrated classes was the gate
            out[:, cls] = p_base[:, cls].sum(axis=1, keepdims=True) * head
        else:
            diff = (e[:, None, :] - gate[0]) * gate[1]
            dist = np.einsum("nkd,nkd->nk", diff, diff).min(axis=1) / e.shape[1]
            g = np.clip(1.0 - (dist - self.reach) / (self.width * self.reach), 0.0, 1.0)[:, None]
            out = (1.0 - g) * p_base
            out[:, cls] += g * head
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out if np.ndim(embedding) > 1 else out[0]

    def _folded_one(self):
        """``_folded`` rearranged for one window: with ``u = e * inv`` the squared gate distances are
        ``u.u - 2 u.(c inv) + |c inv|^2``, so the head's logits and the distances to every class centre come
        out of one matrix product (``u.m + k``) and one dot product (``u.u``)."""
        if not hasattr(self, "_cache_one"):
            w, b, cls, (centres, inv) = self._folded()
            ci = centres * inv                                   # (classes, embedding)
            m = np.hstack([w / inv[:, None], -2.0 * ci.T])
            k = np.concatenate([b, np.einsum("kd,kd->k", ci, ci)])
            every = cls.tolist() == list(range(len(cls)))        # the first classes, in order
            self._cache_one = (inv, m, k, cls.tolist(), len(cls), inv.size, every)
        return self._cache_one

    def apply_one(self, p: np.ndarray, e: np.ndarray) -> np.ndarray:
        """``apply`` for the live path's single window (1-D arrays, e.g. the interpreter's float32 outputs;
        heads from before the gate take the array form): six numpy calls, then plain floats for the
        handful of classes.  Each numpy call costs about a microsecond here and several on a Pi, and a
        calibrated model must cost within 10 % of its base model a window: the array form took 16.5 us a
        window on x86, this one 6.2.  A test checks both forms give the same numbers."""
        if self.centres is None:
            return self.apply(p, e[None])[0]
        return self._decide(p.tolist(), e * self._folded_one()[0])

    def apply_int8(self, q_probs: np.ndarray, probs_quant: tuple[float, int], q_embedding: np.ndarray,
                   embedding_quant: tuple[float, int]) -> np.ndarray:
        """``apply_one`` straight from the interpreter's int8 outputs, each with its (scale, zero point):
        the embedding's dequantization is folded into the head's standardisation (``u = q * a - b``, two
        numpy calls instead of five) and the handful of probabilities are dequantized as plain floats.
        about 2.5 us less a window than dequantizing first on x86 (measured); the same numbers as ``apply`` on
        the dequantized outputs (a test)."""
        ps, pz = probs_quant
        if self.centres is None:
            e = (np.asarray(q_embedding, dtype=np.float64) - embedding_quant[1]) * embedding_quant[0]
            return self.apply(((np.asarray(q_probs, dtype=np.float64) - pz) * ps)[None], e[None])[0]
        cache = getattr(self, "_cache_int8", None)
        if cache is None or cache[0] != embedding_quant:
            a = float(embedding_quant[0]) * self._folded_one()[0]
            cache = self._cache_int8 = (embedding_quant, a, float(embedding_quant[1]) * a)
        u = q_embedding * cache[1]
        u -= cache[2]
        return self._decide([(v - pz) * ps for v in q_probs.tolist()], u)

    def _decide(self, pl: list[float], u: np.ndarray) -> np.ndarray:
        """The one-window head on the base probabilities (plain floats) and the embedding already
        multiplied by the gate's inverse spreads (``u``, raw embedding units times ``inv``)."""
        _, m, k, cls, n, dims, every = self._folded_one()
        r = u.dot(m)                   # (ndarray.dot: half the call overhead of @ for one row, measured)
        r += k
        r = r.tolist()
        uu = float(u.dot(u))
        exp = math.exp
        top = max(r[:n])        # softmax(log p + r) = p e^r / sum: no logarithms (p <= 1, so no overflow)
        every = every and n == len(pl)                           # every class calibrated (the usual case)
        if every:
            head = [(v if v > 1e-3 else 1e-3) * exp(rj - top) for v, rj in zip(pl, r)]
        else:
            head = [(pl[c] if pl[c] > 1e-3 else 1e-3) * exp(rj - top) for c, rj in zip(cls, r)]
        g = 1.0 - ((uu + min(r[n:])) / dims - self.reach) / (self.width * self.reach)
        g = 1.0 if g > 1.0 else (g if g > 0.0 else 0.0)
        share = g / sum(head)
        if every:
            out = [(1.0 - g) * v + share * h for v, h in zip(pl, head)]
        else:
            out = [(1.0 - g) * v for v in pl]
            for c, h in zip(cls, head):
                out[c] += share * h
        total = sum(out)
        total = total if total > 1e-12 else 1e-12
        return np.array([v / total for v in out])


def base_logits(p: np.ndarray) -> np.ndarray:
    """The base model's log-probabilities (floored: an int8 output of 0 is "small", not impossible)."""
    return np.log(np.maximum(p, 1e-3))


def fit_head(embeddings: np.ndarray, y: np.ndarray, classes: list[int], l2: float = L2,
             p_base: np.ndarray | None = None, prior: float = PRIOR, shrink: float = SHRINK) -> PersonalHead:
    """The correction (weights on the standardised embedding, and biases) that, added to the base model's
    log-probabilities, best fits the wearer's windows: multinomial logistic regression with an offset,
    by L-BFGS (scipy).  Without ``p_base`` the offset is zero.  The gate (class centres, pooled spread,
    reach) is measured on the same windows.

    The weights are pulled (L2) towards ``prior`` times a shrunk linear discriminant of the same windows
    (``discriminant``), not towards no correction: the discriminant uses how the embedding's features vary
    together within an activity, which the regression alone, on two minutes a class, learns poorly.  On
    held-out people, calibrated on one electrode set and tested on the others (2 minutes a class, fold
    outputs of three benched models): mean accuracy 0.898 -> 0.903, 0.867 -> 0.897, 0.904 -> 0.920; the
    weakest person 0.742 -> 0.789, 0.706 -> 0.734, 0.811 -> 0.802; an activity left out of the calibration
    loses about a point.  ``prior`` and ``shrink`` were chosen among a few values on the shipped model's
    fold outputs, the other two checked them; ``prior=0`` is the earlier head."""
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
    w0, b0 = discriminant(xs, t, k, shrink)
    w0 *= prior

    def loss(theta):
        w = theta[:d * k].reshape(d, k)
        b = theta[d * k:]
        z = offset + xs @ w + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        f = -(sw * (onehot * logp).sum(axis=1)).sum() / n + 0.5 * l2 * ((w - w0) ** 2).sum()
        g = (sw[:, None] * (p - onehot)) / n
        return f, np.concatenate([(xs.T @ g + l2 * (w - w0)).ravel(), g.sum(axis=0)])

    start = np.concatenate([w0.ravel(), prior * (b0 - b0.mean())])
    res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    w = res.x[:d * k].reshape(d, k)
    centres = np.stack([xs[t == i].mean(axis=0) for i in range(k)])
    spread = np.sqrt(np.mean([xs[t == i].var(axis=0) for i in range(k)], axis=0))
    head = PersonalHead(list(classes), mean.tolist(), scale.tolist(), w.tolist(), res.x[d * k:].tolist(),
                        centres.tolist(), np.maximum(spread, 1e-3).tolist(), 1.0)
    head.reach = max(float(np.quantile(head.distance(xs), GATE_QUANTILE)), 1e-6)
    return head


def discriminant(xs: np.ndarray, t: np.ndarray, k: int, shrink: float = SHRINK) -> tuple[np.ndarray, np.ndarray]:
    """Linear discriminant analysis of standardised rows ``xs`` with class indices ``t`` (0..k-1): weights
    (features, k) and biases from the class means and one within-class covariance, shrunk towards a
    multiple of the identity by ``shrink`` (so it inverts with fewer windows than features)."""
    mu = np.stack([xs[t == i].mean(axis=0) for i in range(k)])
    r = xs - mu[t]
    cov = r.T @ r / max(len(xs) - k, 1)
    level = max(float(np.trace(cov)) / cov.shape[0], 1e-6)      # (windows all alike: still invertible)
    cov = (1.0 - shrink) * cov + max(shrink, 1e-6) * level * np.eye(cov.shape[0])
    w = np.linalg.solve(cov, mu.T)
    return w, -0.5 * np.einsum("kd,dk->k", mu, w)


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
