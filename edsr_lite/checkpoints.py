"""The checkpoint file format: writing, reading, and fitting weights to a model.

An edsr-lite checkpoint is a ``torch.save``d dict, read back with ``weights_only=True``::

    {"format": "edsr-lite", "format_version": 1,
     "config": {"preset", "arch", "scales", "n_resblocks", "n_feats", "res_scale", "bn"},
     "state_dict": {name: tensor},   # plain NCHW tensors on the CPU, float32 or float16
     "meta": {...},                  # plain data only: training config, step, metrics, ...
     ...}                            # extra entries, e.g. the optimizer state for resuming

``config`` rebuilds the network, so a file needs nothing else to load. A file may be stored
xz-compressed (recognised by its first bytes, :data:`XZ_MAGIC`, whatever its name;
``xz -dc best.pt > plain.pt`` undoes it). Files are written atomically (a temporary file,
then a rename). :func:`read_checkpoint` also reads official EDSR-PyTorch weights and other
trainers' wrapped state dicts (``config`` is then ``None``; :func:`infer_config` reads the
architecture off the tensor names and shapes). :func:`load_state_dict_strict` loads weights
into a model or raises :class:`CheckpointError` naming every missing, extra or mis-shaped
tensor. Loading a model by path or name: :mod:`edsr_lite.weights`.
"""

from __future__ import annotations

import io
import lzma
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from edsr_lite.core.models import PRESETS, preset_of
from edsr_lite.errors import EdsrLiteError
from edsr_lite.files import atomic_write

FORMAT = "edsr-lite"
FORMAT_VERSION = 1
XZ_MAGIC = b"\xfd7zXZ\x00"  # the first 6 bytes of every .xz stream


class CheckpointError(EdsrLiteError, ValueError):
    """A checkpoint that cannot be read, or does not fit the model it is loaded into."""


# --------------------------------------------------------------------------- saving


def atomic_torch_save(obj: object, path: str | os.PathLike, compress: bool = False) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place.

    ``compress=True`` stores the bytes xz-compressed (lzma preset 9: seconds for a few MB).
    """

    def write(f) -> None:
        if compress:
            buffer = io.BytesIO()
            torch.save(obj, buffer)
            f.write(lzma.compress(buffer.getvalue(), preset=9))
        else:
            torch.save(obj, f)

    return atomic_write(path, write)


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
        with warnings.catch_warnings():  # torch warns about the pickle protocol of odd files
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise CheckpointError(
            f"{path} is not a checkpoint edsr-lite can read: {_load_error_reason(exc)}"
        ) from None
    return _normalize(obj, path)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _load_error_reason(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one short sentence. torch's own
    message advises loading with ``weights_only=False``, which runs any code the file holds:
    never repeated here (nor its terminal colour codes)."""
    text = _ANSI.sub("", str(exc))
    unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if unsafe:
        return (
            f"it holds a pickled Python object ({unsafe.group(1)}), not plain weights; such files "
            "can run code when loaded, so edsr-lite reads only tensors and plain data"
        )
    if "Weights only load failed" in text or "Unsupported operand" in text:
        return "its bytes are not a PyTorch file (no tensors or plain data in them)"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "no detail")
    first = first.split(". ")[0].rstrip(".")  # torch's first sentence says what failed
    return (
        f"{type(exc).__name__}: {first[:200]}. If it is a checkpoint, it is probably truncated: "
        "copy or download it again."
    )


def is_compressed(path: str | os.PathLike) -> bool:
    """Whether a checkpoint file is xz-compressed (read off its first bytes, not its name)."""
    with open(path, "rb") as f:
        return f.read(len(XZ_MAGIC)) == XZ_MAGIC


#: The most bytes an xz-compressed checkpoint may decompress to: 1 GiB, six times the largest
#: official model (EDSR x4, 173 MB in float32). A few kB of xz can hold gigabytes of zeros;
#: the cap is checked as the bytes come, before they are all in memory.
MAX_DECOMPRESSED_BYTES = 2**30

# What a torch.save file starts with: a zip archive (PyTorch >= 1.6) or a pickle (older).
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


def _open_uncompressed(path: Path) -> Path | io.BytesIO:
    """The file itself, or its decompressed bytes in memory if it is xz-compressed (at most
    :data:`MAX_DECOMPRESSED_BYTES`, and only while they look like a PyTorch file)."""
    if not is_compressed(path):
        return path
    try:
        return _decompress_capped(path, MAX_DECOMPRESSED_BYTES)
    except lzma.LZMAError as exc:
        raise CheckpointError(
            f"{path} is xz-compressed but does not decompress ({exc}): it is probably truncated, "
            "copy or download it again"
        ) from None


def _decompress_capped(path: Path, cap: int) -> io.BytesIO:
    """The xz stream of ``path`` decompressed in 16 MiB pieces; a :class:`CheckpointError` as
    soon as it passes ``cap`` bytes, or when its first bytes are not a PyTorch file's."""
    decompressor = lzma.LZMADecompressor()
    out, head = io.BytesIO(), b""
    with open(path, "rb") as f:
        while not decompressor.eof:
            chunk = f.read(2**20) if decompressor.needs_input else b""
            if decompressor.needs_input and not chunk:
                raise lzma.LZMAError("the compressed data ends early")
            data = decompressor.decompress(chunk, max_length=2**24)
            head += data[: 4 - len(head)]
            out.write(data)
            if len(head) == 4 and not head.startswith(_TORCH_MAGIC):
                raise CheckpointError(
                    f"{path} is xz-compressed, but what it holds is not a PyTorch file; "
                    "is it the right file?"
                )
            if out.tell() > cap:
                raise CheckpointError(
                    f"{path} decompresses to more than {cap / 2**30:g} GiB, the limit for an "
                    "xz-compressed checkpoint (edsr_lite.checkpoints.MAX_DECOMPRESSED_BYTES, "
                    "six times the largest official model). If the file is really a "
                    "checkpoint, decompress it yourself (xz -dc file > plain.pt) and load that."
                )
    out.seek(0)
    return out


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


def strip_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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
    if not stages:
        raise CheckpointError(
            f"its tensors are not a whole EDSR/MDSR network: no upsampler ({prefix}.N.weight) found"
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
    sd = strip_prefix(state_dict)
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
    sd = strip_prefix(state_dict)
    check_state_dict(model, sd)
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()})
    return model
