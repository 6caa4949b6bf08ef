"""Everything that defines a training run: :class:`TrainConfig`, and its checks.

Defaults are the paper's recipe (:mod:`edsr_lite.core.recipe`) with a CPU-sized schedule.
YAML files (``configs/*.yaml``) and the ``edsr-lite train`` flags use the field names.

Every field's type and range is checked in one place (:func:`check_fields`, run by
:meth:`TrainConfig.validate` and :meth:`TrainConfig.from_dict`): a wrong value is a ValueError
naming the field, the value and what is allowed, never a value read as something else
(``augment: "no"`` is refused, not taken as true).

Validation never peeks at the test sets by default: ``val_data: holdout`` scores the training
images named in ``val_holdout`` (:data:`VAL_HOLDOUT`: 10 of VDSR's 291, held out of the
training patches), as the paper validated on DIV2K images kept out of training; Set5 and the
other benchmarks are for reporting.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edsr_lite.core.models import PRESETS
from edsr_lite.core.recipe import BATCH_SIZE, DECAY_STEPS, LEARNING_RATE, MAX_STEPS, PATCH_SIZE

#: ``val_data`` that validates on the ``val_holdout`` training images (held out of training).
HOLDOUT = "holdout"

#: The default validation images: 10 of the 291 training images of VDSR (T91 + BSD200), 5 of
#: each, spread over the sorted names. They are left out of the training patches and validate
#: the run (``val_data: holdout``); a training set holding only some of them (T91 alone: 5)
#: validates on those.
VAL_HOLDOUT = (
    "t10.png",
    "t30.png",
    "t50.png",
    "tt10.png",
    "tt20.png",
    "12074.png",
    "176035.png",
    "232038.png",
    "317080.png",
    "65010.png",
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

    # --- model: a preset of edsr_lite.core.models, optionally resized
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
    val_data: str | None = HOLDOUT  # "holdout" (val_holdout), a set name or folder; None: none
    val_holdout: list[str] = field(default_factory=lambda: list(VAL_HOLDOUT))  # file names
    val_images: int | None = None  # validate on the first N images only (faster)
    val_every: int = 500  # steps between validations (also at step 0 and at the end)

    # --- recipe (edsr_lite.core.recipe): the paper's, with its schedule 100x shorter
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
        # Only normalizes spellings; wrong types are left for validate() to name.
        if isinstance(self.scale, tuple):
            self.scale = list(self.scale)
        for name in ("data", "val_data", "init_from", "out"):  # paths are stored as text
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        if isinstance(self.data, (list, tuple)):
            self.data = [os.fspath(d) if isinstance(d, os.PathLike) else d for d in self.data]
            if len(self.data) == 1:
                self.data = self.data[0]
        if isinstance(self.val_holdout, tuple):
            self.val_holdout = list(self.val_holdout)
        if isinstance(self.val_data, str) and self.val_data.lower() in ("", "none"):
            self.val_data = None  # YAML and the command line spell "no validation" so

    # -- derived values

    @property
    def holdout(self) -> bool:
        """Whether validation uses the held-out training images (``val_data: holdout``)."""
        return self.val_data == HOLDOUT

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
        """Build from a mapping and :meth:`validate` it; an unknown key or a wrong value is a
        ValueError naming the option (unknown keys: with the list of the known ones)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown training option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        check_fields(values)  # before __post_init__ sees them
        config = cls(**dict(values))
        config.validate()
        return config

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        """Read a YAML file whose keys are :class:`TrainConfig` field names."""
        return cls.from_dict(read_yaml(path))

    def validate(self) -> None:
        """Raise ValueError, naming the field, its value and what is allowed, for any value
        of the wrong type or out of range (:func:`check_fields`), or that does not fit the
        preset (an EDSR preset has one scale)."""
        check_fields(self.to_dict())
        if self.arch == "edsr" and len(self.scales) != 1:
            raise ValueError(
                f"scale: {self.preset} is single-scale: give one scale (2, 3 or 4), "
                f"got {self.scale!r}"
            )


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


# ----------------------------------------------------------------------- checking the fields

_SCALES = (2, 3, 4, 8, 16)  # what the upsampler builds: x3, or log2(s) x2 stages
_LOOKS_TYPED = r"[+-]?[\d.]+|true|false|yes|no|on|off"  # quoted numbers and booleans
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _show(value: Any) -> str:
    """A value as the message shows it: its repr (strings quoted), shortened."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(name: str, value: Any, allowed: str) -> None:
    hint = ""
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+", value.strip()):
        hint = f" (YAML reads {value} as text: write it with a decimal point, e.g. 1.0e-4)"
    elif isinstance(value, str) and re.fullmatch(_LOOKS_TYPED, value.strip().lower()):
        hint = " (text, not a number or true/false: write it without quotes)"
    raise ValueError(f"{name} must be {allowed}, got {_show(value)}{hint}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_int(value) or value < low:
        _fail(name, value, f"a whole number >= {low}" + (" or null" if optional else ""))


def _check_positive(name: str, value: Any, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_number(value) or value <= 0:
        _fail(name, value, "a number > 0" + (" or null" if optional else ""))


def _check_bool(name: str, value: Any, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, bool):
        _fail(name, value, "true or false" + (" or null" if optional else ""))


def _check_text(name: str, value: Any, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not value.strip():
        _fail(name, value, "a non-empty text (a name or a path)" + (" or null" if optional else ""))


def _check_scale(value: Any) -> None:
    scales = value if isinstance(value, list | tuple) else [value]
    ok = value is None or (
        len(scales) > 0
        and all(_is_int(s) and s in _SCALES for s in scales)
        and len(set(scales)) == len(scales)
    )
    if not ok:
        allowed = "2, 3, 4, 8 or 16 (EDSR), a list of distinct ones (MDSR), or null"
        _fail("scale", value, allowed)


def _check_data(value: Any) -> None:
    items = value if isinstance(value, list | tuple) else [value]
    if not items or not all(isinstance(d, str | os.PathLike) and str(d).strip() for d in items):
        _fail("data", value, "a set name (T91, BSD200, DIV2K), a folder of images, or a list")


def _check_holdout(value: Any) -> None:
    names = value if isinstance(value, list | tuple) else None
    if names is None or not all(isinstance(n, str) and n and "/" not in n for n in names):
        _fail("val_holdout", value, "a list of image file names (e.g. [t10.png, 12074.png])")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices or not isinstance(value, str):
        _fail(name, value, "one of " + ", ".join(choices))


def _check_device(value: Any) -> None:
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        _fail("device", value, "auto, cpu, cuda, cuda:N or mps")


def _check_seed(value: Any) -> None:
    if not _is_int(value) or not 0 <= value < 2**63:
        _fail("seed", value, "a whole number from 0 to 2**63 - 1")


#: Each field's check: its type, range and what the message says is allowed.
FIELD_CHECKS = {
    "preset": lambda v: _check_choice("preset", v, tuple(PRESETS)),
    "scale": _check_scale,
    "n_resblocks": lambda v: _check_int("n_resblocks", v, 1, optional=True),
    "n_feats": lambda v: _check_int("n_feats", v, 1, optional=True),
    "res_scale": lambda v: _check_positive("res_scale", v, optional=True),
    "bn": lambda v: _check_bool("bn", v, optional=True),
    "init_from": lambda v: _check_text("init_from", v, optional=True),
    "data": _check_data,
    "patch_size": lambda v: _check_int("patch_size", v, 1),
    "augment": lambda v: _check_bool("augment", v),
    "cache": lambda v: _check_choice("cache", v, ("auto", "memory", "disk")),
    "val_data": lambda v: v == "" or _check_text("val_data", v, optional=True),  # "": none
    "val_holdout": _check_holdout,
    "val_images": lambda v: _check_int("val_images", v, 1, optional=True),
    "val_every": lambda v: _check_int("val_every", v, 1),
    "batch_size": lambda v: _check_int("batch_size", v, 1),
    "lr": lambda v: _check_positive("lr", v),
    "decay_steps": lambda v: _check_int("decay_steps", v, 1),
    "max_steps": lambda v: _check_int("max_steps", v, 0),
    "max_minutes": lambda v: _check_positive("max_minutes", v, optional=True),
    "seed": _check_seed,
    "device": _check_device,
    "channels_last": lambda v: _check_bool("channels_last", v),
    "bf16": lambda v: _check_bool("bf16", v),
    "out": lambda v: _check_text("out", v, optional=True),
    "save_every": lambda v: _check_int("save_every", v, 1, optional=True),
    "resume": lambda v: _check_bool("resume", v),
    "half_best": lambda v: _check_bool("half_best", v),
    "xz_best": lambda v: _check_bool("xz_best", v),
}


def check_fields(values: Mapping[str, Any]) -> None:
    """Check the type and range of every field in ``values`` (a YAML mapping, the flags, or
    :meth:`TrainConfig.to_dict`): the first wrong one is a ValueError naming the field, the
    value and what is allowed. Unknown keys are left to :meth:`TrainConfig.from_dict`."""
    for name, value in values.items():
        if name in FIELD_CHECKS:
            FIELD_CHECKS[name](value)


# ----------------------------------------------------------------------- resuming a run

# Fields whose None means "the preset's value" (or, for scale, the preset's scales): a run is
# the same whether the value was given or left to the preset.
_PRESET_DEFAULTS = ("scale", "n_resblocks", "n_feats", "res_scale", "bn")


def _effective(values: Mapping[str, Any]) -> dict:
    """``values`` with the preset-dependent fields replaced by what they mean for the model
    (``scale: None`` of EDSR is ``[2]``, ``n_feats: None`` the preset's width, ...)."""
    out = dict(values)
    preset = PRESETS.get(values.get("preset"))
    if preset is None:
        return out
    scale = values.get("scale")
    if scale is None:
        scale = [2] if preset.arch == "edsr" else list(preset.scales)
    out["scale"] = [int(s) for s in scale] if isinstance(scale, list | tuple) else [scale]
    for name in _PRESET_DEFAULTS[1:]:
        if values.get(name) is None:
            out[name] = getattr(preset, name)
    return out


def check_same_run(stored: Mapping, config: TrainConfig) -> None:
    """Refuse to resume with settings that would change the run (lr, data, seed, ...).

    Values are compared by what they mean: a run started without ``scale`` (x2 for EDSR)
    continues with ``--scale 2``. Settings the stored run does not record are not compared.
    """
    now = config.to_dict()
    same_preset = stored.get("preset", now["preset"]) == now["preset"]
    before = _effective(stored) if same_preset else dict(stored)
    after = _effective(now) if same_preset else now
    changed = [
        f"{k}: {stored[k]!r} -> {now[k]!r}"
        for k in now
        if k in stored and k not in RESUMABLE_CHANGES and before[k] != after[k]
    ]
    if changed:
        raise ValueError(
            "cannot resume: these settings differ from the stored run: " + "; ".join(changed)
        )
