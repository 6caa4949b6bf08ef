"""The tour's steps: one image through super-resolution, and PSNR by hand."""

import math

import numpy as np
import pytest
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
