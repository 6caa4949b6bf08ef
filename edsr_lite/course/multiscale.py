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
  same total number of steps, drawn live on a :class:`~edsr_lite.course.live.TrainingBoard`
  (one line per approach and scale), then scored image by image on benchmark sets.
* :func:`shipped_scores` and :func:`shipped_budgets`: the shipped MDSR-baseline against the
  shipped EDSR-baselines, scored now image by image, and what each cost to train.
* :func:`recorded_scores`: the same pair on every benchmark set, with and without
  self-ensemble, as ``make results`` recorded them in ``data/RESULTS.json``.
* :func:`comparable`: the paper's "comparable" as an effect for the one verdict rule of
  :mod:`edsr_lite.course.claims`: this project's bar :data:`MDSR_TOLERANCE_DB` (from
  :mod:`edsr_lite.core.published`) minus the size of the mean gap, either way, with the noise
  of the per-image paired differences (:meth:`ScaleComparison.effects`,
  :func:`shipped_effects`).
* :func:`versus_each_scale`, :func:`shipped_gaps`, :func:`recorded_summary`,
  :meth:`ScaleComparison.reading`: what those tables show, for the notebook's computed
  sentences.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edsr_lite.checkpoint_eval import checkpoint_label
from edsr_lite.core.models import MDSR, build, count_parameters
from edsr_lite.core.patches import draw_scale
from edsr_lite.core.published import MDSR_TOLERANCE_DB
from edsr_lite.course.claims import SHOWN, Effect, compare, count, paired, samples
from edsr_lite.course.live import TrainingBoard, progress
from edsr_lite.course.recorded import RESULTS_JSON, load_results, row_value
from edsr_lite.course.runs import temporary_run
from edsr_lite.evaluation import bicubic_sr, evaluate_model_protocol
from edsr_lite.infer import Upscaler
from edsr_lite.runs import finished_run_info
from edsr_lite.train import TrainConfig, Trainer, TrainLog, TrainResult, train
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

#: The approaches of :func:`single_vs_multi`, as its tables and figures name them.
SINGLE, MULTI = "EDSR per scale", "MDSR"


def scale_curves(log: TrainLog, scale: int) -> tuple[list[int], list[float]]:
    """``(updates, dB)``: the validation PSNR at ``scale`` against the number of minibatches of
    that scale the run had trained on (an EDSR: its step; an MDSR: the steps that drew it)."""
    seen, xs, ys = 0, [], []
    for row in log.rows:
        if row.get("scale") == scale:
            seen += 1
        if row.get(f"psnr_x{scale}") is not None:
            xs.append(seen)
            ys.append(float(row[f"psnr_x{scale}"]))
    return xs, ys


def step_seconds(log: TrainLog) -> list[float]:
    """The wall time of each training step (s) from the log's ``seconds`` column, leaving out
    the steps that follow a validation (their time includes it)."""
    rows = log.rows
    return [
        float(b["seconds"] - a["seconds"])
        for a, b in itertools.pairwise(rows)
        if a.get("psnr") is None and a.get("seconds") is not None and b.get("seconds") is not None
    ]


def image_psnrs(method: str | nn.Module, set_names: Sequence[str], scale: int) -> list[float]:
    """Y PSNR (dB, shave = scale, model protocol) of every image of ``set_names`` in turn:
    ``"bicubic"`` or a network (run untiled, output rounded to uint8 as a saved PNG)."""
    sr_fn = bicubic_sr if method == "bicubic" else Upscaler(method, tile=0)
    return [s.psnr for name in set_names for s in evaluate_model_protocol(sr_fn, name, scale)]


@dataclass
class ScaleComparison:
    """:func:`single_vs_multi`'s result: per-image PSNR per scale of each approach, the runs.

    ``images[approach][scale]`` lists the PSNR (dB) of each image of ``score_sets`` in the same
    order for every approach (``"bicubic"``, :data:`SINGLE`, :data:`MULTI`), so that two
    approaches' differences pair up image by image.
    """

    scales: tuple[int, ...]
    steps: int  # total steps of each approach
    images: dict[str, dict[int, list[float]]]
    parameters: dict[str, int]  # {SINGLE: sum of the EDSRs, MULTI: its total}
    score_sets: tuple[str, ...] = ("Set5",)
    logs: dict[str, TrainLog] = field(repr=False, default_factory=dict)
    val_data: str = "Set5"  # what the curves validate on
    val_bicubic: dict[int, float] = field(default_factory=dict)  # {scale: bicubic dB on it}

    @property
    def psnr(self) -> dict[str, dict[int, float]]:
        """``{approach: {scale: mean dB over the images}}``."""
        return {
            name: {s: float(np.mean(v)) for s, v in dbs.items()}
            for name, dbs in self.images.items()
        }

    @property
    def n_images(self) -> int:
        return len(next(iter(self.images["bicubic"].values())))

    def rows(self) -> list[dict]:
        """One row per scale (mean PSNR of each approach, dB) for a table."""
        psnr = self.psnr
        return [
            {"scale": f"x{s}", **{f"{name} (dB)": dbs[s] for name, dbs in psnr.items()}}
            for s in self.scales
        ]

    def gaps(self) -> dict[int, float]:
        """``{scale: MDSR - EDSR (dB)}``: positive where the multi-scale model is ahead."""
        psnr = self.psnr
        return {s: psnr[MULTI][s] - psnr[SINGLE][s] for s in self.scales}

    def not_above_bicubic(self) -> list[str]:
        """The networks (``"MDSR at x2"``, ...) whose mean does not score above bicubic."""
        psnr = self.psnr
        return [
            f"{name} at x{s}"
            for name in (SINGLE, MULTI)
            for s in self.scales
            if psnr[name][s] <= psnr["bicubic"][s]
        ]

    def effects(self, tolerance_db: float = MDSR_TOLERANCE_DB) -> dict[int, Effect]:
        """``{scale:`` :func:`comparable` ``}``: MDSR against the EDSR of each scale; "too short
        to tell" at a scale where either network is not above bicubic yet (fixed in advance:
        such a gap compares two untrained networks, whichever way it points)."""
        behind = self.not_above_bicubic()
        effects = {}
        for s in self.scales:
            effect = comparable(self.images[MULTI][s], self.images[SINGLE][s], tolerance_db)
            if any(name.endswith(f" at x{s}") for name in behind):
                effect = replace(effect, too_early="a network not above bicubic yet")
            effects[s] = effect
        return effects

    def curves(self) -> dict[str, dict[int, tuple[list[int], list[float]]]]:
        """``{approach: {scale: (updates at that scale, validation dB)}}``, as
        :func:`scale_curves`, for :func:`edsr_lite.course.figures.plot_scale_curves`."""
        singles = {s: scale_curves(self.logs[f"EDSR x{s}"], s) for s in self.scales}
        return {SINGLE: singles, MULTI: {s: scale_curves(self.logs[MULTI], s) for s in self.scales}}

    def last_rise(self) -> float:
        """The largest rise (dB) of any validation curve over its last interval: how far the
        runs still were from settling when they stopped."""
        rises = [
            ys[-1] - ys[-2]
            for per_scale in self.curves().values()
            for _, ys in per_scale.values()
            if len(ys) >= 2
        ]
        return max(rises, default=float("nan"))

    def reading(self, tolerance_db: float = MDSR_TOLERANCE_DB) -> str:
        """What the run says, in sentences chosen from its numbers: the gaps, each scale's
        verdict (:meth:`effects`), and, unless every scale is shown, why the run cannot show
        more (networks still at or below bicubic, or curves still rising)."""
        effects = self.effects(tolerance_db)
        per_scale = self.steps // len(self.scales)
        where = " + ".join(self.score_sets)
        said = [
            f"After {self.steps} MDSR steps and {per_scale} for each EDSR, MDSR ended "
            f"{versus_each_scale(self.gaps())} on {where} ({count(self.n_images, 'image')}).",
            "Verdicts, effect = tolerance minus the gap's size: "
            + ", ".join(f"x{s} {e.verdict}" for s, e in effects.items())
            + ".",
        ]
        if all(e.verdict == SHOWN for e in effects.values()):
            return " ".join(said)
        behind = self.not_above_bicubic()
        if behind:
            said.append(
                f"{', '.join(behind)} {'is' if len(behind) == 1 else 'are'} still at or "
                "below bicubic: the runs show the start of "
                "training, not the trained models the paper compares."
            )
        else:
            said.append(
                f"The curves still rose by up to {self.last_rise():.2f} dB at their last "
                "validation: far from the trained models the paper compares (see section 5)."
            )
        return " ".join(said)

    def step_times(self) -> dict[str, list[float]]:
        """``{approach: [ms, ...]}``: the wall time of each training step (:func:`step_seconds`),
        of the three EDSRs together and of MDSR."""
        singles = [t for s in self.scales for t in step_seconds(self.logs[f"EDSR x{s}"])]
        multi = step_seconds(self.logs[MULTI])
        return {SINGLE: [1000 * t for t in singles], MULTI: [1000 * t for t in multi]}

    def step_time(self) -> Effect:
        """MDSR's training step against an EDSR's, in ms (:func:`edsr_lite.course.claims.samples`
        over :meth:`step_times`): positive when MDSR's step is slower. Load moves it."""
        times = self.step_times()
        return samples(times[MULTI], times[SINGLE], unit="ms", how="steps' wall times")


def comparable(ours: Sequence[float], reference: Sequence[float], tolerance_db: float) -> Effect:
    """The paper's "comparable" as a measured effect: ``tolerance_db - |mean(ours - reference)|``
    (dB), positive when the two are closer than the tolerance either way; its noise is that of
    the paired per-image differences (:func:`edsr_lite.course.claims.paired`)."""
    gap = paired(ours, reference)
    how = f"{count(len(ours), 'image')}, paired"
    return Effect(tolerance_db - abs(gap.value), gap.noise, "dB", how)


def _board_callback(board: TrainingBoard, approach: str, scales: Sequence[int]) -> Callable:
    """A :func:`~edsr_lite.train.train` callback drawing one line per scale on ``board``
    (``"MDSR x3"``), against the minibatches of that scale so far (as :func:`scale_curves`)."""
    for s in scales:  # a line's colour follows the order the lines are named
        board.callback(f"{approach} x{s}")
    counts: Counter[int] = Counter()

    def record(step: int, row: dict, model: nn.Module) -> None:
        counts[row["scale"]] += 1
        board.record(f"{approach} x{row['scale']}", counts[row["scale"]], loss=row["loss"])
        for s in scales:
            if row.get(f"psnr_x{s}") is not None:
                board.record(f"{approach} x{s}", counts[s], psnr=row[f"psnr_x{s}"])

    return record


def _train(config: TrainConfig, callback: Callable | None) -> TrainResult:
    """``train(config, quiet=True)`` in a temporary folder (the model and log stay in memory)."""
    with temporary_run() as out:
        run = TrainConfig.from_dict({**config.to_dict(), "out": str(out), "resume": False})
        return train(run, quiet=True, callback=callback)


def single_vs_multi(
    steps: int,
    single: str = "edsr_tiny",
    multi: str = "mdsr_tiny",
    scales: Sequence[int] = (2, 3, 4),
    data: str = "T91",
    val_data: str = "Set5",
    score_sets: Sequence[str] = ("Set5", "Set14"),
    validations: int = 8,
    seed: int = 0,
    board: TrainingBoard | None = None,
    **recipe,
) -> ScaleComparison:
    """Train one ``multi`` model for ``steps`` steps (a random scale each) and one ``single``
    model per scale for ``steps // len(scales)`` steps each: the same total number of updates.

    Each run validates on ``val_data`` about ``validations`` times per scale (the curves of
    :meth:`ScaleComparison.curves`), drawn live on ``board`` if given (one line per approach and
    scale). Then every model, and bicubic, is scored image by image on ``score_sets`` at each
    scale (Y PSNR, shave = scale, model protocol), with a progress line. ``recipe``: other
    :class:`TrainConfig` fields (``lr``, ``batch_size``, ``patch_size``, ``bf16``, ...);
    defaults are the paper's.
    """
    scales = tuple(int(s) for s in scales)
    base = dict(data=data, val_data=val_data, seed=seed, decay_steps=10**9, **recipe)
    per_scale = steps // len(scales)
    singles = {}
    for s in scales:
        config = TrainConfig(
            preset=single,
            scale=s,
            max_steps=per_scale,
            val_every=max(1, per_scale // validations),
            **base,
        )
        singles[s] = _train(config, board and _board_callback(board, "EDSR", [s]))
    config = TrainConfig(
        preset=multi,
        scale=list(scales),
        max_steps=steps,
        val_every=max(1, steps // validations),
        **base,
    )
    multi_run = _train(config, board and _board_callback(board, MULTI, scales))
    if board is not None:
        board.close()

    jobs = [("bicubic", "bicubic", s) for s in scales]
    jobs += [(SINGLE, singles[s].model, s) for s in scales]
    jobs += [(MULTI, multi_run.model, s) for s in scales]
    images: dict[str, dict[int, list[float]]] = {"bicubic": {}, SINGLE: {}, MULTI: {}}
    where = " + ".join(score_sets)
    for name, method, s in progress(jobs, f"scoring on {where}", unit="models x scales"):
        images[name][s] = image_psnrs(method, score_sets, s)
    params = {
        SINGLE: sum(count_parameters(r.model) for r in singles.values()),
        MULTI: count_parameters(multi_run.model),
    }
    logs = {f"EDSR x{s}": r.log for s, r in singles.items()} | {MULTI: multi_run.log}
    reference = {s: float(np.mean(image_psnrs("bicubic", [val_data], s))) for s in scales}
    return ScaleComparison(
        scales, steps, images, params, tuple(score_sets), logs, val_data, reference
    )


# ============================================================================================
# The shipped models
# ============================================================================================


def _shipped_model(name: str, checkpoint_dir: str | os.PathLike | None) -> nn.Module | None:
    if name not in available_pretrained(checkpoint_dir):
        return None
    return load_model(resolve_checkpoint(name, checkpoint_dir))


@functools.lru_cache(maxsize=32)
def shipped_images(
    name: str, set_name: str, scale: int, checkpoint_dir: str | os.PathLike | None = None
) -> tuple[float, ...] | None:
    """Y PSNR (dB, model protocol) of each image of ``set_name`` at ``scale`` by the shipped
    model ``name`` (or ``"bicubic"``), in the set's order; None if it has not shipped. Kept for
    the session: the table and the claims of a notebook score each model once."""
    model = "bicubic" if name == "bicubic" else _shipped_model(name, checkpoint_dir)
    return None if model is None else tuple(image_psnrs(model, [set_name], scale))


def shipped_scores(
    set_name: str = "Set5",
    scales: Sequence[int] = (2, 3, 4),
    single: str = "edsr_baseline",
    multi: str = "mdsr_baseline",
    checkpoint_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """The shipped single-scale models (``{single}_x2``, ...) against the shipped multi-scale
    one (``multi``), scored now on ``set_name`` under the model protocol (Y PSNR, shave =
    scale). One row per scale: mean PSNR (dB) of bicubic, of the single-scale model, of the
    multi-scale model at that scale, their difference, and its noise (2 standard errors of the
    per-image paired differences, :func:`edsr_lite.course.claims.paired`). A model that has not
    shipped scores None. Shows a progress line while it scores.
    """
    rows = []
    for s in progress(scales, f"scoring the shipped models on {set_name}", unit="scales"):
        edsr = shipped_images(f"{single}_x{s}", set_name, s, checkpoint_dir)
        mdsr = shipped_images(multi, set_name, s, checkpoint_dir)
        gap = None if edsr is None or mdsr is None else paired(mdsr, edsr)
        rows.append(
            {
                "scale": f"x{s}",
                "bicubic dB": float(np.mean(shipped_images("bicubic", set_name, s))),
                f"{single} dB": None if edsr is None else float(np.mean(edsr)),
                f"{multi} dB": None if mdsr is None else float(np.mean(mdsr)),
                "multi - single (dB)": None if gap is None else gap.value,
                "noise ± (dB)": None if gap is None else gap.noise,
            }
        )
    return rows


def shipped_effects(
    set_name: str = "Set5",
    scales: Sequence[int] = (2, 3, 4),
    single: str = "edsr_baseline",
    multi: str = "mdsr_baseline",
    checkpoint_dir: str | os.PathLike | None = None,
    tolerance_db: float = MDSR_TOLERANCE_DB,
) -> dict[int, Effect]:
    """``{scale:`` :func:`comparable` ``}`` of the shipped multi-scale model against the
    shipped single-scale model of each scale, for the scales where both have shipped."""
    effects = {}
    for s in scales:
        edsr = shipped_images(f"{single}_x{s}", set_name, s, checkpoint_dir)
        mdsr = shipped_images(multi, set_name, s, checkpoint_dir)
        if edsr is not None and mdsr is not None:
            effects[s] = comparable(mdsr, edsr, tolerance_db)
    return effects


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
