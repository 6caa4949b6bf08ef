"""The tour (``notebooks/00_tour.ipynb``): one image through super-resolution, step by step.

* :func:`sr_versions`: an HR image, its LR version (MATLAB bicubic, as in training and
  evaluation), and its bicubic and network upscalings, all of HR's size.
* :func:`scores`: PSNR and SSIM of each upscaling against HR, under the paper's protocol.
* :func:`psnr_steps`: PSNR computed one step at a time (Y channel, shave, MSE, dB), with every
  intermediate value, so that a reader can check :func:`edsr_lite.core.metrics.psnr` by hand.
* :func:`error_maps`: where on the image each upscaling is wrong (absolute Y error), and
  :func:`errors_by_region`: its mean on the edges and on the flat areas.
* :func:`benchmark_table`: bicubic and a model on whole benchmark sets, beside the official
  EDSR-baseline weights.
* :func:`zoo`: the model presets with their sizes and parameter counts.
* :func:`shipped_models`: the trained checkpoints that ship, with how they were trained;
  :func:`training_record`: one of them, as numbers a sentence can quote.
"""

from __future__ import annotations

import io
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from torch import nn

from edsr_lite.checkpoints import read_checkpoint
from edsr_lite.core.degradation import imresize, modcrop
from edsr_lite.core.metrics import psnr, rgb_to_y, shave, ssim
from edsr_lite.core.models import preset_summary
from edsr_lite.core.published import REFERENCE_EDSR_BASELINE
from edsr_lite.course.live import progress
from edsr_lite.datasets import find_dataset, list_images
from edsr_lite.evaluation import bicubic_sr, evaluate
from edsr_lite.images import as_rgb_array
from edsr_lite.infer import Upscaler, upscale
from edsr_lite.progress import format_duration
from edsr_lite.runs import finished_run_info
from edsr_lite.weights import available_pretrained, load_pretrained, resolve_checkpoint


def sr_versions(hr: np.ndarray, scale: int, models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
    """``{"HR", "LR", "bicubic", <model names>...}`` for one image, as uint8 H x W x 3 arrays.

    ``hr`` (uint8 RGB, or gray) is mod-cropped to a multiple of ``scale``; "LR" is its MATLAB
    bicubic downscale (h/s x w/s); "bicubic" and each of ``models`` upscale LR back to HR's
    size (the networks through :func:`edsr_lite.infer.upscale`, tiled if the image is large).
    """
    hr = modcrop(as_rgb_array(hr), scale)
    lr = imresize(hr, 1 / scale)
    versions = {"HR": hr, "LR": lr, "bicubic": imresize(lr, scale)}
    for name, model in models.items():
        versions[name] = upscale(model, lr, scale=scale)
    return versions


def scores(versions: dict[str, np.ndarray], scale: int) -> list[dict]:
    """PSNR (dB) and SSIM against ``versions["HR"]`` of every upscaled version, on the Y
    channel with ``scale`` border pixels shaved (the paper's protocol). One row per version."""
    hr = versions["HR"]
    return [
        {"method": name, "PSNR (dB)": psnr(sr, hr, scale), "SSIM": ssim(sr, hr, scale)}
        for name, sr in versions.items()
        if name not in ("HR", "LR")
    ]


def psnr_steps(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict:
    """PSNR of ``sr`` against ``hr`` (uint8 RGB, same shape), one step at a time.

    Returns the intermediate values: ``y_sr``, ``y_hr`` (float64 Y planes, 16..235),
    ``shaved_shape`` (after removing ``scale`` pixels from each border), ``mse`` (mean squared
    error of the shaved Y planes), ``rmse`` (grey levels) and ``psnr`` = 10 log10(255^2 / MSE).
    """
    y_sr, y_hr = rgb_to_y(sr), rgb_to_y(hr)
    diff = shave(y_sr, scale) - shave(y_hr, scale)
    mse = float(np.mean(diff**2))
    return {
        "y_sr": y_sr,
        "y_hr": y_hr,
        "shaved_shape": diff.shape,
        "mse": mse,
        "rmse": math.sqrt(mse),
        "psnr": 10 * math.log10(255**2 / mse) if mse > 0 else math.inf,
    }


def error_maps(versions: dict[str, np.ndarray], scale: int) -> dict[str, np.ndarray]:
    """``{name: |Y_sr - Y_hr|}`` for every upscaled version: float64 maps of HR's size minus
    ``scale`` pixels on each border (the part PSNR scores), in grey levels 0..219."""
    y_hr = rgb_to_y(versions["HR"])
    return {
        name: shave(np.abs(rgb_to_y(sr) - y_hr), scale)
        for name, sr in versions.items()
        if name not in ("HR", "LR")
    }


def errors_by_region(
    versions: dict[str, np.ndarray], scale: int, edges: float = 0.1, flat: float = 0.5
) -> list[dict]:
    """Mean absolute Y error (grey levels) of each upscaling over the scored pixels (the
    :func:`error_maps`), on the edges and on the flat areas of HR.

    The regions are HR's, the same for every method: a pixel is on an *edge* when its Y
    gradient magnitude is among the strongest ``edges`` fraction of the image's (a tenth by
    default), *flat* among the weakest ``flat`` fraction (half). One row per method:
    ``{"method", "whole image", "edges", "flat areas"}``.
    """
    rows_, cols_ = np.gradient(rgb_to_y(versions["HR"]))
    gradient = shave(np.hypot(rows_, cols_), scale)
    on_edge = gradient >= np.quantile(gradient, 1 - edges)
    is_flat = gradient <= np.quantile(gradient, flat)
    return [
        {
            "method": name,
            "whole image": float(err.mean()),
            "edges": float(err[on_edge].mean()),
            "flat areas": float(err[is_flat].mean()),
        }
        for name, err in error_maps(versions, scale).items()
    ]


def benchmark_table(
    model: nn.Module, name: str, sets: tuple[str, ...], scale: int, show: bool = False
) -> list[dict]:
    """One row per benchmark set: its image count, then mean PSNR (dB) and SSIM of bicubic, of
    ``model`` (its columns titled ``name``) and of the official EDSR-baseline weights (measured
    by torchSR, :data:`edsr_lite.core.published.REFERENCE_EDSR_BASELINE`; None where unknown), all
    under the paper's protocol (:func:`edsr_lite.evaluation.evaluate`). ``show``: a progress
    line over the images scored, in a notebook."""
    with _counted(sets, f"scoring bicubic and {name} on {', '.join(sets)}", show) as counted:
        bicubic_rows = evaluate(counted(bicubic_sr), sets, (scale,))
        model_rows = evaluate(counted(Upscaler(model)), sets, (scale,))
    bicubic = {r["set"]: r for r in bicubic_rows}
    ours = {r["set"]: r for r in model_rows}
    rows = []
    for set_name in sets:
        official = REFERENCE_EDSR_BASELINE.get((set_name, scale), (None, None))
        rows.append(
            {
                "set": set_name,
                "images": ours[set_name]["n_images"],
                "bicubic dB": bicubic[set_name]["psnr"],
                "bicubic SSIM": bicubic[set_name]["ssim"],
                f"{name} dB": ours[set_name]["psnr"],
                f"{name} SSIM": ours[set_name]["ssim"],
                "official dB": official[0],
                "official SSIM": official[1],
            }
        )
    return rows


SRFn = Callable[[np.ndarray, int], np.ndarray]


@contextmanager
def _counted(sets: tuple[str, ...], desc: str, show: bool) -> Iterator[Callable[[SRFn], SRFn]]:
    """Yields ``counted(fn)``: ``fn`` that moves a progress line on by one image per call (two
    methods over ``sets``: twice their images), when ``show``; ``fn`` itself otherwise."""
    if not show:
        yield lambda fn: fn
        return
    total = 2 * sum(len(list_images(find_dataset(s))) for s in sets)
    ticks = progress(range(total), desc, unit="images")
    next(ticks)  # the line starts at 0; each image scored moves it on by one

    def counted(fn: SRFn) -> SRFn:
        def run(lr: np.ndarray, scale: int) -> np.ndarray:
            out = fn(lr, scale)
            next(ticks, None)
            return out

        return run

    yield counted
    for _ in ticks:  # the last image's call ends the line ("... in 12.3 s")
        pass


def zoo() -> list[dict]:
    """One row per model preset: blocks x features, residual scaling (``res_scale``), scales and
    parameters."""
    rows = []
    for row in preset_summary():
        params = row["params"]
        rows.append(
            {
                "preset": row["preset"],
                "blocks x features": f"{row['n_resblocks']} x {row['n_feats']}",
                "residual scaling": row["res_scale"],
                "scales": "x2, x3, x4 (one model)" if row["arch"] == "mdsr" else "one per model",
                "parameters": ", ".join(
                    f"{n / 1e6:.2f} M" + (f" (x{s})" if s != "all" else "")
                    for s, n in params.items()
                ),
                "what": row["note"],
            }
        )
    return rows


def _where(machine: dict | None) -> str:
    if not machine:
        return "not recorded"
    if machine.get("gpu"):
        return f"GPU: {machine['gpu']}"
    return f"CPU: {machine.get('cpu', '?')}, {machine.get('cpu_cores', '?')} cores"


def _training_info(name: str, checkpoint_dir: str | os.PathLike | None) -> dict:
    """What a checkpoint records of its training: its run folder's ``run.json`` (the whole
    run) for a shipped ``best.pt``, else the checkpoint's metadata (``{}`` if none)."""
    path = resolve_checkpoint(name, checkpoint_dir)
    run = finished_run_info(Path(path).parent) if path.name == "best.pt" else None
    return run or read_checkpoint(path).get("meta") or {}


def _best_cell(info: dict) -> str:
    """The best validation PSNR of a run, as the table shows it: for a multi-scale run it is the
    mean over its scales, so the cell says so and, when the run recorded them at that step,
    gives each scale's: "34.20 (mean of x2 37.51, x3 33.73, x4 31.36)"."""
    best = f"{info['best_psnr']:.2f}"
    scales = info.get("scales") or []
    if len(scales) < 2:
        return best
    metrics = info.get("metrics") or {}
    at_best = metrics.get("step") == info.get("best_step")
    per_set = metrics.get(info.get("val_data")) if at_best else None
    if isinstance(per_set, dict) and all(f"x{s}" in per_set for s in scales):
        return f"{best} (mean of " + ", ".join(f"x{s} {per_set[f'x{s}']:.2f}" for s in scales) + ")"
    return f"{best} (mean of " + ", ".join(f"x{s}" for s in scales) + ")"


def shipped_models(checkpoint_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per shipped checkpoint (see :func:`edsr_lite.weights.available_pretrained`):
    its preset and scales, the steps it trained, its best Set5 PSNR during training (dB, on the
    validation images its run recorded; for a multi-scale model the mean over its scales, which
    the cell says, with each scale's when recorded), the training time (hours) and where it
    trained.

    A run folder's numbers come from its ``run.json`` (the whole run); a plain ``<name>.pt``
    (official weights, say) shows what its metadata holds, or "not recorded".
    """
    rows = []
    for name in available_pretrained(checkpoint_dir):
        info = _training_info(name, checkpoint_dir)
        seconds = info.get("seconds")
        best = info.get("best_psnr")
        rows.append(
            {
                "name": name,
                "preset": info.get("preset", "?"),
                "scales": ", ".join(f"x{s}" for s in info.get("scales", [])) or "?",
                "steps": info.get("step", "?"),
                "best Set5 PSNR in training (dB)": _best_cell(info) if best is not None else "?",
                "training time (h)": f"{seconds / 3600:.1f}" if seconds else "?",
                "trained on": _where(info.get("machine")),
            }
        )
    return rows


def training_record(name: str, checkpoint_dir: str | os.PathLike | None = None) -> dict:
    """How a shipped checkpoint was trained, as numbers a computed sentence can quote.

    From its run's ``run.json`` (or the checkpoint's metadata): ``steps`` (int or None),
    ``images`` (training images, or None), ``data`` (the training sets' names joined by " + ",
    e.g. "T91 + BSD200"), ``hours`` (training time, or None).
    """
    info = _training_info(name, checkpoint_dir)
    config = info.get("train_config") or {}
    folders = (info.get("data") or {}).get("folders") or config.get("data") or []
    seconds = info.get("seconds")
    return {
        "steps": info.get("step"),
        "images": (info.get("data") or {}).get("images"),
        "data": " + ".join(Path(str(f)).name for f in folders) or "not recorded",
        "hours": seconds / 3600 if seconds else None,
    }


# --------------------------------------------------------------------------------------------
# Your own photo
# --------------------------------------------------------------------------------------------

#: The scales a shipped single-scale model serves: ``edsr_baseline_x2``, ``_x3``, ``_x4``.
PHOTO_SCALES = (2, 3, 4)
#: The largest photo upscaled as it is (pixels, about 0.26 MP): a larger one is shrunk to this
#: first. The shipped baseline needs one to two minutes per megapixel of input on two busy CPU
#: cores (x4, measured on Set14's zebra), so this keeps a laptop's answer to seconds (and the zoom
#: widget's images to a few MB).
MAX_PHOTO_PIXELS = 512 * 512
#: The steps :func:`your_photo` reports progress over: read, shrink, bicubic, the network.
PHOTO_STEPS = 4
#: The photo's name among :attr:`PhotoResult.images` (the zoom widget's panel label).
PHOTO = "your photo"


@dataclass
class PhotoResult:
    """A photo upscaled by a shipped model and by bicubic (what :func:`your_photo` returns).

    Attributes:
        images: ``{"your photo", "bicubic", <model name>}``, uint8 RGB; the two upscalings
            are ``scale`` times the photo's size (:class:`~edsr_lite.course.widgets.ZoomCompare`
            takes them as they are).
        scale: the factor. model: the shipped model's name, e.g. ``"edsr_baseline_x4"``.
        seconds: the model's upscaling, wall-clock on this machine; bicubic_seconds: bicubic's.
        original_size: the photo's (width, height) as given; shrunk: whether it was shrunk to
            at most ``max_pixels`` first (then ``images["your photo"]`` is the shrunk photo).
    """

    images: dict[str, np.ndarray]
    scale: int
    model: str
    seconds: float
    bicubic_seconds: float
    original_size: tuple[int, int]
    shrunk: bool

    def sentence(self) -> str:
        """What happened, from the measurements: sizes, the time it took, any shrinking."""
        h, w = self.images[PHOTO].shape[:2]
        ow, oh = self.original_size
        said = (
            f"Upscaled x{self.scale} in {self.seconds:.1f} s on this machine by the shipped "
            f"{self.model} ({w} x {h} px in, {w * self.scale} x {h * self.scale} px out; "
            f"bicubic took {self.bicubic_seconds:.2f} s)."
        )
        if self.shrunk:
            said += (
                f" The photo, {ow} x {oh} px ({ow * oh / 1e6:.1f} MP), was first shrunk to "
                f"{w} x {h} px (MATLAB's bicubic) so that the answer "
                "comes in seconds (a larger pixel limit, `max_pixels`, keeps more of it)."
            )
        return said


def shrink_to_fit(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """``image`` (uint8 H x W x 3) itself when it has at most ``max_pixels`` pixels, else shrunk
    with MATLAB's bicubic (the degradation the models were trained on), its aspect kept, to
    the largest size that fits."""
    h, w = image.shape[:2]
    if h * w <= max_pixels:
        return image
    ratio = math.sqrt(max_pixels / (h * w))
    size = (max(1, math.floor(h * ratio)), max(1, math.floor(w * ratio)))
    return imresize(image, output_shape=size)


def your_photo(
    photo: np.ndarray | Image.Image | str | os.PathLike,
    scale: int = 4,
    max_pixels: int = MAX_PHOTO_PIXELS,
    progress: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
) -> PhotoResult:
    """Upscale ``photo`` by ``scale`` with the shipped ``edsr_baseline_x<scale>`` and bicubic.

    The photo itself is the input (there is no larger original to score against, so no
    PSNR): an RGB array, a PIL image or a path (EXIF orientation applied, alpha dropped, gray
    made RGB); a photo of more than ``max_pixels`` is shrunk first (:func:`shrink_to_fit`).
    ``progress`` shows which step runs (read, shrink, bicubic, network): :func:`photo_progress`.

    Raises:
        ValueError: ``scale`` is not one of :data:`PHOTO_SCALES`.
    """
    if scale not in PHOTO_SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(str, PHOTO_SCALES))}, got {scale}")
    name = f"edsr_baseline_x{scale}"
    with photo_progress(f"Upscaling x{scale}", enabled=progress) as step:
        step("reading the photo and the model")
        original = as_rgb_array(photo)
        model = load_pretrained(name, checkpoint_dir)
        step("shrinking it to fit" if original.shape[0] * original.shape[1] > max_pixels else "")
        image = shrink_to_fit(original, max_pixels)
        step("bicubic")
        start = time.perf_counter()
        bicubic = imresize(image, scale)
        bicubic_seconds = time.perf_counter() - start
        step(f"{name} (the longest step)")
        start = time.perf_counter()
        sr = upscale(model, image, scale=scale)
        seconds = time.perf_counter() - start
    return PhotoResult(
        images={PHOTO: image, "bicubic": bicubic, name: sr},
        scale=scale,
        model=name,
        seconds=seconds,
        bicubic_seconds=bicubic_seconds,
        original_size=(original.shape[1], original.shape[0]),
        shrunk=image is not original,
    )


@contextmanager
def photo_progress(
    title: str, enabled: bool = True, every_s: float = 0.5
) -> Iterator[Callable[[str], None]]:
    """Progress over the steps of :func:`your_photo`, as one line that updates in place.

    Yields ``step(label)``, to call as each step starts (an empty label: a step skipped). The
    line shows a block per step started, the label and the time since the start, redrawn every
    ``every_s`` seconds by a background thread (the network's step is one long call):
    "Upscaling x4: ▰▰▰▰ edsr_baseline_x4 (the longest step) · 3.5 s". It is blanked when the
    block ends, so a saved notebook keeps no stale bar (a tqdm bar would leave its first state
    on the pages made without a kernel); the result's sentence gives the times.
    """
    if not enabled:
        yield lambda label: None
        return
    from IPython.display import DisplayHandle, Markdown

    handle = DisplayHandle()
    handle.display(Markdown(f"{title}: starting"))
    start = time.perf_counter()
    state = {"started": 0, "label": "starting"}
    done = threading.Event()

    def draw() -> None:
        bar = "▰" * state["started"] + "▱" * max(0, PHOTO_STEPS - state["started"])
        elapsed = format_duration(time.perf_counter() - start)
        handle.update(Markdown(f"{title}: {bar} {state['label']} · {elapsed}"))

    def tick() -> None:
        while not done.wait(every_s):
            draw()

    def step(label: str) -> None:
        state["started"] += 1
        if label:
            state["label"] = label
            draw()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield step
    finally:
        done.set()
        ticker.join()
        handle.update(Markdown(""))


def decode_upload(content: bytes, name: str = "the uploaded file") -> np.ndarray:
    """The RGB array of an image file's bytes (an upload), or a ValueError that says what to do."""
    try:
        return as_rgb_array(Image.open(io.BytesIO(content)))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(
            f"{name} is not an image this can read ({err}): pick a PNG or JPEG"
        ) from None


class PhotoPicker:
    """An upload box (image files) and a scale menu (x2, x3, x4), for JupyterLab.

    Display it in a cell, pick a photo and a scale, then run the next cell, which reads
    :meth:`photo` and :attr:`scale`. Without a kernel (the HTML pages) the cell shows a line
    saying how to use it live instead of the controls.
    """

    def __init__(self, scale: int = 4) -> None:
        import ipywidgets  # imported late: only a notebook needs it

        self.upload = ipywidgets.FileUpload(accept="image/*", multiple=False, description="Photo")
        self.scales = ipywidgets.Dropdown(
            options=[(f"x{s}", s) for s in PHOTO_SCALES], value=scale, description="Scale"
        )
        self.box = ipywidgets.HBox([self.upload, self.scales])

    @property
    def scale(self) -> int:
        """The scale chosen in the menu."""
        return self.scales.value

    def photo(self, default: np.ndarray | str | os.PathLike) -> np.ndarray | str | os.PathLike:
        """The uploaded photo as an RGB array, or ``default`` when nothing was uploaded."""
        if not self.upload.value:
            return default
        upload = self.upload.value[0]
        return decode_upload(bytes(upload["content"]), upload.get("name", "the uploaded file"))

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The controls for a live front end; for a page without a kernel, a line instead."""
        data = self.box._repr_mimebundle_(**kwargs) or {}
        line = "Run this notebook in JupyterLab to upload your own photo and choose the scale here."
        data["text/plain"] = line
        data["text/html"] = f"<p><em>{line}</em></p>"
        return data
