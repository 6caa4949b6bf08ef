"""ZoomCompare without a browser: crop logic, PSNR labels, the static figure, the PNG fallback.

The browser side (JupyterLab in Chromium) is tested in ``tests/test_browser.py``.
"""

from __future__ import annotations

import base64
import io
import math
import os
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
import traitlets
from matplotlib.figure import Figure
from PIL import Image

from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.metrics import psnr, rgb_to_y
from edsr_lite.course.widgets import (
    PANEL_PX,
    ZoomCompare,
    aligned_crops,
    box_step,
    clamp_box,
    compare_crops,
    crop,
    crop_psnrs,
    default_box,
    magnify,
    panel_label,
    panel_labels,
    scale_factors,
)
from edsr_lite.images import read_image
from edsr_lite.locations import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "fixtures" / "widget_demo.ipynb"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _set(scale: int, path: Path) -> dict[str, np.ndarray]:
    """HR (mod-cropped), its MATLAB-bicubic LR and bicubic upscaling of the LR."""
    hr = modcrop(read_image(path), scale)
    lr = imresize(hr, 1 / scale)
    return {"LR": lr, "bicubic": imresize(lr, scale), "HR": hr}


@pytest.fixture(scope="module")
def butterfly() -> dict[str, np.ndarray]:
    """Set5 butterfly at x4: LR 64 x 64, bicubic and HR 256 x 256."""
    return _set(4, DATA_DIR / "Set5" / "butterfly.png")


@pytest.fixture(scope="module")
def zebra() -> dict[str, np.ndarray]:
    """Set14 zebra at x3 (an odd factor, a non-square image)."""
    return _set(3, DATA_DIR / "Set14" / "zebra.png")


# ------------------------------------------------------------------------- sizes and the grid


def test_scale_factors_align_images_of_different_sizes(butterfly, zebra):
    assert scale_factors(butterfly) == {"LR": 4, "bicubic": 1, "HR": 1}
    assert scale_factors(zebra) == {"LR": 3, "bicubic": 1, "HR": 1}
    assert box_step(scale_factors(butterfly)) == 4
    assert box_step({"a": 1, "b": 2, "c": 3}) == 6


def test_scale_factors_refuse_images_that_are_not_a_whole_factor_smaller():
    hr = read_image(DATA_DIR / "Set5" / "butterfly.png")  # 256 x 256: not a multiple of 3
    with pytest.raises(ValueError, match="modcrop"):
        scale_factors({"LR": imresize(hr, 1 / 3), "HR": hr})  # LR 86 x 86, 3 * 86 = 258
    with pytest.raises(ValueError, match="whole factor"):
        scale_factors({"a": hr, "b": hr[:, :128]})  # shrunk in one direction only


# ------------------------------------------------------------------------- the box


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((96, 96, 64, 64), (96, 96, 64, 64)),  # inside: unchanged
        ((230, 250, 64, 64), (192, 192, 64, 64)),  # past the right and bottom edges
        ((-10, -1, 64, 64), (0, 0, 64, 64)),  # negative position
        ((97, 99, 63, 66), (96, 96, 60, 64)),  # off the 4-pixel grid: rounded down
        ((0, 0, 1, 2), (0, 0, 4, 4)),  # smaller than one step
        ((5, 5, 999, 300), (0, 0, 256, 256)),  # larger than the image
    ],
)
def test_clamp_box_keeps_the_box_on_the_grid_and_inside(box, expected):
    assert clamp_box(box, (256, 256), step=4) == expected


def test_clamp_box_invariants_for_random_boxes():
    rng = np.random.default_rng(0)
    full_h, full_w, step = 390, 498, 6
    for box in rng.integers(-600, 900, size=(500, 4)):
        x, y, w, h = clamp_box(tuple(box), (full_h, full_w), step)
        assert all(v % step == 0 for v in (x, y, w, h))
        assert x >= 0 and x + w <= full_w and y >= 0 and y + h <= full_h
        assert w >= step and h >= step
        assert clamp_box((x, y, w, h), (full_h, full_w), step) == (x, y, w, h)  # idempotent


def test_clamp_box_rejects_bad_input():
    with pytest.raises(ValueError, match="x, y, width, height"):
        clamp_box((1, 2, 3), (10, 10))
    with pytest.raises(ValueError, match="smaller than one step"):
        clamp_box((0, 0, 4, 4), (2, 8), step=4)


@pytest.mark.parametrize("zoom", [1, 2, 3, 4, 5, 7, 8])
def test_default_box_is_centred_and_magnifies_to_about_256_pixels(zoom):
    x, y, w, h = default_box((256, 256), zoom, step=4)
    assert w == h and w % 4 == 0
    assert PANEL_PX - 4 * zoom < w * zoom <= PANEL_PX  # odd zooms: a little less than 256
    assert abs((x + w / 2) - 128) <= 4 and abs((y + h / 2) - 128) <= 4


# ------------------------------------------------------------------------- crops


def test_crop_of_a_smaller_image_is_the_same_region(butterfly):
    box = (100, 40, 48, 32)
    lr_crop = crop(butterfly["LR"], box, factor=4)
    assert lr_crop.shape == (8, 12, 3)
    np.testing.assert_array_equal(lr_crop, butterfly["LR"][10:18, 25:37])
    np.testing.assert_array_equal(crop(butterfly["HR"], box), butterfly["HR"][40:72, 100:148])
    with pytest.raises(ValueError, match="grid"):
        crop(butterfly["LR"], (101, 40, 48, 32), factor=4)
    with pytest.raises(ValueError, match="inside"):
        crop(butterfly["HR"], (240, 0, 32, 32))


@pytest.mark.parametrize("times", [1, 3, 5])
def test_magnify_is_nearest_neighbour(butterfly, times):
    small = butterfly["LR"][:5, :7]
    big = magnify(small, times)
    assert big.shape == (5 * times, 7 * times, 3) and big.dtype == np.uint8
    rows, cols = np.mgrid[0 : 5 * times, 0 : 7 * times]
    np.testing.assert_array_equal(big, small[rows // times, cols // times])
    with pytest.raises(ValueError):
        magnify(small, 0)


@pytest.mark.parametrize("zoom", [1, 3, 4, 5])
def test_aligned_crops_show_the_same_region_at_the_same_size(zebra, zoom):
    step = box_step(scale_factors(zebra))  # 3
    box = clamp_box((151, 92, 40, 31), zebra["HR"].shape[:2], step)
    x, y, w, h = box
    crops = aligned_crops(zebra, box, zoom)
    assert list(crops) == ["LR", "bicubic", "HR"]  # the order of the panels
    assert {c.shape for c in crops.values()} == {(h * zoom, w * zoom, 3)}
    np.testing.assert_array_equal(crops["HR"], magnify(zebra["HR"][y : y + h, x : x + w], zoom))
    # The LR panel is exactly the LR image blown up 3x by nearest neighbour, then cropped.
    lr_full = magnify(zebra["LR"], 3)
    np.testing.assert_array_equal(crops["LR"], magnify(lr_full[y : y + h, x : x + w], zoom))


# ------------------------------------------------------------------------- PSNR and labels


def test_crop_psnr_is_y_psnr_of_the_crops_without_shave(butterfly):
    box = (96, 96, 64, 64)
    values = crop_psnrs(butterfly, box, reference="HR")
    assert values["LR"] is None and values["HR"] is None  # other size; the reference itself
    sr, hr = crop(butterfly["bicubic"], box), crop(butterfly["HR"], box)
    mse = np.mean((rgb_to_y(sr) - rgb_to_y(hr)) ** 2)  # every pixel of the crop counts
    assert values["bicubic"] == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)
    assert values["bicubic"] == psnr(sr, hr, scale=0)
    assert 15 < values["bicubic"] < 40
    # The blurred background (bottom left) loses little to bicubic; the wing's veins much more.
    assert crop_psnrs(butterfly, (16, 176, 32, 32), "HR")["bicubic"] > values["bicubic"] + 10


def test_crop_psnr_without_reference_and_for_identical_crops(butterfly):
    assert crop_psnrs(butterfly, (0, 0, 8, 8), None) == {"LR": None, "bicubic": None, "HR": None}
    copy = {"copy": butterfly["HR"].copy(), "HR": butterfly["HR"]}
    assert crop_psnrs(copy, (0, 0, 8, 8), "HR")["copy"] == math.inf
    with pytest.raises(ValueError, match="not one of"):
        crop_psnrs(butterfly, (0, 0, 8, 8), "GT")


def test_panel_labels(butterfly):
    assert panel_label("bicubic", 22.4481) == "bicubic: 22.45 dB"
    assert panel_label("EDSR", 30.0) == "EDSR: 30.00 dB"
    assert panel_label("copy", math.inf) == "copy: ∞ dB"
    assert panel_label("LR", None) == "LR"
    assert panel_label("HR", None, is_reference=True) == "HR (reference)"
    labels = panel_labels(butterfly, (96, 96, 64, 64), "HR")
    value = crop_psnrs(butterfly, (96, 96, 64, 64), "HR")["bicubic"]
    assert labels == {"LR": "LR", "bicubic": f"bicubic: {value:.2f} dB", "HR": "HR (reference)"}


# ------------------------------------------------------------------------- the figure


def test_compare_crops_figure(butterfly):
    box = (96, 96, 64, 64)
    fig = compare_crops(butterfly, box, reference="HR")
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["overview", *panel_labels(butterfly, box, "HR").values()]
    png = io.BytesIO()
    fig.savefig(png, format="png")
    assert png.getvalue().startswith(PNG_SIGNATURE)
    assert len(compare_crops(butterfly, overview=False).axes) == 3


def test_compare_crops_accepts_paths_and_pil_images():
    path = DATA_DIR / "Set5" / "bird.png"
    fig = compare_crops({"file": path, "pil": Image.open(path)}, box=(10, 10, 30, 30))
    assert [ax.get_title() for ax in fig.axes] == ["overview", "file", "pil"]


# ------------------------------------------------------------------------- the widget


def test_widget_state(butterfly):
    widget = ZoomCompare(butterfly, zoom=4, reference="HR")
    assert widget.box == (96, 96, 64, 64) and widget.step == 4 and widget.overview == "HR"
    assert [entry["name"] for entry in widget.images] == ["LR", "bicubic", "HR"]
    assert [entry["factor"] for entry in widget.images] == [4, 1, 1]
    for entry in widget.images:  # the PNG sent to the browser holds the exact pixels
        decoded = np.asarray(Image.open(io.BytesIO(entry["png"])))
        np.testing.assert_array_equal(decoded, butterfly[entry["name"]])

    widget.box = (250, -3, 63, 63)  # as if dragged past the corner: clamped and snapped
    assert widget.box == (196, 0, 60, 60)
    assert {c.shape for c in widget.crops().values()} == {(240, 240, 3)}
    widget.zoom = 3
    assert {c.shape for c in widget.crops().values()} == {(180, 180, 3)}
    assert widget.labels() == panel_labels(butterfly, widget.box, "HR")
    assert widget.psnrs() == crop_psnrs(butterfly, widget.box, "HR")
    with pytest.raises(traitlets.TraitError):
        widget.zoom = 0
    widget.close()


def test_widget_default_box_follows_zoom_and_box_argument(butterfly):
    assert ZoomCompare(butterfly, zoom=8).box == (112, 112, 32, 32)
    assert ZoomCompare(butterfly, zoom=3).box[2:] == (84, 84)  # 256 // 3 = 85, snapped to 4
    assert ZoomCompare(butterfly, box=(10, 10, 20, 20)).box == (8, 8, 20, 20)
    assert ZoomCompare({"HR": butterfly["HR"]}).step == 1


def test_widget_rejects_bad_references(butterfly):
    with pytest.raises(ValueError, match="not one of"):
        ZoomCompare(butterfly, reference="GT")
    with pytest.raises(ValueError, match="full-resolution"):
        ZoomCompare(butterfly, reference="LR")
    with pytest.raises(ValueError, match="at least one"):
        ZoomCompare({})


def test_widget_ships_its_front_end_with_the_package():
    widget = ZoomCompare({"HR": read_image(DATA_DIR / "Set5" / "bird.png")})
    assert "export default" in widget._esm and "clampBox" in widget._esm
    assert ".edsr-zoom" in widget._css
    assert "http://" not in widget._esm and "https://" not in widget._esm  # nothing from a CDN


# ------------------------------------------------------------------------- the PNG fallback


def _bundle_png(widget: ZoomCompare) -> bytes:
    data, _ = widget._repr_mimebundle_()
    return base64.b64decode(data["image/png"])


def test_mime_bundle_has_the_widget_view_and_a_png_of_the_current_state(butterfly):
    widget = ZoomCompare(butterfly, reference="HR")
    data, _ = widget._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
    assert "ZoomCompare(LR, bicubic, HR" in data["text/plain"]
    png = _bundle_png(widget)
    assert png.startswith(PNG_SIGNATURE) and png == widget.to_png()
    assert Image.open(io.BytesIO(png)).size[0] > 400
    widget.box = (0, 0, 32, 32)
    assert _bundle_png(widget) != png  # it follows the box
    widget.close()


def test_mime_bundle_has_a_self_contained_html_copy(butterfly):
    """The text/html copy: the PNG until its script runs, the front end and images inline."""
    widget = ZoomCompare(butterfly, reference="HR")
    data, _ = widget._repr_mimebundle_()
    page = data["text/html"]
    assert f'<img src="data:image/png;base64,{data["image/png"]}"' in page
    assert "renderStatic" in page and ".edsr-zoom" in page  # widgets.js and widgets.css
    assert base64.b64encode(widget.images[0]["png"]).decode() in page
    assert page.count("</script>") == 1  # nothing inline closes the script early
    assert "http://" not in page and "https://" not in page
    widget.close()


def test_html_export_without_kernel_shows_the_png(tmp_path, monkeypatch):
    """Run the demo notebook (no browser), export it to HTML: the HTML shows the PNG, inside
    the widget's self-contained HTML copy (tests/test_site.py runs that copy in a browser).

    The widget state is not stored in the notebook, as when JupyterLab saves it (its default).
    """
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        store_widget_state=False,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()

    (output,) = nb.cells[-1].outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data
    png = output.data["image/png"]
    assert base64.b64decode(png).startswith(PNG_SIGNATURE)

    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert f'src="data:image/png;base64,{png}"' in html
    assert "renderStatic" in html  # the HTML copy, not the PNG alone
    assert 'type="application/vnd.jupyter.widget-view+json"' not in html
    (tmp_path / "widget_demo.html").write_text(html)
