"""edsr-lite: a runnable, teachable reproduction of EDSR and MDSR.

Lim, Son, Kim, Nah, Lee, "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPR Workshops 2017 (arXiv:1707.02921).

The library, in the order data flows through it:

* :mod:`~edsr_lite.images` -- read and write images: uint8 H x W x 3 arrays, ``to_tensor``;
  :mod:`~edsr_lite.datasets` -- the benchmark sets (Set5, Set14, B100) and DIV2K.
* :mod:`~edsr_lite.core.degradation` -- the degradation: MATLAB-exact bicubic ``imresize``.
* :mod:`~edsr_lite.training_data` -- training data: HR/LR pairs and random LR patches.
* :mod:`~edsr_lite.core.models` -- EDSR and MDSR, built from presets (``build``).
* :mod:`~edsr_lite.train` -- the paper's training recipe (``train``, ``TrainConfig``);
  :mod:`~edsr_lite.checkpoints` and :mod:`~edsr_lite.weights` -- saving, loading, shipped
  checkpoints, pretrained initialization.
* :mod:`~edsr_lite.infer` -- upscaling: tiling, self-ensemble (``upscale``, ``Upscaler``).
* :mod:`~edsr_lite.core.metrics` -- PSNR and SSIM on Y; :mod:`~edsr_lite.evaluation` -- the
  benchmark protocols (``evaluate``); :mod:`~edsr_lite.core.published` -- the published numbers.

The names a notebook or a script needs are importable from here (``__all__``)::

    import edsr_lite as el
    model = el.load_pretrained("edsr_baseline_x2")
    sr = el.upscale(model, "photo.png")
    rows = el.evaluate(model, sets=("Set5",), scales=(2,))
"""

from edsr_lite.checkpoints import CheckpointError, save_checkpoint
from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.metrics import psnr, rgb_to_y, ssim
from edsr_lite.core.models import (
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
from edsr_lite.datasets import find_dataset
from edsr_lite.evaluation import evaluate, format_table
from edsr_lite.images import read_image, write_png
from edsr_lite.infer import Upscaler, upscale
from edsr_lite.summary import describe_checkpoint
from edsr_lite.train import TrainConfig, train
from edsr_lite.weights import (
    available_pretrained,
    init_from,
    load_model,
    load_pretrained,
)

__version__ = "0.1.0"

__all__ = [
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
