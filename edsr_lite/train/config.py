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
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edsr_lite.core.models import PRESETS
from edsr_lite.core.recipe import BATCH_SIZE, DECAY_STEPS, LEARNING_RATE, MAX_STEPS, PATCH_SIZE
from edsr_lite.files import nearest_existing

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
        preset (an EDSR preset has one scale); and, before anything is loaded or written, a
        step too big for this machine's memory (:func:`check_step_memory`) or an ``out``
        folder that cannot be written (:func:`check_out_writable`)."""
        check_fields(self.to_dict())
        if self.arch == "edsr" and len(self.scales) != 1:
            raise ValueError(
                f"scale: {self.preset} is single-scale: give one scale (2, 3 or 4), "
                f"got {self.scale!r}"
            )
        check_device_available(self.device)
        check_step_memory(self)
        check_out_writable(self.out_dir)


#: The largest YAML config file read (bytes): a config is a few hundred bytes; a file far
#: larger is a mistake (the wrong file) or a trap. Raise it here if you really need more.
MAX_YAML_BYTES = 1_000_000


def _yaml_loader() -> type:
    """A ``yaml.SafeLoader`` that refuses aliases (``*name``): a config needs none, and nested
    aliases expand to billions of values ("billion laughs": 400 bytes of YAML, gigabytes in
    memory) as soon as anything walks the value."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # the one place an alias becomes a value
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ValueError(
                    f"line {event.start_mark.line + 1}: the alias *{event.anchor} repeats an "
                    "anchored value; edsr-lite configs take no anchors or aliases (a few "
                    "nested ones expand to billions of values): write each value out"
                )
            return super().compose_node(parent, index)

    return NoAliasLoader


def read_yaml(path: str | os.PathLike) -> dict:
    """A YAML mapping from a file, with clear errors for a missing or malformed file.

    Bounded before it is parsed: a file above :data:`MAX_YAML_BYTES` is refused, and so is any
    alias (``*name``), which could expand a tiny file into gigabytes.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ValueError(
            f"{path}: {size:,} bytes, above the limit of {MAX_YAML_BYTES:,} for a config file "
            "(a config is a few hundred bytes: is it the right file?). The limit is "
            "edsr_lite.train.config.MAX_YAML_BYTES."
        )
    try:
        values = yaml.load(path.read_text(), Loader=_yaml_loader()) or {}
    except yaml.MarkedYAMLError as err:  # one line: where, and what is wrong
        where = f"line {err.problem_mark.line + 1}: " if err.problem_mark else ""
        raise ValueError(f"{path}: not valid YAML: {where}{err.problem or err}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (not UTF-8); is it the right file?") from None
    except ValueError as err:  # an alias (above), or a value YAML cannot build
        raise ValueError(f"{path}: {err}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of option: value, got {type(values)}")
    return values


# ----------------------------------------------------------------------- checking the fields

_SCALES = (2, 3, 4, 8, 16)  # what the upsampler builds: x3, or log2(s) x2 stages
_LOOKS_TYPED = r"[+-]?[\d.]+|true|false|yes|no|on|off"  # quoted numbers and booleans
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxstring, _SHORT_REPR.maxother = 3, 60, 60
_SHORT_REPR.maxlong = 40  # a 2**70 stays readable; a 10**5000 is not printed in full


def _show(value: Any) -> str:
    """A value as the message shows it: its repr (strings quoted), shortened."""
    text = _SHORT_REPR.repr(value)  # bounded: never the repr of a huge nested value
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


def check_device_available(device: str) -> None:
    """Refuse a device PyTorch cannot use here (``cuda:3`` on a machine with one GPU, ``mps``
    off a Mac), before anything is written: torch's own errors name no flag."""
    import torch

    kind, _, index = device.partition(":")
    if kind == "cuda":
        count = torch.cuda.device_count()
        if int(index or 0) >= count:
            raise ValueError(
                f"device: PyTorch sees no {device} device here ({count} CUDA GPU(s)): "
                "use --device cpu (or auto)"
            )
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device: PyTorch sees no mps device here: use --device cpu (or auto)")


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


# ----------------------------------------------------------------------- memory and output

#: Bytes per value of a training step's tensors (float32; bfloat16 autocast keeps float32
#: weights and some float32 activations, so the estimate does not halve for it).
BYTES_PER_VALUE = 4


def step_memory_bytes(config: TrainConfig) -> int:
    """An estimate of the memory (bytes) one training step of ``config`` holds at its peak.

    The activations autograd keeps for the backward pass, per LR pixel of a patch: the head
    (F values), four F-channel maps per residual block (six with batch norm), the body's
    last conv and skip (2F), the upsampler at up to s^2 times the resolution (about 3 s^2 F),
    and the HR output, target and their gradients (4 x 3 s^2); times ``batch_size`` patches
    of ``patch_size``^2 LR pixels, :data:`BYTES_PER_VALUE` each; plus the weights, their
    gradients and Adam's two moments (4 values per parameter). The largest scale counts (an
    MDSR step trains one scale). A rough figure, on the high side for a CPU run, used only to
    refuse a batch that cannot fit at all before anything is loaded or written.
    """
    preset = PRESETS[config.preset]
    n_feats = config.n_feats or preset.n_feats
    blocks = config.n_resblocks or preset.n_resblocks
    bn = preset.bn if config.bn is None else config.bn
    s2 = max(config.scales) ** 2
    per_pixel = n_feats * ((6 if bn else 4) * blocks + 3 + 3 * s2) + 12 * s2
    params = 9 * n_feats * n_feats * (2 * blocks + 1 + s2) + 9 * 3 * n_feats * 2
    values = config.batch_size * config.patch_size**2 * per_pixel + 4 * params
    return values * BYTES_PER_VALUE


def machine_memory_bytes() -> int | None:
    """This machine's physical memory (bytes), or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n < 1e15 else f"{n:.1e} bytes"


def check_step_memory(config: TrainConfig) -> None:
    """Refuse, before anything is loaded or written, a step that cannot fit this machine's
    memory (:func:`step_memory_bytes` above :func:`machine_memory_bytes`), naming the
    estimate, the limit and the largest ``batch_size`` that fits."""
    limit = machine_memory_bytes()
    need = step_memory_bytes(config)
    if limit is None or need <= limit:
        return
    one = step_memory_bytes(dataclasses.replace(config, batch_size=1))
    fits = max(0, int(config.batch_size * limit // need))
    fix = (
        f"use batch_size {fits} or less (--batch-size), or a smaller patch_size"
        if fits >= 1 and one <= limit
        else "use a smaller patch_size (--patch-size) or a smaller model (n_feats, n_resblocks)"
    )
    raise ValueError(
        f"batch_size {config.batch_size} of patch_size {config.patch_size} (LR pixels), "
        f"{config.preset} (n_resblocks {config.n_resblocks or PRESETS[config.preset].n_resblocks},"
        f" n_feats {config.n_feats or PRESETS[config.preset].n_feats}), scale "
        f"x{max(config.scales)}: a training step needs about {_gb(need)} of memory (an "
        f"estimate: {BYTES_PER_VALUE} bytes per value), more than this machine's {_gb(limit)}; "
        f"{fix}. Nothing was written."
    )


def check_out_writable(out_dir: str | os.PathLike) -> None:
    """Refuse, before any data is loaded, an ``out`` run folder that cannot be written: a file
    in the way, or a read-only place (the folder, or the nearest existing folder above it).

    Raises:
        ValueError: naming the folder and what to do.
    """
    out = Path(out_dir).expanduser()
    try:
        existing = nearest_existing(out)
    except (ValueError, OSError) as err:  # a NUL byte, a name too long, ...
        raise ValueError(f"out: {str(out)!r} is not a usable folder name ({err})") from None
    if existing.exists() and not existing.is_dir():
        where = "is a file" if existing == out else f"cannot be created: {existing} is a file"
        raise ValueError(f"out: {out} {where}, not a folder; choose another run folder with --out.")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "" if existing == out else f" (to create {out} in it)"
        raise ValueError(
            f"out: cannot write into the folder {existing}{what}: permission denied. Choose "
            "another run folder with --out, or change its permissions."
        )


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


def _data_key(data: Any) -> Any:
    """``data`` as compared on resume: each folder by its resolved path (``data3/``, a
    symbolic link to it, ``./data3`` and the absolute path are one folder); a set name as is."""

    def key(item: Any) -> Any:
        if not isinstance(item, str | os.PathLike):
            return item
        path = Path(item).expanduser()
        return str(path.resolve()) if path.is_dir() else os.path.normpath(str(item))

    return [key(d) for d in data] if isinstance(data, list | tuple) else key(data)


def check_same_run(stored: Mapping, config: TrainConfig) -> None:
    """Refuse to resume with settings that would change the run (lr, data, seed, ...).

    Values are compared by what they mean: a run started without ``scale`` (x2 for EDSR)
    continues with ``--scale 2``. Settings the stored run does not record are not compared.
    """
    now = config.to_dict()
    same_preset = stored.get("preset", now["preset"]) == now["preset"]
    before = _effective(stored) if same_preset else dict(stored)
    after = _effective(now) if same_preset else dict(now)
    for values in (before, after):  # a folder is the same however it is spelled
        if "data" in values:
            values["data"] = _data_key(values["data"])
    changed = [
        f"{k}: {stored[k]!r} -> {now[k]!r}"
        for k in now
        if k in stored and k not in RESUMABLE_CHANGES and before[k] != after[k]
    ]
    if changed:
        raise ValueError(
            "cannot resume: these settings differ from the stored run: " + "; ".join(changed)
        )
