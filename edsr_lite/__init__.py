"""edsr-lite: a runnable, teachable reproduction of EDSR and MDSR.

Lim, Son, Kim, Nah, Lee, "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPR Workshops 2017 (arXiv:1707.02921).

The names a notebook needs are importable from here::

    import edsr_lite as el
    model = el.build("edsr_baseline", scale=2)
"""

from .imresize import imresize
from .infer import upscale
from .metrics import evaluate, psnr, ssim
from .models import (
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
from .train import TrainConfig, train
from .weights import (
    CheckpointError,
    init_from,
    load_model,
    load_pretrained,
    save_checkpoint,
)

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
