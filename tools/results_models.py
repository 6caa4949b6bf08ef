"""Which models the results table scores, and what data/RESULTS.json records about each.

The table's methods are :class:`Group` s of checkpoints (one per scale, or one multi-scale
model for all): ours that ship (:data:`MAIN_GROUPS`) and the authors' released files
(:data:`OFFICIAL_GROUPS`, scored when they are in the user cache). For each checkpoint file the
JSON keeps its sha256, size, architecture, training configuration and validation curve
(:func:`describe_for_results`), so that the rendered text is computed from the file alone.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edsr_lite.checkpoints import infer_config, read_checkpoint
from edsr_lite.core.models import build, build_from_config, count_parameters
from edsr_lite.core.published import (
    PAPER_BICUBIC,
    PAPER_EDSR,
    PAPER_EDSR_PLUS,
    PAPER_SRCNN,
    PAPER_VDSR,
    REFERENCE_EDSR_BASELINE,
)
from edsr_lite.datasets import find_dataset, list_images
from edsr_lite.files import sha256_file
from edsr_lite.official import (
    OFFICIAL_WEIGHTS,
    cached_official,
)
from edsr_lite.runs import read_run
from edsr_lite.weights import SHIPPED_FILE, available_pretrained, resolve_checkpoint

SCALES = (2, 3, 4)  # the table's scales (tools/results_tables.py renders the same ones)
ROOT = Path(__file__).resolve().parents[1]  # the checkout: tools/..


@dataclass(frozen=True)
class Group:
    """Checkpoints that form one method of the table: ``checkpoints[scale]`` is a shipped name."""

    key: str
    label: str
    preset: str  # the architecture whose parameters the table counts
    checkpoints: dict[int, str]

    def names(self, scales: Sequence[int]) -> list[str]:
        """The distinct checkpoint names needed for ``scales``, in scale order."""
        return list(dict.fromkeys(self.checkpoints[s] for s in scales if s in self.checkpoints))


MAIN_GROUPS: tuple[Group, ...] = (
    Group(
        "edsr_baseline",
        "EDSR-baseline",
        "edsr_baseline",
        {s: f"edsr_baseline_x{s}" for s in SCALES},
    ),
    Group(
        "mdsr_baseline", "MDSR-baseline", "mdsr_baseline", dict.fromkeys(SCALES, "mdsr_baseline")
    ),
)


#: The authors' files, as columns beside ours (scored when they are in the user cache).
OFFICIAL_GROUPS: tuple[Group, ...] = (
    Group(
        "official_edsr_baseline",
        "EDSR-baseline",
        "edsr_baseline",
        {s: f"official/edsr_baseline_x{s}" for s in SCALES},
    ),
    Group("official_edsr", "EDSR", "edsr", {s: f"official/edsr_x{s}" for s in SCALES}),
    Group(
        "official_mdsr_baseline",
        "MDSR-baseline",
        "mdsr_baseline",
        dict.fromkeys(SCALES, "official/mdsr_baseline"),
    ),
    Group("official_mdsr", "MDSR", "mdsr", dict.fromkeys(SCALES, "official/mdsr")),
)


def find_official_models() -> dict[str, Path]:
    """The authors' files of :data:`OFFICIAL_GROUPS` present in the user cache (no download)."""
    cached = set(cached_official())
    wanted = [n for g in OFFICIAL_GROUPS for n in g.names(SCALES)]
    return {n: OFFICIAL_WEIGHTS[n].path for n in dict.fromkeys(wanted) if n in cached}


def describe_official(name: str, path: Path) -> dict:
    """What RESULTS.json records about an authors' file: :func:`describe_for_results` (sha256,
    size, architecture) with its file name and URL instead of this machine's cache path."""
    entry = OFFICIAL_WEIGHTS[name]
    return describe_for_results(name, path) | {"file": entry.file, "url": entry.url}


def find_main_models(checkpoint_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The main checkpoints that ship (in ``checkpoint_dir``, default ``data/checkpoints``)."""
    shipped = set(available_pretrained(checkpoint_dir))
    wanted = [n for g in MAIN_GROUPS for n in g.names(SCALES)]
    return {n: resolve_checkpoint(n, checkpoint_dir) for n in dict.fromkeys(wanted) if n in shipped}


def _relative(path: Path) -> str:
    """``data/checkpoints/<name>/best.pt``: relative to the checkout when inside it."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _validation_curve(folder: Path) -> list[list[float]]:
    """``[[step, psnr], ...]``: the validation rows of the run's ``log.csv`` (if it has one)."""
    try:
        with open(folder / "log.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    return [[int(r["step"]), float(r["psnr"])] for r in rows if r.get("psnr")]


def _megapixels(folders: Sequence[str]) -> float | None:
    """Total HR megapixels of the training images (``None`` if a set is not here). A run
    records its sets by name (``BSD200``) or by path relative to the checkout (``data/T91``)."""
    from PIL import Image

    total = 0
    for folder in folders:
        try:
            found = ROOT / folder if (ROOT / folder).is_dir() else find_dataset(folder)
        except FileNotFoundError:
            return None
        for path in list_images(found):
            with Image.open(path) as img:
                total += img.width * img.height
    return round(total / 1e6, 1)


def describe_for_results(name: str, path: Path) -> dict:
    """What RESULTS.json records about a checkpoint: file, sha256, architecture, training."""
    ckpt = read_checkpoint(path)
    meta = dict(ckpt.get("meta") or {})
    config = ckpt.get("config") or infer_config(ckpt["state_dict"])
    train_config = dict(meta.get("train_config") or {})
    data = dict(meta.get("data") or {})
    run_folder = path.name == SHIPPED_FILE  # a training run's folder: run.json and log.csv
    run = (read_run(path.parent) if run_folder else None) or {}
    return {
        "name": name,
        "file": _relative(path),
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "dtype": sorted({str(v.dtype).replace("torch.", "") for v in ckpt["state_dict"].values()}),
        "preset": config["preset"],
        "architecture": {k: config.get(k) for k in ("arch", "n_resblocks", "n_feats", "res_scale")}
        | {"bn": bool(config.get("bn"))},
        "scales": [int(s) for s in config["scales"]],
        "parameters": count_parameters(build_from_config(config)),
        "step": meta.get("step"),
        "best_step": meta.get("best_step"),
        "train_steps": run.get("step"),
        "train_config": train_config,
        "init_from": train_config.get("init_from"),
        "train_images": data.get("images"),
        "train_megapixels": _megapixels(data["folders"]) if data.get("folders") else None,
        "validation": meta.get("metrics"),
        "validation_curve": _validation_curve(path.parent) if run_folder else [],
        "train_seconds": run.get("seconds"),
        "machine": meta.get("machine"),
        "git": meta.get("git"),
        "torch": meta.get("torch"),
    }


def parameters() -> dict:
    """Parameter counts of the two architectures (the same for every trained copy)."""
    edsr = {f"x{s}": count_parameters(build("edsr_baseline", s)) for s in SCALES}
    mdsr = count_parameters(build("mdsr_baseline"))
    return {
        "edsr_baseline": edsr,
        "edsr_baseline_total": sum(edsr.values()),
        "mdsr_baseline": mdsr,
        "mdsr_over_three_edsr": mdsr / sum(edsr.values()),
    }


def official_data(infos: dict[str, dict], scales: Sequence[int]) -> dict:
    """RESULTS.json's ``official``: the groups of :data:`OFFICIAL_GROUPS` whose files were
    scored (``label``, ``checkpoints`` by scale) and each file's description."""
    groups = []
    for g in OFFICIAL_GROUPS:
        present = {f"x{k}": g.checkpoints[k] for k in scales if g.checkpoints.get(k) in infos}
        if present:
            groups.append(
                {"key": g.key, "label": g.label, "preset": g.preset, "checkpoints": present}
            )
    return {"groups": groups, "checkpoints": infos}


# --------------------------------------------------------------------------- published numbers
# Copied from edsr_lite.core.published into RESULTS.json when it is made, so that the rendering
# below needs the JSON alone.


def _values(table: dict[tuple[str, int], tuple[float, float]]) -> dict[str, list[float]]:
    """A published table as RESULTS.json keeps it: ``{"Set5 x2": [psnr, ssim], ...}``."""
    return {f"{s} x{k}": [p, q] for (s, k), (p, q) in table.items()}


def reference_columns() -> list[dict]:
    """The published columns of the main table, after ours: the paper's bicubic, EDSR and
    EDSR+, and the official EDSR-baseline weights."""
    return [
        {
            "key": "paper_bicubic",
            "label": "Bicubic (paper)",
            "source": "Lim et al. 2017, Table 6 (from VDSR; protocol paper_bicubic)",
            "values": _values(PAPER_BICUBIC),
        },
        {
            "key": "edsr_baseline_official",
            "label": "EDSR-baseline (official weights)",
            "source": "the authors' released EDSR-baseline x2/x3/x4 files, measured by torchSR",
            "values": _values(REFERENCE_EDSR_BASELINE),
        },
        {
            "key": "paper_edsr",
            "label": "EDSR (paper)",
            "source": "Lim et al. 2017, Table 6: the full-size EDSR (43 M parameters)",
            "values": _values(PAPER_EDSR),
        },
        {
            "key": "paper_edsr_plus",
            "label": "EDSR+ (paper)",
            "source": "Lim et al. 2017, Table 6: EDSR with self-ensemble",
            "values": _values(PAPER_EDSR_PLUS),
        },
    ]


def classic_cnn_columns() -> list[dict]:
    """The published SRCNN and VDSR numbers the shipped EDSR-baselines are held against."""
    return [
        {
            "key": "paper_srcnn",
            "label": "SRCNN (paper)",
            "source": "Dong et al. 2016, as in Lim et al. 2017, Table 6",
            "values": _values(PAPER_SRCNN),
        },
        {
            "key": "paper_vdsr",
            "label": "VDSR (paper)",
            "source": "Kim et al. 2016 (trained on T91 + BSD200), as in Lim et al. 2017, Table 6",
            "values": _values(PAPER_VDSR),
        },
    ]
