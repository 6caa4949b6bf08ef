"""Pretrained initialization: x3/x4 models started from the x2 model (paper Sec. 4.1, Fig. 4).

For ``notebooks/04_pretrained_init.ipynb``:

* :func:`init_table`: what :func:`edsr_lite.weights.init_from` copies from an x2 model into an
  x3/x4 model, part by part (head, body, tail...), in tensors and parameters.
* :func:`pretrained_vs_scratch`: a live run on a CPU: train an x2 model briefly, then the same
  x4 budget twice, once from scratch and once from that x2 model, validated along the way
  (drawn live on a :class:`~edsr_lite.course.live.TrainingBoard`), keeping both models at the
  halfway step and at the end.
* :func:`per_image_psnr` and :func:`paired_gain`: the two models scored image by image on the
  same benchmark images, and the pretrained model's gain as an
  :class:`~edsr_lite.course.claims.Effect`
  (paired differences, the one verdict rule); :func:`stays_above`: whether one validation
  curve stayed above the other at every validation, in words.
* :func:`steps_to_reach`: the first validation step at which a run reached a PSNR.
* :func:`head_start`: what the pretrained run gained over the scratch run with the same budget
  (the live pair's and the shipped pair's rows of the notebook's table with the paper);
  :func:`pair_validations`: the two runs side by side at the steps both validated at, for the
  notebook's computed sentences (who is ahead, when the pretrained run caught up).

The live and the shipped pair carry the same labels, :data:`FROM_X2` and :data:`FROM_SCRATCH`,
so that a figure gives each kind of run one colour throughout the notebook.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import nn

from edsr_lite.core.init import InitReport
from edsr_lite.core.metrics import psnr
from edsr_lite.course import claims
from edsr_lite.course.live import TrainingBoard, progress
from edsr_lite.course.multiscale import part_of
from edsr_lite.course.recorded import ResultsError, load_results, row_value
from edsr_lite.course.runs import temporary_run
from edsr_lite.datasets import benchmark
from edsr_lite.infer import Upscaler
from edsr_lite.train import TrainConfig, TrainLog, load_log, train
from edsr_lite.weights import init_from

#: The labels of the two x4 runs, live and shipped alike.
FROM_X2 = "x4 from x2"
FROM_SCRATCH = "x4 from scratch"
#: The shipped full-budget pair (the paper's Fig. 4 at EDSR-baseline size): label -> run name.
SHIPPED_PAIR = {FROM_X2: "edsr_baseline_x4", FROM_SCRATCH: "edsr_baseline_x4_scratch"}


def init_table(model: nn.Module, source: nn.Module | str) -> tuple[list[dict], InitReport]:
    """Initialize ``model`` from ``source`` (in place) and group the report by part.

    Returns ``(rows, report)``: one row per part of ``model`` (``head``, ``body``,
    ``tail.0`` ...) with the tensors and parameters copied and left at random, and the
    :class:`InitReport`. The frozen mean shifts are buffers-like parameters; they are counted
    like the others.
    """
    report = init_from(model, source, verbose=False)
    copied = set(report.copied)
    rows: dict[str, dict] = {}
    for name, tensor in model.state_dict().items():
        part = _part(name, model)
        row = rows.setdefault(
            part,
            {"part": part, "tensors copied": 0, "tensors random": 0, "params copied": 0,
             "params random": 0},
        )  # fmt: skip
        kind = "copied" if name in copied else "random"
        row[f"tensors {kind}"] += 1
        row[f"params {kind}"] += tensor.numel()
    return list(rows.values()), report


def _part(name: str, model: nn.Module) -> str:
    """Like :func:`edsr_lite.course.multiscale.part_of`, with the upsampler's stages told apart
    (``tail.0.0`` and ``tail.0.2`` are the x4 upsampler's two convolutions)."""
    part = part_of(name, model)
    pieces = name.split(".")
    if part == "tail" and len(pieces) > 3 and pieces[1] == "0":
        return ".".join(pieces[:3])  # tail.0.<stage>: one conv of the upsampler
    if part == "tail":
        return ".".join(pieces[:2])
    return part


@dataclass
class PretrainComparison:
    """:func:`pretrained_vs_scratch`'s result."""

    source: TrainLog = field(repr=False)  # the x2 run the pretrained model started from
    scratch: TrainLog = field(repr=False)
    pretrained: TrainLog = field(repr=False)
    init_report: InitReport = field(repr=False)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each run
    #: ``{step: {label: model}}``: both x4 models (eval mode) at the halfway step and the last
    models: dict[int, dict[str, nn.Module]] = field(default_factory=dict, repr=False)

    def logs(self) -> dict[str, TrainLog]:
        """``{label: log}`` of the two x4 runs, for :func:`edsr_lite.course.figures.plot_curves`:
        :data:`FROM_X2` first, :data:`FROM_SCRATCH` second, as :data:`SHIPPED_PAIR`."""
        return {FROM_X2: self.pretrained, FROM_SCRATCH: self.scratch}


def pretrained_vs_scratch(
    source_steps: int,
    steps: int,
    preset: str = "edsr_tiny",
    scale: int = 4,
    data: str = "T91",
    val_data: str = "Set5",
    val_every: int = 50,
    seed: int = 0,
    board: TrainingBoard | None = None,
    **recipe,
) -> PretrainComparison:
    """Train an x2 ``preset`` for ``source_steps`` steps; then train ``scale`` for ``steps``
    steps twice with the same recipe, seed and patches: from scratch, and initialized from the
    x2 model's final weights. Both x4 runs are validated on ``val_data`` every ``val_every``
    steps (and at step 0); copies of both models are kept at step ``steps // 2`` and at the
    end (:attr:`PretrainComparison.models`). ``board``: all three runs drawn live on it.
    ``recipe``: other :class:`TrainConfig` fields (``lr``, ``batch_size``, ``patch_size``,
    ``bf16``, ``val_images``, ...).
    """
    base = dict(preset=preset, data=data, seed=seed, decay_steps=10**9, **recipe)
    halfway = max(1, steps // 2)
    models: dict[int, dict[str, nn.Module]] = {halfway: {}, steps: {}}
    with temporary_run("edsr-lite-pretrain-") as out:
        source = train(
            TrainConfig(scale=2, max_steps=source_steps, val_data=None, out=f"{out}/x2", **base),
            quiet=True,
            callback=board.callback(f"x2 source ({source_steps} steps)") if board else None,
        )
        runs = {}
        for name, label, init in (
            ("scratch", FROM_SCRATCH, None),
            ("pretrained", FROM_X2, str(source.latest)),
        ):
            runs[name] = train(
                TrainConfig(
                    scale=scale,
                    max_steps=steps,
                    val_data=val_data,
                    val_every=val_every,
                    init_from=init,
                    out=f"{out}/{name}",
                    **base,
                ),
                quiet=True,
                callback=_keeping(models, label, board),
            )
        stored = load_log(runs["pretrained"].out_dir).info["init_from"]  # run.json
        report = InitReport(**{k: stored[k] for k in InitReport().as_dict()})
    seconds = {"x2 source": source.seconds} | {k: r.seconds for k, r in runs.items()}
    return PretrainComparison(
        source.log, runs["scratch"].log, runs["pretrained"].log, report, seconds, models
    )


def _keeping(models: dict[int, dict[str, nn.Module]], label: str, board: TrainingBoard | None):
    """A training callback that copies the model (eval mode) into ``models[step][label]`` at
    the steps ``models`` names, and draws the run on ``board``."""
    draw = board.callback(label) if board is not None else None

    def callback(step: int, row: dict, model: nn.Module) -> None:
        if step in models:
            models[step][label] = copy.deepcopy(model).eval()
        if draw is not None:
            draw(step, row, model)

    return callback


def per_image_psnr(
    model: nn.Module, sets: Sequence[str] = ("Set5", "Set14"), scale: int = 4, desc: str = ""
) -> list[float]:
    """Y PSNR (dB, shave = ``scale``, output rounded to uint8) of ``model`` on every image of
    ``sets``, in order: the paper's protocol, image by image, with a progress line."""
    upscale = Upscaler(model, tile=0)
    items = [item for name in sets for item in benchmark(name, scale)]
    label = desc or f"scoring on {' + '.join(sets)} x{scale}"
    return [
        psnr(upscale(lr, scale), hr, scale) for _, hr, lr in progress(items, label, unit="images")
    ]


def paired_gain(ours: Sequence[float], theirs: Sequence[float], where: str = "") -> claims.Effect:
    """The run from x2's gain over the scratch run, image by image (``ours[i] - theirs[i]``,
    dB): a :class:`~edsr_lite.course.claims.Effect` whose noise comes from how much the gain
    varies between images (:func:`~edsr_lite.course.claims.paired`)."""
    how = f"{claims.count(len(ours), 'image')}{' of ' + where if where else ''}, paired"
    return claims.paired(ours, theirs, how=how)


def stays_above(pair: PairValidations) -> str:
    """Whether the run from x2's validation curve stayed above the scratch run's, in words from
    the gaps (above by more than 0.005 dB, what two decimals show): "stayed above the scratch
    run at every one of the 12 validations", or "was above it at 9 of the 12 validations"."""
    above = sum(gap > 0.005 for gap in pair.gaps)
    n = claims.count(len(pair.gaps), "validation")
    if above == len(pair.gaps):
        return f"stayed above the scratch run at every one of the {n}"
    return f"was above the scratch run at {above} of the {n}"


def steps_to_reach(log: TrainLog, target: float) -> int | None:
    """The first validated step whose PSNR is at least ``target`` dB, or None."""
    for step, value in zip(*log.series("psnr"), strict=True):
        if value >= target:
            return int(step)
    return None


def head_start(pretrained: TrainLog | None, scratch: TrainLog | None) -> str:
    """The pretrained run's lead over the scratch run, both given the same steps, as one cell
    of a claims table: e.g. ``"+0.45 dB on Set5 at step 200; the scratch run's final 30.12 dB
    reached at step 50 of 200 steps"`` (or "... not reached in 200 steps"). ``"- (not shipped
    yet)"`` while either log is missing or has no validation (the shipped control arrives after
    the x4 run it is compared with)."""
    if pretrained is None or scratch is None:
        return "- (not shipped yet)"
    ends = [log.series("psnr") for log in (pretrained, scratch)]
    if not all(steps for steps, _ in ends):
        return "- (not shipped yet)"
    (p_steps, p_psnr), (s_steps, s_psnr) = ends
    same_step = p_steps[-1] == s_steps[-1]
    at = f"at step {s_steps[-1]}" if same_step else f"at steps {p_steps[-1]} vs {s_steps[-1]}"
    reached = steps_to_reach(pretrained, s_psnr[-1])
    when = f"reached at step {reached} of" if reached is not None else "not reached in"
    return (
        f"{p_psnr[-1] - s_psnr[-1]:+.2f} dB on Set5 {at}; the scratch run's final "
        f"{s_psnr[-1]:.2f} dB {when} {p_steps[-1]} steps"
    )


@dataclass
class PairValidations:
    """Two runs' validation PSNR (dB) at the steps both validated at (step 0 left out), from
    :func:`pair_validations`. ``ours`` is the run from x2, ``theirs`` the run from scratch.

    ``reached``: the first of ``ours``'s own validations (step 0 included) at which it had the
    scratch run's final PSNR, or None; ``theirs_at_0``/``ours_at_0``: the untrained networks.
    """

    steps: list[int]
    ours: list[float]
    theirs: list[float]
    ours_at_0: float | None
    theirs_at_0: float | None
    reached: int | None

    @property
    def gaps(self) -> list[float]:
        """``ours - theirs`` at each common step (dB)."""
        return [a - b for a, b in zip(self.ours, self.theirs, strict=True)]

    @property
    def last(self) -> int:
        """The last step both runs validated at."""
        return self.steps[-1]

    @property
    def ahead(self) -> bool:
        """Whether ``ours`` ends above ``theirs`` at the last common step, by more than the
        0.005 dB that two decimals hide (the verdict "faster convergence" with the same
        budget)."""
        return self.gaps[-1] > 0.005

    def rise(self, which: str = "theirs") -> float:
        """How much a run (``"ours"`` or ``"theirs"``) gained between the last two common
        validations (dB; NaN with only one): is the curve still climbing?"""
        values = getattr(self, which)
        return values[-1] - values[-2] if len(values) > 1 else math.nan

    def caught_up(self) -> str:
        """The words for when the run from x2 had the scratch run's final PSNR, from the data:
        "caught up with the scratch run's final 29.01 dB at step 75 of 200", or "had not caught
        up with the scratch run's final 29.01 dB in 200 steps"."""
        target = f"the scratch run's final {self.theirs[-1]:.2f} dB"
        if self.reached is None:
            return f"had not caught up with {target} in {self.last} steps"
        return f"caught up with {target} at step {self.reached} of {self.last}"


def pair_validations(ours: TrainLog, theirs: TrainLog) -> PairValidations | None:
    """:class:`PairValidations` of two logs, or None while either has no validation after
    step 0 in common with the other (e.g. a shipped log that has not arrived)."""
    a = dict(zip(*ours.series("psnr"), strict=True))
    b = dict(zip(*theirs.series("psnr"), strict=True))
    steps = sorted(int(step) for step in set(a) & set(b) if step > 0)
    if not steps:
        return None
    final = b[max(b)]
    return PairValidations(
        steps=steps,
        ours=[a[step] for step in steps],
        theirs=[b[step] for step in steps],
        ours_at_0=a.get(0),
        theirs_at_0=b.get(0),
        reached=steps_to_reach(ours, final),
    )


def recorded_psnr(name: str, set_name: str, scale: int) -> float | None:
    """A shipped checkpoint's Y PSNR (dB) on a benchmark set, as ``make results`` recorded it
    in ``data/RESULTS.json`` (:mod:`edsr_lite.course.recorded`); None when not recorded."""
    try:
        value = row_value(load_results(), name, set_name, scale)
    except ResultsError:
        return None
    return None if value is None else value[0]
