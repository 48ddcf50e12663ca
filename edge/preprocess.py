"""The one preprocessing: ECG window -> normalised log-spectrogram.

Training (train/) and the live runner (edge/) both call ``spectrogram`` on a
window of samples at the stream's own rate; nothing else touches the signal
before the model, so what the model saw in training is what it sees live.
It is computed per window (no filter state carried between windows), which
is why a streaming run and an offline run give the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import stft

from bridge.recording import resample


@dataclass(frozen=True)
class PreprocessConfig:
    rate_hz: float = 250.0       # the model's rate; other streams are resampled to it
    window_s: float = 5.0
    hop_s: float = 1.0           # how often the edge classifies
    nperseg: int = 128           # STFT segment: 0.512 s at 250 Hz, 1.95 Hz bins
    step: int = 32               # STFT hop: 0.128 s
    fmax_hz: float = 60.0

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.rate_hz))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_s * self.rate_hz))

    @property
    def n_freqs(self) -> int:
        return int(np.sum(np.fft.rfftfreq(self.nperseg, 1.0 / self.rate_hz) <= self.fmax_hz)) - 1

    @property
    def n_frames(self) -> int:
        return (self.window_samples - self.nperseg) // self.step + 1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_freqs, self.n_frames)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def spectrogram(window: np.ndarray, in_rate_hz: float, cfg: PreprocessConfig) -> np.ndarray:
    """(n_freqs, n_frames) float32, zero mean and unit variance per window.

    Units do not matter (counts or mV): the per-window normalisation removes
    scale, so electrode type and amplifier gain cannot decide the class.
    """
    x = np.asarray(window, dtype=np.float64).ravel()
    if in_rate_hz != cfg.rate_hz:
        x = resample(x, in_rate_hz, cfg.rate_hz)
    n = cfg.window_samples
    if x.size < n:
        raise ValueError(f"window has {x.size} samples at {cfg.rate_hz:g} Hz, needs {n}")
    x = x[-n:] - x[-n:].mean()
    _, _, z = stft(x, fs=cfg.rate_hz, window="hann", nperseg=cfg.nperseg, noverlap=cfg.nperseg - cfg.step,
                   boundary=None, padded=False, detrend="constant")
    p = np.log10(np.abs(z[1:cfg.n_freqs + 1]) ** 2 + 1e-12)      # drop DC, keep 2..fmax Hz
    p -= p.mean()
    sd = p.std()
    return (p / (sd if sd > 1e-9 else 1.0)).astype(np.float32)


def offline_windows(x: np.ndarray, in_rate_hz: float, cfg: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every window of a whole recording, as the live runner would cut them: (starts, spectrograms)."""
    w = int(round(cfg.window_s * in_rate_hz))
    hop = int(round(cfg.hop_s * in_rate_hz))
    starts = np.arange(0, x.size - w + 1, hop)
    if starts.size == 0:
        return starts, np.empty((0, *cfg.shape), dtype=np.float32)
    return starts, np.stack([spectrogram(x[s:s + w], in_rate_hz, cfg) for s in starts])
