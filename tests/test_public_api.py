"""The public API: what ``import edsr_lite as el`` offers, and a short use of the main names."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

import edsr_lite as el
from edsr_lite.locations import DATA_DIR

#: Everything ``edsr_lite`` exports, in the order data flows (see the package docstring).
PUBLIC_API = [
    # images
    "read_image",
    "write_png",
    "modcrop",
    "find_dataset",
    # degradation
    "imresize",
    # models
    "EDSR",
    "MDSR",
    "PRESETS",
    "MeanShift",
    "ResBlock",
    "Upsampler",
    "build",
    "count_parameters",
    "fold_res_scale",
    # training and checkpoints
    "TrainConfig",
    "train",
    "CheckpointError",
    "save_checkpoint",
    "load_model",
    "load_pretrained",
    "available_pretrained",
    "describe_checkpoint",
    "init_from",
    # upscaling
    "upscale",
    "Upscaler",
    # metrics and evaluation
    "rgb_to_y",
    "psnr",
    "ssim",
    "evaluate",
    "format_table",
    "__version__",
]


def test_all_is_the_public_api():
    assert el.__all__ == PUBLIC_API


@pytest.mark.parametrize("name", PUBLIC_API)
def test_each_name_is_importable(name):
    namespace: dict = {}
    exec(f"from edsr_lite import {name}", namespace)
    assert namespace[name] is getattr(el, name)


def test_star_import_gives_exactly_the_public_api():
    namespace: dict = {}
    exec("from edsr_lite import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(PUBLIC_API)


@pytest.fixture(scope="module")
def bird() -> np.ndarray:
    """Set5's bird, cropped to 96 x 96 (a multiple of 2, 3 and 4)."""
    return el.read_image(DATA_DIR / "Set5" / "bird.png")[:96, :96]


def test_images_degradation_and_metrics(bird, tmp_path):
    assert bird.dtype == np.uint8 and bird.shape == (96, 96, 3)
    path = el.write_png(tmp_path / "bird.png", bird)
    np.testing.assert_array_equal(el.read_image(path), bird)

    lr = el.imresize(bird, 1 / 2)
    assert lr.dtype == np.uint8 and lr.shape == (48, 48, 3)
    bicubic = el.imresize(lr, 2)
    assert 25 < el.psnr(bicubic, bird, 2) < 50 and 0.5 < el.ssim(bicubic, bird, 2) < 1
    assert el.psnr(bird, bird, 2) == math.inf and el.ssim(bird, bird, 2) == pytest.approx(1.0)
    y = el.rgb_to_y(bird)
    assert y.shape == (96, 96) and y.min() >= 16 and y.max() <= 235


def test_models_upscaling_and_checkpoints(bird, tmp_path):
    torch.manual_seed(0)
    model = el.build("edsr_tiny", scale=2)
    assert isinstance(model, el.EDSR) and model.scales == (2,) and "edsr_baseline" in el.PRESETS
    assert isinstance(el.build("mdsr_tiny"), el.MDSR) and el.count_parameters(model) > 0
    assert any(isinstance(m, el.ResBlock) for m in model.modules())
    assert any(isinstance(m, el.MeanShift) for m in model.modules())
    assert any(isinstance(m, el.Upsampler) for m in model.modules())

    lr = el.imresize(bird, 1 / 2)
    sr = el.upscale(model, lr)
    assert sr.dtype == np.uint8 and sr.shape == bird.shape
    np.testing.assert_array_equal(el.Upscaler(model)(lr, 2), sr)
    np.testing.assert_array_equal(el.upscale(el.fold_res_scale(model), lr), sr)

    path = el.save_checkpoint(tmp_path / "tiny_x2.pt", model)
    np.testing.assert_array_equal(el.upscale(el.load_model(path), lr), sr)
    with pytest.raises(el.CheckpointError):
        el.load_model(path, scale=4)
    x4 = el.build("edsr_tiny", scale=4)
    report = el.init_from(x4, path, verbose=False)
    assert report.copied and report.left_random  # head and body copied, x4 upsampler left random


def test_shipped_model_and_evaluation():
    assert "edsr_baseline_x2" in el.available_pretrained()
    assert el.load_pretrained("edsr_baseline_x2").scales == (2,)
    rows = el.evaluate("bicubic", sets=("Set5",), scales=(2,))
    assert rows[0]["psnr"] == pytest.approx(33.67, abs=0.01)  # protocol "model"
    assert el.format_table(rows).splitlines()[2].startswith("| Set5 | 33.67 / 0.9303 |")
    assert isinstance(el.__version__, str)


def test_train_a_few_steps(tmp_path):
    images = tmp_path / "hr"
    images.mkdir()
    for name in ("bird", "head"):
        shutil.copy(DATA_DIR / "Set5" / f"{name}.png", images)
    config = el.TrainConfig(
        preset="edsr_tiny",
        n_resblocks=1,
        n_feats=8,
        scale=2,
        data=str(images),
        patch_size=12,
        batch_size=2,
        val_data=None,
        max_steps=2,
        device="cpu",
        out=str(tmp_path / "run"),
    )
    result = el.train(config, quiet=True)
    assert isinstance(result.model, el.EDSR) and result.model.scales == (2,)
