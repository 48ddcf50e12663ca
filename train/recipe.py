"""A training recipe: everything that decides what a model learns, in one record.

``train`` follows it, the model's metadata stores it, ``bench`` reads it back
and retrains exactly it fold by fold.  The shipped recipes are in ``RECIPES``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ..edge.preprocess import PreprocessConfig
from .augment import DeviceAugment
from .model import ModelSpec
from .tasks import TASKS, get_task

#: the one preprocessing of the shipped models: 20 s windows every second; the QRS band 2-40 Hz (what
#: every consumer ECG passes) in 0.2 s steps that divide the 1 s hop (so a stream computes each frame
#: once), and under it the 0.25-6 Hz motion rows of 4 s segments, each from its own samples.
FIELD_PREPROCESS = PreprocessConfig(window_s=20.0, hop_s=1.0, nperseg=128, step=50, fmax_hz=40.0, slow_nperseg=1000,
                                    slow_fmax_hz=6.0, beat_rows=False, slow_decimate=1, slow_edge="clamp",
                                    norm="common")


@dataclass(frozen=True)
class Recipe:
    """How a model is made (task, datasets, preprocessing, augmentation, network, training), stored in its
    metadata so ``bench`` retrains the very same recipe."""

    task: str = "activity5"
    datasets: tuple[str, ...] = ("motion", "wrist")
    preprocess: PreprocessConfig = FIELD_PREPROCESS
    augment: DeviceAugment = field(default_factory=lambda: DeviceAugment(rest_speedup=0.5, rest_slow_bpm=40.0, clip=0.25,
                                                                          nstdb=0.3))
    copies: int = 3                  # copy 0 as recorded, the others through random devices
    train_hop_s: float = 3.0         # training windows start every 3 s (20 s windows: 1 s adds little but time)
    spec: ModelSpec = ModelSpec(members=1)
    max_epochs: int = 24
    min_epochs: int = 8              # early stopping never stops before this (a few people's loss is noisy)
    patience: int = 4                # early stopping on held-out training subjects' loss
    inner_val: float = 0.25          # share of the training subjects that early stopping watches
    # Train a dataset's windows only against the classes it has (True), or against every class (False,
    # the shipped recipe).  Masking keeps a dataset without "rest" from teaching that its look is never
    # rest, but it also never teaches that its walking is not rest: measured, the masked model called
    # wrist-ppg-exercise's walking "rest" on 24 of 27 windows of a person it was trained on.  A window's
    # label is certain whatever its dataset; the device augmentation is what keeps a device's look from
    # deciding the class.
    mask_absent: bool = False
    seed: int = 0

    def __post_init__(self):
        get_task(self.task)                     # ValueError naming the known ones
        if self.copies < 1 or self.max_epochs < 1 or not 0 <= self.inner_val < 1:
            raise ValueError("copies and max_epochs must be >= 1, inner_val in [0, 1)")

    @property
    def labels(self) -> tuple[str, ...]:
        return TASKS[self.task].labels

    def to_dict(self) -> dict:
        d = asdict(self)
        d["datasets"] = list(self.datasets)
        d["preprocess"] = self.preprocess.to_dict()
        d["augment"] = self.augment.to_dict()
        d["spec"] = self.spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        d = dict(d)
        d["datasets"] = tuple(d.get("datasets", ("motion",)))
        d["preprocess"] = PreprocessConfig.from_dict(d["preprocess"])
        d["augment"] = DeviceAugment.from_dict(d.get("augment"))
        d["spec"] = ModelSpec.from_training(d.get("spec", {}))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def but(self, **changes) -> "Recipe":
        return replace(self, **changes)


RECIPES = {
    "activity5": Recipe(),
    "activity6": Recipe(task="activity6"),
    "rest_run": Recipe(task="rest_run", preprocess=replace(FIELD_PREPROCESS, window_s=10.0)),
}
