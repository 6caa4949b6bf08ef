"""Where the project's files live: the repository root, data/ and the shipped checkpoints.

``EDSR_LITE_DATA`` (an environment variable) points at another data folder, e.g. one that
holds DIV2K or BSD200; the repository's own ``data/`` is always searched first.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
