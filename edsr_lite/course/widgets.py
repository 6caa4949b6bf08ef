"""Judge super-resolution by eye: a magnifier box over the image, the crops side by side.

Super-resolution differs in the details (the butterfly's wing veins, the baboon's whiskers), so
tables of PSNR are not enough: you want to look. Two tools:

* :class:`ZoomCompare`, an interactive notebook widget. It shows the whole image with a box on
  it and, next to it, the region under the box from every method, magnified with
  nearest-neighbour (so single pixels stay visible), each labelled with its PSNR against the
  reference. Drag or click on the overview, use the x/y sliders or the arrow keys to move the
  box; all crops follow at once.
* :func:`compare_crops`, the same comparison as a static matplotlib figure, for print and slides.

::

    from edsr_lite.course.widgets import ZoomCompare
    hr = modcrop(read_image("data/Set5/butterfly.png"), 4)
    lr = imresize(hr, 1 / 4)
    ZoomCompare({"LR": lr, "bicubic": imresize(lr, 4), "HR": hr}, reference="HR")

**Coordinates.** Images may have different sizes, as long as each one is the largest image
shrunk by a whole factor (the LR input next to x4 outputs). Everything is measured in pixels of
the largest ("full-resolution") image: a *box* is ``(x, y, width, height)`` with ``x`` the
column and ``y`` the row of its top-left corner. An image ``f`` times smaller shows the region
``box / f``; its crop is magnified ``f`` times more, so all panels show the same region at the
same size. The box is kept on multiples of every factor (:func:`box_step`), so that it also
falls on whole pixels of the smallest image.

**PSNR.** Each crop's PSNR is :func:`edsr_lite.core.metrics.psnr` of the crop against the same
crop of the reference, on the Y channel, *without* a border shave (``scale=0``: a crop has no
image border to shave). Images smaller than the reference get no PSNR.

**How the widget works** (an `anywidget <https://anywidget.dev>`_, no build step, no CDN: the
front end is the plain JavaScript file ``widgets.js`` next to this module). Each image is sent
to the browser once, as PNG bytes. The browser crops and magnifies on a ``<canvas>`` and
computes the PSNR labels itself, so moving the box costs no message to the kernel; it sends
the new box back only when the box has stopped moving for a moment, so ``widget.box`` in Python
is the box on screen. Setting ``widget.box`` (or ``widget.zoom``) from Python moves it on screen.

**Without a kernel** (an HTML export, ``make site``, GitHub) the viewer falls back on the
output's other formats, taken when the widget was displayed: a self-contained HTML copy
(:meth:`ZoomCompare.to_html`, interactive offline: only Python does not hear of the box), and
a PNG of the comparison (:meth:`ZoomCompare.to_png`) for viewers that run no scripts.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import anywidget
import numpy as np
import traitlets
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from edsr_lite.core.metrics import psnr
from edsr_lite.images import as_rgb_array

__all__ = [
    "Box",
    "ZoomCompare",
    "aligned_crops",
    "as_images",
    "box_step",
    "clamp_box",
    "compare_crops",
    "crop",
    "crop_psnrs",
    "default_box",
    "encode_png",
    "figure_png",
    "magnify",
    "panel_label",
    "panel_labels",
    "scale_factors",
]

#: ``(x, y, width, height)`` in full-resolution pixels; ``x`` is the column of the left edge.
Box = tuple[int, int, int, int]
ImageLike = np.ndarray | Image.Image | str | os.PathLike[str]

#: Width in screen pixels the default box is magnified to (box side = ``PANEL_PX // zoom``).
PANEL_PX = 256
DEFAULT_ZOOM = 4
MAX_ZOOM = 32
#: Colour of the box on the overview, in the widget (see ``widgets.css``) and the figure.
BOX_COLOR = "#ff2d55"

# --------------------------------------------------------------------------------------------
# The crop logic: pure functions, numpy in, numpy out (the browser repeats them in widgets.js)
# --------------------------------------------------------------------------------------------


def as_images(images: Mapping[str, ImageLike]) -> dict[str, np.ndarray]:
    """Read every image (array, PIL image or path) as ``uint8`` H x W x 3, keeping the order."""
    if not images:
        raise ValueError("give at least one image, e.g. {'bicubic': sr, 'HR': hr}")
    return {str(name): as_rgb_array(image) for name, image in images.items()}


def scale_factors(images: Mapping[str, np.ndarray]) -> dict[str, int]:
    """How many times smaller each image is than the largest one (1 for full-size images).

    Args:
        images: ``{name: H x W [x C] array}``.

    Returns:
        ``{name: f}`` with ``H_full == f * H`` and ``W_full == f * W``.

    Raises:
        ValueError: an image is not the largest one shrunk by a whole factor.
    """
    full_h, full_w = max((img.shape[:2] for img in images.values()), key=lambda s: s[0] * s[1])
    factors = {}
    for name, img in images.items():
        h, w = img.shape[:2]
        f = full_w // w
        if f * w != full_w or f * h != full_h:
            raise ValueError(
                f"image {name!r} is {w}x{h}, which is not the largest image ({full_w}x{full_h}) "
                "shrunk by a whole factor. Crop the HR image to a multiple of the scale "
                "(el.modcrop(hr, scale)) before making the LR image from it."
            )
        factors[name] = f
    return factors


def box_step(factors: Mapping[str, int]) -> int:
    """The grid the box snaps to: the least common multiple of the factors.

    With factors 1 and 4 the box moves in steps of 4 full-resolution pixels, i.e. whole
    pixels of the x4 smaller image.
    """
    return math.lcm(*factors.values())


def clamp_box(box: Box, full_shape: tuple[int, int], step: int = 1) -> Box:
    """Make a box valid: on the ``step`` grid and inside the image.

    The width and height are rounded down to multiples of ``step`` (at least ``step``, at
    most the image), then the box is moved inside the image: a box past the right edge is
    pushed left, one at a negative position is pushed to 0; finally the corner is rounded down
    to the grid.

    Args:
        box: ``(x, y, width, height)``, any integers.
        full_shape: ``(H, W)`` of the full-resolution image, multiples of ``step``.
        step: grid size in pixels, >= 1 (see :func:`box_step`).

    Returns:
        ``(x, y, width, height)`` with ``0 <= x``, ``x + width <= W`` (same for y), all
        multiples of ``step``.
    """
    if len(box) != 4:
        raise ValueError(f"a box is (x, y, width, height), got {box!r}")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    full_h, full_w = full_shape
    if full_h < step or full_w < step:
        raise ValueError(f"image {full_w}x{full_h} is smaller than one step of {step} pixels")
    x, y, w, h = (int(v) for v in box)
    w = min(max(step, w // step * step), full_w // step * step)
    h = min(max(step, h // step * step), full_h // step * step)
    x = min(max(0, x), full_w - w) // step * step
    y = min(max(0, y), full_h - h) // step * step
    return (x, y, w, h)


def default_box(full_shape: tuple[int, int], zoom: int = DEFAULT_ZOOM, step: int = 1) -> Box:
    """A centred square whose magnified crop is about :data:`PANEL_PX` (256) pixels wide."""
    full_h, full_w = full_shape
    side = PANEL_PX // zoom
    centre_x, centre_y = full_w // 2, full_h // 2
    return clamp_box((centre_x - side // 2, centre_y - side // 2, side, side), full_shape, step)


def crop(image: np.ndarray, box: Box, factor: int = 1) -> np.ndarray:
    """The part of ``image`` under ``box`` (full-resolution pixels) for an image ``factor``
    times smaller than full resolution.

    Returns:
        A view of shape ``(height / factor, width / factor[, C])``.

    Raises:
        ValueError: the box is not on whole pixels of this image (snap it with
            :func:`clamp_box` and ``step=`` :func:`box_step`) or not inside it.
    """
    x, y, w, h = box
    if any(v % factor for v in box):
        raise ValueError(f"box {box} is not on the {factor}-pixel grid of this image")
    x, y, w, h = x // factor, y // factor, w // factor, h // factor
    if x < 0 or y < 0 or w < 1 or h < 1 or y + h > image.shape[0] or x + w > image.shape[1]:
        raise ValueError(f"box {box} is not inside an image of shape {image.shape} (/{factor})")
    return image[y : y + h, x : x + w]


def magnify(image: np.ndarray, times: int) -> np.ndarray:
    """Nearest-neighbour magnification: every pixel becomes a ``times`` x ``times`` block.

    (H, W[, C]) -> (H * times, W * times[, C]), same dtype and values.
    """
    if times < 1:
        raise ValueError(f"times must be >= 1, got {times}")
    return np.repeat(np.repeat(image, times, axis=0), times, axis=1)


def aligned_crops(images: Mapping[str, np.ndarray], box: Box, zoom: int) -> dict[str, np.ndarray]:
    """The box's region of every image, magnified to the same size.

    An image ``f`` times smaller is magnified ``zoom * f`` times, so every result is
    ``(height * zoom, width * zoom, 3)`` ``uint8`` and shows the same part of the scene.
    """
    factors = scale_factors(images)
    return {
        name: magnify(crop(img, box, factors[name]), zoom * factors[name])
        for name, img in images.items()
    }


def crop_psnrs(
    images: Mapping[str, np.ndarray], box: Box, reference: str | None
) -> dict[str, float | None]:
    """PSNR (dB) of each image's crop against the reference's crop.

    Y channel, peak 255, no border shave: ``psnr(crop, reference_crop, scale=0)``. ``inf``
    for a crop identical to the reference's. ``None`` where there is nothing to compare: no
    reference, the reference itself, or an image of another size than the reference.
    """
    if reference is None:
        return dict.fromkeys(images)
    if reference not in images:
        raise ValueError(f"reference {reference!r} is not one of the images {list(images)}")
    ref = images[reference]
    ref_crop = crop(ref, box)
    return {
        name: psnr(crop(img, box), ref_crop, scale=0)
        if name != reference and img.shape == ref.shape
        else None
        for name, img in images.items()
    }


def panel_label(name: str, value: float | None, is_reference: bool = False) -> str:
    """The caption of one crop: ``"bicubic: 27.31 dB"``, ``"HR (reference)"`` or ``"LR"``.

    ``widgets.js`` writes the same text in the browser.
    """
    if is_reference:
        return f"{name} (reference)"
    if value is None:
        return name
    if math.isinf(value):
        return f"{name}: ∞ dB"
    return f"{name}: {value:.2f} dB"


def panel_labels(
    images: Mapping[str, np.ndarray], box: Box, reference: str | None
) -> dict[str, str]:
    """:func:`panel_label` of every image for this box."""
    values = crop_psnrs(images, box, reference)
    return {name: panel_label(name, values[name], name == reference) for name in images}


def _full_shape(images: Mapping[str, np.ndarray]) -> tuple[int, int]:
    """(H, W) of the largest image."""
    return max((img.shape[:2] for img in images.values()), key=lambda s: s[0] * s[1])


def _overview_name(images: Mapping[str, np.ndarray], reference: str | None) -> str:
    """The image drawn under the box: the reference, else the first full-size image."""
    if reference is not None:
        return reference
    factors = scale_factors(images)
    return next(name for name, f in factors.items() if f == 1)


# --------------------------------------------------------------------------------------------
# A static figure (print, slides, and the widget's PNG fallback)
# --------------------------------------------------------------------------------------------


def compare_crops(
    images: Mapping[str, ImageLike],
    box: Box | None = None,
    reference: str | None = None,
    overview: bool = True,
    panel_inches: float = 2.4,
) -> Figure:
    """A one-row figure: the overview with the box, then every image's crop with its label.

    Args:
        images: ``{name: image}`` (arrays, PIL images or paths), sizes as for
            :class:`ZoomCompare`.
        box: ``(x, y, width, height)`` in full-resolution pixels; snapped and clamped like the
            widget's. Default: the widget's default box (centred, 64 x 64 at full resolution).
        reference: name of the ground truth; adds PSNR to the labels.
        overview: draw the whole image with the box as the first panel.
        panel_inches: size of one panel.

    Returns:
        A ``matplotlib.figure.Figure`` (no pyplot state): a notebook shows it when it is a
        cell's value; ``fig.savefig("crops.pdf")`` writes it for print.
    """
    images = as_images(images)
    factors = scale_factors(images)
    full_shape = _full_shape(images)
    step = box_step(factors)
    box = default_box(full_shape, step=step) if box is None else clamp_box(box, full_shape, step)
    labels = panel_labels(images, box, reference)

    n_panels = len(images) + (1 if overview else 0)
    fig = Figure(figsize=(n_panels * panel_inches, panel_inches + 0.4), layout="constrained")
    axes = list(fig.subplots(1, n_panels, squeeze=False)[0])
    if overview:
        _draw_overview(axes.pop(0), images[_overview_name(images, reference)], box)
    for ax, (name, img) in zip(axes, images.items(), strict=True):
        # The crop at the image's own resolution; "nearest" keeps its pixels square and sharp.
        ax.imshow(crop(img, box, factors[name]), interpolation="nearest")
        ax.set_title(labels[name], fontsize=9)
        ax.set_axis_off()
    return fig


def _draw_overview(ax, image: np.ndarray, box: Box) -> None:
    x, y, w, h = box
    ax.imshow(image)
    # Pixel (row r, column c) covers c - 0.5 .. c + 0.5 in imshow's data coordinates.
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, color=BOX_COLOR, linewidth=1.5))
    ax.set_title("overview", fontsize=9)
    ax.set_axis_off()


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """``uint8`` H x W x 3 -> PNG bytes (lossless, no colour profile: the browser reads back
    exactly these values)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------

_HERE = Path(__file__).resolve().parent


class ZoomCompare(anywidget.AnyWidget):
    """Compare images through a movable magnifier box (see the module docstring).

    Args:
        images: ``{name: image}``: arrays (``uint8`` H x W x 3 or H x W), PIL images or paths.
            The largest image sets the full resolution; every other image must be it shrunk
            by a whole factor (the LR input, for example). Order = order of the panels.
        zoom: how many screen pixels one full-resolution pixel becomes in the crops (1..32).
            Any integer, odd ones too.
        box: ``(x, y, width, height)`` in full-resolution pixels, snapped to the grid of
            :func:`box_step` and clamped inside the image. Default: a centred square of side
            ``256 // zoom``.
        reference: name of the ground-truth image; every same-size crop is then labelled with
            its PSNR against it (see :func:`crop_psnrs`).

    Attributes (synced with the browser; set them to move the box or change the zoom):
        box: the current box, as on screen.
        zoom: the magnification of the crops.

    Methods give the current state in Python: :meth:`crops`, :meth:`psnrs`, :meth:`labels`,
    :meth:`figure` (the :func:`compare_crops` figure) and :meth:`to_png`.
    """

    _esm = _HERE / "widgets.js"
    _css = _HERE / "widgets.css"

    #: One entry per image: name, PNG bytes (sent once, as a binary buffer), factor, size.
    images = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    reference = traitlets.Unicode(None, allow_none=True, read_only=True).tag(sync=True)
    overview = traitlets.Unicode(read_only=True).tag(sync=True)
    step = traitlets.Int(1, read_only=True).tag(sync=True)
    zoom = traitlets.Int(DEFAULT_ZOOM).tag(sync=True)
    box = traitlets.Tuple(
        traitlets.Int(),
        traitlets.Int(),
        traitlets.Int(),
        traitlets.Int(),
        default_value=(0, 0, 1, 1),
    ).tag(sync=True)

    def __init__(
        self,
        images: Mapping[str, ImageLike],
        zoom: int = DEFAULT_ZOOM,
        box: Box | None = None,
        reference: str | None = None,
    ) -> None:
        self._arrays = as_images(images)
        factors = scale_factors(self._arrays)
        if reference is not None and reference not in self._arrays:
            raise ValueError(f"reference {reference!r} is not one of {list(self._arrays)}")
        if reference is not None and factors[reference] != 1:
            raise ValueError(f"the reference {reference!r} must be a full-resolution image")
        self._full_shape = _full_shape(self._arrays)
        super().__init__(zoom=zoom)
        self.set_trait("step", box_step(factors))
        self.set_trait("reference", reference)
        self.set_trait("overview", _overview_name(self._arrays, reference))
        self.set_trait("images", [_image_entry(n, a, factors[n]) for n, a in self._arrays.items()])
        self.box = default_box(self._full_shape, zoom, self.step) if box is None else box

    @traitlets.validate("box")
    def _valid_box(self, proposal: traitlets.Bunch) -> Box:
        return clamp_box(proposal["value"], self._full_shape, self.step)

    @traitlets.validate("zoom")
    def _valid_zoom(self, proposal: traitlets.Bunch) -> int:
        zoom = proposal["value"]
        if not 1 <= zoom <= MAX_ZOOM:
            raise traitlets.TraitError(f"zoom must be 1..{MAX_ZOOM}, got {zoom}")
        return zoom

    # -- the current state, in Python -------------------------------------------------------

    def crops(self) -> dict[str, np.ndarray]:
        """The panels as shown: ``{name: uint8 (height*zoom) x (width*zoom) x 3}``."""
        return aligned_crops(self._arrays, self.box, self.zoom)

    def psnrs(self) -> dict[str, float | None]:
        """PSNR (dB) of each crop against the reference's crop (:func:`crop_psnrs`)."""
        return crop_psnrs(self._arrays, self.box, self.reference)

    def labels(self) -> dict[str, str]:
        """The panel captions, e.g. ``{"bicubic": "bicubic: 27.31 dB", ...}``."""
        return panel_labels(self._arrays, self.box, self.reference)

    def figure(self, **kwargs) -> Figure:
        """The current state as a :func:`compare_crops` figure (for print and slides)."""
        return compare_crops(self._arrays, self.box, self.reference, **kwargs)

    def describe(self) -> str:
        """What the widget shows, in words (the alt text of its picture), e.g. "Zoomed crops
        (4x) of the 64 x 64 pixel box at (96, 80), beside the overview of HR: LR; bicubic:
        27.31 dB; HR (reference)"."""
        x, y, w, h = self.box
        captions = "; ".join(self.labels().values())
        return (
            f"Zoomed crops ({self.zoom}x) of the {w} x {h} pixel box at ({x}, {y}), "
            f"beside the overview of {self.overview}: {captions}"
        )

    def to_png(self, dpi: int = 80) -> bytes:
        """The current state as PNG bytes (what a viewer without a kernel shows)."""
        return figure_png(self.figure(), dpi=dpi)

    # -- display ----------------------------------------------------------------------------

    def to_html(self, png: bytes | None = None) -> str:
        """The widget as one self-contained HTML fragment, interactive without a kernel.

        It shows ``png`` (default :meth:`to_png`) until its module script has rendered the
        widget from the current state with :func:`renderStatic` of ``widgets.js``; no file or
        network is needed. ``</`` is escaped in the inline JSON so no string ends the script.
        """
        state = {name: getattr(self, name) for name in ("reference", "overview", "step", "zoom")}
        state["box"] = list(self.box)
        state["images"] = [{**entry, "png": _base64(entry["png"])} for entry in self.images]
        return _STATIC_HTML.format(
            id=f"edsr-zoom-{self.model_id}",
            css=self._css,
            png=_base64(self.to_png() if png is None else png),
            alt=html.escape(self.describe()),
            code=json.dumps(self._esm).replace("</", "<\\/"),
            state=json.dumps(state).replace("</", "<\\/"),
        )

    def _repr_mimebundle_(self, **kwargs) -> tuple[dict, dict]:
        """The widget view for live front ends, plus an HTML copy and a PNG of the current state.

        A front end with a kernel (JupyterLab, Voila) renders the widget view, its preferred
        format. nbconvert's HTML export skips a widget view whose state is not saved in the
        notebook and takes the next format it knows: the HTML copy (:meth:`to_html`). Viewers
        that run no scripts show the PNG (inside the HTML, or alone).
        """
        data, metadata = super()._repr_mimebundle_(**kwargs)
        png = self.to_png()
        data["image/png"] = _base64(png)
        data["text/html"] = self.to_html(png)
        data["text/plain"] = repr(self)
        return data, metadata

    def __repr__(self) -> str:
        names = ", ".join(self._arrays)
        return (
            f"ZoomCompare({names}; box={self.box}, zoom={self.zoom}, reference={self.reference!r})"
        )


# The page-only copy of the widget (ZoomCompare.to_html): the PNG, replaced on load by the widget
# rendered by widgets.js, imported from its own source as a module (a blob: URL, no file).
_STATIC_HTML = """\
<div class="edsr-zoom-static" id="{id}">
<style>{css}</style>
<img src="data:image/png;base64,{png}" alt="{alt}">
</div>
<script type="module">
const host = document.getElementById("{id}");
const source = new Blob([{code}], {{ type: "text/javascript" }});
const {{ renderStatic }} = await import(URL.createObjectURL(source));
const view = document.createElement("div");
await renderStatic(view, {state});
host.querySelector("img").replaceWith(view);
</script>
"""


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _image_entry(name: str, image: np.ndarray, factor: int) -> dict:
    """What the browser gets for one image (once): its PNG and where it sits."""
    h, w = image.shape[:2]
    return {"name": name, "png": encode_png(image), "factor": factor, "width": w, "height": h}
