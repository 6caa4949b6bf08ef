"""EDSR and MDSR, as in the paper and the official EDSR-PyTorch code.

Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution", CVPRW 2017.

Every network here maps an RGB image of 0..rgb_range values (N x 3 x H x W, float) to an RGB
image of the same range and ``scale`` times the size (N x 3 x sH x sW). Outputs are *not*
clamped: the caller rounds and clamps, as the paper's evaluation does.

The layer names are those of the official release (``sub_mean``, ``head.0``,
``body.{i}.body.{0,2}``, ``tail.0.0`` ...), so the official ``.pt`` files load with
``load_state_dict`` unchanged. The picture to keep in mind is the paper's Fig. 3::

    x -> sub_mean -> head (conv) -> body (B ResBlocks + conv) -(+ skip)
      -> tail (upsampler, conv) -> add_mean
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def default_conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True):
    """A 'same'-padded convolution: the output keeps the input's H x W."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


class MeanShift(nn.Conv2d):
    """Subtract (``sign=-1``) or add back (``sign=+1``) the DIV2K mean colour.

    A frozen 1x1 convolution, as in the official code, so that its two tensors appear in the
    state dict under the official names. Input and output: N x 3 x H x W, 0..rgb_range.
    """

    def __init__(
        self,
        rgb_range: float = 255,
        rgb_mean: Sequence[float] = DIV2K_RGB_MEAN,
        rgb_std: Sequence[float] = (1.0, 1.0, 1.0),
        sign: int = -1,
    ):
        super().__init__(3, 3, kernel_size=1)
        std = torch.tensor(rgb_std, dtype=torch.float32)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1))
            self.bias.copy_(sign * rgb_range * torch.tensor(rgb_mean, dtype=torch.float32) / std)
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    """The EDSR residual block: ``x + res_scale * conv(relu(conv(x)))`` (paper Fig. 2c, Sec. 3.1).

    No batch normalization and no ReLU after the sum: the two changes from SRResNet that the
    paper argues for (BN "gets rid of range flexibility" and costs memory). ``res_scale`` is the
    residual scaling of Sec. 3.2: 0.1 in the wide 32 x 256 model, which trains unstably
    without it; 1 in the baseline. With ``bn=True`` the block becomes the SRResNet block
    conv-BN-ReLU-conv-BN (Fig. 2b), for the BN-removal ablation.

    Shapes: N x n_feats x H x W in and out.
    """

    def __init__(
        self,
        n_feats: int,
        kernel_size: int = 3,
        res_scale: float = 1.0,
        bn: bool = False,
        bias: bool = True,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(2):
            layers.append(default_conv(n_feats, n_feats, kernel_size, bias=bias))
            if bn:
                layers.append(nn.BatchNorm2d(n_feats))
            if i == 0:
                layers.append(nn.ReLU(inplace=True))
        # Named `body` so the keys read `body.{i}.body.{0,2}.weight`, as in the official weights.
        self.body = nn.Sequential(*layers)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class Upsampler(nn.Sequential):
    """Sub-pixel upsampling: conv to r*r times the channels, then PixelShuffle(r).

    x2 and x4 use log2(scale) stages of (conv F -> 4F, PixelShuffle(2)); x3 uses one stage of
    (conv F -> 9F, PixelShuffle(3)). Shapes: N x F x H x W -> N x F x sH x sW.
    """

    def __init__(self, scale: int, n_feats: int, bias: bool = True):
        layers: list[nn.Module] = []
        if scale >= 2 and scale & (scale - 1) == 0:  # a power of two
            for _ in range(int(math.log2(scale))):
                layers.append(default_conv(n_feats, 4 * n_feats, 3, bias))
                layers.append(nn.PixelShuffle(2))
        elif scale == 3:
            layers.append(default_conv(n_feats, 9 * n_feats, 3, bias))
            layers.append(nn.PixelShuffle(3))
        else:
            raise ValueError(f"scale must be 2, 3, 4 or another power of two, got {scale!r}")
        super().__init__(*layers)


class EDSR(nn.Module):
    """The single-scale network (paper Fig. 3, Sec. 3.2).

    Args:
        scale: upscaling factor (2, 3, 4, or a power of two).
        n_resblocks: number of residual blocks B (baseline 16, full 32).
        n_feats: feature channels F (baseline 64, full 256).
        res_scale: residual scaling (1.0 for the baseline, 0.1 for the wide model).
        bn: use the SRResNet block (conv-BN-ReLU-conv-BN) instead of the EDSR block.
        rgb_range: the value range of images, 255 for 0..255 inputs (the official models).

    ``forward(x)``: x is N x 3 x H x W in 0..rgb_range; returns N x 3 x (scale*H) x (scale*W).
    A ``scale`` argument is accepted so that EDSR and MDSR can be called the same way; a scale
    other than the model's is refused.
    """

    def __init__(
        self,
        scale: int = 2,
        n_resblocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        bn: bool = False,
        rgb_range: float = 255,
    ):
        super().__init__()
        self.scale = int(scale)
        self.scales = (self.scale,)
        self.sub_mean = MeanShift(rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range, sign=1)  # defined here: the official key order
        self.head = nn.Sequential(default_conv(3, n_feats, 3))
        blocks: list[nn.Module] = [
            ResBlock(n_feats, 3, res_scale=res_scale, bn=bn) for _ in range(n_resblocks)
        ]
        blocks.append(default_conv(n_feats, n_feats, 3))
        self.body = nn.Sequential(*blocks)
        self.tail = nn.Sequential(Upsampler(self.scale, n_feats), default_conv(n_feats, 3, 3))

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        if scale is not None and scale != self.scale:
            raise ValueError(
                f"this EDSR model was built for x{self.scale} and cannot upscale x{scale}; "
                f"load or build a x{scale} model (e.g. build('edsr_baseline', scale={scale}))"
            )
        x = self.sub_mean(x)
        x = self.head(x)
        x = x + self.body(x)  # the global skip
        x = self.tail(x)
        return self.add_mean(x)


class MDSR(nn.Module):
    """The multi-scale network (paper Fig. 5, Sec. 3.3): one body shared by all scales.

    Each scale has its own ``pre_process`` (two ResBlocks with 5x5 kernels, to see a larger
    neighbourhood) and its own upsampler; the head, the body and the last conv are shared.

    ``forward(x, scale)``: x is N x 3 x H x W in 0..rgb_range; ``scale`` is the factor itself
    (2, 3 or 4), which picks the branch; returns N x 3 x (scale*H) x (scale*W).
    """

    def __init__(
        self,
        scales: Sequence[int] = (2, 3, 4),
        n_resblocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        bn: bool = False,
        rgb_range: float = 255,
    ):
        super().__init__()
        self.scales = tuple(int(s) for s in scales)
        if len(set(self.scales)) != len(self.scales) or not self.scales:
            raise ValueError(f"scales must be distinct and non-empty, got {scales!r}")
        self.sub_mean = MeanShift(rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range, sign=1)  # defined here: the official key order
        self.head = nn.Sequential(default_conv(3, n_feats, 3))
        self.pre_process = nn.ModuleList(
            nn.Sequential(ResBlock(n_feats, 5, bn=bn), ResBlock(n_feats, 5, bn=bn))
            for _ in self.scales
        )
        blocks: list[nn.Module] = [
            ResBlock(n_feats, 3, res_scale=res_scale, bn=bn) for _ in range(n_resblocks)
        ]
        blocks.append(default_conv(n_feats, n_feats, 3))
        self.body = nn.Sequential(*blocks)
        self.upsample = nn.ModuleList(Upsampler(s, n_feats) for s in self.scales)
        self.tail = nn.Sequential(default_conv(n_feats, 3, 3))

    def branch(self, scale: int) -> int:
        """The index of ``scale``'s pre_process and upsample modules."""
        if scale not in self.scales:
            raise ValueError(
                f"this MDSR model has branches for x{', x'.join(map(str, self.scales))}, "
                f"not x{scale}"
            )
        return self.scales.index(scale)

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        if scale is None:
            if len(self.scales) != 1:
                raise ValueError(
                    f"MDSR needs a scale: call model(x, scale) with one of {self.scales}"
                )
            scale = self.scales[0]
        i = self.branch(scale)
        x = self.sub_mean(x)
        x = self.head(x)
        x = self.pre_process[i](x)
        x = x + self.body(x)
        x = self.upsample[i](x)
        x = self.tail(x)
        return self.add_mean(x)


@dataclass(frozen=True)
class Preset:
    """A named configuration: the architecture and its size (the paper's B, F, res_scale)."""

    arch: str  # "edsr" or "mdsr"
    n_resblocks: int
    n_feats: int
    res_scale: float = 1.0
    bn: bool = False
    scales: tuple[int, ...] = field(default=(2, 3, 4))
    note: str = ""


PRESETS: dict[str, Preset] = {
    "edsr_baseline": Preset("edsr", 16, 64, 1.0, note="EDSR-baseline of the paper (1.4-1.6 M)"),
    "edsr": Preset("edsr", 32, 256, 0.1, note="EDSR of the paper (41-44 M), res_scale 0.1"),
    "mdsr_baseline": Preset("mdsr", 16, 64, 1.0, note="MDSR-baseline (3.2 M, x2/x3/x4)"),
    "mdsr": Preset("mdsr", 80, 64, 1.0, note="MDSR of the paper (8.0 M, x2/x3/x4)"),
    "edsr_tiny": Preset("edsr", 8, 32, 1.0, note="teaching model: trains in minutes on 2 cores"),
    "mdsr_tiny": Preset("mdsr", 8, 32, 1.0, note="teaching model: trains in minutes on 2 cores"),
}


def build(
    preset: str = "edsr_baseline", scale: int | Sequence[int] | None = None, **overrides
) -> nn.Module:
    """Build a network by preset name, e.g. ``build("edsr_baseline", scale=4)``.

    For EDSR presets ``scale`` is one integer (default 2); for MDSR presets it may be a tuple
    of scales (default: the preset's x2/x3/x4). ``overrides`` replace preset fields, e.g.
    ``bn=True`` or ``res_scale=0.1``. The returned model carries ``model.config`` (a plain
    dict) so that checkpoints can rebuild it.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = set(overrides) - {"n_resblocks", "n_feats", "res_scale", "bn", "rgb_range"}
    if unknown:
        raise TypeError(f"build() got unexpected arguments: {', '.join(sorted(unknown))}")
    p = PRESETS[preset]
    kwargs = {"n_resblocks": p.n_resblocks, "n_feats": p.n_feats, "res_scale": p.res_scale}
    kwargs["bn"] = p.bn
    kwargs.update(overrides)
    if p.arch == "edsr":
        scale = 2 if scale is None else scale
        if not isinstance(scale, int):
            raise ValueError(f"EDSR is single-scale: give one integer scale, got {scale!r}")
        model: nn.Module = EDSR(scale=scale, **kwargs)
        scales: tuple[int, ...] = (scale,)
    else:
        scales = (
            p.scales if scale is None else tuple(scale) if not isinstance(scale, int) else (scale,)
        )
        model = MDSR(scales=scales, **kwargs)
    model.config = {"preset": preset, "arch": p.arch, "scales": list(scales), **kwargs}
    return model


def preset_of(model: nn.Module) -> dict:
    """The plain-dict config that rebuilds ``model`` (see :func:`build_from_config`)."""
    config = getattr(model, "config", None)
    if config is None:
        raise ValueError("this model was not made by edsr_lite.build(); no config to save")
    return dict(config)


def build_from_config(config: dict) -> nn.Module:
    """Rebuild a network from ``model.config`` (as stored in our checkpoints)."""
    kwargs = {k: config[k] for k in ("n_resblocks", "n_feats", "res_scale", "bn") if k in config}
    if "rgb_range" in config:
        kwargs["rgb_range"] = config["rgb_range"]
    arch = config.get("arch") or PRESETS[config["preset"]].arch
    scales = [int(s) for s in config["scales"]]
    model: nn.Module
    if arch == "edsr":
        model = EDSR(scale=scales[0], **kwargs)
    elif arch == "mdsr":
        model = MDSR(scales=scales, **kwargs)
    else:
        raise ValueError(f"unknown architecture {arch!r} in checkpoint config")
    model.config = {"preset": config.get("preset", arch), "arch": arch, "scales": scales}
    model.config.update(kwargs)
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters; the paper's counts include the frozen MeanShift (24 values)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def fold_res_scale(model: nn.Module) -> nn.Module:
    """Return a copy of ``model`` with each block's ``res_scale`` folded into its last layer.

    ``x + s * conv2(y)`` equals ``x + conv2'(y)`` with conv2' = (s * W, s * b), so at inference
    the multiplication can be dropped (for the SRResNet block the last layer is the BN, whose
    affine weight and bias are scaled instead). Outputs agree to float rounding.
    """
    folded = copy.deepcopy(model)
    with torch.no_grad():
        for block in folded.modules():
            if isinstance(block, ResBlock) and block.res_scale != 1:
                last = block.body[-1]
                last.weight.mul_(block.res_scale)
                last.bias.mul_(block.res_scale)
                block.res_scale = 1.0
    return folded


def preset_summary() -> list[dict]:
    """One row per preset: name, architecture, B, F, res_scale, parameters per scale."""
    rows = []
    for name, p in PRESETS.items():
        row = {"preset": name, **asdict(p)}
        if p.arch == "edsr":
            row["params"] = {s: count_parameters(build(name, s)) for s in p.scales}
        else:
            row["params"] = {"all": count_parameters(build(name))}
        rows.append(row)
    return rows
