"""Everything that defines a training run: :class:`TrainConfig`, and its checks.

Defaults are the paper's recipe (:mod:`edsr_lite.train.recipe`) with a CPU-sized schedule.
YAML files (``configs/*.yaml``) and the ``edsr-lite train`` flags use the field names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edsr_lite.models import PRESETS
from edsr_lite.train.recipe import (
    BATCH_SIZE,
    DECAY_STEPS,
    LEARNING_RATE,
    MAX_STEPS,
    PATCH_SIZE,
)

# Fields that may differ when a run is resumed: they do not change the trajectory of the
# weights (budget, output, validation), or change it only by rounding (the device, bfloat16:
# a run may move to another machine; run.json's segments record where each step ran).
# Everything else must match the stored run.
RESUMABLE_CHANGES = frozenset(
    {
        "max_steps",
        "max_minutes",
        "resume",
        "out",
        "device",
        "bf16",
        "val_data",
        "val_images",
        "val_every",
        "save_every",
        "init_from",
        "half_best",
        "xz_best",
        "cache",
    }
)


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults are the paper's recipe, CPU-sized.

    YAML files (``configs/*.yaml``) and the command-line flags use these names.
    """

    # --- model: a preset of edsr_lite.models, optionally resized
    preset: str = "edsr_baseline"
    scale: int | list[int] | None = None  # EDSR: one scale (default 2); MDSR: its scales
    n_resblocks: int | None = None  # None: the preset's value
    n_feats: int | None = None
    res_scale: float | None = None
    bn: bool | None = None  # True: the SRResNet block with batch norm (an ablation)
    init_from: str | None = None  # checkpoint to start from (pretrained initialization)

    # --- data
    data: str | list[str] = "T91"  # set name (T91, BSD200, DIV2K), folder of HR images, or a list
    patch_size: int = PATCH_SIZE  # side of the *LR* patch; HR patch is scale x larger
    augment: bool = True  # the 8 flips/rotations
    cache: str = "auto"  # LR cache: "memory", "disk" (.npy under out/cache) or "auto"
    val_data: str | None = "Set5"  # validation set; None: no validation
    val_images: int | None = None  # validate on the first N images only (faster)
    val_every: int = 500  # steps between validations (also at step 0 and at the end)

    # --- recipe (edsr_lite.train.recipe): the paper's, with its schedule 100x shorter
    batch_size: int = BATCH_SIZE  # global minibatch (split across processes under torchrun)
    lr: float = LEARNING_RATE
    decay_steps: int = DECAY_STEPS  # halve the learning rate every this many steps (paper: 2e5)
    max_steps: int = MAX_STEPS  # paper: 3e5
    max_minutes: float | None = None  # stop after this wall time (whichever comes first)
    seed: int = 0

    # --- speed
    device: str = "auto"  # "auto" (cuda if available), "cpu", "cuda", "cuda:1"
    channels_last: bool = True  # NHWC memory format: ~10% faster convolutions on CPU
    bf16: bool = False  # bfloat16 autocast where it is fast (train.precision): ~2x faster

    # --- output
    out: str | None = None  # run folder; default runs/<preset>_x<scales> (in the current folder)
    save_every: int | None = None  # steps between latest.pt saves; default val_every
    resume: bool = False  # continue the run in `out` from its latest.pt
    half_best: bool = False  # store best.pt in float16 (half the size, for shipping)
    xz_best: bool = False  # also xz-compress best.pt (float16: ~88% of the size); loads as usual

    def __post_init__(self) -> None:
        if isinstance(self.scale, tuple):
            self.scale = list(self.scale)
        for name in ("data", "val_data", "init_from", "out"):  # paths are stored as text
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        if isinstance(self.data, (list, tuple)):
            self.data = [os.fspath(d) for d in self.data]
            if len(self.data) == 1:
                self.data = self.data[0]
        if isinstance(self.val_data, str) and self.val_data.lower() in ("", "none"):
            self.val_data = None  # YAML and the command line spell "no validation" so

    # -- derived values

    @property
    def arch(self) -> str:
        return PRESETS[self.preset].arch

    @property
    def scales(self) -> tuple[int, ...]:
        """The model's scales: (s,) for EDSR, the chosen or preset scales for MDSR."""
        if self.scale is None:
            return (2,) if self.arch == "edsr" else PRESETS[self.preset].scales
        if isinstance(self.scale, int):
            return (self.scale,)
        return tuple(int(s) for s in self.scale)

    @property
    def out_dir(self) -> Path:
        if self.out is not None:
            return Path(self.out).expanduser()
        # Relative to the working directory, like any command's output (runs/ is git-ignored).
        return Path("runs") / f"{self.preset}_x{'_'.join(map(str, self.scales))}"

    @property
    def model_overrides(self) -> dict:
        """The preset fields this config replaces (n_resblocks, n_feats, res_scale, bn)."""
        names = ("n_resblocks", "n_feats", "res_scale", "bn")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    # -- conversions

    def to_dict(self) -> dict:
        """Plain data (for YAML, run.json and checkpoint metadata)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping; an unknown key is a ValueError that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown training option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**dict(values))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        """Read a YAML file whose keys are :class:`TrainConfig` field names."""
        return cls.from_dict(read_yaml(path))

    def validate(self) -> None:
        """Raise ValueError, with what to do, for values that cannot work."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.arch == "edsr" and len(self.scales) != 1:
            raise ValueError(f"{self.preset} is single-scale: give one scale, got {self.scale}")
        for name in ("patch_size", "batch_size", "decay_steps", "val_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps < 0 or self.lr <= 0 or self.seed < 0:
            raise ValueError("max_steps and seed must be >= 0 and lr > 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes}")
        if self.save_every is not None and self.save_every < 1:
            raise ValueError(f"save_every must be at least 1, got {self.save_every}")


def read_yaml(path: str | os.PathLike) -> dict:
    """A YAML mapping from a file, with clear errors for a missing or malformed file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of option: value, got {type(values)}")
    return values


def check_same_run(stored: Mapping, config: TrainConfig) -> None:
    """Refuse to resume with settings that would change the run (lr, data, seed, ...)."""
    now = config.to_dict()
    changed = [
        f"{k}: {stored[k]!r} -> {now[k]!r}"
        for k in now
        if k in stored and k not in RESUMABLE_CHANGES and stored[k] != now[k]
    ]
    if changed:
        raise ValueError(
            "cannot resume: these settings differ from the stored run: " + "; ".join(changed)
        )
