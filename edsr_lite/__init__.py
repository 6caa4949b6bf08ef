"""edsr-lite: a runnable, teachable reproduction of EDSR and MDSR.

Lim, Son, Kim, Nah, Lee, "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPR Workshops 2017 (arXiv:1707.02921).

The names a notebook needs are importable from here::

    import edsr_lite as el
    model = el.build("edsr_baseline", scale=2)
"""

from edsr_lite.checkpoints import CheckpointError, save_checkpoint
from edsr_lite.evaluation import evaluate
from edsr_lite.imresize import imresize
from edsr_lite.infer import upscale
from edsr_lite.metrics import psnr, ssim
from edsr_lite.models import (
    EDSR,
    MDSR,
    PRESETS,
    MeanShift,
    ResBlock,
    Upsampler,
    build,
    count_parameters,
    fold_res_scale,
)
from edsr_lite.train import TrainConfig, train
from edsr_lite.weights import init_from, load_model, load_pretrained

__version__ = "0.1.0"

__all__ = [
    "EDSR",
    "MDSR",
    "PRESETS",
    "TrainConfig",
    "CheckpointError",
    "MeanShift",
    "ResBlock",
    "Upsampler",
    "__version__",
    "build",
    "count_parameters",
    "evaluate",
    "imresize",
    "fold_res_scale",
    "init_from",
    "load_model",
    "load_pretrained",
    "psnr",
    "save_checkpoint",
    "ssim",
    "train",
    "upscale",
]
