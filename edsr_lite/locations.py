"""Where the project's files are found: the image sets and the shipped checkpoints.

The source of truth is the repository's top-level ``data/`` (Set5, Set14, B100, T91 and
``data/checkpoints/<run>/``). A wheel carries a copy of its small part, the data-only
subpackage ``edsr_lite._data`` (pyproject.toml maps it onto ``data/``): Set5, Set14, the
checkpoints that load by name, ``RESULTS.json``. So an installed package upscales and scores
Set5/Set14 without the clone; B100 (26 MB), T91 and the ablation logs stay in the clone.

Image sets are looked for, in order (:func:`data_search_path`), in:

1. each folder of ``$EDSR_LITE_DATA`` (several may be given, separated by ``os.pathsep``),
   e.g. one that holds DIV2K, BSD200 or Urban100;
2. the clone's ``data/``, when the package runs from a source checkout;
3. the data inside the installed package.

The shipped checkpoints are in :data:`CHECKPOINT_DIR`: the clone's ``data/checkpoints`` in a
source checkout, else the packaged copy.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The ``edsr_lite`` package folder.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The folder that holds the package: the clone's root when running from a source checkout.
REPO_ROOT = PACKAGE_DIR.parent
#: The data a wheel installs inside the package (absent in a source checkout).
PACKAGED_DATA_DIR = PACKAGE_DIR / "_data"
#: True when the package runs from a clone (an editable install or the repository on sys.path).
SOURCE_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "data").is_dir()
#: The project's own data: the clone's ``data/``, else the copy inside the installed package.
DATA_DIR = REPO_ROOT / "data" if SOURCE_CHECKOUT else PACKAGED_DATA_DIR
#: The shipped checkpoints, one folder per training run (``<run>/best.pt``, run.json, log.csv).
CHECKPOINT_DIR = DATA_DIR / "checkpoints"


def env_data_dirs() -> list[Path]:
    """The folders named by ``$EDSR_LITE_DATA`` (separated by ``os.pathsep``), in order."""
    env = os.environ.get("EDSR_LITE_DATA", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p]


def data_search_path() -> list[Path]:
    """The folders an image set is looked for in, in order: each of ``$EDSR_LITE_DATA``, then
    :data:`DATA_DIR` (the clone's ``data/``, or the copy inside the installed package)."""
    return [*env_data_dirs(), DATA_DIR]
