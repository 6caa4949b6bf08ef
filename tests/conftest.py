"""Fixtures shared by several test files."""

import shutil

import pytest

from edsr_lite.data import find_dataset


@pytest.fixture
def train_dir(tmp_path):
    """A training folder with four real T91 images (all at least 150 px on a side)."""
    folder = tmp_path / "train"
    folder.mkdir()
    for name in ("t1.png", "t2.png", "t3.png", "t5.png"):
        shutil.copy(find_dataset("T91") / name, folder / name)
    return folder
