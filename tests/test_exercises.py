"""The classroom exercises: their checks, the notebooks' exercise cells, the student versions.

* Each ``edsr_lite.course.exercises.check_*`` accepts a right answer and rejects typical wrong ones
  (written here on purpose) with a message that names the mistake.
* The notebooks' exercise sections run on their own and pass; their student versions
  (``tools/make_student.py``) fail exactly at the exercises, with NotImplementedError.
* ``make_student`` refuses unbalanced markers; ``make student`` writes ``build/student/``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import math
import random
import re
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import edsr_lite as el
from edsr_lite.course import exercises
from edsr_lite.course.exercises import ExerciseError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools/make_student.py")
make_student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_student)


# ============================================================================================
# Right answers (the notebooks' solutions, in plain Python)
# ============================================================================================


class EDSRBlock(nn.Module):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__()
        self.conv1 = nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2)
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.res_scale * self.conv2(self.relu(self.conv1(x)))


def block_saved_bytes(batch, n_feats, height, width, bn):
    return (4 if bn else 2) * batch * n_feats * height * width * 4


def _block_outputs(model, x, hook="forward"):
    stds = []
    blocks = [m for m in model.body if isinstance(m, el.ResBlock)]
    if hook == "forward":
        handles = [
            b.register_forward_hook(lambda m, i, o: stds.append(o.std().item())) for b in blocks
        ]
    else:
        handles = [
            b.register_forward_pre_hook(lambda m, i: stds.append(i[0].std().item())) for b in blocks
        ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return stds


def activation_growth(model, x):
    stds = _block_outputs(model, x)
    return stds[-1] / stds[0]


def predicted_growth(n_blocks, res_scale):
    return (1 + res_scale**2 / 18) ** (n_blocks / 2)


def fold_block(block):
    folded = copy.deepcopy(block)
    with torch.no_grad():
        folded.body[-1].weight.mul_(block.res_scale)
        folded.body[-1].bias.mul_(block.res_scale)
    folded.res_scale = 1.0
    return folded


def mdsr_forward(model, x, scale, index=None, skip=True):
    i = model.scales.index(scale) if index is None else index(model, scale)
    x = model.head(model.sub_mean(x))
    x = model.pre_process[i](x)
    x = x + model.body(x) if skip else model.body(x)
    return model.add_mean(model.tail(model.upsample[i](x)))


def mdsr_step(model, optimizer, batches, rng, draw=None, loss_fn=F.l1_loss, zero=True):
    scale = draw() if draw else model.scales[rng.integers(len(model.scales))]
    lr, hr = batches[scale]
    if zero:
        optimizer.zero_grad()
    loss = loss_fn(model(lr, scale), hr)
    loss.backward()
    optimizer.step()
    return scale, loss.item()


def copy_matching_weights(model, source):
    own = model.state_dict()
    matching = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    return list(matching)


def random_fraction(model, source):
    own = model.state_dict()
    left = sum(v.numel() for k, v in own.items() if k not in source or source[k].shape != v.shape)
    return left / sum(v.numel() for v in own.values())


def modcrop(image, scale):
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255


def psnr_y(sr, hr, scale, weights=Y_WEIGHTS, shave=None, channel="y"):
    s = scale if shave is None else shave
    if channel == "y":
        a, b = sr.astype(np.float64) @ weights, hr.astype(np.float64) @ weights
    else:
        a, b = sr.astype(np.float64), hr.astype(np.float64)
    if s:
        a, b = a[s:-s, s:-s], b[s:-s, s:-s]
    return 10 * math.log10(255**2 / np.mean((a - b) ** 2))


def bicubic_baseline(hr, scale, crop=True):
    hr = modcrop(hr, scale) if crop else hr
    lr = el.imresize(hr, 1 / scale)
    return lr, el.imresize(lr, scale)


def error_map(sr, hr, scale, shave=True, absolute=True):
    diff = sr.astype(np.float64) @ Y_WEIGHTS - hr.astype(np.float64) @ Y_WEIGHTS
    diff = np.abs(diff) if absolute else diff
    return diff[scale:-scale, scale:-scale] if shave else diff


def self_ensemble(forward, x, ks=range(4), flips=(False, True), undo=-1, divide=True):
    outputs = []
    for k in ks:
        for flip in flips:
            t = torch.rot90(x, k, (2, 3))
            y = forward(t.flip(3) if flip else t)
            y = y.flip(3) if flip else y
            outputs.append(torch.rot90(y, undo * k, (2, 3)) if undo else y)
    total = torch.stack(outputs).sum(0)
    return total / len(outputs) if divide else total


RIGHT = {
    "check_bicubic_baseline": bicubic_baseline,
    "check_error_map": error_map,
    "check_resblock": EDSRBlock,
    "check_saved_activation_bytes": block_saved_bytes,
    "check_activation_growth": activation_growth,
    "check_predicted_growth": predicted_growth,
    "check_fold_res_scale": fold_block,
    "check_mdsr_forward": mdsr_forward,
    "check_mdsr_step": mdsr_step,
    "check_copy_matching_weights": copy_matching_weights,
    "check_random_fraction": random_fraction,
    "check_modcrop": modcrop,
    "check_psnr_y_shave": psnr_y,
    "check_self_ensemble": self_ensemble,
}


# ============================================================================================
# Wrong answers, each with the diagnosis the check must give
# ============================================================================================


class BNBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.bn = nn.BatchNorm2d(n_feats)

    def forward(self, x):
        return x + self.res_scale * self.bn(self.conv2(self.relu(self.conv1(x))))


class NoScaleBlock(EDSRBlock):
    def forward(self, x):
        return x + self.conv2(self.relu(self.conv1(x)))


class NoSkipBlock(EDSRBlock):
    def forward(self, x):
        return self.res_scale * self.conv2(self.relu(self.conv1(x)))


class ReluAfterSumBlock(EDSRBlock):
    def forward(self, x):
        return F.relu(x + self.res_scale * self.conv2(self.relu(self.conv1(x))))


class NoPaddingBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.conv1.padding = self.conv2.padding = (0, 0)


class InPlaceBlock(EDSRBlock):
    def forward(self, x):
        x += self.res_scale * self.conv2(self.relu(self.conv1(x)))
        return x


def _growth_no_hook_removal(model, x):
    stds = []
    for b in model.body:
        if isinstance(b, el.ResBlock):
            b.register_forward_hook(lambda m, i, o: stds.append(o.std().item()))
    model(x)
    return stds[-1] / stds[0]


def _fold_in_place(block):
    with torch.no_grad():
        block.body[-1].weight.mul_(block.res_scale)
        block.body[-1].bias.mul_(block.res_scale)
    block.res_scale = 1.0
    return block


def _fold_weight_only(block):
    folded = copy.deepcopy(block)
    with torch.no_grad():
        folded.body[-1].weight.mul_(block.res_scale)
    folded.res_scale = 1.0
    return folded


def _fold_keep_scale(block):
    folded = fold_block(block)
    folded.res_scale = block.res_scale
    return folded


def _fold_first_conv(block):
    folded = copy.deepcopy(block)
    with torch.no_grad():
        folded.body[0].weight.mul_(block.res_scale)
        folded.body[0].bias.mul_(block.res_scale)
    folded.res_scale = 1.0
    return folded


def _step_all_scales(model, optimizer, batches, rng):
    optimizer.zero_grad()
    loss = sum(F.l1_loss(model(*batches[s][:1], s), batches[s][1]) for s in model.scales)
    loss.backward()
    optimizer.step()
    return int(model.scales[0]), loss.item() / len(model.scales)


def _step_zeros_not_none(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    optimizer.zero_grad(set_to_none=False)
    loss = F.l1_loss(model(batches[scale][0], scale), batches[scale][1])
    loss.backward()
    optimizer.step()
    return scale, loss.item()


def _step_no_update(model, optimizer, batches, rng):
    scale = model.scales[rng.integers(len(model.scales))]
    optimizer.zero_grad()
    loss = F.l1_loss(model(batches[scale][0], scale), batches[scale][1])
    loss.backward()
    return scale, loss.item()


def _copy_all(model, source):
    model.load_state_dict(source, strict=False)
    return list(source)


def _copy_by_position(model, source):
    own = model.state_dict()
    names = []
    with torch.no_grad():
        for (k, v), s in zip(own.items(), source.values(), strict=False):
            if v.shape == s.shape:
                v.copy_(s)
                names.append(k)
    return names


def _copy_parameters_only(model, source):
    names = []
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k in source and source[k].shape == p.shape:
                p.copy_(source[k])
                names.append(k)
    return names


def _copy_sharing_memory(model, source):
    names = []
    for k, p in model.named_parameters():
        if k in source and source[k].shape == p.shape:
            p.data = source[k]
            names.append(k)
    for k, b in model.named_buffers():
        if k in source and source[k].shape == b.shape:
            b.data = source[k]
            names.append(k)
    return names


def _fraction_by_name(model, source):
    own = model.state_dict()
    return sum(v.numel() for k, v in own.items() if k not in source) / sum(
        v.numel() for v in own.values()
    )


def _fraction_of_tensors(model, source):
    own = model.state_dict()
    left = [k for k, v in own.items() if k not in source or source[k].shape != v.shape]
    return len(left) / len(own)


def _python_random(model):
    return lambda: random.choice(model.scales)


FULL_RANGE = np.array([0.299, 0.587, 0.114])


def _subsampled_baseline(hr, scale):
    return modcrop(hr, scale)[::scale, ::scale], bicubic_baseline(hr, scale)[1]


def _hr_as_sr(hr, scale):
    return bicubic_baseline(hr, scale)[0], modcrop(hr, scale)


def _nearest_baseline(hr, scale):
    lr = el.imresize(modcrop(hr, scale), 1 / scale)
    return lr, np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)


def _float_baseline(hr, scale):
    lr = el.imresize(modcrop(hr, scale).astype(np.float64), 1 / scale)
    return lr, el.imresize(lr, scale)


def _skimage_baseline(hr, scale):
    from skimage.transform import rescale

    small = rescale(modcrop(hr, scale), 1 / scale, order=3, channel_axis=-1, preserve_range=True)
    lr = np.clip(np.round(small), 0, 255).astype(np.uint8)
    return lr, el.imresize(lr, scale)


def _ensemble_no_untransform(forward, x):
    outs = [forward(torch.rot90(x, k, (2, 3)).flip(3) if f else torch.rot90(x, k, (2, 3)))
            for k in range(4) for f in (False, True)]  # fmt: skip
    return torch.stack(outs).mean(0)


WRONG = [
    ("check_resblock", BNBlock, "BN still present"),
    ("check_resblock", NoScaleBlock, "forgot res_scale"),
    ("check_resblock", NoSkipBlock, "forgot the skip connection"),
    ("check_resblock", ReluAfterSumBlock, "ReLU after the sum"),
    ("check_resblock", NoPaddingBlock, "padding"),
    ("check_resblock", InPlaceBlock, "in place"),
    ("check_saved_activation_bytes", lambda b, f, h, w, bn: block_saved_bytes(b, f, h, w, bn) // 4,
     "counted values, not bytes"),
    ("check_saved_activation_bytes", lambda b, f, h, w, bn: 2 * b * f * h * w * 4,
     "as without it: each BN layer keeps its own input"),
    ("check_saved_activation_bytes", lambda b, f, h, w, bn: (5 if bn else 3) * b * f * h * w * 4,
     "one too many: the ReLU is in place"),
    ("check_saved_activation_bytes", lambda b, f, h, w, bn: (4 if bn else 2) * f * h * w * 4,
     "forgot the batch dimension"),
    ("check_activation_growth", lambda m, x: 1 / activation_growth(m, x), "upside down"),
    ("check_activation_growth", lambda m, x: activation_growth(m, x) ** 2, "variance"),
    ("check_activation_growth", lambda m, x: (lambda s: s[-1] / s[0])(_block_outputs(m, x, "pre")),
     "blocks' inputs"),
    ("check_activation_growth", _growth_no_hook_removal, "left hooks"),
    ("check_predicted_growth", lambda b, s: (1 + s**2 / 18) ** b, "square root"),
    ("check_predicted_growth", lambda b, s: (1 + s**2 / 9) ** (b / 2), "1/18, not 1/9"),
    ("check_predicted_growth", lambda b, s: (1 + s / 18) ** (b / 2), "res_scale squared"),
    ("check_predicted_growth", lambda b, s: math.sqrt(1 + b * s**2 / 18), "compound"),
    ("check_fold_res_scale", _fold_in_place, "changed the block it was given"),
    ("check_fold_res_scale", _fold_weight_only, "bias was not scaled"),
    ("check_fold_res_scale", _fold_keep_scale, "scaled twice"),
    ("check_fold_res_scale", copy.deepcopy, "nothing was folded"),
    ("check_fold_res_scale", _fold_first_conv, "first conv"),
    ("check_mdsr_forward", lambda m, x, s: mdsr_forward(m, x, s, index=lambda m, s: s - 2),
     "x4 branch"),
    ("check_mdsr_forward", lambda m, x, s: mdsr_forward(m, x, s, skip=False), "global skip"),
    ("check_mdsr_forward", lambda m, x, s: m(x, s), "do not call model"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, draw=lambda: 2), "drew only"),
    ("check_mdsr_step", _step_all_scales, "do not add up the losses of all scales"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, zero=False), "zero_grad"),
    ("check_mdsr_step", _step_zeros_not_none, "zero gradient instead of none"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, loss_fn=F.mse_loss),
     "mean squared error"),
    ("check_mdsr_step", lambda m, o, b, r: mdsr_step(m, o, b, r, draw=_python_random(m)),
     "the same seed gave other scales"),
    ("check_mdsr_step", _step_no_update, "changed no weight"),
    ("check_copy_matching_weights", _copy_all, "shape differs"),
    ("check_copy_matching_weights", _copy_by_position, "by name, not by position"),
    ("check_copy_matching_weights", _copy_parameters_only, "buffer"),
    ("check_copy_matching_weights", _copy_sharing_memory, "shares memory"),
    ("check_copy_matching_weights", lambda m, s: copy_matching_weights(m, s)[1:], "wrong names"),
    ("check_random_fraction", _fraction_by_name, "shape differs"),
    ("check_random_fraction", _fraction_of_tensors, "counted tensors, not values"),
    ("check_random_fraction", lambda m, s: 1 - random_fraction(m, s), "fraction copied"),
    ("check_bicubic_baseline", lambda hr, s: bicubic_baseline(hr, s, crop=False), "mod-crop HR"),
    ("check_bicubic_baseline", lambda hr, s: bicubic_baseline(hr, s)[::-1], "in that order"),
    ("check_bicubic_baseline", _subsampled_baseline, "aliases"),
    ("check_bicubic_baseline", _nearest_baseline, "nearest neighbour"),
    ("check_bicubic_baseline", _hr_as_sr, "HR itself"),
    ("check_bicubic_baseline", _float_baseline, "return uint8"),
    ("check_bicubic_baseline", _skimage_baseline, "MATLAB's bicubic downscale"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s, absolute=False), "absolute value"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s, shave=False), "shave 2 pixels"),
    ("check_error_map", lambda sr, hr, s: el.metrics.rgb_to_y(sr - hr)[s:-s, s:-s], "wraps around"),
    ("check_error_map", lambda sr, hr, s: np.abs(sr.astype(float) - hr)[s:-s, s:-s], "Y channel"),
    ("check_error_map", lambda sr, hr, s: error_map(sr, hr, s) ** 2, "squared error"),
    ("check_modcrop", lambda im, s: im[: -(im.shape[0] % s), : -(im.shape[1] % s)], "empty"),
    ("check_modcrop", lambda im, s: im[im.shape[0] % s :, im.shape[1] % s :], "bottom-right"),
    ("check_modcrop", lambda im, s: im[: im.shape[0] - im.shape[0] % s], "wrong output shape"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, channel="rgb"), "computed on RGB"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, shave=0), "forgot the shave"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, shave=2 * s), "wrong amount"),
    ("check_psnr_y_shave", lambda sr, hr, s: psnr_y(sr, hr, s, weights=FULL_RANGE), "full-range Y"),
    ("check_self_ensemble", lambda f, x: self_ensemble(f, x, flips=(False,)), "only 4 of the 8"),
    ("check_self_ensemble", _ensemble_no_untransform, "without transforming them back"),
    ("check_self_ensemble", lambda f, x: self_ensemble(f, x, undo=1), "rotated back the wrong way"),
    ("check_self_ensemble", lambda f, x: self_ensemble(f, x, divide=False), "divide by 8"),
]  # fmt: skip


# ============================================================================================
# The checks
# ============================================================================================


def test_every_check_has_a_right_answer_here_and_a_notebook():
    checks = {n for n in exercises.__all__ if n.startswith("check_")}
    assert checks == set(RIGHT)
    assert sorted(c for names in exercises.EXERCISES.values() for c in names) == sorted(checks)
    assert {name for name, _, _ in WRONG} == checks


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_check_accepts_the_right_answer(name, capsys):
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    assert getattr(exercises, name)(RIGHT[name]) is None
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {name} passed (") and out.endswith(" cases)\n")
    assert torch.equal(torch.get_rng_state(), state), "a check must leave the random state alone"
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize(
    ("name", "wrong", "message"),
    WRONG,
    ids=[f"{name[6:]}-{message[:30]}" for name, _, message in WRONG],
)
def test_check_rejects_a_typical_wrong_answer(name, wrong, message):
    random.seed(0)  # one wrong answer draws with Python's random: make it repeatable
    with pytest.raises(ExerciseError, match=message) as info:
        getattr(exercises, name)(wrong)
    assert isinstance(info.value, AssertionError)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_check_lets_the_students_stub_raise_not_implemented(name):
    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise: replace this line with your code")

    with pytest.raises(NotImplementedError, match="Exercise"):
        getattr(exercises, name)(stub)


def test_other_errors_of_the_student_code_are_named():
    def broken(*args):
        return [][0]

    with pytest.raises(ExerciseError, match=r"broken\(.*raised IndexError") as info:
        exercises.check_predicted_growth(broken)
    assert isinstance(info.value.__cause__, IndexError)


# ============================================================================================
# The notebooks' exercise cells, teacher and student versions
# ============================================================================================


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _with_exercises() -> list[Path]:
    return [p for p in _notebooks() if make_student.count_exercises(nbformat.read(p, 4))]


def _exercise_section(nb) -> list:
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
    return nb.cells[start:]


def _check_calls(cells) -> list[str]:
    return [m for c in cells for m in re.findall(r"exercises\.(check_\w+)\(", c.source)]


def test_notebooks_01_02_05_have_their_exercises():
    names = {p.name[:2] for p in _with_exercises()}
    assert {"01", "02", "05"} <= names


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_exercise_section_calls_the_notebooks_checks_after_each_solution(path):
    nb = nbformat.read(path, as_version=4)
    cells = _exercise_section(nb)
    assert all(not make_student.solution_regions(c.source) for c in nb.cells[: -len(cells)]), (
        "solutions only in the final Exercises section"
    )
    assert _check_calls(cells) == list(exercises.EXERCISES[path.name[:2]])
    for i, cell in enumerate(cells):
        if make_student.solution_regions(cell.source):
            assert cell.cell_type == "code"
            assert "exercises.check_" in cells[i + 1].source, "a check cell follows each exercise"
            assert cells[i - 1].cell_type == "markdown", "a task precedes each exercise"


def _run_cells(cells, label: str) -> dict[int, BaseException]:
    """Execute code cells in order in one fresh namespace; the exception of each failed cell."""
    namespace: dict = {"__name__": "__exercises__"}
    errors = {}
    for i, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"<{label} cell {i}>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 (recorded, then asserted on)
            errors[i] = error
    return errors


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_teacher_exercise_section_runs_on_its_own_and_passes(path):
    cells = _exercise_section(nbformat.read(path, as_version=4))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        errors = _run_cells(cells, path.name)
    assert not errors, errors
    assert out.getvalue().count("✓") == len(_check_calls(cells))


@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_student_exercise_section_fails_exactly_at_the_exercises(path):
    student = make_student.student_notebook(nbformat.read(path, as_version=4))
    cells = _exercise_section(student)
    with contextlib.redirect_stdout(io.StringIO()):
        errors = _run_cells(cells, path.name)
    checks = {i for i, c in enumerate(cells) if "exercises.check_" in c.source}
    assert set(errors) == checks
    assert all(isinstance(e, NotImplementedError) for e in errors.values()), errors
    assert not any(make_student.solution_regions(c.source) for c in student.cells)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_student_notebook_differs_from_the_teachers_only_in_the_solutions(path):
    teacher = nbformat.read(path, as_version=4)
    student = make_student.student_notebook(teacher)
    assert len(student.cells) == len(teacher.cells)
    for mine, theirs in zip(teacher.cells, student.cells, strict=True):
        assert mine.id == theirs.id and mine.cell_type == theirs.cell_type
        if make_student.solution_regions(mine.source):
            assert "raise NotImplementedError" in theirs.source
        else:
            assert mine.source == theirs.source


@pytest.mark.slow
@pytest.mark.parametrize("path", _with_exercises(), ids=lambda p: p.stem)
def test_student_notebook_runs_and_fails_only_at_the_exercises(path, run_notebook):
    """The whole student notebook in fast mode, errors allowed: the only errors are the
    NotImplementedErrors of the exercises (every check cell raises one), everything else runs."""
    teacher = nbformat.read(path, as_version=4)
    student = run_notebook(make_student.student_notebook(teacher), allow_errors=True)
    errors = {
        i: o.ename
        for i, c in enumerate(student.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    }
    solutions = {i for i, c in enumerate(teacher.cells) if make_student.solution_regions(c.source)}
    checks = {i for i, c in enumerate(teacher.cells) if "exercises.check_" in c.source}
    assert set(errors) <= solutions | checks, {i: student.cells[i].source for i in errors}
    assert checks <= set(errors), "every check cell fails while its exercise is unanswered"
    assert set(errors.values()) == {"NotImplementedError"}, errors


# ============================================================================================
# make_student
# ============================================================================================


def _notebook(*sources: str, markdown: str = "# title") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_strip_solutions_keeps_the_lines_around_and_the_indentation():
    source = (
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        ### BEGIN SOLUTION\n"
        "        self.conv = nn.Conv2d(3, 3, 3)\n"
        "        ### END SOLUTION\n"
        "\n"
        "    def forward(self, x):\n"
        "        ### BEGIN SOLUTION\n"
        "        return self.conv(x)\n"
        "        ### END SOLUTION"
    )
    assert make_student.strip_solutions(source) == (
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        # YOUR CODE HERE\n"
        '        raise NotImplementedError("Exercise: replace this line with your code")\n'
        "\n"
        "    def forward(self, x):\n"
        "        # YOUR CODE HERE\n"
        '        raise NotImplementedError("Exercise: replace this line with your code")'
    )
    assert make_student.strip_solutions("x = 1\n") == "x = 1\n"
    md = "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION\n"
    assert make_student.strip_solutions(md, "markdown") == "Why?\nYOUR ANSWER HERE\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "without an ### END SOLUTION"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "without a ### BEGIN SOLUTION"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
            "line 2: ### BEGIN SOLUTION inside the region opened at line 1",
        ),
        ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION\n", "alone on its line"),
    ],
)
def test_unbalanced_markers_are_refused(source, message, tmp_path, capsys):
    with pytest.raises(make_student.MarkerError, match=message):
        make_student.strip_solutions(source)
    good = tmp_path / "good.ipynb"
    bad = tmp_path / "bad.ipynb"
    nbformat.write(_notebook("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), good)
    nbformat.write(_notebook("y = 2", source), bad)
    out = tmp_path / "out"
    assert make_student.main(["--out", str(out), str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.ipynb, cell 2" in err and message in err and "nothing written" in err
    assert not out.exists(), "a refused run writes nothing, not even the good notebooks"


def test_make_student_writes_stripped_notebooks_and_the_readme(tmp_path):
    nb = _notebook("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION", "f()")
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "42"})]
    nb.cells[1].execution_count = 1
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "a.ipynb")
    (tmp_path / "nb" / "README.md").write_text("# notebooks\n")
    written = make_student.make_student(
        [tmp_path / "nb" / "a.ipynb"], tmp_path / "out", tmp_path / "nb" / "README.md"
    )
    assert [p.name for p in written] == ["a.ipynb", "README.md"]
    student = nbformat.read(tmp_path / "out" / "a.ipynb", as_version=4)
    assert student.cells[1].outputs == [] and student.cells[1].execution_count is None
    assert "return 42" not in student.cells[1].source
    assert student.cells[1].source.endswith(
        '    raise NotImplementedError("Exercise: replace this line with your code")'
    )
    assert [c.id for c in student.cells] == [c.id for c in nb.cells]


def test_make_student_target_writes_build_student(tmp_path):
    out = tmp_path / "student"
    result = subprocess.run(
        ["make", "student", f"STUDENT_DIR={out}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in _notebooks()] + ["README.md"]
    )
    for path in _with_exercises():
        student = (out / path.name).read_text()
        assert "### BEGIN SOLUTION" not in student and "NotImplementedError" in student
    dry = subprocess.run(["make", "-n", "student"], cwd=ROOT, capture_output=True, text=True)
    assert "tools/make_student.py --out build/student" in dry.stdout
