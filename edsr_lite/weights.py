"""Models from files: load a checkpoint, resolve a name, pretrained initialization.

* :func:`load_model`: a network from an edsr-lite checkpoint, an official EDSR-PyTorch ``.pt``
  (e.g. ``edsr_baseline_x2-1bc95232.pt``, architecture read off its tensors) or a shipped
  checkpoint's name; float32, eval mode, on the CPU, with ``model.meta`` (what training
  recorded). The file format: :mod:`edsr_lite.checkpoints`.
* Shipped checkpoints live in ``data/checkpoints`` as ``<name>/best.pt`` (a finished training
  run, with its ``log.csv`` and ``run.json``) or ``<name>.pt``: :func:`available_pretrained`
  lists them, :func:`load_pretrained` loads one by name (``"edsr_baseline_x2"``),
  :func:`default_pretrained` picks the best for a scale. A run folder ships once its run record
  says it finished (:func:`edsr_lite.runs.finished_run_info`). The summary of a checkpoint for
  people (``edsr-lite info``) is :func:`edsr_lite.summary.describe_checkpoint`.
* The authors' weights (the eight files of the official EDSR-PyTorch release, by name:
  ``"official/edsr_x4"``, :data:`OFFICIAL_WEIGHTS`) are downloaded only when asked
  (``load_pretrained(name, download=True)``, ``edsr-lite weights fetch``) into the user cache
  (:func:`official_dir`), checked against the sha256 prefix in their file names; once there,
  the name works wherever a checkpoint name does (``--model official/edsr_x4``).
* :func:`init_from`: the paper's pretrained initialization (Sec. 4.1): copy every tensor whose
  name and shape match, e.g. x2 -> x4 keeps the head and body and leaves the upsampler random;
  the returned :class:`InitReport` says which. A source of another architecture (another
  preset, other widths: almost nothing matches) is warned about (:class:`InitMismatchWarning`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path

import torch
from torch import nn

from edsr_lite.checkpoints import (
    CheckpointError,
    infer_config,
    load_state_dict_strict,
    read_checkpoint,
    strip_prefix,
)
from edsr_lite.core.init import InitReport, init_from_state_dict
from edsr_lite.core.models import build_from_config
from edsr_lite.locations import CHECKPOINT_DIR
from edsr_lite.official import OFFICIAL_PREFIX, OFFICIAL_WEIGHTS, official_file
from edsr_lite.runs import RUN_JSON, finished_run_info, run_path, run_status


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
    try:
        config = ckpt.get("config") or infer_config(ckpt["state_dict"])
    except CheckpointError as err:  # the weights alone do not say which file they came from
        raise CheckpointError(f"{path} is not a checkpoint edsr-lite can read: {err}") from None
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


def _ships(folder: Path) -> bool:
    """A run folder ships once its ``best.pt`` exists and training is over (a folder without
    ``run.json`` is taken as finished: a checkpoint copied in by hand)."""
    if not (folder / SHIPPED_FILE).is_file():
        return False
    return not run_path(folder).exists() or finished_run_info(folder) is not None


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
    if str(path_or_name).startswith(OFFICIAL_PREFIX):
        return official_file(str(path_or_name))
    shipped = _shipped_file(str(path_or_name), checkpoint_dir)
    if shipped is not None:
        return shipped
    folder = _checkpoint_dir(checkpoint_dir)
    unfinished = folder / str(path_or_name)
    if (unfinished / SHIPPED_FILE).is_file():
        raise CheckpointError(
            f"{unfinished} is a training run that has not finished ({RUN_JSON} status "
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
        + f"; the authors' weights: {', '.join(OFFICIAL_WEIGHTS)} (edsr-lite weights list)"
    )


def load_pretrained(
    name: str, checkpoint_dir: str | os.PathLike | None = None, download: bool = False
) -> nn.Module:
    """Load a checkpoint shipped in data/checkpoints, or the authors' weights, by name.

    Example: ``load_pretrained("edsr_baseline_x2")``; ``available_pretrained()`` lists them.
    The model carries the training metadata as ``model.meta`` (preset, scales, metrics,
    train_config, machine, ...). ``load_pretrained("official/edsr_x4", download=True)``
    loads the authors' file from the user cache, downloading it first if it is not there
    (:data:`OFFICIAL_WEIGHTS`; without ``download=True`` a missing file is an error that
    says how to get it).
    """
    if name.startswith(OFFICIAL_PREFIX):
        return load_model(official_file(name, download=download))
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


# ------------------------------------------------------------------ pretrained initialization


class InitMismatchWarning(UserWarning):
    """:func:`init_from` copied less than the network's body: the source is another
    architecture (another preset, other widths), and the network starts mostly at random."""


#: The parts of a network a pretrained initialization is for (paper Sec. 4.1): the head and
#: the residual body; the upsampler may stay random (x2 -> x4), these should not.
BODY_PARTS = ("head", "body")


def another_architecture(copied: Collection[str], tensors: int) -> bool:
    """Whether an initialization that copied the tensors ``copied`` (names) of a network of
    ``tensors`` tensors copied less than its body: no tensor of its head or body, or under half
    of all its tensors. The paper's x2 -> x3/x4 copies all but the upsampler; copying the mean
    shifts and a bias of another preset is not a pretrained initialization."""
    copied_body = any(str(name).split(".")[0] in BODY_PARTS for name in copied)
    return not copied_body or 2 * len(copied) < tensors


def init_from(
    model: nn.Module,
    source: nn.Module | Mapping[str, torch.Tensor] | str | os.PathLike,
    verbose: bool = True,
) -> InitReport:
    """Pretrained initialization (paper Sec. 4.1) from a model, a state dict, a checkpoint path
    or a shipped checkpoint's name: :func:`edsr_lite.core.init.init_from_state_dict` on its
    weights. Prints the report's summary when ``verbose``; returns the :class:`InitReport`.

    Warns (:class:`InitMismatchWarning`, one line) when it copied less than the network's body
    (:func:`another_architecture`): the source is probably another preset or width.
    """
    if isinstance(source, nn.Module):
        state_dict = getattr(source, "module", source).state_dict()
        label = "the given model"
    elif isinstance(source, Mapping):
        state_dict = strip_prefix(source)
        label = "the given state dict"
    else:
        state_dict = strip_prefix(read_checkpoint(resolve_checkpoint(source))["state_dict"])
        label = str(source)
    report = init_from_state_dict(model, state_dict)
    if verbose:
        print(report.summary())
    tensors = len(report.copied) + len(report.left_random)
    if another_architecture(report.copied, tensors):
        warnings.warn(
            f"init_from copied {len(report.copied)} of {tensors} tensors from {label}: another "
            "architecture? Less than this network's head and body matched (names and shapes) "
            "and the rest starts at random; start from a checkpoint of the same preset and width.",
            InitMismatchWarning,
            stacklevel=2,
        )
    return report
