"""Models from files: load a checkpoint, the shipped checkpoints, pretrained initialization.

* :func:`load_model`: a network from an edsr-lite checkpoint, an official EDSR-PyTorch ``.pt``
  (e.g. ``edsr_baseline_x2-1bc95232.pt``, architecture read off its tensors) or a shipped
  checkpoint's name; float32, eval mode, on the CPU, with ``model.meta`` (what training
  recorded). The file format: :mod:`edsr_lite.checkpoints`.
* Shipped checkpoints live in ``data/checkpoints`` as ``<name>/best.pt`` (a finished training
  run, with its ``log.csv`` and ``run.json``) or ``<name>.pt``: :func:`available_pretrained`
  lists them, :func:`load_pretrained` loads one by name (``"edsr_baseline_x2"``),
  :func:`default_pretrained` picks the best for a scale, :func:`describe_checkpoint` summarises
  one (``edsr-lite info``).
* :func:`init_from`: the paper's pretrained initialization (Sec. 4.1): copy every tensor whose
  name and shape match, e.g. x2 -> x4 keeps the head and body and leaves the upsampler random;
  the returned :class:`InitReport` says which.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from edsr_lite.checkpoints import (
    CheckpointError,
    _strip_prefix,
    infer_config,
    is_compressed,
    load_state_dict_strict,
    read_checkpoint,
)
from edsr_lite.locations import CHECKPOINT_DIR
from edsr_lite.models import build_from_config


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
    """``checkpoint_dir`` if given, else the shipped checkpoints: the clone's data/checkpoints,
    or the copy inside the installed package (:data:`edsr_lite.locations.CHECKPOINT_DIR`)."""
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
    from edsr_lite.models import count_parameters

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
