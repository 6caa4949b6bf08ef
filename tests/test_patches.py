"""Training data: aligned LR/HR patches, the 8 augmentations, caching, bad images, seeds."""

import shutil

import numpy as np
import pytest
import torch

from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.patches import augment, draw_scale, random_patch, step_rng
from edsr_lite.datasets import find_dataset, list_images
from edsr_lite.images import read_image, to_tensor
from edsr_lite.training_data import SkippedImagesWarning, load_training_set, load_validation_set

T91 = find_dataset("T91")


def _nearest_pair(scale, h=20, w=30, seed=0):
    """An LR image of distinct random values and its nearest-neighbour upscaling as 'HR'.

    For such a pair, an HR patch is aligned with an LR patch exactly when it is the LR patch
    upscaled: any offset or mismatched flip shows.
    """
    lr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    hr = lr.repeat(scale, axis=0).repeat(scale, axis=1)
    return hr, lr


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_patches_are_aligned_and_sized_in_lr_pixels(scale):
    hr, lr = _nearest_pair(scale)
    rng = np.random.default_rng(1)
    for _ in range(50):
        lr_p, hr_p = augment(*random_patch(hr, lr, scale, 7, rng), rng)
        assert lr_p.shape == (7, 7, 3) and hr_p.shape == (7 * scale, 7 * scale, 3)
        np.testing.assert_array_equal(hr_p, lr_p.repeat(scale, 0).repeat(scale, 1))


def test_augment_draws_all_eight_symmetries_of_the_square():
    patch = np.arange(9, dtype=np.uint8).reshape(3, 3, 1).repeat(3, axis=2)
    rng = np.random.default_rng(0)
    seen = {augment(patch, patch, rng)[0][:, :, 0].tobytes() for _ in range(200)}
    assert len(seen) == 8


def test_patch_positions_cover_the_whole_image():
    hr, lr = _nearest_pair(2, h=10, w=10)
    rng = np.random.default_rng(0)
    corners = set()
    for _ in range(400):
        lr_p, _ = random_patch(hr, lr, 2, 8, rng)
        corners.add(lr_p[0, 0].tobytes())
    assert len(corners) == 9  # (10 - 8 + 1)^2 positions, each reached


def test_lr_is_the_matlab_bicubic_of_the_modcropped_hr(train_dir):
    data = load_training_set(train_dir, [3], patch_size=16)
    hr, lr = data.pairs[3][0]
    original = read_image(list_images(train_dir)[0])
    np.testing.assert_array_equal(hr, modcrop(original, 3))
    np.testing.assert_array_equal(lr, imresize(modcrop(original, 3), scale=1 / 3))


def test_batches_depend_only_on_seed_step_and_rank(train_dir):
    data = load_training_set(train_dir, [2], patch_size=16)
    a = data.sample(2, 4, step_rng(seed=5, step=7))
    b = data.sample(2, 4, step_rng(seed=5, step=7))
    c = data.sample(2, 4, step_rng(seed=5, step=8))
    d = data.sample(2, 4, step_rng(seed=5, step=7, rank=1))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[0], d[0])
    assert a[0].shape == (4, 16, 16, 3) and a[1].shape == (4, 32, 32, 3)


def test_scale_draws_are_seeded_and_use_every_scale():
    draws = [draw_scale((2, 3, 4), seed=0, step=k) for k in range(1, 61)]
    assert draws == [draw_scale((2, 3, 4), seed=0, step=k) for k in range(1, 61)]
    assert set(draws) == {2, 3, 4}
    assert draws != [draw_scale((2, 3, 4), seed=1, step=k) for k in range(1, 61)]


def test_to_tensor_gives_float_nchw_in_channels_last():
    batch = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    t = to_tensor(batch)
    assert t.shape == (2, 3, 5, 6) and t.dtype == torch.float32
    assert t.is_contiguous(memory_format=torch.channels_last)
    assert to_tensor(batch, channels_last=False).is_contiguous()
    np.testing.assert_array_equal(t[1, 2].numpy(), batch[1, :, :, 2].astype(np.float32))


def test_disk_cache_gives_the_same_arrays_and_is_reused(train_dir, tmp_path):
    memory = load_training_set(train_dir, [2, 4], patch_size=16, cache="memory")
    disk = load_training_set(train_dir, [2, 4], 16, cache="disk", cache_dir=tmp_path / "c")
    assert disk.cache == "disk"
    for s in (2, 4):
        for (hr_m, lr_m), (hr_d, lr_d) in zip(memory.pairs[s], disk.pairs[s], strict=True):
            np.testing.assert_array_equal(hr_m, hr_d)
            np.testing.assert_array_equal(lr_m, lr_d)
    files = sorted((tmp_path / "c").glob("*.npy"))
    assert len(files) == 4 * 3  # HR + two LR per image
    mtimes = [f.stat().st_mtime_ns for f in files]
    load_training_set(train_dir, [2, 4], 16, cache="disk", cache_dir=tmp_path / "c")
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_bad_and_small_images_are_skipped_and_reported(train_dir):
    data = (train_dir / "t1.png").read_bytes()
    (train_dir / "broken.png").write_bytes(data[: len(data) // 3])  # a truncated PNG
    (train_dir / "empty.png").write_bytes(b"")
    small = np.zeros((40, 40, 3), np.uint8)
    from PIL import Image

    Image.fromarray(small).save(train_dir / "small.png")
    with pytest.warns(SkippedImagesWarning, match="broken.png"):
        ts = load_training_set(train_dir, [2, 3], patch_size=16)
    skipped = {s["file"]: s["reason"] for s in ts.skipped}
    assert "truncated" in skipped["broken.png"] and "empty" in skipped["empty.png"]
    assert "x3" in skipped["small.png"]  # 40 // 3 = 13 < 16, but fine at x2 (20)
    assert len(ts.pairs[2]) == 5 and len(ts.pairs[3]) == 4
    assert ts.report()["skipped"] == ts.skipped


def test_a_folder_without_usable_images_is_an_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"not a png")
    with pytest.warns(SkippedImagesWarning), pytest.raises(ValueError, match="no usable"):
        load_training_set(tmp_path / "bad", [2])
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="no usable"):
        load_training_set(tmp_path / "none", [2])


def test_several_folders_train_together_and_a_test_set_among_them_is_refused(train_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(T91 / "t10.png", other / "t10.png")
    both = load_training_set([train_dir, other], [2], patch_size=16)
    assert both.names == ["t1", "t2", "t3", "t5", "t10"] and len(both.pairs[2]) == 5
    assert both.report()["folders"] == [str(train_dir), str(other)]
    with pytest.raises(ValueError, match="benchmark"):
        load_training_set([train_dir, "Set5"], [2])
    with pytest.raises(ValueError, match="no training data"):
        load_training_set([], [2])


@pytest.mark.parametrize("name", ["Set5", "Set14", "B100"])
def test_benchmark_sets_are_refused_for_training(name, tmp_path):
    with pytest.raises(ValueError, match="benchmark"):
        load_training_set(name, [2])
    copy = tmp_path / name.lower()
    shutil.copytree(find_dataset(name), copy)
    with pytest.raises(ValueError, match="benchmark"):
        load_training_set(copy, [2])


def test_shards_split_the_images_between_processes(train_dir):
    ranks = [load_training_set(train_dir, [2], 16, shard=(r, 2)).names for r in (0, 1)]
    assert ranks == [["t1", "t3"], ["t2", "t5"]]
    with pytest.raises(ValueError, match="fewer than"):
        load_training_set(train_dir, [2], 16, shard=(0, 5))


def test_validation_set_keeps_the_first_images(train_dir):
    val = load_validation_set("Set5", [2, 3], max_images=2)
    assert [name for name, _, _ in val[2]] == ["baby", "bird"]
    name, hr, lr = val[3][0]
    assert hr.shape[0] == 3 * lr.shape[0] and hr.dtype == np.uint8
