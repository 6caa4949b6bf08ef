"""The tour's steps: one image through super-resolution, and PSNR by hand."""

import math

import numpy as np
import pytest
import torch
from skimage import data as skdata

from edsr_lite.core.metrics import psnr, ssim
from edsr_lite.core.models import PRESETS, build
from edsr_lite.course import tour
from edsr_lite.datasets import benchmark
from edsr_lite.evaluation import bicubic_sr


def test_sr_versions_of_the_cat_are_aligned_and_scored_like_the_benchmark():
    cat = skdata.chelsea()  # 300 x 451, mod-cropped to 300 x 450 at x3
    model = build("edsr_tiny", scale=3, n_resblocks=1, n_feats=8)
    versions = tour.sr_versions(cat, 3, {"EDSR": model})
    assert list(versions) == ["HR", "LR", "bicubic", "EDSR"]
    assert versions["HR"].shape == (300, 450, 3) and versions["LR"].shape == (100, 150, 3)
    assert all(
        v.shape == (300, 450, 3) and v.dtype == np.uint8 for k, v in versions.items() if k != "LR"
    )
    rows = {r["method"]: r for r in tour.scores(versions, 3)}
    assert set(rows) == {"bicubic", "EDSR"}
    hr = versions["HR"]
    assert rows["bicubic"]["PSNR (dB)"] == psnr(versions["bicubic"], hr, 3)
    assert rows["EDSR"]["SSIM"] == ssim(versions["EDSR"], hr, 3)
    # The same LR and bicubic as the benchmark protocol on a benchmark image
    name, bench_hr, bench_lr = next(iter(benchmark("Set5", 2)))
    same = tour.sr_versions(bench_hr, 2, {})
    np.testing.assert_array_equal(same["LR"], bench_lr)
    np.testing.assert_array_equal(same["bicubic"], bicubic_sr(bench_lr, 2))


def test_psnr_by_hand_equals_the_package():
    _, hr, lr = next(iter(benchmark("Set5", 4)))
    sr = bicubic_sr(lr, 4)
    steps = tour.psnr_steps(sr, hr, 4)
    assert steps["psnr"] == pytest.approx(psnr(sr, hr, 4), abs=1e-9)
    assert steps["shaved_shape"] == (hr.shape[0] - 8, hr.shape[1] - 8)
    assert steps["y_hr"].min() >= 16 and steps["y_hr"].max() <= 235
    assert steps["rmse"] == pytest.approx(math.sqrt(steps["mse"]))
    assert tour.psnr_steps(hr, hr, 4)["psnr"] == math.inf


def test_zoo_lists_every_preset_with_its_parameters():
    rows = {r["preset"]: r for r in tour.zoo()}
    assert set(rows) == set(PRESETS)
    assert rows["edsr"]["blocks x features"] == "32 x 256"
    assert "1.37 M (x2)" in rows["edsr_baseline"]["parameters"]
    assert rows["mdsr_baseline"]["parameters"] == "3.23 M"


def test_error_maps_are_the_shaved_absolute_y_error():
    _, hr, lr = next(iter(benchmark("Set5", 2)))
    versions = tour.sr_versions(hr, 2, {})
    maps = tour.error_maps(versions, 2)
    assert list(maps) == ["bicubic"]
    err = maps["bicubic"]
    assert err.shape == (hr.shape[0] - 4, hr.shape[1] - 4) and err.min() >= 0
    # PSNR is this map's mean square, in dB
    assert 10 * math.log10(255**2 / np.mean(err**2)) == pytest.approx(
        psnr(versions["bicubic"], hr, 2), abs=1e-9
    )
    assert not tour.error_maps({"HR": hr, "same": hr.copy()}, 2)["same"].any()


def test_error_map_figure_has_one_panel_per_method():
    from edsr_lite.course.figures import plot_error_maps

    maps = {"bicubic": np.full((8, 8), 3.0), "EDSR": np.zeros((8, 8))}
    fig = plot_error_maps(maps)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["bicubic: mean |error| 3.00", "EDSR: mean |error| 0.00"]


def test_shipped_models_read_each_run_and_skip_unfinished_ones(tmp_path):
    import json

    from edsr_lite.checkpoints import save_checkpoint

    model = build("edsr_tiny", scale=2, n_resblocks=1, n_feats=8)
    for name, status in (("done_x2", "finished"), ("busy_x2", "running")):
        folder = tmp_path / name
        folder.mkdir()
        save_checkpoint(folder / "best.pt", model, meta={"best_psnr": 30.0, "step": 10})
        run = {
            "status": status,
            "stopped_by": "max_steps",
            "preset": "edsr_tiny",
            "scales": [2],
            "step": 500,
            "best_psnr": 33.456,
            "seconds": 7200,
            "machine": {"cpu": "AMD EPYC", "cpu_cores": 2, "gpu": None},
        }
        (folder / "run.json").write_text(json.dumps(run))
    save_checkpoint(tmp_path / "plain.pt", model)
    rows = {r["name"]: r for r in tour.shipped_models(tmp_path)}
    assert set(rows) == {"done_x2", "plain"}
    done = rows["done_x2"]
    assert done["steps"] == 500 and done["best Set5 PSNR in training (dB)"] == "33.46"
    assert done["training time (h)"] == "2.0" and done["trained on"] == "CPU: AMD EPYC, 2 cores"
    assert rows["plain"]["trained on"] == "not recorded"


def test_a_multiscale_models_best_psnr_says_it_is_the_mean_of_its_scales(tmp_path):
    import json

    from edsr_lite.checkpoints import save_checkpoint

    run = {"status": "finished", "stopped_by": "max_steps", "scales": [2, 3, 4], "step": 9}
    run |= {"best_psnr": 34.2017, "best_step": 9, "val_data": "Set5"}
    recorded = {"step": 9, "Set5": {"x2": 37.51, "x3": 33.734, "x4": 31.36}}
    for name, extra in (("mdsr_a", {}), ("mdsr_b", {"metrics": recorded})):
        (tmp_path / name).mkdir()
        save_checkpoint(tmp_path / name / "best.pt", build("edsr_tiny", 2, n_resblocks=1))
        (tmp_path / name / "run.json").write_text(json.dumps(run | extra))
    best = {r["name"]: r["best Set5 PSNR in training (dB)"] for r in tour.shipped_models(tmp_path)}
    assert best["mdsr_a"] == "34.20 (mean of x2, x3, x4)"
    assert best["mdsr_b"] == "34.20 (mean of x2 37.51, x3 33.73, x4 31.36)"


def test_errors_by_region_split_the_scored_pixels_into_edges_and_flat_areas():
    _, hr, _ = next(iter(benchmark("Set5", 2)))
    versions = tour.sr_versions(hr, 2, {})
    versions["HR again"] = versions["HR"].copy()
    rows = {r["method"]: r for r in tour.errors_by_region(versions, 2)}
    assert list(rows) == ["bicubic", "HR again"]
    bicubic = rows["bicubic"]
    assert bicubic["whole image"] == pytest.approx(tour.error_maps(versions, 2)["bicubic"].mean())
    assert bicubic["edges"] > bicubic["whole image"] > bicubic["flat areas"] >= 0
    assert set(rows["HR again"].values()) == {"HR again", 0.0}
    assert all("_" not in key for key in bicubic)  # table columns are words


def test_training_record_reads_the_run(tmp_path):
    import json

    from edsr_lite.checkpoints import save_checkpoint

    folder = tmp_path / "done_x2"
    folder.mkdir()
    save_checkpoint(folder / "best.pt", build("edsr_tiny", scale=2, n_resblocks=1, n_feats=8))
    run = {
        "status": "finished",
        "step": 500,
        "seconds": 5400,
        "data": {"folders": ["data/T91", "BSD200"], "images": 291},
    }
    (folder / "run.json").write_text(json.dumps(run))
    record = tour.training_record("done_x2", tmp_path)
    assert record == {"steps": 500, "images": 291, "data": "T91 + BSD200", "hours": 1.5}


# -- your own photo ------------------------------------------------------------------------


def test_your_photo_upscales_a_shipped_image_with_the_shipped_model_and_bicubic():
    from edsr_lite.core.degradation import imresize
    from edsr_lite.images import read_image
    from edsr_lite.infer import upscale
    from edsr_lite.weights import load_pretrained

    path = benchmark_path("Set5", "bird.png")  # 288 x 288
    result = tour.your_photo(path, scale=2, max_pixels=48 * 64)
    photo = result.images[tour.PHOTO]
    assert list(result.images) == [tour.PHOTO, "bicubic", "edsr_baseline_x2"]
    # Shrunk to fit, the aspect kept, with MATLAB's bicubic
    assert result.shrunk and result.original_size == (288, 288)
    assert photo.shape == (55, 55, 3) and photo.shape[0] * photo.shape[1] <= 48 * 64
    np.testing.assert_array_equal(photo, imresize(read_image(path), output_shape=(55, 55)))
    # Both upscalings of that photo, twice its size
    np.testing.assert_array_equal(result.images["bicubic"], imresize(photo, 2))
    model_sr = upscale(load_pretrained("edsr_baseline_x2"), photo, scale=2)
    np.testing.assert_array_equal(result.images["edsr_baseline_x2"], model_sr)
    # The sentence quotes the measurement and says that the photo was shrunk
    said = result.sentence()
    assert said.startswith(f"Upscaled x2 in {result.seconds:.1f} s on this machine")
    assert "55 x 55 px in, 110 x 110 px out" in said and "288 x 288 px" in said
    assert "shrunk" in said


def test_a_photo_that_fits_is_upscaled_as_it_is():
    from edsr_lite.images import read_image

    small = read_image(benchmark_path("Set5", "bird.png"))[:30, :40]
    result = tour.your_photo(small, scale=3, progress=True)  # progress works outside Jupyter too
    assert not result.shrunk and "shrunk" not in result.sentence()
    np.testing.assert_array_equal(result.images[tour.PHOTO], small)
    assert result.images["edsr_baseline_x3"].shape == (90, 120, 3)
    with pytest.raises(ValueError, match="scale must be one of 2, 3, 4"):
        tour.your_photo(small, scale=8)


def test_an_upload_is_decoded_and_a_non_image_is_one_plain_error():
    import io

    from PIL import Image

    from edsr_lite.images import read_image

    path = benchmark_path("Set5", "bird.png")
    np.testing.assert_array_equal(tour.decode_upload(path.read_bytes()), read_image(path))
    gray = io.BytesIO()
    Image.fromarray(np.full((4, 6), 7, np.uint8)).save(gray, format="PNG")
    assert tour.decode_upload(gray.getvalue()).shape == (4, 6, 3)
    with pytest.raises(ValueError, match="notes.txt is not an image .*pick a PNG or JPEG"):
        tour.decode_upload(b"not an image", "notes.txt")


def test_the_picker_gives_the_upload_or_the_default_and_a_line_without_a_kernel():
    from datetime import datetime

    path = benchmark_path("Set5", "bird.png")
    picker = tour.PhotoPicker(scale=3)
    assert picker.scale == 3 and picker.photo(path) == path
    bundle = picker._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the controls, live
    assert "Run this notebook in JupyterLab to upload your own photo" in bundle["text/html"]
    upload = {"name": "bird.png", "type": "image/png", "size": 1, "last_modified": datetime.now()}
    picker.upload.value = ({**upload, "content": memoryview(path.read_bytes())},)
    assert picker.photo(path).shape == (288, 288, 3)


def benchmark_path(set_name: str, image: str):
    from edsr_lite.datasets import find_dataset

    return find_dataset(set_name) / image


def test_benchmark_table_scores_bicubic_and_the_model_with_or_without_a_progress_line():
    torch.manual_seed(0)
    model = build("edsr_tiny", 2, n_resblocks=1, n_feats=8)
    quiet = tour.benchmark_table(model, "ours", ("Set5",), 2)
    shown = tour.benchmark_table(model, "ours", ("Set5",), 2, show=True)
    assert quiet == shown and [r["images"] for r in quiet] == [5]
    assert quiet[0]["bicubic dB"] == pytest.approx(33.7, abs=0.2)  # protocol "model"
    assert quiet[0]["official dB"] is not None
