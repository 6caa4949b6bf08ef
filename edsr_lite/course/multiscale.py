"""Single- vs multi-scale: what MDSR shares across scales, and MDSR against one EDSR per scale.

The paper's MDSR (Sec. 3.3, Fig. 5) puts a scale-specific ``pre_process`` (two 5x5 residual
blocks) before a body shared by all scales, and a scale-specific upsampler after it; each
minibatch is of one scale, drawn at random. The functions here measure that on real models,
for ``notebooks/03_multiscale.ipynb``:

* :func:`parts_used` finds, by running a backward pass, which parameters a step at each scale
  trains; :func:`sharing_table` groups them by part of the network (head, pre_process.0, body,
  ...), so "shared" and "per scale" come from the model itself, not from a drawing.
* :func:`parameter_comparison`: three single-scale EDSRs against one MDSR, with the official
  parameter counts.
* :func:`parts_changed_by_step`: one real optimizer step at one scale, and which parts moved.
* :func:`scale_draws`: the random scale of each minibatch, as the trainer draws it.
* :func:`single_vs_multi`: a short live run of one MDSR against one EDSR per scale, with the
  same total number of steps, scored per scale on a benchmark set.
* :func:`shipped_scores` and :func:`shipped_budgets`: the shipped MDSR-baseline against the
  shipped EDSR-baselines, scored now, and what each cost to train.
* :func:`recorded_scores`: the same pair on every benchmark set, with and without
  self-ensemble, as ``make results`` recorded them in ``data/RESULTS.json``.
* :func:`versus_each_scale`, :func:`shipped_gaps`, :func:`recorded_summary`: what those tables
  show, for the notebook's computed sentences; "comparable" is judged against this project's
  bar :data:`MDSR_TOLERANCE_DB` (from :mod:`edsr_lite.core.published`), and a live run only
  once both networks score above bicubic (:meth:`ScaleComparison.comparable`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from edsr_lite.checkpoint_eval import checkpoint_label
from edsr_lite.core.models import MDSR, build, count_parameters
from edsr_lite.core.patches import draw_scale
from edsr_lite.core.published import MDSR_TOLERANCE_DB
from edsr_lite.course.claims import compare
from edsr_lite.course.recorded import RESULTS_JSON, load_results, row_value
from edsr_lite.course.runs import temporary_run, train_briefly
from edsr_lite.evaluation import evaluate
from edsr_lite.runs import finished_run_info
from edsr_lite.train import TrainConfig, Trainer, TrainLog
from edsr_lite.weights import available_pretrained, load_model, resolve_checkpoint

# ============================================================================================
# What is shared
# ============================================================================================


def part_of(name: str, model: nn.Module) -> str:
    """The part of the network a parameter belongs to: its top-level module, with the branch
    index for the per-scale module lists (``"pre_process.1.0.body.0.weight"`` ->
    ``"pre_process.1"``, ``"body.3.body.0.weight"`` -> ``"body"``)."""
    top, _, rest = name.partition(".")
    if isinstance(getattr(model, top, None), nn.ModuleList):
        return f"{top}.{rest.split('.', 1)[0]}"
    return top


def parts_used(model: nn.Module, scale: int, size: int = 8) -> dict[str, int]:
    """``{part: parameters}`` that a training step at ``scale`` updates.

    Found by running the model on a ``size`` x ``size`` input and back-propagating: a parameter
    is used if it receives a gradient. Frozen parameters (the MeanShift) are not counted. The
    model's own gradients are left as they were.
    """
    saved = {n: p.grad for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    x = torch.rand(1, 3, size, size) * 255
    with torch.enable_grad():
        out = model(x, scale) if isinstance(model, MDSR) else model(x)
        out.mean().backward()
    used: Counter[str] = Counter()
    for name, p in model.named_parameters():
        if p.grad is not None:
            used[part_of(name, model)] += p.numel()
        p.grad = saved[name]
    return dict(used)


def sharing_table(model: nn.Module) -> list[dict]:
    """One row per part of the network: its parameters and the scales whose steps train it.

    Rows are in the order of the forward pass; ``shared`` is True for parts every scale uses.
    """
    scales = list(model.scales) if isinstance(model, MDSR) else [model.scale]
    used = {s: parts_used(model, s) for s in scales}
    sizes: dict[str, int] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            part = part_of(name, model)
            sizes[part] = sizes.get(part, 0) + p.numel()
    rows = []
    for part, n in sizes.items():
        users = [s for s in scales if part in used[s]]
        rows.append(
            {
                "part": part,
                "parameters": n,
                "trained at": ", ".join(f"x{s}" for s in users),
                "shared": len(users) == len(scales),
            }
        )
    return rows


def parameter_comparison(
    single: str = "edsr_baseline", multi: str = "mdsr_baseline", scales: Sequence[int] = (2, 3, 4)
) -> list[dict]:
    """Parameters of one single-scale model per scale against one multi-scale model.

    Counts include the frozen MeanShift, as the paper's do. Per scale: the EDSR's parameters and
    the MDSR parameters a forward pass at that scale uses (shared parts + its branch). The last
    row is the total: the sum of the EDSRs against the whole MDSR; ``ratio`` is MDSR / EDSR
    in every row.
    """
    mdsr = build(multi, scale=tuple(scales))
    frozen = count_parameters(mdsr) - count_parameters(mdsr, trainable_only=True)
    used_key = f"{multi} (used at this scale)"
    rows, total_single = [], 0
    for s in scales:
        n_single = count_parameters(build(single, scale=s))
        total_single += n_single
        n_multi = frozen + sum(parts_used(mdsr, s).values())
        rows.append({"scale": f"x{s}", single: n_single, used_key: n_multi})
    rows.append({"scale": "all scales", single: total_single, used_key: count_parameters(mdsr)})
    for row in rows:
        row["ratio"] = row[used_key] / row[single]
    return rows


def parts_changed_by_step(
    preset: str = "mdsr_tiny", scale: int = 3, data: str = "T91", seed: int = 0
) -> dict[str, bool]:
    """``{part: changed?}`` after one real training step (Adam, L1, T91 patches) at ``scale``.

    The trainer's step: only the branch of the drawn scale, and the shared parts, move.
    """
    with temporary_run("edsr-lite-mdsr-") as out:
        config = TrainConfig(
            preset=preset,
            data=data,
            patch_size=16,
            batch_size=2,
            val_data=None,
            seed=seed,
            out=str(out),
        )
        trainer = Trainer(config, quiet=True)
        model = trainer.model
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        trainer.step(scale=scale)
        changed: dict[str, bool] = {}
        for name, p in model.named_parameters():
            part = part_of(name, model)
            moved = not torch.equal(before[name], p.detach())
            changed[part] = changed.get(part, False) or moved
        return changed


def scale_draws(scales: Sequence[int] = (2, 3, 4), steps: int = 3000, seed: int = 0) -> dict:
    """The scales the trainer draws for steps 1..``steps``: ``first`` (the first 12) and
    ``counts`` (``{scale: steps}``). The draw is a pure function of (seed, step)."""
    draws = [draw_scale(scales, seed, step) for step in range(1, steps + 1)]
    return {"first": draws[:12], "counts": dict(sorted(Counter(draws).items()))}


# ============================================================================================
# A live comparison
# ============================================================================================


@dataclass
class ScaleComparison:
    """:func:`single_vs_multi`'s result: PSNR per scale of each approach, and the runs."""

    scales: tuple[int, ...]
    steps: int  # total steps of each approach
    psnr: dict[str, dict[int, float]]  # {"bicubic" | "EDSR per scale" | "MDSR": {scale: dB}}
    parameters: dict[str, int]  # {"EDSR per scale": sum of the EDSRs, "MDSR": its total}
    seconds: dict[str, float]  # training wall time of each approach
    logs: dict[str, TrainLog] = field(repr=False, default_factory=dict)

    def rows(self) -> list[dict]:
        """One row per scale (PSNR of each approach, dB) for a table."""
        return [
            {"scale": f"x{s}", **{f"{name} (dB)": dbs[s] for name, dbs in self.psnr.items()}}
            for s in self.scales
        ]

    def gaps(self) -> dict[int, float]:
        """``{scale: MDSR - EDSR (dB)}``: positive where the multi-scale model is ahead."""
        return {s: self.psnr["MDSR"][s] - self.psnr["EDSR per scale"][s] for s in self.scales}

    def not_above_bicubic(self) -> list[str]:
        """The networks (``"MDSR at x2"``, ...) that do not score above bicubic: until both do,
        the run is too short to say anything about one network against the other."""
        return [
            f"{name} at x{s}"
            for name in ("EDSR per scale", "MDSR")
            for s in self.scales
            if self.psnr[name][s] <= self.psnr["bicubic"][s]
        ]

    def comparable(self, tolerance_db: float = MDSR_TOLERANCE_DB) -> bool:
        """The paper's "comparable", as this project reads it: both networks above bicubic at
        every scale, and MDSR at most ``tolerance_db`` below the single-scale model at each."""
        return not self.not_above_bicubic() and min(self.gaps().values()) >= -tolerance_db


def single_vs_multi(
    steps: int,
    single: str = "edsr_tiny",
    multi: str = "mdsr_tiny",
    scales: Sequence[int] = (2, 3, 4),
    data: str = "T91",
    val_data: str = "Set5",
    seed: int = 0,
    **recipe,
) -> ScaleComparison:
    """Train one ``multi`` model for ``steps`` steps (a random scale each) and one ``single``
    model per scale for ``steps // len(scales)`` steps each: the same total number of updates.

    Then score every model on ``val_data`` at each scale (model protocol: Y PSNR, shave =
    scale), with bicubic for reference. ``recipe``: other :class:`TrainConfig` fields
    (``lr``, ``batch_size``, ``patch_size``, ``bf16``, ...); defaults are the paper's.
    """
    scales = tuple(int(s) for s in scales)
    base = dict(data=data, val_data=None, seed=seed, decay_steps=10**9, **recipe)
    per_scale = steps // len(scales)
    singles = {
        s: train_briefly(TrainConfig(preset=single, scale=s, max_steps=per_scale, **base))
        for s in scales
    }
    multi_run = train_briefly(
        TrainConfig(preset=multi, scale=list(scales), max_steps=steps, **base)
    )

    def score(method, at: Sequence[int]) -> dict[int, float]:
        return {row["scale"]: row["psnr"] for row in evaluate(method, [val_data], at)}

    psnr = {
        "bicubic": score("bicubic", scales),
        "EDSR per scale": {s: score(singles[s].model, [s])[s] for s in scales},
        "MDSR": score(multi_run.model, scales),
    }
    params = {
        "EDSR per scale": sum(count_parameters(r.model) for r in singles.values()),
        "MDSR": count_parameters(multi_run.model),
    }
    seconds = {
        "EDSR per scale": sum(r.seconds for r in singles.values()),
        "MDSR": multi_run.seconds,
    }
    logs = {f"EDSR x{s}": r.log for s, r in singles.items()} | {"MDSR": multi_run.log}
    return ScaleComparison(scales, steps, psnr, params, seconds, logs)


# ============================================================================================
# The shipped models
# ============================================================================================


def _shipped_model(name: str, checkpoint_dir: str | os.PathLike | None) -> nn.Module | None:
    if name not in available_pretrained(checkpoint_dir):
        return None
    return load_model(resolve_checkpoint(name, checkpoint_dir))


def shipped_scores(
    set_name: str = "Set5",
    scales: Sequence[int] = (2, 3, 4),
    single: str = "edsr_baseline",
    multi: str = "mdsr_baseline",
    checkpoint_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """The shipped single-scale models (``{single}_x2``, ...) against the shipped multi-scale
    one (``multi``), scored now on ``set_name`` under the model protocol (Y PSNR, shave =
    scale). One row per scale: PSNR (dB) of bicubic, of the single-scale model, of the
    multi-scale model at that scale, their difference, and whether it meets the bar of
    :data:`edsr_lite.core.published.MDSR_TOLERANCE_DB` ("yes" / "no"). A model that has not shipped
    scores None.
    """
    multi_model = _shipped_model(multi, checkpoint_dir)
    rows = []
    for s in scales:
        single_model = _shipped_model(f"{single}_x{s}", checkpoint_dir)
        edsr = None if single_model is None else _set_psnr(single_model, set_name, s)
        mdsr = None if multi_model is None else _set_psnr(multi_model, set_name, s)
        gap = None if edsr is None or mdsr is None else mdsr - edsr
        meets = None if gap is None else ("yes" if gap >= -MDSR_TOLERANCE_DB else "no")
        rows.append(
            {
                "scale": f"x{s}",
                "bicubic dB": _set_psnr("bicubic", set_name, s),
                f"{single} dB": edsr,
                f"{multi} dB": mdsr,
                "multi - single (dB)": gap,
                f"within {MDSR_TOLERANCE_DB} dB": meets,
            }
        )
    return rows


def recorded_scores(
    set_names: Sequence[str] = ("Set5", "Set14", "B100"),
    scales: Sequence[int] = (2, 3, 4),
    single: str = "edsr_baseline",
    multi: str = "mdsr_baseline",
    results_json: str | os.PathLike | None = None,
) -> list[dict]:
    """The shipped single-scale models (``{single}_x2``, ...) against the multi-scale one, as
    ``make results`` scored them (``data/RESULTS.json`` unless ``results_json``): Y PSNR (dB),
    shave = scale, model protocol. One row per set and scale: bicubic, each model without and
    with the x8 self-ensemble (``+``), and MDSR's gap to the single-scale model without it.
    A score the file does not hold is None (the model had not shipped when it was written).
    Reading the file costs nothing, where scoring Set14 and B100 anew takes minutes.
    """
    data = load_results(Path(results_json) if results_json else RESULTS_JSON)

    def psnr(method: str, set_name: str, scale: int) -> float | None:
        value = row_value(data, method, set_name, scale)
        return None if value is None else value[0]

    rows = []
    for set_name in set_names:
        for s in scales:
            edsr = psnr(f"{single}_x{s}", set_name, s)
            mdsr = psnr(multi, set_name, s)
            rows.append(
                {
                    "set": set_name,
                    "scale": f"x{s}",
                    "bicubic dB": psnr("bicubic", set_name, s),
                    f"{single} dB": edsr,
                    f"{single}+ dB": psnr(f"{single}_x{s}+", set_name, s),
                    f"{multi} dB": mdsr,
                    f"{multi}+ dB": psnr(f"{multi}+", set_name, s),
                    "multi - single (dB)": None if edsr is None or mdsr is None else mdsr - edsr,
                }
            )
    return rows


def _set_psnr(method: str | nn.Module, set_name: str, scale: int) -> float:
    return evaluate(method, [set_name], [scale])[0]["psnr"]


def shipped_budgets(
    scales: Sequence[int] = (2, 3, 4),
    single: str = "edsr_baseline",
    multi: str = "mdsr_baseline",
    checkpoint_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """What each shipped model cost: one row per model (the single-scale ones, their sum, the
    multi-scale one) with its parameters, training steps and hours (from its ``run.json``), and
    what it started from (a model named in its ``init_from``, whose own steps are not counted,
    or "random"). Models that have not shipped are left out; the sum row appears once all of
    them ship."""
    rows = []
    for name in [f"{single}_x{s}" for s in scales] + [multi]:
        model = _shipped_model(name, checkpoint_dir)
        if model is None:
            continue
        folder = resolve_checkpoint(name, checkpoint_dir).parent
        run = finished_run_info(folder) or {}
        rows.append(
            {
                "model": name,
                "parameters": count_parameters(model),
                "steps": run.get("step"),
                "training hours": run["seconds"] / 3600 if run.get("seconds") else None,
                "steps in bfloat16": _bf16_share(run),
                "started from": _started_from(run),
            }
        )
    singles = [r for r in rows if r["model"] != multi]
    if len(singles) == len(scales):
        rows.insert(
            len(singles),
            {
                "model": f"the {len(scales)} {single} models",
                "parameters": sum(r["parameters"] for r in singles),
                "steps": sum(r["steps"] or 0 for r in singles),
                "training hours": sum(r["training hours"] or 0 for r in singles),
                "steps in bfloat16": "",
                "started from": "",
            },
        )
    return rows


def _started_from(run: dict) -> str:
    """The checkpoint a run's ``init_from`` names, as the results table labels it
    (``.../edsr_baseline_x2/best.pt`` -> ``edsr_baseline_x2``), or "random"."""
    source = (run.get("train_config") or {}).get("init_from")
    return checkpoint_label(source) if source else "random"


def _bf16_share(run: dict) -> str | None:
    """The share of a run's steps trained under bfloat16 autocast ("100%", "12%"), from the
    precision of each segment of its ``run.json`` (a run resumed elsewhere has several), or
    from its config when it ran in one go; None when the run does not say."""
    segments = run.get("segments") or []
    if segments:
        steps = [(b - a, seg.get("precision", "")) for seg in segments for a, b in [seg["steps"]]]
        total = sum(n for n, _ in steps) or 1
        return f"{sum(n for n, p in steps if p.startswith('bfloat16')) / total:.0%}"
    bf16 = (run.get("train_config") or {}).get("bf16")
    return None if bf16 is None else ("100%" if bf16 else "0%")


# ============================================================================================
# Sentences: what the tables above show, in words chosen from the numbers
# ============================================================================================


def versus_each_scale(gaps: Mapping[int, float], reference: str = "the single-scale model") -> str:
    """``{scale: dB}`` differences in words: "0.40 dB above the single-scale model at x2, level
    with it at x3 and 0.05 dB below it at x4" (:func:`edsr_lite.course.claims.compare`)."""
    parts = [
        f"{compare(gap, 0.0)} {reference if i == 0 else 'it'} at x{s}"
        for i, (s, gap) in enumerate(gaps.items())
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def shipped_gaps(rows: Sequence[dict]) -> dict[int, float]:
    """``{scale: multi - single (dB)}`` of :func:`shipped_scores` or :func:`recorded_scores`
    rows, for the scales where both models have a score."""
    return {
        int(r["scale"].lstrip("x")): r["multi - single (dB)"]
        for r in rows
        if r["multi - single (dB)"] is not None
    }


def recorded_summary(
    rows: Sequence[dict], single: str = "edsr_baseline", multi: str = "mdsr_baseline"
) -> dict | None:
    """What :func:`recorded_scores` rows say, for a sentence: the lowest and the highest gap
    (``(dB, "Set14 x2")``); where both models have self-ensemble scores, the range
    ``(low, high)`` of its gain for each model (``"gain single"``, ``"gain multi"``) and of the
    gap between the two with it (``"gap with ensemble"``), all dB. None without any gap."""
    rows = [r for r in rows if r["multi - single (dB)"] is not None]
    if not rows:
        return None

    def where(r: dict) -> str:
        return f"{r['set']} {r['scale']}"

    def span(values: list[float]) -> tuple[float, float]:
        return min(values), max(values)

    gaps = sorted((r["multi - single (dB)"], where(r)) for r in rows)
    plus = [r for r in rows if r[f"{single}+ dB"] is not None and r[f"{multi}+ dB"] is not None]
    summary = {"lowest": gaps[0], "highest": gaps[-1]}
    if plus:  # the self-ensemble's numbers, where the file holds both models' "+" scores
        summary["gain single"] = span([r[f"{single}+ dB"] - r[f"{single} dB"] for r in plus])
        summary["gain multi"] = span([r[f"{multi}+ dB"] - r[f"{multi} dB"] for r in plus])
        summary["gap with ensemble"] = span([r[f"{multi}+ dB"] - r[f"{single}+ dB"] for r in plus])
    return summary
