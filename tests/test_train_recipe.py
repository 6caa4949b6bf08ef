"""The training recipe is the paper's (EDSR, Sec. 4.1), and the defaults of a run follow it."""

import pytest
import torch

from edsr_lite.core import recipe
from edsr_lite.core.models import build
from edsr_lite.train import TrainConfig


def test_the_recipe_constants_are_the_papers():
    assert recipe.LEARNING_RATE == 1e-4
    assert recipe.ADAM_BETAS == (0.9, 0.999) and recipe.ADAM_EPS == 1e-8
    assert recipe.LR_GAMMA == 0.5  # halved
    assert recipe.BATCH_SIZE == 16 and recipe.PATCH_SIZE == 48
    assert (recipe.PAPER_DECAY_STEPS, recipe.PAPER_MAX_STEPS) == (200_000, 300_000)
    # Ours: the same schedule, 100 times shorter.
    assert (recipe.DECAY_STEPS, recipe.MAX_STEPS) == (2000, 3000)


def test_the_loss_is_l1_on_0_255_values():
    sr, hr = torch.tensor([[0.0, 255.0]]), torch.tensor([[10.0, 250.0]])
    assert recipe.l1_loss(sr, hr).item() == pytest.approx((10 + 5) / 2)  # not squared


def test_adam_and_the_halving_schedule_are_the_papers():
    model = build("edsr_tiny", 2, n_resblocks=1, n_feats=8)
    optimizer = recipe.make_optimizer(model)
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.Adam)
    assert (group["lr"], group["betas"], group["eps"]) == (1e-4, (0.9, 0.999), 1e-8)
    assert all(p.requires_grad for p in group["params"])  # MeanShift (frozen) is left out
    scheduler = recipe.make_scheduler(optimizer, decay_steps=3)
    lrs = []
    for _ in range(7):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([1e-4] * 3 + [5e-5] * 3 + [2.5e-5])


def test_a_runs_defaults_are_the_recipe():
    config = TrainConfig()
    assert (config.lr, config.batch_size, config.patch_size) == (1e-4, 16, 48)
    assert (config.decay_steps, config.max_steps) == (recipe.DECAY_STEPS, recipe.MAX_STEPS)


def test_forward_backward_gives_the_loss_and_the_gradients():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2, n_resblocks=1, n_feats=8)
    lr, hr = torch.rand(2, 3, 8, 8) * 255, torch.rand(2, 3, 16, 16) * 255
    loss = recipe.forward_backward(model, lr, hr, scale=2)
    with torch.no_grad():
        expected = (model(lr, 2) - hr).abs().mean()
    torch.testing.assert_close(loss, expected)
    assert not loss.requires_grad and model.head[0].weight.grad is not None
