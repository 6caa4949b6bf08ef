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
