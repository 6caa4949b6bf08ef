"""Score the shipped checkpoints and write the results table (``make results``).

    python tools/make_results.py             # evaluate, write data/RESULTS.json, RESULTS.md, README
    python tools/make_results.py --resume    # the same, reusing evaluations already done
    python tools/make_results.py --check     # exit 1 if RESULTS.md or the README block are stale
    python tools/make_results.py --render    # re-render both from data/RESULTS.json
    python tools/make_results.py --sets Set5 --scales 2 --no-ensemble   # a quick partial table

A maintainer's script (not part of the installed package), run once after training:

1. find the *main* shipped checkpoints (:data:`MAIN_GROUPS`: ``edsr_baseline_x2/x3/x4`` as one
   "EDSR-baseline" group, ``mdsr_baseline`` as another; the ablation runs are not in the table);
2. score each with :func:`edsr_lite.checkpoint_eval.evaluate_checkpoint` -- the function behind
   ``edsr-lite eval`` -- with and without the x8 self-ensemble, and bicubic with
   :func:`edsr_lite.evaluation.evaluate`: PSNR / SSIM on Y, shave = scale, protocol ``"model"``;
3. save the raw numbers, with each checkpoint's sha256, training step and configuration, to
   ``data/RESULTS.json`` (the course reads it back through :mod:`edsr_lite.course.recorded`);
4. render that JSON (and nothing else) into ``data/RESULTS.md`` and the README's results block
   (``tools/results_tables.py``); ``--check`` fails if either differs from a fresh rendering.

The authors' released weights (:data:`OFFICIAL_GROUPS`) are scored too, without self-ensemble
as in the paper's Table 6, when their files are in the user cache (``edsr-lite weights fetch
--all`` puts them there; this script never downloads): they become the columns "measured here
with the authors' weights". Absent files leave those columns out (the text says so);
``--no-official`` skips them. The full-size EDSR takes hours on 2 CPU cores.

Scoring EDSR-baseline with self-ensemble over B100 x2 alone takes 10+ minutes on 2 CPU cores;
the whole table one to two hours (the script prints an estimate first, then progress).
``--resume`` reuses the evaluations an interrupted run finished (cached in ``build/`` by
checkpoint sha256) and those already in ``data/RESULTS.json`` for checkpoints that did not
change, so that a new model's rows are added without scoring the others again.

Its files are the checkout's own (committed), found from this file, not by edsr_lite.locations.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from edsr_lite.checkpoint_eval import evaluate_checkpoint, lr_work, seconds_per_lr_pixel
from edsr_lite.checkpoints import CheckpointError
from edsr_lite.course.recorded import FORMAT, ResultsError, load_results
from edsr_lite.evaluation import Protocol, evaluate
from edsr_lite.files import atomic_write_text
from edsr_lite.progress import format_duration
from edsr_lite.weights import load_model

if not __package__:  # run as `python tools/make_results.py`: make the checkout's `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import results_tables as tables  # noqa: E402
from tools.clean_run_records import portable_machine  # noqa: E402
from tools.results_models import (  # noqa: E402
    MAIN_GROUPS,
    OFFICIAL_GROUPS,
    Group,
    classic_cnn_columns,
    describe_for_results,
    describe_official,
    find_main_models,
    find_official_models,
    official_data,
    parameters,
    reference_columns,
)

SETS, SCALES = tables.SETS, tables.SCALES  # the rows of the table
ROOT = Path(__file__).resolve().parents[1]  # the checkout: tools/..
RESULTS_JSON = ROOT / "data" / "RESULTS.json"
RESULTS_MD = ROOT / "data" / "RESULTS.md"
README = ROOT / "README.md"
CACHE = ROOT / "build" / "results-cache.json"
FORMAT_VERSION = 1


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
        infos = infos | data.get("official", {}).get("checkpoints", {})
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
    official: bool = True,
) -> dict:
    """Evaluate bicubic and the main shipped checkpoints; return the data RESULTS.json holds.

    With ``official``, the authors' files present in the user cache are scored too (no
    self-ensemble), as :func:`find_official_models` finds them.

    With ``resume``, evaluations already in ``results_json`` (default ``data/RESULTS.json``)
    or in ``cache`` (default ``build/results-cache.json``) are reused when their checkpoint's
    sha256 is unchanged; every new evaluation is added to ``cache`` as soon as it finishes.
    """
    found = _shipped_or_refuse(checkpoint_dir)
    infos = {name: describe_for_results(name, path) for name, path in found.items()}
    _refuse_missing_scales(infos, scales)
    jobs = _plan_jobs(found, sets, scales, ensemble, device)
    authors = find_official_models() if official else {}
    official_infos = {name: describe_official(name, path) for name, path in authors.items()}
    jobs += _plan_jobs(authors, sets, scales, False, device, OFFICIAL_GROUPS)
    missing = [n for g in MAIN_GROUPS for n in g.names(scales) if n not in found]
    not_yet = f"; not shipped yet: {', '.join(missing)}" if missing else ""
    log(f"checkpoints: {', '.join(found)}{not_yet}")
    if official:
        log(
            f"the authors' weights in the cache: {', '.join(authors) or 'none'}"
            + ("" if authors else " (`edsr-lite weights fetch --all` adds them)")
        )
    log(
        f"{len(jobs)} evaluations on {device} ({torch.get_num_threads()} threads); estimated "
        f"{format_duration(sum(j.estimate for j in jobs))} (from one timed forward pass per model; "
        "bicubic not counted)"
    )
    cache_path = Path(cache) if cache is not None else CACHE
    done: dict[str, dict] = {}
    if resume:
        done = _finished_rows(Path(results_json) if results_json else RESULTS_JSON)
    if resume and cache_path.is_file():
        done.update(json.loads(cache_path.read_text()))
    rows = _run_jobs(jobs, infos | official_infos, done, cache_path, device, log)
    return _results_data(infos, rows, sets, scales, ensemble, device, official_infos)


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
    groups: Sequence[Group] = MAIN_GROUPS,
) -> list[_Job]:
    """Bicubic on every (set, scale) (for :data:`MAIN_GROUPS`), then each model of ``groups``
    at its scales, without and with the self-ensemble (8 forward passes: 8 times the
    estimate)."""
    bicubic = groups is MAIN_GROUPS
    jobs = [_Job("bicubic", None, s, k, False) for s in sets for k in scales if bicubic]
    for group in groups:
        for name in group.names(scales):
            if name not in found:
                continue
            model = load_model(found[name])
            for k in [k for k in scales if group.checkpoints.get(k) == name]:
                speed = seconds_per_lr_pixel(model, k, device)
                for plus in (False, True) if ensemble else (False,):
                    for s in sets:
                        estimate = speed * lr_work(model, s, k, plus) * (8 if plus else 1)
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
            f"about {format_duration(left)} left"
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
    official: dict[str, dict] | None = None,
) -> dict:
    """What RESULTS.json holds: how it was made, the groups, checkpoints, parameter counts,
    published references, the rows, and (when some were scored) the authors' files."""
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
        "machine": portable_machine(machine_info(device)),  # no host name in a shipped file
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
        "parameters": parameters(),
        "references": reference_columns(),
        "classic_cnns": classic_cnn_columns(),
        "rows": rows,
    } | ({"official": official_data(official, scales)} if official else {})


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
    p.add_argument(
        "--no-official",
        action="store_true",
        help="do not score the authors' weights even if they are in the cache",
    )
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
    p.add_argument("--cache", type=Path, default=CACHE, help=f"default: {CACHE.relative_to(ROOT)}")
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
                official=not args.no_official,
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
