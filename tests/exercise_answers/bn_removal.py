"""Answers to the exercises of ``notebooks/01_bn_removal.ipynb``, whose checks are in
``edsr_lite.course.exercises.bn_removal``: the notebook's solutions in plain Python
(``RIGHT``) and typical wrong answers (``WRONG``: the check must name each mistake).
``tests/test_exercises_lessons.py`` runs every check on them.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

# ============================================================================================
# Right answers (the notebook's solutions, in plain Python)
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


RIGHT = {
    "check_resblock": EDSRBlock,
    "check_saved_activation_bytes": block_saved_bytes,
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
]  # fmt: skip


# ============================================================================================
# The fairness table: correct variants accepted (None), wrong answers refused (the message)
# ============================================================================================


class SameBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.conv1 = nn.Conv2d(n_feats, n_feats, kernel_size, padding="same", bias=True)
        self.conv2 = nn.Conv2d(n_feats, n_feats, kernel_size, padding=(kernel_size // 2,) * 2)


class SequentialBlock(nn.Module):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2),
            nn.ReLU(),
            nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2),
        )
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x).mul(self.res_scale) + x


class ModuleListBlock(nn.Module):
    """Convs registered last-first, named differently, a functional ReLU."""

    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__()
        self.last = nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2)
        self.layers = nn.ModuleList(
            [nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2)]
        )
        self.scale = res_scale

    def forward(self, x):
        return x + self.scale * self.last(F.relu(self.layers[0](x)))


def block_factory(n_feats, kernel_size=3, res_scale=1.0):
    return SequentialBlock(n_feats, kernel_size=kernel_size, res_scale=res_scale)


class SubclassedBlock(__import__("edsr_lite").ResBlock):
    pass


def _package_block(n_feats, kernel_size=3, res_scale=1.0):
    import edsr_lite

    return edsr_lite.ResBlock(n_feats, kernel_size, res_scale=res_scale)


def _hidden_package_block(n_feats, kernel_size=3, res_scale=1.0):
    import edsr_lite

    return getattr(edsr_lite, "Res" + "Block")(n_feats, kernel_size, res_scale=res_scale)


class FixedPaddingBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.conv1.padding = self.conv2.padding = (1, 1)


class NoBiasBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.conv1 = nn.Conv2d(n_feats, n_feats, kernel_size, padding=kernel_size // 2, bias=False)


class ReflectBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.conv2.padding_mode = "reflect"


class DropoutBlock(EDSRBlock):
    def __init__(self, n_feats, kernel_size=3, res_scale=1.0):
        super().__init__(n_feats, kernel_size, res_scale)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return x + self.res_scale * self.conv2(self.drop(self.relu(self.conv1(x))))


class BNNoSkipBlock(BNBlock):
    def forward(self, x):
        return self.res_scale * self.bn(self.conv2(self.relu(self.conv1(x))))


class Float32Block(EDSRBlock):
    def forward(self, x):
        return super().forward(x).float()


def _measured_bytes(batch, n_feats, height, width, bn):
    import torch

    from edsr_lite.core.models import ResBlock
    from edsr_lite.course import bn_removal

    maps = bn_removal.count_saved_maps(ResBlock(4, bn=bn).train(), torch.randn(1, 4, 3, 3))
    return maps * batch * n_feats * height * width * 4


VARIANTS = [
    ("check_resblock", EDSRBlock, None),
    ("check_resblock", SameBlock, None),
    ("check_resblock", SequentialBlock, None),
    ("check_resblock", ModuleListBlock, None),
    ("check_resblock", block_factory, None),
    ("check_resblock", SubclassedBlock, "subclasses edsr_lite's own `ResBlock`"),
    ("check_resblock", _package_block, "calls edsr_lite's own `ResBlock`"),
    ("check_resblock", _hidden_package_block, "built from edsr_lite's own ResBlock"),
    ("check_resblock", FixedPaddingBlock, "padding=2 \\(kernel_size // 2\\) or padding='same'"),
    ("check_resblock", NoBiasBlock, "conv 1 has no bias"),
    ("check_resblock", ReflectBlock, "padding_mode='reflect'"),
    ("check_resblock", DropoutBlock, "training mode"),
    ("check_resblock", BNNoSkipBlock, "BN still present(.|\n)*forgot the skip connection"),
    ("check_resblock", Float32Block, "returns torch.float32 for a float64 input"),
    ("check_saved_activation_bytes", block_saved_bytes, None),
    ("check_saved_activation_bytes", lambda *args: float(block_saved_bytes(*args)), None),
    ("check_saved_activation_bytes", _measured_bytes,
     "calls edsr_lite's own `bn_removal.count_saved_maps`"),
    ("check_saved_activation_bytes", lambda b, f, h, w, bn: block_saved_bytes(b, f, h, w, bn) * 2,
     "4 bytes per value, not 8"),
]  # fmt: skip
