"""``--precision bf16`` (Upscaler(precision="bf16")): bfloat16 autocast where the CPU runs it
natively, the same image within a level or two, and fp32 with a warning elsewhere."""

import numpy as np
import pytest

import edsr_lite.infer as infer
from edsr_lite.cli import build_parser, main
from edsr_lite.datasets import benchmark
from edsr_lite.images import read_image, write_png
from edsr_lite.infer import Upscaler, upscale
from edsr_lite.precision import bf16_available
from edsr_lite.weights import load_model


@pytest.fixture(scope="module")
def lr():
    """A real LR image (Set5 butterfly at x2, 128 x 128)."""
    return dict((n, lr) for n, _, lr in benchmark("Set5", 2))["butterfly"][:128, :128]


@pytest.mark.skipif(not bf16_available(), reason="no native bfloat16 on this CPU")
def test_bf16_gives_the_fp32_image_within_a_few_levels(lr):
    model = load_model("edsr_baseline_x2")
    fp32 = Upscaler(model)(lr)
    bf16 = upscale(model, lr, precision="bf16")
    diff = np.abs(fp32.astype(int) - bf16)
    # Measured (x2, x4): at most 2 levels on Set5, 4 on Set14 and on random noise; about 21% of
    # the values move by one level or more.
    assert diff.max() <= 4
    assert 0 < (diff > 0).mean() < 0.35


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="fp32, bf16"):
        Upscaler(load_model("edsr_baseline_x2"), precision="fp16")


def test_bf16_without_native_bfloat16_warns_and_runs_fp32(lr, tmp_path, monkeypatch, capsys):
    # InferenceOptions asks edsr_lite.infer's bf16_available (edsr_lite.precision's function)
    monkeypatch.setattr(infer, "bf16_available", lambda device="cpu": False)
    crop = lr[:40, :40]
    write_png(tmp_path / "in.png", crop)
    out = tmp_path / "out.png"
    args = ["upscale", str(tmp_path / "in.png"), "-o", str(out), "--model", "edsr_baseline_x2"]
    assert main([*args, "--precision", "bf16", "-q"]) == 0
    err = capsys.readouterr().err
    assert "edsr-lite upscale: warning: --precision bf16 asked for, but this cpu has no " in err
    assert "no native bfloat16" in err and "Traceback" not in err and "infer.py" not in err
    assert np.array_equal(read_image(out), Upscaler(load_model("edsr_baseline_x2"))(crop))


def test_help_states_the_psnr_cost():
    upscale_parser = build_parser()._subparsers._group_actions[0].choices["upscale"]
    text = upscale_parser.format_help()
    assert "--precision" in text and "dB" in text


def test_bf16_available_is_one_function_for_upscaling_and_training():
    from edsr_lite import train
    from edsr_lite.train import Bf16UnavailableWarning
    from edsr_lite.train import bf16_available as public

    assert public is bf16_available  # edsr_lite.train.bf16_available: public API, kept
    assert Bf16UnavailableWarning is infer.Bf16UnavailableWarning
    assert callable(train)  # edsr_lite.train, the attribute, is the function train()
