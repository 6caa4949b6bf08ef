"""Training EDSR/MDSR: the paper's recipe, and the engine that runs it on a CPU (or GPUs).

Read in this order:

* :mod:`~edsr_lite.core.recipe`: the paper's recipe (Sec. 4.1) on one screen: L1 loss, Adam,
  learning rate and its halving, batch of 48 x 48 patches, MDSR's random scale, one step.
* :mod:`~edsr_lite.train.config`: :class:`TrainConfig`, every setting of a run (YAML files and
  the ``edsr-lite train`` flags use its field names).
* :mod:`~edsr_lite.train.engine`: :func:`train` and :class:`Trainer`: the loop, validation,
  checkpoints, Ctrl-C.
* :mod:`~edsr_lite.train.runlog`: the run folder's ``log.csv`` and ``run.json``;
  :func:`load_log` reads a run back.
* :mod:`~edsr_lite.train.resume`: ``latest.pt``, from which a stopped run continues exactly.
* :mod:`~edsr_lite.train.precision`: bfloat16 autocast, where the hardware runs it fast
  (:func:`bf16_available`, shared with upscaling, is :mod:`edsr_lite.precision`'s).
* :mod:`~edsr_lite.train.distributed`: several processes under ``torchrun`` (DDP).

Everything a notebook needs is :class:`TrainConfig` and :func:`train`::

    from edsr_lite.train import TrainConfig, train
    result = train(TrainConfig(preset="edsr_tiny", scale=2, max_minutes=2, out="runs/tiny"))
    result.best_psnr, result.log_path

Training on a CPU (speed, bfloat16, resume, DDP): ``docs/training.md``.
"""

from edsr_lite.core.recipe import (
    ADAM_BETAS,
    ADAM_EPS,
    BATCH_SIZE,
    DECAY_STEPS,
    LEARNING_RATE,
    LR_GAMMA,
    MAX_STEPS,
    forward_backward,
    make_optimizer,
    make_scheduler,
)
from edsr_lite.precision import Bf16UnavailableWarning, bf16_available
from edsr_lite.train.config import RESUMABLE_CHANGES, TrainConfig, read_yaml
from edsr_lite.train.distributed import Dist, setup_distributed
from edsr_lite.train.engine import Trainer, TrainingDiverged, grad_norm, train, validate
from edsr_lite.train.runlog import (
    TrainLog,
    TrainResult,
    git_describe,
    load_log,
    machine_info,
    run_segments,
)

__all__ = [
    # the recipe
    "ADAM_BETAS",
    "ADAM_EPS",
    "BATCH_SIZE",
    "DECAY_STEPS",
    "LEARNING_RATE",
    "LR_GAMMA",
    "MAX_STEPS",
    "forward_backward",
    "make_optimizer",
    "make_scheduler",
    # a run: its settings, the engine, its record
    "RESUMABLE_CHANGES",
    "TrainConfig",
    "read_yaml",
    "Trainer",
    "TrainingDiverged",
    "grad_norm",
    "train",
    "validate",
    "TrainLog",
    "TrainResult",
    "git_describe",
    "load_log",
    "machine_info",
    "run_segments",
    # speed
    "Bf16UnavailableWarning",
    "bf16_available",
    "Dist",
    "setup_distributed",
]
