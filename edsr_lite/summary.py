"""The summary of a checkpoint for people (``edsr-lite info``, ``el.describe_checkpoint``).

What a reader wants to know before using a set of weights: the network, the data it was trained
on, how long and on what machine, how the weights were selected and their validation score.
It is read off the checkpoint's ``meta`` (what training recorded, :mod:`edsr_lite.checkpoints`)
and, for a shipped run, its run record (:mod:`edsr_lite.runs`: the whole run's steps and time).
Names resolve as everywhere else (:func:`edsr_lite.weights.resolve_checkpoint`).

For example, ``edsr-lite info edsr_baseline_x2``::

    model:       edsr_baseline: EDSR, 16 residual blocks x 64 features, res_scale 1.0; x2
    parameters:  1,369,883
    file:        edsr_baseline_x2/best.pt (2.6 MB, float16)
    trained on:  T91 + BSD200: 291 images (290 used, 1 too small for x2), 48x48 LR patches, ...
    steps:       12,000 in 4.2 h on a 2-core CPU (AMD EPYC)
    selected:    the step with the best Set5 PSNR, checked every 1,000 steps: step 10,000 of 12,000
    score:       Set5 x2 37.44 dB (Y channel, validation during training)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from edsr_lite.checkpoints import CheckpointError, infer_config, is_compressed, read_checkpoint
from edsr_lite.core.models import build_from_config, count_parameters
from edsr_lite.locations import CHECKPOINT_DIR
from edsr_lite.runs import read_run
from edsr_lite.training_data import describe_counts
from edsr_lite.weights import SHIPPED_FILE, another_architecture, resolve_checkpoint

__all__ = ["describe_checkpoint"]


def describe_checkpoint(path_or_name: str | os.PathLike, full: bool = False) -> str:
    """A short summary of a checkpoint for people: the network, the data it was trained on, how
    long, on what machine, how the weights were selected and their validation score.

    No machine paths, commit hashes or raw records: the full record is one call away,
    ``describe_checkpoint(name, full=True)`` (appended as JSON) or
    ``read_checkpoint(path)["meta"]`` (a shipped run's ``run.json`` holds it too).
    """
    path = resolve_checkpoint(path_or_name)
    ckpt = read_checkpoint(path)
    config = ckpt.get("config") or _inferred_config(path, ckpt["state_dict"])
    meta = dict(ckpt.get("meta") or {})
    # A shipped run's record: the steps and time of the whole run, not only up to best.pt.
    run = (read_run(path.parent) if path.name == SHIPPED_FILE else None) or {}
    lines = _network_lines(path, ckpt, config)
    if not ckpt.get("config"):
        lines.append("trained:     by the authors (official EDSR-PyTorch weights, no record)")
    elif not meta:
        lines.append("trained:     no training record in this file")
    else:
        lines += _training_lines(meta, run)
    if full:
        lines += ["full record:", json.dumps(meta, indent=2, default=str)]
    return "\n".join(lines)


def _inferred_config(path: Path, state_dict: Mapping) -> dict:
    """The network of weights saved without a config (the authors' files), from the tensors'
    names and shapes; a :class:`CheckpointError` naming the file when a tensor it needs is
    missing."""
    try:
        return infer_config(state_dict)
    except (CheckpointError, IndexError, KeyError) as err:  # e.g. only head.0.weight
        raise CheckpointError(f"{path} is not a checkpoint edsr-lite can read: {err}") from None


def _network_lines(path: Path, ckpt: Mapping, config: Mapping) -> list[str]:
    """The summary's lines about the network and the file that holds it."""
    dtypes = sorted({str(v.dtype).replace("torch.", "") for v in ckpt["state_dict"].values()})
    xz = ", xz-compressed" if is_compressed(path) else ""
    return [
        f"model:       {config['preset']}: {config['arch'].upper()}, {config['n_resblocks']} "
        f"residual blocks x {config['n_feats']} features, res_scale {config['res_scale']}"
        f"{', with BN' if config.get('bn') else ''}; x{', x'.join(map(str, config['scales']))}",
        f"parameters:  {count_parameters(build_from_config(config)):,}",
        f"file:        {_shown_path(path)} ({path.stat().st_size / 2**20:.1f} MB, "
        f"{', '.join(dtypes)}{xz})",
    ]


def _shown_path(path: Path) -> str:
    """``path`` relative to the shipped checkpoints or the working folder, else its name."""
    for root in (CHECKPOINT_DIR, Path.cwd()):
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def _training_lines(meta: Mapping, run: Mapping) -> list[str]:
    """The summary's lines about training, from a checkpoint's meta (and its run.json)."""
    tc = meta.get("train_config") or {}
    data = meta.get("data") or {}
    names = [_set_name(f) for f in data.get("folders") or tc.get("data") or []]
    # used, too small and unreadable apart: "4 images (2 used, 1 too small for x2, 1 unreadable)"
    recipe = [describe_counts(data) if "images" in data or "files" in data else ""]
    recipe += [f"{tc['patch_size']}x{tc['patch_size']} LR patches"] if "patch_size" in tc else []
    recipe += [f"batch {tc['batch_size']}"] if "batch_size" in tc else []
    recipe += [f"lr {tc['lr']}"] if "lr" in tc else []
    recipe = [part for part in recipe if part]
    lines = [f"trained on:  {' + '.join(names) or 'data not recorded'}" + ": " * bool(recipe)]
    lines[0] += ", ".join(recipe)
    counts = (run.get("step"), tc.get("max_steps"), meta.get("step"))  # the first that is one
    steps = next((n for n in counts if isinstance(n, int) and not isinstance(n, bool)), None)
    seconds = _number(run.get("seconds"))  # a record edited by hand may hold anything
    took = f" in {seconds / 3600:.1f} h" if seconds else ""
    where = f" on {_machine(meta)}" if meta.get("machine") or meta.get("segments") else ""
    lines += [f"steps:       {steps:,}{took}{where}"] if isinstance(steps, int) else []
    lines += _started_line(meta.get("init_from"))
    metrics = {k: v for k, v in (meta.get("metrics") or {}).items() if isinstance(v, dict)}
    best = _int(meta.get("best_step") or meta.get("step"))
    for val_set, by_scale in metrics.items():
        scores = ", ".join(f"{s} {p:.2f} dB" for s, p in by_scale.items() if _number(p) is not None)
        lines.append(
            f"selected:    the step with the best {val_set} PSNR, checked every "
            f"{_int(tc.get('val_every'))} steps: step {best}"
            + (f" of {steps:,}" if isinstance(steps, int) else "")
        )
        lines.append(f"score:       {val_set} {scores} (Y channel, validation during training)")
    return lines


def _number(value: object) -> float | None:
    """``value`` when it is a number (not a bool), else None."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _set_name(folder: object) -> str:
    """A training set as the summary names it: ``T91`` for ``data/T91``; ``T91 (from
    $EDSR_LITE_DATA)`` for a set found there (it may shadow the shipped one)."""
    text = str(folder)
    where = " (from $EDSR_LITE_DATA)" if text.startswith("$EDSR_LITE_DATA/") else ""
    return Path(text).name + where


def _started_line(init: object) -> list[str]:
    """``started:`` and where the weights came from; a source of another architecture, whose
    few matching tensors were copied (:func:`edsr_lite.weights.another_architecture`), is said
    to be one, with the count: the network started mostly at random."""
    if not isinstance(init, Mapping) or not init.get("source"):
        return []
    source = str(init["source"])
    label = Path(source).parent.name or source
    names = {k: v if isinstance(v, list) else [] for k, v in init.items()}  # hand edits
    copied = names.get("copied", [])
    tensors = (
        len(copied) + len(names.get("shape_mismatch", [])) + len(names.get("missing_in_source", []))
    )
    if tensors and another_architecture(copied, tensors):
        return [
            f"started:     {len(copied)} of {tensors} tensors from {label} (another "
            "architecture); the rest random"
        ]
    return [f"started:     from the weights of {label}"]


def _int(value: object) -> str:
    """``10,000`` for a count, ``?`` when the record lacks it."""
    return f"{value:,}" if isinstance(value, int) else "?"


def _machine(meta: Mapping) -> str:
    """The kind of machine the run used, e.g. ``a 2-core CPU (AMD EPYC), bfloat16``."""
    segments = meta.get("segments") or [{"machine": meta.get("machine") or {}}]
    kinds = []
    for segment in segments:
        m = segment.get("machine") or {}
        kind = m.get("gpu") or f"a {m.get('cpu_cores', '?')}-core CPU ({m.get('cpu', '?')})"
        kind += f", {segment['precision']}" if segment.get("precision") else ""
        if kind not in kinds:
            kinds.append(kind)
    return "; then ".join(kinds)
