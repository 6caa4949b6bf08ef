"""Score the shipped checkpoints and write the results table (``make results``).

    python tools/make_results.py             # evaluate, write data/RESULTS.json, RESULTS.md, README
    python tools/make_results.py --resume    # the same, reusing evaluations already done
    python tools/make_results.py --check     # exit 1 if RESULTS.md or the README block are stale
    python tools/make_results.py --render    # re-render both from data/RESULTS.json
    python tools/make_results.py --sets Set5 --scales 2 --no-ensemble   # a quick partial table

A maintainer's script (not part of the installed package), run once after training:

1. find the *main* shipped checkpoints (:data:`MAIN_GROUPS`: ``edsr_baseline_x2/x3/x4`` as one
   "EDSR-baseline" group, ``mdsr_baseline`` as another; the ablation runs are not in the table);
2. score each with :func:`edsr_lite.evaluation.evaluate_checkpoint` -- the function behind
   ``edsr-lite eval`` -- with and without the x8 self-ensemble, and bicubic with
   :func:`edsr_lite.evaluation.evaluate`: PSNR / SSIM on Y, shave = scale, protocol ``"model"``;
3. save the raw numbers, with each checkpoint's sha256, training step and configuration, to
   ``data/RESULTS.json`` (the course reads it back through :mod:`edsr_lite.course.recorded`);
4. render that JSON (and nothing else) into ``data/RESULTS.md`` and the README's results block
   (``tools/results_tables.py``); ``--check`` fails if either differs from a fresh rendering.

Scoring EDSR-baseline with self-ensemble over B100 x2 alone takes 10+ minutes on 2 CPU cores;
the whole table one to two hours (the script prints an estimate first, then progress).
``--resume`` reuses the evaluations an interrupted run finished (cached in ``build/`` by
checkpoint sha256) and those already in ``data/RESULTS.json`` for checkpoints that did not
change, so that a new model's rows are added without scoring the others again.

Its files are the checkout's own (committed), found from this file, not by edsr_lite.locations.
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
from edsr_lite.course.recorded import FORMAT, ResultsError, load_results
from edsr_lite.datasets import find_dataset, list_images
from edsr_lite.evaluation import Protocol, evaluate, evaluate_checkpoint
from edsr_lite.files import atomic_write_text, sha256_file
from edsr_lite.infer import Upscaler
from edsr_lite.models import build, build_from_config, count_parameters
from edsr_lite.weights import available_pretrained, load_model, resolve_checkpoint

if __package__:  # imported as tools.make_results (by the tests)
    from tools import results_tables as tables
else:  # run as `python tools/make_results.py`: Python put tools/ itself on sys.path
    import results_tables as tables

SETS, SCALES = tables.SETS, tables.SCALES  # the rows of the table
ROOT = Path(__file__).resolve().parents[1]  # the checkout: tools/..
RESULTS_JSON = ROOT / "data" / "RESULTS.json"
RESULTS_MD = ROOT / "data" / "RESULTS.md"
README = ROOT / "README.md"
CACHE = ROOT / "build" / "results-cache.json"
FORMAT_VERSION = 1


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
    """``45 s`` under a minute and a half, ``12 min`` from there on."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


@dataclass
class _Job:
    """One evaluation: a method on one set at one scale, with or without self-ensemble."""

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
    """The cache's key of an evaluation: ``<sha256 or "bicubic">|Set5|x2|+`` (or ``-``)."""
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
    """Evaluate bicubic and the main shipped checkpoints; return the data RESULTS.json holds.

    With ``resume``, evaluations already in ``results_json`` (default ``data/RESULTS.json``)
    or in ``cache`` (default ``build/results-cache.json``) are reused when their checkpoint's
    sha256 is unchanged; every new evaluation is added to ``cache`` as soon as it finishes.
    """
    found = _shipped_or_refuse(checkpoint_dir)
    infos = {name: describe_for_results(name, path) for name, path in found.items()}
    _refuse_missing_scales(infos, scales)
    jobs = _plan_jobs(found, sets, scales, ensemble, device)
    missing = [n for g in MAIN_GROUPS for n in g.names(scales) if n not in found]
    not_yet = f"; not shipped yet: {', '.join(missing)}" if missing else ""
    log(f"checkpoints: {', '.join(found)}{not_yet}")
    log(
        f"{len(jobs)} evaluations on {device} ({torch.get_num_threads()} threads); estimated "
        f"{_minutes(sum(j.estimate for j in jobs))} (from one timed forward pass per model; "
        "bicubic not counted)"
    )
    cache_path = Path(cache) if cache is not None else CACHE
    done: dict[str, dict] = {}
    if resume:
        done = _finished_rows(Path(results_json) if results_json else RESULTS_JSON)
    if resume and cache_path.is_file():
        done.update(json.loads(cache_path.read_text()))
    rows = _run_jobs(jobs, infos, done, cache_path, device, log)
    return _results_data(infos, rows, sets, scales, ensemble, device)


def _shipped_or_refuse(checkpoint_dir: str | os.PathLike | None) -> dict[str, Path]:
    """:func:`find_main_models`, or a :class:`ResultsError` when none ships: nothing to score."""
    found = find_main_models(checkpoint_dir)
    if not found:
        wanted = ", ".join(dict.fromkeys(n for g in MAIN_GROUPS for n in g.names(SCALES)))
        folder = checkpoint_dir or "data/checkpoints"
        raise ResultsError(
            f"no main checkpoint ships in {folder} (looked for finished runs {wanted}): "
            "train them first (configs/*.yaml); there is nothing to tabulate yet"
        )
    return found


def _refuse_missing_scales(infos: dict[str, dict], scales: Sequence[int]) -> None:
    """A :class:`ResultsError` if a group's checkpoint for a scale has no model at that scale."""
    for group in MAIN_GROUPS:
        for scale in scales:
            name = group.checkpoints.get(scale)
            if name in infos and scale not in infos[name]["scales"]:
                raise ResultsError(
                    f"{name} holds a x{'/x'.join(map(str, infos[name]['scales']))} model, "
                    f"but the table needs it at x{scale}"
                )


def _plan_jobs(
    found: dict[str, Path],
    sets: Sequence[str],
    scales: Sequence[int],
    ensemble: bool,
    device: str,
) -> list[_Job]:
    """Bicubic on every (set, scale), then each shipped model at its scales, without and with
    the self-ensemble (8 forward passes: 8 times the estimate)."""
    jobs = [_Job("bicubic", None, s, k, False) for s in sets for k in scales]
    for group in MAIN_GROUPS:
        for name in group.names(scales):
            if name not in found:
                continue
            model = load_model(found[name])
            for k in [k for k in scales if group.checkpoints.get(k) == name]:
                speed = _seconds_per_pixel(model, k, device)
                for plus in (False, True) if ensemble else (False,):
                    for s in sets:
                        estimate = speed * _lr_pixels(s, k) * (8 if plus else 1)
                        jobs.append(_Job(name, found[name], s, k, plus, estimate))
    return jobs


def _run_jobs(
    jobs: list[_Job],
    infos: dict[str, dict],
    done: dict[str, dict],
    cache_path: Path,
    device: str,
    log: Callable[[str], None],
) -> list[dict]:
    """The result rows of ``jobs``, in order: reused from ``done`` or evaluated now (and then
    cached at once, so that an interrupted run loses at most one evaluation)."""
    rows, spent, estimated_done = [], 0.0, 0.0
    for i, job in enumerate(jobs, 1):
        digest = infos[job.method]["sha256"] if job.path else "bicubic"
        key = _row_key(digest, job.set_name, job.scale, job.ensemble)
        start = time.perf_counter()
        if key in done:
            row, how = done[key], "reused (--resume)"
        else:
            row = _evaluate(job, device)
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
    return rows


def _evaluate(job: _Job, device: str) -> dict:
    """One row, as ``edsr-lite eval`` scores it; ``method`` is the checkpoint's shipped name."""
    if job.path is None:
        (row,) = evaluate("bicubic", [job.set_name], [job.scale], protocol="model")
    else:
        (row,) = evaluate_checkpoint(
            job.path, [job.set_name], [job.scale], job.ensemble, device, progress=True
        )
        row["method"] = job.method + ("+" if job.ensemble else "")
    return row


def _results_data(
    infos: dict[str, dict],
    rows: list[dict],
    sets: Sequence[str],
    scales: Sequence[int],
    ensemble: bool,
    device: str,
) -> dict:
    """What RESULTS.json holds: how it was made, the groups, checkpoints, parameter counts,
    published references, and the rows."""
    from edsr_lite import __version__
    from edsr_lite.train import git_describe, machine_info

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
        "references": tables.reference_columns(),
        "classic_cnns": tables.classic_cnn_columns(),
        "rows": rows,
    }


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
    """The script: 0 when done (or up to date, with ``--check``), 1 when ``--check`` finds a stale
    file, 2 on an error it explains, 130 when interrupted."""
    args = build_parser().parse_args(argv)
    try:
        if args.check:
            stale = tables.check(args.json, args.md, args.readme)
            for path in stale:
                print(f"{path} differs from {args.json}: run `make results RESULTS_ARGS=--render`")
            if not stale:
                print(f"{args.md} and {args.readme} match {args.json}")
            return 1 if stale else 0
        if args.render:
            data = load_results(args.json)
        else:
            # A README without the markers fails now, not after an hour of scoring.
            tables.replace_block(args.readme.read_text(encoding="utf-8"), "", str(args.readme))
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
        tables.write_outputs(data, args.json, args.md, args.readme)
        print(f"wrote {args.json}, {args.md} and the results block of {args.readme}")
        return 0
    except (ResultsError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"make_results: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("make_results: interrupted (--resume continues where it stopped)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
