"""Checkpoints: saving and loading weights, official EDSR-PyTorch files, pretrained initialization.

Two kinds of file load here:

* **Our checkpoints**: a dict ``{"format": "edsr-lite", "config": ..., "state_dict": ...,
  "meta": ...}``. ``config`` rebuilds the network (preset, scales, B, F, res_scale), ``meta``
  holds whatever the trainer recorded (training config, step, data, metrics), so
  ``load_model(path)`` needs nothing else.
* **Official EDSR-PyTorch weights** (e.g. ``edsr_baseline_x2-1bc95232.pt``): a bare state dict,
  or a dict that wraps one. The architecture is read off the tensor names and shapes.

Files are written atomically (a temporary file, then a rename), so an interrupted save never
leaves a half-written checkpoint where a good one was. A checkpoint may be stored xz-compressed
(``compress=True``; the file starts with xz's magic bytes, whatever its name): float16 weights
shrink to about 88%, which keeps MDSR-baseline under the shipping limit. ``read_checkpoint``
reads both kinds; ``xz -dc best.pt > plain.pt`` turns one back into a plain PyTorch file.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .models import PRESETS, build_from_config, preset_of
from .paths import CHECKPOINT_DIR

FORMAT = "edsr-lite"
FORMAT_VERSION = 1
XZ_MAGIC = b"\xfd7zXZ\x00"  # the first 6 bytes of every .xz stream


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model it is loaded into."""


# --------------------------------------------------------------------------- saving


def atomic_torch_save(obj: object, path: str | os.PathLike, compress: bool = False) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place.

    ``compress=True`` stores the bytes xz-compressed (lzma preset 9: seconds for a few MB).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private (0600); a checkpoint is not
    try:
        with os.fdopen(fd, "wb") as f:
            if compress:
                buffer = io.BytesIO()
                torch.save(obj, buffer)
                f.write(lzma.compress(buffer.getvalue(), preset=9))
            else:
                torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    meta: Mapping | None = None,
    half: bool = False,
    extra: Mapping | None = None,
    compress: bool = False,
) -> Path:
    """Save ``model`` (made by ``build``) with its config and ``meta`` (plain Python values).

    ``half=True`` stores floating tensors as float16 (half the size; loading casts back to
    float32). ``extra`` adds top-level entries, e.g. the optimizer state for resuming.
    ``compress=True`` xz-compresses the file (float16 weights: about 88% of the size).
    """
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    _check_plain(dict(meta or {}), "meta")
    state = {
        # contiguous(): the file holds plain NCHW tensors even from a channels_last model.
        k: (v.detach().half() if half and v.is_floating_point() else v.detach())
        .cpu()
        .contiguous()
        .clone()
        for k, v in model.state_dict().items()
    }
    ckpt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": preset_of(model),
        "state_dict": state,
        "meta": dict(meta or {}),
    }
    ckpt.update(extra or {})
    return atomic_torch_save(ckpt, path, compress=compress)


def _check_plain(value: object, where: str) -> None:
    """Refuse values that ``torch.load(weights_only=True)`` could not read back."""
    # Exact types: a str subclass such as torch.__version__ would not load with weights_only.
    if value is None or type(value) in (bool, int, float, str) or isinstance(value, torch.Tensor):
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str | int):
                raise TypeError(f"{where}: keys must be strings, got {k!r}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoint metadata must be plain data "
        "(numbers, strings, lists, dicts, tensors) so that it loads safely"
    )


# --------------------------------------------------------------------------- reading


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint file into ``{"state_dict", "config", "meta", ...}``.

    ``config`` is ``None`` for official weights (bare state dicts). An xz-compressed file is
    decompressed first. Raises :class:`CheckpointError` with the file name and what to do for a
    missing, truncated or non-checkpoint file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty: copy or download the checkpoint again")
    source = _open_uncompressed(path)
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}). If it is a checkpoint, "
            "it is probably truncated: copy or download it again."
        ) from None
    return _normalize(obj, path)


def is_compressed(path: str | os.PathLike) -> bool:
    """Whether a checkpoint file is xz-compressed (read off its first bytes, not its name)."""
    with open(path, "rb") as f:
        return f.read(len(XZ_MAGIC)) == XZ_MAGIC


def _open_uncompressed(path: Path) -> Path | io.BytesIO:
    """The file itself, or its decompressed bytes in memory if it is xz-compressed."""
    if not is_compressed(path):
        return path
    try:
        return io.BytesIO(lzma.decompress(path.read_bytes()))
    except lzma.LZMAError as exc:
        raise CheckpointError(
            f"{path} is xz-compressed but does not decompress ({exc}): it is probably truncated, "
            "copy or download it again"
        ) from None


def _normalize(obj: object, path: Path) -> dict:
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        return dict(obj)
    if isinstance(obj, Mapping):
        # Wrapped state dicts, as other trainers save them.
        for key in ("state_dict", "model", "params_ema", "params", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                return {"state_dict": dict(obj[key]), "config": None, "meta": {}}
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return {"state_dict": dict(obj), "config": None, "meta": {}}
    raise CheckpointError(
        f"{path} holds a {type(obj).__name__}, not model weights: expected an edsr-lite "
        "checkpoint or a state dict (a mapping from tensor names to tensors)"
    )


def _strip_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the 'module.' / 'model.' prefixes that DataParallel and wrappers add."""
    out = dict(state_dict)
    for prefix in ("module.", "model."):
        if out and all(k.startswith(prefix) for k in out):
            out = {k[len(prefix) :]: v for k, v in out.items()}
    return out


def _upsampler_scale(state_dict: Mapping[str, torch.Tensor], prefix: str, n_feats: int) -> int:
    """Read a scale off an Upsampler's conv shapes: 4F outputs per x2 stage, 9F for x3."""
    stages = sorted(
        int(m.group(1)) for k in state_dict if (m := re.fullmatch(rf"{prefix}\.(\d+)\.weight", k))
    )
    out_channels = state_dict[f"{prefix}.{stages[0]}.weight"].shape[0]
    if out_channels == 9 * n_feats:
        return 3
    return 2 ** len(stages)


def infer_config(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Work out architecture, B, F and scale(s) from an official state dict's names and shapes.

    ``res_scale`` is not stored in weights: it is taken as 0.1 for the wide (F = 256) EDSR,
    as in the paper, and 1 otherwise.
    """
    sd = _strip_prefix(state_dict)
    if "head.0.weight" not in sd:
        raise CheckpointError("not EDSR/MDSR weights: there is no 'head.0.weight' tensor")
    n_feats = sd["head.0.weight"].shape[0]
    n_resblocks = len(
        {k.split(".")[1] for k in sd if re.fullmatch(r"body\.\d+\.body\.0\.weight", k)}
    )
    bn = any(re.fullmatch(r"body\.\d+\.body\.1\.running_mean", k) for k in sd)
    if any(k.startswith("pre_process.") for k in sd):
        arch = "mdsr"
        n_branches = len({k.split(".")[1] for k in sd if k.startswith("upsample.")})
        scales = [_upsampler_scale(sd, f"upsample.{i}", n_feats) for i in range(n_branches)]
    else:
        arch = "edsr"
        scales = [_upsampler_scale(sd, "tail.0", n_feats)]
    res_scale = 0.1 if arch == "edsr" and n_feats == 256 else 1.0
    preset = next(
        (
            name
            for name, p in PRESETS.items()
            if (p.arch, p.n_resblocks, p.n_feats, p.bn) == (arch, n_resblocks, n_feats, bn)
        ),
        f"{arch}_custom",
    )
    return {
        "preset": preset,
        "arch": arch,
        "scales": scales,
        "n_resblocks": n_resblocks,
        "n_feats": n_feats,
        "res_scale": res_scale,
        "bn": bn,
    }


# --------------------------------------------------------------------------- loading


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` naming every key that is missing, extra or mis-shaped."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and state_dict[k].shape != own[k].shape
    ]
    if not (missing or unexpected or mismatched):
        return
    lines = ["the checkpoint does not fit this model:"]
    for title, keys in (("missing", missing), ("unexpected", unexpected), ("shape", mismatched)):
        if keys:
            shown = ", ".join(keys[:6]) + (f" ... (+{len(keys) - 6} more)" if len(keys) > 6 else "")
            lines.append(f"  {title}: {shown}")
    tail_only = all(k.startswith(("tail.", "upsample.")) for k in missing + unexpected + mismatched)
    if tail_only:
        lines.append(
            "  Only the upsampler differs: the checkpoint is for another scale. Build the model "
            "with the checkpoint's scale, or start the new scale from it with "
            "init_from(model, checkpoint) (the paper's pretrained initialization)."
        )
    else:
        lines.append(
            "  Build the model with the checkpoint's preset, or load it with load_model(path), "
            "which reads the architecture from the file."
        )
    raise CheckpointError("\n".join(lines))


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load every tensor (cast to the model's dtype); any mismatch is a clear error."""
    sd = _strip_prefix(state_dict)
    check_state_dict(model, sd)
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()})
    return model


def load_model(
    path_or_name: str | os.PathLike, scale: int | None = None, res_scale: float | None = None
) -> nn.Module:
    """Load a model from our checkpoint, an official ``.pt``, or a shipped checkpoint's name.

    Returns the network in eval mode, float32, on the CPU, with ``model.config`` and
    ``model.meta`` (the training metadata, empty for official files). ``scale``, if given,
    must be one the checkpoint was trained for (an error says which scales it has).
    ``res_scale`` overrides the value assumed for official weights.
    """
    path = resolve_checkpoint(path_or_name)
    ckpt = read_checkpoint(path)
    config = ckpt.get("config") or infer_config(ckpt["state_dict"])
    if res_scale is not None:
        config = {**config, "res_scale": res_scale}
    if scale is not None and scale not in config["scales"]:
        raise CheckpointError(
            f"{path} is a x{'/x'.join(map(str, config['scales']))} model, not x{scale}: use a "
            f"x{scale} checkpoint, or train one from this with init_from "
            "(pretrained initialization)"
        )
    model = build_from_config(config)
    load_state_dict_strict(model, ckpt["state_dict"])
    model.meta = dict(ckpt.get("meta") or {})
    model.meta.setdefault("source", str(path))
    return model.eval()


# --------------------------------------------------------------------------- shipped weights


#: The file a shipped run folder holds: ``data/checkpoints/<name>/best.pt`` (the trainer's best).
SHIPPED_FILE = "best.pt"


def _checkpoint_dir(checkpoint_dir: str | os.PathLike | None) -> Path:
    return Path(checkpoint_dir) if checkpoint_dir is not None else CHECKPOINT_DIR


def run_status(folder: str | os.PathLike) -> str | None:
    """The ``status`` a training run folder's ``run.json`` records (``"running"``,
    ``"finished"``, ``"interrupted"``, ``"diverged"``), or ``None`` without a readable one."""
    try:
        return json.loads((Path(folder) / "run.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def finished_run_info(folder: str | os.PathLike) -> dict | None:
    """A run folder's ``run.json`` if it records a run that finished all its steps (status
    ``"finished"``, not stopped early by ``--max-minutes``), else None (still training,
    interrupted, diverged, or no readable run.json)."""
    try:
        info = json.loads((Path(folder) / "run.json").read_text())
    except (OSError, ValueError):
        return None
    done = (
        isinstance(info, dict)
        and info.get("status") == "finished"
        and info.get("stopped_by", "max_steps") == "max_steps"
    )
    return info if done else None


def _ships(folder: Path) -> bool:
    """A run folder ships once its ``best.pt`` exists and training is over (a folder without
    ``run.json`` is taken as finished: a checkpoint copied in by hand)."""
    if not (folder / SHIPPED_FILE).is_file():
        return False
    return not (folder / "run.json").exists() or finished_run_info(folder) is not None


def _shipped_file(name: str, checkpoint_dir: str | os.PathLike | None = None) -> Path | None:
    folder = _checkpoint_dir(checkpoint_dir)
    flat = folder / f"{name}.pt"
    if flat.is_file():
        return flat
    return folder / name / SHIPPED_FILE if _ships(folder / name) else None


def available_pretrained(checkpoint_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the checkpoints shipped in ``data/checkpoints`` (e.g. ``edsr_baseline_x2``).

    A checkpoint ships as ``<name>/best.pt`` (a finished training run, with its ``log.csv``
    and ``run.json``) or as a plain ``<name>.pt``. A run still training is not listed.
    ``checkpoint_dir`` looks in another folder instead.
    """
    folder = _checkpoint_dir(checkpoint_dir)
    if not folder.is_dir():
        return []
    names = {p.stem for p in folder.glob("*.pt")}
    names |= {p.parent.name for p in folder.glob(f"*/{SHIPPED_FILE}") if _ships(p.parent)}
    return sorted(names)


def resolve_checkpoint(
    path_or_name: str | os.PathLike, checkpoint_dir: str | os.PathLike | None = None
) -> Path:
    """A file path as given (a run folder means its ``best.pt``), or the shipped checkpoint of
    that name (see :func:`available_pretrained`)."""
    path = Path(path_or_name)
    if path.is_dir() and (path / SHIPPED_FILE).is_file():
        return path / SHIPPED_FILE
    if path.exists():
        return path
    shipped = _shipped_file(str(path_or_name), checkpoint_dir)
    if shipped is not None:
        return shipped
    folder = _checkpoint_dir(checkpoint_dir)
    unfinished = folder / str(path_or_name)
    if (unfinished / SHIPPED_FILE).is_file():
        raise CheckpointError(
            f"{unfinished} is a training run that has not finished (run.json status "
            f"{run_status(unfinished)!r}), so it does not ship yet; to use its current best "
            f"weights anyway, pass the file {unfinished / SHIPPED_FILE}"
        )
    names = available_pretrained(checkpoint_dir)
    raise CheckpointError(
        f"no checkpoint file {str(path_or_name)!r} and no shipped checkpoint of that name; "
        + (
            f"shipped: {', '.join(names)}"
            if names
            else f"no checkpoints ship yet ({folder} holds none)"
        )
    )


def load_pretrained(name: str, checkpoint_dir: str | os.PathLike | None = None) -> nn.Module:
    """Load a checkpoint shipped in data/checkpoints by name.

    Example: ``load_pretrained("edsr_baseline_x2")``; ``available_pretrained()`` lists them.
    The model carries the training metadata as ``model.meta`` (preset, scales, metrics,
    train_config, machine, ...).
    """
    if Path(name).suffix:
        raise CheckpointError(
            f"give a shipped checkpoint's name, not a file: use load_model({name!r})"
        )
    return load_model(resolve_checkpoint(name, checkpoint_dir))


def default_pretrained(scale: int | None) -> str:
    """The best shipped checkpoint for ``scale`` (highest recorded Set5 PSNR), by name.

    Single-scale models are preferred over multi-scale ones only through that PSNR. Raises a
    clear error when nothing ships for the scale yet.
    """
    candidates = []
    for name in available_pretrained():
        ckpt = read_checkpoint(resolve_checkpoint(name))
        config = ckpt.get("config") or infer_config(ckpt["state_dict"])
        if scale is None or scale in config["scales"]:
            set5 = (ckpt.get("meta") or {}).get("metrics", {}).get("Set5", {})
            psnr = set5.get(f"x{scale or config['scales'][0]}", float("-inf"))
            candidates.append((psnr, name))
    if not candidates:
        raise CheckpointError(
            f"no shipped checkpoint for x{scale} yet (data/checkpoints holds "
            f"{', '.join(available_pretrained()) or 'none'}): pass --model bicubic, or --model "
            "with a checkpoint file (e.g. official EDSR-PyTorch weights or one you trained)"
        )
    return max(candidates)[1]


def describe_checkpoint(path_or_name: str | os.PathLike) -> str:
    """A readable summary of a checkpoint: preset, scales, size, and what training recorded."""
    from .models import count_parameters

    path = resolve_checkpoint(path_or_name)
    ckpt = read_checkpoint(path)
    official = not ckpt.get("config")
    config = ckpt.get("config") or infer_config(ckpt["state_dict"])
    model = build_from_config(config)
    dtypes = sorted({str(v.dtype).replace("torch.", "") for v in ckpt["state_dict"].values()})
    size_mb = path.stat().st_size / 2**20
    xz = ", xz-compressed" if is_compressed(path) else ""
    lines = [
        f"file:        {path} ({size_mb:.1f} MB, stored as {', '.join(dtypes)}{xz})",
        f"kind:        {'official EDSR-PyTorch weights' if official else 'edsr-lite checkpoint'}",
        f"preset:      {config['preset']} ({config['arch'].upper()}, "
        f"{config['n_resblocks']} blocks x {config['n_feats']} features, "
        f"res_scale {config['res_scale']}{', BN' if config.get('bn') else ''})",
        f"scales:      x{', x'.join(map(str, config['scales']))}",
        f"parameters:  {count_parameters(model):,}",
    ]
    for key, value in (ckpt.get("meta") or {}).items():
        if key in ("preset", "scales"):  # already shown above
            continue
        lines.append(f"{key + ':':<12} {_short(_readable_meta(key, value))}")
    return "\n".join(lines)


def _readable_meta(key: str, value: object) -> object:
    """A training record's long entries, summarized for people (the full record stays in the
    file and in the run's ``run.json``)."""
    if key == "train_config" and isinstance(value, dict):
        skip = ("preset", "scale", "out", "resume")  # shown above, or not part of the recipe
        return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None and k not in skip)
    if key == "data" and isinstance(value, dict) and "folders" in value:
        skipped = value.get("skipped") or []
        text = f"{value.get('images')} images in {', '.join(map(str, value['folders']))}"
        return text + (f"; {len(skipped)} skipped (too small or unreadable)" if skipped else "")
    if key == "init_from" and isinstance(value, dict) and "source" in value:
        report = InitReport(**{k: v for k, v in value.items() if k != "source"})
        return (
            f"{value['source']} (copied {len(report.copied)} tensors, "
            f"left {len(report.left_random)} at random)"
        )
    return value


def _short(value: object, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------ pretrained initialization


@dataclass
class InitReport:
    """What :func:`init_from` did, tensor by tensor."""

    copied: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)  # same name, other shape: left random
    missing_in_source: list[str] = field(default_factory=list)  # left random
    unused_in_source: list[str] = field(default_factory=list)

    @property
    def left_random(self) -> list[str]:
        return self.shape_mismatch + self.missing_in_source

    def summary(self) -> str:
        """A few lines for people: counts, then the names of the tensors left random."""
        lines = [
            f"init_from: copied {len(self.copied)} tensors, left {len(self.left_random)} at "
            f"random, ignored {len(self.unused_in_source)} from the source"
        ]
        if self.shape_mismatch:
            lines.append("  left random (shape differs): " + ", ".join(self.shape_mismatch))
        if self.missing_in_source:
            lines.append("  left random (not in source): " + ", ".join(self.missing_in_source))
        if self.unused_in_source:
            lines.append("  not used from source: " + ", ".join(self.unused_in_source))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "copied": list(self.copied),
            "shape_mismatch": list(self.shape_mismatch),
            "missing_in_source": list(self.missing_in_source),
            "unused_in_source": list(self.unused_in_source),
        }


def init_from(
    model: nn.Module,
    source: nn.Module | Mapping[str, torch.Tensor] | str | os.PathLike,
    verbose: bool = True,
) -> InitReport:
    """Pretrained initialization (paper Sec. 4.1): copy every tensor whose name and shape match.

    ``source`` is a model, a state dict, a checkpoint path or a shipped checkpoint's name.
    The x2 -> x4 case copies the head and the body and leaves the upsampler at random; the
    report says so (the official loader skips those keys silently). Prints the report's
    summary when ``verbose``; returns the :class:`InitReport`.
    """
    if isinstance(source, nn.Module):
        src = getattr(source, "module", source).state_dict()
    elif isinstance(source, Mapping):
        src = _strip_prefix(source)
    else:
        src = _strip_prefix(read_checkpoint(resolve_checkpoint(source))["state_dict"])
    own = model.state_dict()
    report = InitReport()
    to_copy = {}
    for k, v in own.items():
        if k not in src:
            report.missing_in_source.append(k)
        elif src[k].shape != v.shape:
            report.shape_mismatch.append(k)
        else:
            to_copy[k] = src[k].to(v.dtype)
            report.copied.append(k)
    report.unused_in_source = [k for k in src if k not in own]
    model.load_state_dict(to_copy, strict=False)
    if verbose:
        print(report.summary())
    return report
