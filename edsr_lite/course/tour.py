"""The tour (``notebooks/00_tour.ipynb``): one image through super-resolution, step by step.

* :func:`sr_versions`: an HR image, its LR version (MATLAB bicubic, as in training and
  evaluation), and its bicubic and network upscalings, all of HR's size.
* :func:`scores`: PSNR and SSIM of each upscaling against HR, under the paper's protocol.
* :func:`psnr_steps`: PSNR computed one step at a time (Y channel, shave, MSE, dB), with every
  intermediate value, so that a reader can check :func:`edsr_lite.core.metrics.psnr` by hand.
* :func:`error_maps`: where on the image each upscaling is wrong (absolute Y error), and
  :func:`errors_by_region`: its mean on the edges and on the flat areas.
* :func:`benchmark_table`: bicubic and a model on whole benchmark sets, beside the official
  EDSR-baseline weights.
* :func:`zoo`: the model presets with their sizes and parameter counts.
* :func:`shipped_models`: the trained checkpoints that ship, with how they were trained;
  :func:`training_record`: one of them, as numbers a sentence can quote.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from torch import nn

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.metrics import psnr, rgb_to_y, shave, ssim
from edsr_lite.core.models import preset_summary
from edsr_lite.core.published import REFERENCE_EDSR_BASELINE
from edsr_lite.evaluation import evaluate
from edsr_lite.images import as_rgb_array
from edsr_lite.infer import upscale
from edsr_lite.runs import finished_run_info
from edsr_lite.weights import available_pretrained, resolve_checkpoint


def sr_versions(hr: np.ndarray, scale: int, models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
    """``{"HR", "LR", "bicubic", <model names>...}`` for one image, as uint8 H x W x 3 arrays.

    ``hr`` (uint8 RGB, or gray) is mod-cropped to a multiple of ``scale``; "LR" is its MATLAB
    bicubic downscale (h/s x w/s); "bicubic" and each of ``models`` upscale LR back to HR's
    size (the networks through :func:`edsr_lite.infer.upscale`, tiled if the image is large).
    """
    hr = modcrop(as_rgb_array(hr), scale)
    lr = imresize(hr, 1 / scale)
    versions = {"HR": hr, "LR": lr, "bicubic": imresize(lr, scale)}
    for name, model in models.items():
        versions[name] = upscale(model, lr, scale=scale)
    return versions


def scores(versions: dict[str, np.ndarray], scale: int) -> list[dict]:
    """PSNR (dB) and SSIM against ``versions["HR"]`` of every upscaled version, on the Y
    channel with ``scale`` border pixels shaved (the paper's protocol). One row per version."""
    hr = versions["HR"]
    return [
        {"method": name, "PSNR (dB)": psnr(sr, hr, scale), "SSIM": ssim(sr, hr, scale)}
        for name, sr in versions.items()
        if name not in ("HR", "LR")
    ]


def psnr_steps(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict:
    """PSNR of ``sr`` against ``hr`` (uint8 RGB, same shape), one step at a time.

    Returns the intermediate values: ``y_sr``, ``y_hr`` (float64 Y planes, 16..235),
    ``shaved_shape`` (after removing ``scale`` pixels from each border), ``mse`` (mean squared
    error of the shaved Y planes), ``rmse`` (grey levels) and ``psnr`` = 10 log10(255^2 / MSE).
    """
    y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
    diff = shave(y_sr, scale) - shave(y_hr, scale)
    mse = float(np.mean(diff**2))
    return {
        "y_sr": y_sr,
        "y_hr": y_hr,
        "shaved_shape": diff.shape,
        "mse": mse,
        "rmse": math.sqrt(mse),
        "psnr": 10 * math.log10(255**2 / mse) if mse > 0 else math.inf,
    }


def error_maps(versions: dict[str, np.ndarray], scale: int) -> dict[str, np.ndarray]:
    """``{name: |Y_sr - Y_hr|}`` for every upscaled version: float64 maps of HR's size minus
    ``scale`` pixels on each border (the part PSNR scores), in grey levels 0..219."""
    y_hr = rgb_to_y(versions["HR"])
    return {
        name: shave(np.abs(rgb_to_y(sr) - y_hr), scale)
        for name, sr in versions.items()
        if name not in ("HR", "LR")
    }


def errors_by_region(
    versions: dict[str, np.ndarray], scale: int, edges: float = 0.1, flat: float = 0.5
) -> list[dict]:
    """Mean absolute Y error (grey levels) of each upscaling over the scored pixels (the
    :func:`error_maps`), on the edges and on the flat areas of HR.

    The regions are HR's, the same for every method: a pixel is on an *edge* when its Y
    gradient magnitude is among the strongest ``edges`` fraction of the image's (a tenth by
    default), *flat* among the weakest ``flat`` fraction (half). One row per method:
    ``{"method", "whole image", "edges", "flat areas"}``.
    """
    rows_, cols_ = np.gradient(rgb_to_y(versions["HR"]))
    gradient = shave(np.hypot(rows_, cols_), scale)
    on_edge = gradient >= np.quantile(gradient, 1 - edges)
    is_flat = gradient <= np.quantile(gradient, flat)
    return [
        {
            "method": name,
            "whole image": float(err.mean()),
            "edges": float(err[on_edge].mean()),
            "flat areas": float(err[is_flat].mean()),
        }
        for name, err in error_maps(versions, scale).items()
    ]


def benchmark_table(model: nn.Module, name: str, sets: tuple[str, ...], scale: int) -> list[dict]:
    """One row per benchmark set: its image count, then mean PSNR (dB) and SSIM of bicubic, of
    ``model`` (its columns titled ``name``) and of the official EDSR-baseline weights (measured
    by torchSR, :data:`edsr_lite.core.published.REFERENCE_EDSR_BASELINE`; None where unknown), all
    under the paper's protocol (:func:`edsr_lite.evaluation.evaluate`)."""
    bicubic = {r["set"]: r for r in evaluate("bicubic", sets, (scale,))}
    ours = {r["set"]: r for r in evaluate(model, sets, (scale,))}
    rows = []
    for set_name in sets:
        official = REFERENCE_EDSR_BASELINE.get((set_name, scale), (None, None))
        rows.append(
            {
                "set": set_name,
                "images": ours[set_name]["n_images"],
                "bicubic dB": bicubic[set_name]["psnr"],
                "bicubic SSIM": bicubic[set_name]["ssim"],
                f"{name} dB": ours[set_name]["psnr"],
                f"{name} SSIM": ours[set_name]["ssim"],
                "official dB": official[0],
                "official SSIM": official[1],
            }
        )
    return rows


def zoo() -> list[dict]:
    """One row per model preset: blocks x features, residual scaling (``res_scale``), scales and
    parameters."""
    rows = []
    for row in preset_summary():
        params = row["params"]
        rows.append(
            {
                "preset": row["preset"],
                "blocks x features": f"{row['n_resblocks']} x {row['n_feats']}",
                "residual scaling": row["res_scale"],
                "scales": "x2, x3, x4 (one model)" if row["arch"] == "mdsr" else "one per model",
                "parameters": ", ".join(
                    f"{n / 1e6:.2f} M" + (f" (x{s})" if s != "all" else "")
                    for s, n in params.items()
                ),
                "what": row["note"],
            }
        )
    return rows


def _where(machine: dict | None) -> str:
    if not machine:
        return "not recorded"
    if machine.get("gpu"):
        return f"GPU: {machine['gpu']}"
    return f"CPU: {machine.get('cpu', '?')}, {machine.get('cpu_cores', '?')} cores"


def _training_info(name: str, checkpoint_dir: str | os.PathLike | None) -> dict:
    """What a checkpoint records of its training: its run folder's ``run.json`` (the whole
    run) for a shipped ``best.pt``, else the checkpoint's metadata (``{}`` if none)."""
    path = resolve_checkpoint(name, checkpoint_dir)
    run = finished_run_info(Path(path).parent) if path.name == "best.pt" else None
    return run or read_checkpoint(path).get("meta") or {}


def shipped_models(checkpoint_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per shipped checkpoint (see :func:`edsr_lite.weights.available_pretrained`):
    its preset and scales, the steps it trained, its best Set5 PSNR during training (dB, on the
    validation images its run recorded), the training time (hours) and where it trained.

    A run folder's numbers come from its ``run.json`` (the whole run); a plain ``<name>.pt``
    (official weights, say) shows what its metadata holds, or "not recorded".
    """
    rows = []
    for name in available_pretrained(checkpoint_dir):
        info = _training_info(name, checkpoint_dir)
        seconds = info.get("seconds")
        best = info.get("best_psnr")
        rows.append(
            {
                "name": name,
                "preset": info.get("preset", "?"),
                "scales": ", ".join(f"x{s}" for s in info.get("scales", [])) or "?",
                "steps": info.get("step", "?"),
                "best Set5 PSNR in training (dB)": f"{best:.2f}" if best is not None else "?",
                "training time (h)": f"{seconds / 3600:.1f}" if seconds else "?",
                "trained on": _where(info.get("machine")),
            }
        )
    return rows


def training_record(name: str, checkpoint_dir: str | os.PathLike | None = None) -> dict:
    """How a shipped checkpoint was trained, as numbers a computed sentence can quote.

    From its run's ``run.json`` (or the checkpoint's metadata): ``steps`` (int or None),
    ``images`` (training images, or None), ``data`` (the training sets' names joined by " + ",
    e.g. "T91 + BSD200"), ``hours`` (training time, or None).
    """
    info = _training_info(name, checkpoint_dir)
    config = info.get("train_config") or {}
    folders = (info.get("data") or {}).get("folders") or config.get("data") or []
    seconds = info.get("seconds")
    return {
        "steps": info.get("step"),
        "images": (info.get("data") or {}).get("images"),
        "data": " + ".join(Path(str(f)).name for f in folders) or "not recorded",
        "hours": seconds / 3600 if seconds else None,
    }
