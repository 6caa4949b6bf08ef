"""The results table: shipped models on Set5 / Set14 / B100 beside bicubic and published numbers.

``make results`` (``tools/make_results.py``) runs :func:`main`, once, after training:

1. find the *main* shipped checkpoints (:data:`MAIN_GROUPS`: ``edsr_baseline_x2/x3/x4`` as one
   "EDSR-baseline" group, ``mdsr_baseline`` as another; the ablation runs are not in the table);
2. score each with :func:`evaluate_checkpoint` -- the function behind ``edsr-lite eval`` -- with
   and without the x8 self-ensemble, and bicubic with :func:`edsr_lite.evaluation.evaluate`: PSNR /
   SSIM on Y, shave = scale, protocol ``"model"``;
3. save the raw numbers, with each checkpoint's sha256, training step and configuration, to
   ``data/RESULTS.json``;
4. render that JSON (and nothing else) into ``data/RESULTS.md`` and into README.md between
   :data:`BEGIN` and :data:`END`. ``--check`` re-renders and fails if either file differs, so
   the table is never typed by hand.

Scoring EDSR-baseline with self-ensemble over B100 x2 alone takes 10+ minutes on 2 CPU cores;
the whole table one to two hours (the script prints an estimate first, then progress).
``--resume`` reuses the evaluations an interrupted run finished (cached by checkpoint sha256)
and those already in ``data/RESULTS.json`` for checkpoints that did not change, so that a new
model's rows are added without scoring the others again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from edsr_lite.checkpoints import CheckpointError, infer_config, read_checkpoint
from edsr_lite.course.recorded import FORMAT, RESULTS_JSON, ResultsError, load_results, row_value
from edsr_lite.datasets import find_dataset, list_images
from edsr_lite.evaluation import Protocol, checkpoint_label, evaluate, evaluate_checkpoint
from edsr_lite.files import atomic_write_text, sha256_file
from edsr_lite.infer import Upscaler
from edsr_lite.locations import DATA_DIR, REPO_ROOT
from edsr_lite.models import build, build_from_config, count_parameters
from edsr_lite.paper import (
    MDSR_TOLERANCE_DB,
    PAPER_BICUBIC,
    PAPER_EDSR,
    PAPER_EDSR_PLUS,
    PAPER_SRCNN,
    PAPER_VDSR,
    QUALITY_BAR_SET5,
    REFERENCE_EDSR_BASELINE,
)
from edsr_lite.weights import available_pretrained, load_model, resolve_checkpoint

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
#: A validation PSNR that gained at least this much over the last quarter of a run is "still
#: rising" in the README's gap paragraph; less is "levelled off" (Set5 moves by a few
#: hundredths of a dB from one validation to the next, so 0.1 dB is above its noise).
RISING_DB = 0.1
RESULTS_MD = DATA_DIR / "RESULTS.md"
README = REPO_ROOT / "README.md"
CACHE = REPO_ROOT / "build" / "results-cache.json"
FORMAT_VERSION = 1
SETS = ("Set5", "Set14", "B100")
SCALES = (2, 3, 4)


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


def find_main_models(checkpoint_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The main checkpoints that ship (in ``checkpoint_dir``, default ``data/checkpoints``)."""
    shipped = set(available_pretrained(checkpoint_dir))
    wanted = [n for g in MAIN_GROUPS for n in g.names(SCALES)]
    return {n: resolve_checkpoint(n, checkpoint_dir) for n in dict.fromkeys(wanted) if n in shipped}


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
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
    """Total HR megapixels of the training images (``None`` if a folder is not here)."""
    from PIL import Image

    total = 0
    for folder in folders:
        if not Path(folder).is_dir():
            return None
        for path in list_images(folder):
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
    run_json = path.parent / "run.json" if path.name == "best.pt" else None
    run = json.loads(run_json.read_text()) if run_json and run_json.is_file() else {}
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
        "validation_curve": _validation_curve(path.parent) if run_json else [],
        "train_seconds": run.get("seconds"),
        "machine": meta.get("machine"),
        "git": meta.get("git"),
        "torch": meta.get("torch"),
    }


def _values(table: dict[tuple[str, int], tuple[float, float]]) -> dict[str, list[float]]:
    """A published table as RESULTS.json keeps it: ``{"Set5 x2": [psnr, ssim], ...}``."""
    return {f"{s} x{k}": [p, q] for (s, k), (p, q) in table.items()}


def _references() -> list[dict]:
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


def _classic_cnns() -> list[dict]:
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


def _parameters() -> dict:
    """Parameter counts of the two architectures (the same for every trained copy)."""
    edsr = {f"x{s}": count_parameters(build("edsr_baseline", s)) for s in SCALES}
    mdsr = count_parameters(build("mdsr_baseline"))
    return {
        "edsr_baseline": edsr,
        "edsr_baseline_total": sum(edsr.values()),
        "mdsr_baseline": mdsr,
        "mdsr_over_three_edsr": mdsr / sum(edsr.values()),
    }


def _lr_pixels(set_name: str, scale: int) -> int:
    """LR pixels of a set at a scale: the work a network does there (for the time estimate)."""
    from PIL import Image

    total = 0
    for path in list_images(find_dataset(set_name)):
        with Image.open(path) as img:
            total += (img.width // scale) * (img.height // scale)
    return total


def _seconds_per_pixel(model: torch.nn.Module, scale: int, device: str) -> float:
    """A quick timing of one forward pass on a 48 x 48 input (after a warm-up)."""
    upscaler = Upscaler(model, device=device)
    x = torch.rand(1, 3, 48, 48) * 255
    upscaler.upscale_tensor(x, scale)
    start = time.perf_counter()
    upscaler.upscale_tensor(x, scale)
    return (time.perf_counter() - start) / (48 * 48)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


@dataclass
class _Job:
    method: str  # "bicubic" or a checkpoint name
    path: Path | None
    set_name: str
    scale: int
    ensemble: bool
    estimate: float = 0.0  # seconds

    @property
    def label(self) -> str:
        return f"{self.method}{'+' if self.ensemble else ''} on {self.set_name} x{self.scale}"


def _row_key(digest: str, set_name: str, scale: int, ensemble: bool) -> str:
    return f"{digest}|{set_name}|x{scale}|{'+' if ensemble else '-'}"


def _finished_rows(json_path: Path) -> dict[str, dict]:
    """The evaluations a previous RESULTS.json holds, keyed as the cache is (checkpoint sha256,
    set, scale, ensemble); empty when there is no readable file."""
    try:
        data = json.loads(json_path.read_text())
        infos, rows = data["checkpoints"], data["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    done = {}
    for row in rows:
        name = row.get("checkpoint")
        digest = infos[name]["sha256"] if name in infos else "bicubic" if name is None else None
        if digest is None:
            continue
        row = {k: v for k, v in row.items() if k != "checkpoint"}
        done[_row_key(digest, row["set"], row["scale"], bool(row.get("ensemble")))] = row
    return done


def make_results(
    sets: Sequence[str] = SETS,
    scales: Sequence[int] = SCALES,
    ensemble: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    cache: str | os.PathLike | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    results_json: str | os.PathLike | None = None,
) -> dict:
    """Evaluate bicubic and the main shipped checkpoints; return the data RESULTS.json holds."""
    from edsr_lite import __version__
    from edsr_lite.train import git_describe, machine_info

    found = find_main_models(checkpoint_dir)
    if not found:
        wanted = ", ".join(dict.fromkeys(n for g in MAIN_GROUPS for n in g.names(SCALES)))
        folder = checkpoint_dir or "data/checkpoints"
        raise ResultsError(
            f"no main checkpoint ships in {folder} (looked for finished runs {wanted}): "
            "train them first (configs/*.yaml); there is nothing to tabulate yet"
        )
    infos = {name: describe_for_results(name, path) for name, path in found.items()}
    for group in MAIN_GROUPS:
        for scale in scales:
            name = group.checkpoints.get(scale)
            if name in infos and scale not in infos[name]["scales"]:
                raise ResultsError(
                    f"{name} holds a x{'/x'.join(map(str, infos[name]['scales']))} model, "
                    f"but the table needs it at x{scale}"
                )

    jobs = [_Job("bicubic", None, s, k, False) for s in sets for k in scales]
    for group in MAIN_GROUPS:
        for name in group.names(scales):
            if name not in found:
                continue
            mine = [k for k in scales if group.checkpoints.get(k) == name]
            model = load_model(found[name])
            for k in mine:
                speed = _seconds_per_pixel(model, k, device)
                for plus in (False, True) if ensemble else (False,):
                    for s in sets:
                        estimate = speed * _lr_pixels(s, k) * (8 if plus else 1)
                        jobs.append(_Job(name, found[name], s, k, plus, estimate))
    missing = [n for g in MAIN_GROUPS for n in g.names(scales) if n not in found]
    not_yet = f"; not shipped yet: {', '.join(missing)}" if missing else ""
    log(f"checkpoints: {', '.join(found)}{not_yet}")
    total = sum(j.estimate for j in jobs)
    log(
        f"{len(jobs)} evaluations on {device} ({torch.get_num_threads()} threads); estimated "
        f"{_minutes(total)} (from one timed forward pass per model; bicubic not counted)"
    )

    cache_path = Path(cache) if cache is not None else CACHE
    done: dict[str, dict] = {}
    if resume:
        done = _finished_rows(Path(results_json) if results_json else RESULTS_JSON)
    if resume and cache_path.is_file():
        done.update(json.loads(cache_path.read_text()))
    rows, spent, estimated_done = [], 0.0, 0.0
    for i, job in enumerate(jobs, 1):
        digest = infos[job.method]["sha256"] if job.path else "bicubic"
        key = _row_key(digest, job.set_name, job.scale, job.ensemble)
        start = time.perf_counter()
        if key in done:
            row, how = done[key], "reused (--resume)"
        else:
            if job.path is None:
                (row,) = evaluate("bicubic", [job.set_name], [job.scale], protocol="model")
                row = {**row, "ensemble": False}
            else:
                (row,) = evaluate_checkpoint(
                    job.path, [job.set_name], [job.scale], job.ensemble, device, progress=True
                )
                row["method"] = job.method + ("+" if job.ensemble else "")
            done[key] = row
            atomic_write_text(cache_path, json.dumps(done, indent=1) + "\n")
            how = f"{time.perf_counter() - start:.0f} s"
        row = {**row, "checkpoint": job.method if job.path else None}
        rows.append(row)
        if job.estimate and not how.startswith("reused"):  # only network runs tell the speed
            spent += time.perf_counter() - start
            estimated_done += job.estimate
        left = sum(j.estimate for j in jobs[i:])
        if estimated_done > 0 and spent > 0:
            left *= spent / estimated_done  # correct the estimate by the speed seen so far
        log(
            f"[{i}/{len(jobs)}] {job.label}: {row['psnr']:.2f} dB / {row['ssim']:.4f} ({how}); "
            f"about {_minutes(left)} left"
        )

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_by": "tools/make_results.py (make results)",
        "edsr_lite": __version__,
        "git": git_describe(),
        "torch": str(torch.__version__),
        "device": device,
        "machine": machine_info(device),
        "protocol": Protocol.MODEL.value,
        "sets": list(sets),
        "scales": [int(k) for k in scales],
        "ensemble": bool(ensemble),
        "groups": [
            {
                "key": g.key,
                "label": g.label,
                "preset": g.preset,
                "checkpoints": {f"x{k}": g.checkpoints[k] for k in scales if k in g.checkpoints},
            }
            for g in MAIN_GROUPS
        ],
        "checkpoints": infos,
        "parameters": _parameters(),
        "references": _references(),
        "classic_cnns": _classic_cnns(),
        "rows": rows,
    }


# --------------------------------------------------------------------------- rendering


def _cell(value: Sequence[float] | None) -> str:
    return "–" if value is None else f"{value[0]:.2f} / {value[1]:.4f}"


def _columns(data: dict) -> list[tuple[str, Callable[[str, int], list[float] | None]]]:
    """``(header, value(set, scale))`` for every column of the main table."""
    columns: list[tuple[str, Callable]] = [
        ("Bicubic", lambda s, k: row_value(data, "bicubic", s, k))
    ]
    for group in data["groups"]:
        names = group["checkpoints"]
        if not any(n in data["checkpoints"] for n in names.values()):
            continue
        for plus in ("", "+") if data["ensemble"] else ("",):

            def value(s, k, names=names, plus=plus):
                name = names.get(f"x{k}")
                return row_value(data, f"{name}{plus}", s, k) if name else None

            columns.append((f"{group['label']}{plus} (ours)", value))
    for ref in data["references"]:
        columns.append((ref["label"], lambda s, k, v=ref["values"]: v.get(f"{s} x{k}")))
    return columns


def _main_table(data: dict) -> list[str]:
    columns = _columns(data)
    lines = [
        "| Set | Scale | " + " | ".join(h for h, _ in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for s in data["sets"]:
        for k in data["scales"]:
            cells = [_cell(fn(s, k)) for _, fn in columns]
            lines.append(f"| {s} | ×{k} | " + " | ".join(cells) + " |")
    return lines


def _group(data: dict, key: str) -> dict | None:
    return next((g for g in data["groups"] if g["key"] == key), None)


def _multiscale_section(data: dict) -> list[str]:
    p = data["parameters"]
    edsr = p["edsr_baseline"]
    lines = [
        "**Multi-scale vs single-scale.** Parameters: EDSR-baseline "
        + " / ".join(f"{edsr[f'x{k}']:,}" for k in SCALES)
        + f" at ×2 / ×3 / ×4 ({p['edsr_baseline_total']:,} for the three models); MDSR-baseline "
        f"{p['mdsr_baseline']:,} for all three scales, **{p['mdsr_over_three_edsr']:.2f}×** the "
        "three single-scale models.",
    ]
    edsr_group, mdsr_group = _group(data, "edsr_baseline"), _group(data, "mdsr_baseline")
    if "Set5" not in data["sets"] or edsr_group is None or mdsr_group is None:
        return lines
    pairs = []
    for k in data["scales"]:
        e = row_value(data, edsr_group["checkpoints"].get(f"x{k}", ""), "Set5", k)
        m = row_value(data, mdsr_group["checkpoints"].get(f"x{k}", ""), "Set5", k)
        if e is not None and m is not None:
            pairs.append((k, e[0], m[0]))
    if not pairs:
        return [*lines, "", "(Set5 scores of both models are not available yet.)"]
    lines += [
        "",
        "| Set5 (no self-ensemble) | EDSR-baseline (ours) | MDSR-baseline (ours) | MDSR − EDSR "
        f"| at most {MDSR_TOLERANCE_DB} dB below |",
        "|---|---:|---:|---:|---|",
    ]
    for k, e, m in pairs:
        ok = "yes" if m - e >= -MDSR_TOLERANCE_DB else "no"
        lines.append(f"| ×{k} | {e:.2f} | {m:.2f} | {m - e:+.2f} dB | {ok} |")
    return lines


def _classic_section(data: dict) -> list[str]:
    """Our EDSR-baseline against SRCNN and VDSR (VDSR trained on the same 291 images)."""
    group = _group(data, "edsr_baseline")
    classic = {c["key"]: c["values"] for c in data.get("classic_cnns", [])}
    if group is None or set(classic) != {"paper_srcnn", "paper_vdsr"}:
        return []
    bar = " / ".join(f"{QUALITY_BAR_SET5[k]:.1f}" for k in SCALES)
    lines = [
        "**Against SRCNN and VDSR.** VDSR (Kim et al. 2016) trained on T91 + BSD200, the 291 "
        "images ours train on, on a GPU; SRCNN (Dong et al. 2016) was the first CNN for the "
        f"task. This project's bar lies a little above SRCNN's Set5 scores ({bar} dB at ×2 / ×3 "
        "/ ×4), its aim is VDSR's. Their numbers are published ones (Table 6 of Lim et al. "
        "2017), scored under the older Y-plane protocol of the *Bicubic (paper)* column, which "
        f"moves a score a little{_protocol_difference(data)}. PSNR (dB), no self-ensemble:",
        "",
        "| Set | Scale | SRCNN (paper) | VDSR (paper) | EDSR-baseline (ours) | ours − SRCNN "
        "| ours − VDSR |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in data["sets"]:
        for k in data["scales"]:
            name = group["checkpoints"].get(f"x{k}")
            ours = row_value(data, name, s, k) if name else None
            srcnn = classic["paper_srcnn"].get(f"{s} x{k}")
            vdsr = classic["paper_vdsr"].get(f"{s} x{k}")
            lines.append(
                f"| {s} | ×{k} | {_psnr(srcnn)} | {_psnr(vdsr)} | {_psnr(ours)} "
                f"| {_gain(ours, srcnn)} | {_gain(ours, vdsr)} |"
            )
    return lines


def _protocol_difference(data: dict) -> str:
    """`` (bicubic: up to 0.09 dB)``: how far our bicubic scores are from the published ones."""
    published = next(r for r in data["references"] if r["key"] == "paper_bicubic")["values"]
    gaps = []
    for s in data["sets"]:
        for k in data["scales"]:
            ours = row_value(data, "bicubic", s, k)
            if ours is not None and f"{s} x{k}" in published:
                gaps.append(abs(ours[0] - published[f"{s} x{k}"][0]))
    return f" (bicubic: up to {max(gaps):.2f} dB)" if gaps else ""


def _psnr(value: Sequence[float] | None) -> str:
    return "–" if value is None else f"{value[0]:.2f}"


def _gain(ours: Sequence[float] | None, reference: Sequence[float] | None) -> str:
    return "–" if ours is None or reference is None else f"{ours[0] - reference[0]:+.2f}"


def _data_name(train_config: dict) -> str:
    data = train_config.get("data")
    return " + ".join(data) if isinstance(data, list) else str(data)


def _gap_section(data: dict) -> list[str]:
    """How far our x2 model is from the official EDSR-baseline on Set5, and the training budgets."""
    group = _group(data, "edsr_baseline")
    name = group["checkpoints"].get("x2") if group else None
    ours = row_value(data, name, "Set5", 2) if name else None
    ref = next(r for r in data["references"] if r["key"] == "edsr_baseline_official")
    official = ref["values"].get("Set5 x2")
    if ours is None or official is None:
        return []
    info = data["checkpoints"][name]
    tc = info["train_config"]
    gap = official[0] - ours[0]
    where = f"{abs(gap):.2f} dB {'below' if gap >= 0 else 'above'}"
    text = (
        f"**How far from the official EDSR-baseline, and why.** Our EDSR-baseline scores "
        f"{ours[0]:.2f} dB on Set5 ×2, {where} the authors' released weights ({official[0]:.2f} "
        "dB; later papers' tables print 37.99)."
    )
    arch = info.get("architecture") or {}
    if (arch.get("n_resblocks"), arch.get("n_feats"), arch.get("bn")) == (16, 64, False):
        text += (
            " The network (16 residual blocks × 64 features) and the L1 loss are the same; the "
            "training budget is not."
        )
    else:
        text += (
            f" (This checkpoint is a {arch.get('n_resblocks')} × {arch.get('n_feats')} network, "
            "not EDSR-baseline's 16 × 64.)"
        )
    step, machine = info.get("step"), info.get("machine") or {}
    total = info.get("train_steps") or step
    if step:
        details = [f"{info['train_images']} images"] if info.get("train_images") else []
        if info.get("train_megapixels") is not None:
            details.append(f"{info['train_megapixels']:,.1f} megapixels")
        details = f" ({', '.join(details)})" if details else ""
        seconds = info.get("train_seconds")
        took = f" in {_duration(seconds)} of wall time" if seconds else ""
        if machine.get("gpu"):
            where_run = f"{took} on a {machine['gpu']}"
        elif machine.get("cpu_cores"):
            where_run = f"{took} on {machine['cpu_cores']} CPU cores"
        else:
            where_run = took
        shipped = (
            f" (the shipped weights are those of step {step:,}, its best Set5 score)"
            if total != step
            else ""
        )
        text += (
            f" Ours trained {total:,} steps of {tc.get('batch_size', '?')} patches on "
            f"{_data_name(tc)}{details}{where_run}{shipped}; the official model took 3×10⁵ "
            f"steps on DIV2K's 800 training images of about 2K resolution on a GPU: "
            f"{3e5 / total:,.0f}× fewer updates, on a smaller and less varied set of images."
        )
    curve = info.get("validation_curve") or []
    if len(curve) >= 2 and total:
        last_step = curve[-1][0]
        earlier = [c for c in curve if c[0] <= last_step - max(1, total // 4)] or curve[:1]
        first = earlier[-1]
        rise = curve[-1][1] - first[1]
        val = tc.get("val_data") or "validation"
        if tc.get("val_images"):
            val += f"[:{tc['val_images']}]"
        change = f"{rise:+.2f} dB over the last {last_step - first[0]:,} steps"
        if rise >= RISING_DB:
            text += (
                f" Its {val} PSNR during training was still rising at the end ({change}): "
                "more steps alone would close part of the gap."
            )
        else:
            text += (
                f" Its {val} PSNR during training had levelled off by the end ({change}, with "
                "the learning rate halved along the way): more steps of this schedule would "
                "add little; the gap is the training set and the length of the official run."
            )
    return [text]


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def _checkpoint_table(data: dict) -> list[str]:
    lines = [
        "| checkpoint | scales | step | initialized from | trained on | sha256 |",
        "|---|---|---:|---|---|---|",
    ]
    for name, info in data["checkpoints"].items():
        init = info.get("init_from")
        init = f"`{checkpoint_label(init)}`" if init else "random"
        step = f"{info['step']:,}" if info.get("step") is not None else "–"
        trained = _data_name(info["train_config"]) if info.get("train_config") else "–"
        scales = ", ".join(f"×{k}" for k in info["scales"])
        lines.append(
            f"| `{name}` | {scales} | {step} | {init} | {trained} | `{info['sha256'][:12]}` |"
        )
    return lines


def render(data: dict) -> str:
    """The results as Markdown (no markers, no title), a pure function of RESULTS.json's data."""
    ensemble = " `+`: the x8 geometric self-ensemble." if data["ensemble"] else ""
    lines = [
        "Generated by `make results` (`tools/make_results.py`) from `data/RESULTS.json`: do not "
        "edit by hand. PSNR (dB) / SSIM on the Y channel, `scale` pixels shaved from each border, "
        "LR images made by MATLAB-exact bicubic downscaling (protocol `model`, what "
        f"`edsr-lite eval` prints).{ensemble} Columns after ours are published numbers.",
        "",
        *_main_table(data),
        "",
        "*Bicubic*: measured here under the same protocol as our models. *Bicubic (paper)*, "
        "*EDSR (paper)* and *EDSR+ (paper)*: Table 6 of Lim et al. 2017 (the bicubic column "
        "under the older Y-plane protocol, which `edsr-lite eval --protocol paper_bicubic` "
        "reproduces; EDSR is the full-size 43 M-parameter model). *EDSR-baseline (official "
        "weights)*: the authors' released EDSR-baseline files (trained on DIV2K, 3×10⁵ steps on a "
        "GPU) as measured by torchSR; the paper prints no Set5/Set14/B100 numbers for its "
        "baseline models. –: not published, or not shipped yet.",
        "",
        *_multiscale_section(data),
    ]
    classic = _classic_section(data)
    if classic:
        lines += ["", *classic]
    gap = _gap_section(data)
    if gap:
        lines += ["", *gap]
    lines += ["", *_checkpoint_table(data)]
    return "\n".join(lines)


def render_results_md(data: dict) -> str:
    return "# edsr-lite: results\n\n" + render(data) + "\n"


def replace_block(text: str, body: str, where: str = "README.md") -> str:
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by ``body``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ResultsError(
            f"{where} must hold the markers {BEGIN} and {END} once each, in that order, "
            "around the results block"
        )
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"


def dump_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_outputs(data: dict, json_path: Path, md_path: Path, readme_path: Path) -> None:
    """RESULTS.json, then RESULTS.md and the README block rendered from it (each atomically)."""
    readme = replace_block(readme_path.read_text(encoding="utf-8"), render(data), readme_path.name)
    atomic_write_text(json_path, dump_json(data))
    atomic_write_text(md_path, render_results_md(data))
    atomic_write_text(readme_path, readme)


def check(json_path: Path, md_path: Path, readme_path: Path) -> list[str]:
    """The files (of RESULTS.md and README.md) that differ from a fresh rendering of the JSON."""
    data = load_results(json_path)
    stale = []
    if not md_path.is_file() or md_path.read_text(encoding="utf-8") != render_results_md(data):
        stale.append(str(md_path))
    readme = readme_path.read_text(encoding="utf-8")
    if replace_block(readme, render(data), readme_path.name) != readme:
        stale.append(str(readme_path))
    return stale


# --------------------------------------------------------------------------- the script


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make_results.py",
        description="Evaluate the shipped EDSR-baseline x2/x3/x4 and MDSR-baseline checkpoints "
        "(with and without self-ensemble) and bicubic on the benchmark sets, save the numbers to "
        "data/RESULTS.json and render them into data/RESULTS.md and the README. One to two hours "
        "on 2 CPU cores: run it once after training, not in CI.",
    )
    p.add_argument("--sets", nargs="+", default=list(SETS), help="default: Set5 Set14 B100")
    p.add_argument("--scales", nargs="+", type=int, default=list(SCALES), help="default: 2 3 4")
    p.add_argument("--no-ensemble", action="store_true", help="skip the x8 self-ensemble rows")
    p.add_argument(
        "--checkpoints",
        metavar="DIR",
        default=None,
        help="where the shipped checkpoints are (default: data/checkpoints)",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default: cpu")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="re-render from the JSON; exit 1 if RESULTS.md or the README block differ",
    )
    mode.add_argument(
        "--render", action="store_true", help="re-render from the JSON without evaluating"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse evaluations an interrupted run finished (same checkpoint sha256)",
    )
    p.add_argument("--json", type=Path, default=RESULTS_JSON, help="default: data/RESULTS.json")
    p.add_argument("--md", type=Path, default=RESULTS_MD, help="default: data/RESULTS.md")
    p.add_argument("--readme", type=Path, default=README, help="default: README.md")
    p.add_argument("--cache", type=Path, default=CACHE, help=f"default: {_relative(CACHE)}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``tools/make_results.py``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.check:
            stale = check(args.json, args.md, args.readme)
            for path in stale:
                print(f"{path} differs from {args.json}: run `make results RESULTS_ARGS=--render`")
            if not stale:
                print(f"{args.md} and {args.readme} match {args.json}")
            return 1 if stale else 0
        if args.render:
            data = load_results(args.json)
        else:
            replace_block(args.readme.read_text(encoding="utf-8"), "", str(args.readme))  # early
            data = make_results(
                args.sets,
                args.scales,
                ensemble=not args.no_ensemble,
                checkpoint_dir=args.checkpoints,
                device=args.device,
                cache=args.cache,
                resume=args.resume,
                results_json=args.json,
            )
        write_outputs(data, args.json, args.md, args.readme)
        print(f"wrote {args.json}, {args.md} and the results block of {args.readme}")
        return 0
    except (ResultsError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"make_results: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("make_results: interrupted (--resume continues where it stopped)", file=sys.stderr)
        return 130
