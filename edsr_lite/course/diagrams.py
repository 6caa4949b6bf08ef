"""The networks drawn from the code: boxes and arrows read off the model objects.

Nothing here is typed by hand: every box comes from walking a model's modules
(:class:`edsr_lite.core.models.ResBlock`, :class:`~edsr_lite.core.models.EDSR`,
:class:`~edsr_lite.core.models.MDSR`): the layer types, channels, kernel sizes, ``res_scale`` and
the skip connections, so a figure changes when the code does (``bn=True`` adds the BN boxes).

* :func:`draw_blocks`: the SRResNet block beside the EDSR block (the paper's Fig. 2b and 2c);
* :func:`draw_edsr`: EDSR (Fig. 3): head conv, B residual blocks, conv, global skip, upsampler,
  tail conv;
* :func:`draw_mdsr`: MDSR (Fig. 5): per-scale pre-processing, the shared body, per-scale
  upsamplers.

One colour per concept (:data:`COLOURS`), the same in every figure. Each function returns a
``matplotlib.figure.Figure`` (no pyplot state); its labels are text artists, readable at 10 pt
in the static HTML.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from torch import nn

from edsr_lite.core.models import EDSR, MDSR, MeanShift, ResBlock, Upsampler, build

#: The colour of each concept, shared by all figures.
COLOURS = {
    "conv": "#9cc3e6",  # blue: a convolution
    "relu": "#f6b26b",  # orange: ReLU
    "bn": "#e06666",  # red: batch normalization
    "scale": "#b4a7d6",  # purple: the residual scaling (Mult)
    "upsampler": "#93c47d",  # green: conv + pixel shuffle
    "block": "#d9e7f5",  # pale blue: a residual block, drawn as one box
    "mean": "#dddddd",  # grey: subtract / add the mean colour
    "skip": "#2a7f62",  # dark green: the skip connections and their sum
}
FONT = 10  # points: readable in the static HTML
_W, _H = 1.7, 0.8  # a box's width and height, in axis units


# ----------------------------------------------------------------------- reading the modules


def layer_label(layer: nn.Module) -> tuple[str, str]:
    """(concept, label) of one layer, e.g. ``("conv", "Conv 3x3, 64")``."""
    if isinstance(layer, nn.Conv2d):
        k = layer.kernel_size[0]
        return "conv", f"Conv {k}x{k}, {layer.out_channels}"
    if isinstance(layer, nn.BatchNorm2d):
        return "bn", "BN"
    if isinstance(layer, nn.ReLU):
        return "relu", "ReLU"
    if isinstance(layer, nn.PixelShuffle):
        return "upsampler", f"Shuffle x{layer.upscale_factor}"
    raise TypeError(f"no box for a {type(layer).__name__}")


def block_layers(block: ResBlock) -> list[tuple[str, str]]:
    """The boxes of one residual block, input to sum: its layers, then Mult if it scales."""
    boxes = [layer_label(layer) for layer in block.body]
    if block.res_scale != 1:
        boxes.append(("scale", f"Mult {block.res_scale:g}"))
    return boxes


def block_summary(block: ResBlock) -> str:
    """One line for a residual block, e.g. ``ResBlock 3x3, 64 (BN)``."""
    conv = next(m for m in block.body if isinstance(m, nn.Conv2d))
    k = conv.kernel_size[0]
    extras = [f"x{block.res_scale:g}"] if block.res_scale != 1 else []
    extras += ["BN"] if any(isinstance(m, nn.BatchNorm2d) for m in block.body) else []
    return f"ResBlock {k}x{k}, {conv.out_channels}" + (f" ({', '.join(extras)})" if extras else "")


def upsampler_label(up: Upsampler) -> str:
    """e.g. ``Upsample x4`` over ``2 x (Conv 3x3, 256 + Shuffle x2)`` (two lines)."""
    convs = [m for m in up if isinstance(m, nn.Conv2d)]
    shuffles = [m.upscale_factor for m in up if isinstance(m, nn.PixelShuffle)]
    total = 1
    for r in shuffles:
        total *= r
    stage = f"{layer_label(convs[0])[1]} + Shuffle x{shuffles[0]}"
    return f"Upsample x{total}\n" + (f"{len(convs)} x ({stage})" if len(convs) > 1 else stage)


def body_parts(body: nn.Sequential) -> tuple[list[ResBlock], nn.Conv2d]:
    """A body's residual blocks and its last convolution."""
    blocks = [m for m in body if isinstance(m, ResBlock)]
    return blocks, next(m for m in reversed(body) if isinstance(m, nn.Conv2d))


# ------------------------------------------------------------------------------- drawing


def _box(ax: Axes, x: float, y: float, text: str, concept: str, w: float = _W) -> None:
    """A rounded box centred on (x, y), filled with the concept's colour."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - _H / 2), w, _H, boxstyle="round,pad=0.04,rounding_size=0.08",
            facecolor=COLOURS[concept], edgecolor="#444444", linewidth=1,
        )
    )  # fmt: skip
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT, gid=concept)


def _deck(ax: Axes, x: float, y: float, text: str, count: int, w: float = 2.3) -> None:
    """``count`` residual blocks as a stack of cards with one label."""
    for i in (2, 1):
        ax.add_patch(
            Rectangle(
                (x - w / 2 + 0.06 * i, y - _H / 2 + 0.06 * i), w, _H,
                facecolor=COLOURS["block"], edgecolor="#444444", linewidth=0.8,
            )
        )  # fmt: skip
    _box(ax, x, y, f"{count} x {text}", "block", w)


def _arrow(ax: Axes, start, end, colour: str = "#444444", rad: float = 0.0) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.3,
            connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0,
        )
    )  # fmt: skip


def _sum(ax: Axes, x: float, y: float) -> None:
    """The addition of a skip connection: a circled plus."""
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.16, y - 0.16), 0.32, 0.32, boxstyle="circle,pad=0",
            facecolor="white", edgecolor=COLOURS["skip"], linewidth=1.5,
        )
    )  # fmt: skip
    ax.text(x, y, "+", ha="center", va="center", fontsize=FONT + 2, color=COLOURS["skip"])


def _skip(ax: Axes, start: tuple, end: tuple, lift: float, label: str = "") -> None:
    """A skip connection: up from ``start``, across, down into the sum at ``end``."""
    (x0, y0), (x1, y1) = start, end
    top = max(y0, y1) + lift
    ax.plot([x0, x0, x1], [y0, top, top], color=COLOURS["skip"], linewidth=1.5)
    _arrow(ax, (x1, top), (x1, y1 + 0.16), COLOURS["skip"])
    if label:
        ax.text((x0 + x1) / 2, top + 0.12, label, ha="center", va="bottom", fontsize=FONT,
                color=COLOURS["skip"], gid="skip")  # fmt: skip


def _figure(width: float, height: float, xlim: tuple, ylim: tuple) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _chain(ax: Axes, x: float, y: float, boxes: Sequence[tuple[str, str]], step: float) -> float:
    """Boxes left to right from x, joined by arrows; returns the x after the last box."""
    for i, (concept, text) in enumerate(boxes):
        _box(ax, x, y, text, concept, w=step - 0.35)
        if i:
            _arrow(ax, (x - step + (step - 0.35) / 2, y), (x - (step - 0.35) / 2, y))
        x += step
    return x - step


# --------------------------------------------------------------------------- the figures


def _draw_block(ax: Axes, x: float, block: ResBlock, title: str) -> None:
    """One residual block, bottom (input) to top (sum), centred on x."""
    boxes = block_layers(block)
    y = 0.0
    ax.text(x, -0.75, "x (input)", ha="center", va="center", fontsize=FONT)
    _arrow(ax, (x, -0.55), (x, y - _H / 2))
    for i, (concept, text) in enumerate(boxes):
        _box(ax, x, y, text, concept)
        if i:
            _arrow(ax, (x, y - 1.0 + _H / 2), (x, y - _H / 2))
        y += 1.0
    _arrow(ax, (x, y - 1.0 + _H / 2), (x, y - 0.16))
    _sum(ax, x, y)
    ax.plot([x, x - 1.3, x - 1.3, x - 0.16], [-0.55, -0.55, y, y], color=COLOURS["skip"])
    ax.text(x - 1.42, y / 2, "skip", rotation=90, ha="center", va="center", fontsize=FONT,
            color=COLOURS["skip"], gid="skip")  # fmt: skip
    _arrow(ax, (x, y + 0.16), (x, y + 0.7))
    ax.text(x, y + 1.05, title, ha="center", va="center", fontsize=FONT + 1, weight="bold")


def draw_blocks(srresnet: ResBlock | None = None, edsr: ResBlock | None = None) -> Figure:
    """The SRResNet residual block beside the EDSR one (the paper's Fig. 2b and 2c).

    Defaults: the blocks of ``build("edsr_baseline", bn=True)`` and ``build("edsr_baseline")``
    (64 features, 3x3): conv-BN-ReLU-conv-BN against conv-ReLU-conv, each added to its input.
    """
    srresnet = srresnet if srresnet is not None else build("edsr_baseline", bn=True).body[0]
    edsr = edsr if edsr is not None else build("edsr_baseline").body[0]
    tallest = max(len(block_layers(srresnet)), len(block_layers(edsr)))
    fig, ax = _figure(6.4, 1.0 + 0.85 * tallest, (-2.4, 6.0), (-1.1, tallest + 1.4))
    _draw_block(ax, 0.7, srresnet, "SRResNet block (Fig. 2b)")
    _draw_block(ax, 4.2, edsr, "EDSR block (Fig. 2c)")
    return fig


def _row(ax: Axes, items: Sequence[tuple[str, str, float]], y: float, gap: float = 0.5) -> list:
    """Items left to right from x = 0, joined by arrows; returns each one's (left, right).

    An item is (concept, label, width): a concept of :data:`COLOURS` is a box, ``"deck"`` a
    stack of residual blocks (label ``"16 x ResBlock ..."``), ``"sum"`` a circled plus,
    ``"text"`` a bare label (the input and the output).
    """
    extents, x = [], 0.0
    for concept, text, w in items:
        centre = x + w / 2
        if concept == "deck":
            count, label = text.split(" x ", 1)
            _deck(ax, centre, y, label, int(count), w)
        elif concept == "sum":
            _sum(ax, centre, y)
        elif concept == "text":
            ax.text(centre, y, text, ha="center", va="center", fontsize=FONT)
        else:
            _box(ax, centre, y, text, concept, w)
        if extents:
            _arrow(ax, (extents[-1][1], y), (x, y))
        extents.append((x, x + w))
        x += w + gap
    return extents


def draw_edsr(model: EDSR | None = None) -> Figure:
    """EDSR left to right (the paper's Fig. 3), read off ``model`` (default: EDSR-baseline x2).

    Mean shift, head conv, B residual blocks and a conv with the global skip around them, the
    upsampler (conv + pixel shuffle stages), the tail conv, then the mean added back.
    """
    model = model if model is not None else build("edsr_baseline")
    if not isinstance(model, EDSR):
        raise TypeError(f"draw_edsr draws an EDSR, got {type(model).__name__} (see draw_mdsr)")
    blocks, body_conv = body_parts(model.body)
    summary = block_summary(blocks[0]) if blocks else "ResBlock"
    items = [
        ("text", "LR\n3 ch", 0.6),
        (*_mean_box(model.sub_mean), 1.6),
        (*layer_label(model.head[0]), 1.6),
        ("deck", f"{len(blocks)} x {summary}", 2.8),
        (*layer_label(body_conv), 1.6),
        ("sum", "", 0.32),
        ("upsampler", upsampler_label(model.tail[0]), 3.4),
        (*layer_label(model.tail[1]), 1.5),
        (*_mean_box(model.add_mean), 1.6),
        ("text", "SR\n3 ch", 0.6),
    ]
    fig, ax = _figure(15.5, 2.8, (-0.2, 18.3), (-1.0, 1.75))
    extents = _row(ax, items, 0.0, gap=0.45)
    start = (extents[2][1] + extents[3][0]) / 2  # the body's input: the head's output
    _skip(ax, (start, 0.0), ((extents[5][0] + extents[5][1]) / 2, 0.0), 0.75, "global skip")
    ax.set_xlim(-0.2, extents[-1][1] + 0.2)
    ax.text(
        extents[-1][1] / 2, -0.8,
        f"EDSR x{model.scale}: B = {len(blocks)} residual blocks, F = "
        f"{body_conv.out_channels} features, res_scale {_res_scale(blocks):g}",
        ha="center", va="center", fontsize=FONT + 1, weight="bold",
    )  # fmt: skip
    return fig


def _mean_box(shift: MeanShift) -> tuple[str, str]:
    """The mean shift's box: subtract (bias < 0) or add back the DIV2K mean colour."""
    return "mean", "- mean RGB" if float(shift.bias.sum()) < 0 else "+ mean RGB"


def _res_scale(blocks: Sequence[ResBlock]) -> float:
    return blocks[0].res_scale if blocks else 1.0


def draw_mdsr(model: MDSR | None = None) -> Figure:
    """MDSR left to right (the paper's Fig. 5), read off ``model`` (default: MDSR-baseline).

    A shared head conv, one pre-processing module per scale (two 5x5 residual blocks), the
    shared body (B residual blocks and a conv, with the global skip), one upsampler per scale,
    and the shared tail conv. The branch drawn for scale s is the one ``model(x, s)`` runs.
    """
    model = model if model is not None else build("mdsr_baseline")
    if not isinstance(model, MDSR):
        raise TypeError(f"draw_mdsr draws an MDSR, got {type(model).__name__} (see draw_edsr)")
    blocks, body_conv = body_parts(model.body)
    n = len(model.scales)
    rows = [1.1 * ((n - 1) / 2 - i) for i in range(n)]  # one row per scale, centred on 0
    fig, ax = _figure(15.5, 1.2 + 0.9 * n, (-1.3, 20.5), (rows[-1] - 1.2, rows[0] + 1.25))
    ax.text(-1.0, 0, "LR\n3 ch", ha="center", va="center", fontsize=FONT)
    _arrow(ax, (-0.7, 0), (-0.8 + 0.7, 0))
    _box(ax, 0.9, 0, layer_label(model.head[0])[1], "conv")
    xs = {"pre": 4.0, "body": 7.8, "conv": 10.6, "sum": 12.0, "up": 14.9, "tail": 18.2}
    for scale, row, pre in zip(model.scales, rows, model.pre_process, strict=True):
        pre_blocks = [m for m in pre if isinstance(m, ResBlock)]
        _deck(ax, xs["pre"], row, f"{block_summary(pre_blocks[0])}  [x{scale}]", len(pre_blocks),
              w=3.3)  # fmt: skip
        _arrow(ax, (0.9 + _W / 2, 0), (xs["pre"] - 1.65, row))
        _arrow(ax, (xs["pre"] + 1.65, row), (xs["body"] - 1.4, 0))
        _box(ax, xs["up"], row, upsampler_label(model.upsample[model.branch(scale)]), "upsampler",
             w=3.8)  # fmt: skip
        _arrow(ax, (xs["sum"] + 0.16, 0), (xs["up"] - 1.9, row))
        _arrow(ax, (xs["up"] + 1.9, row), (xs["tail"] - _W / 2, 0))
    _deck(ax, xs["body"], 0, block_summary(blocks[0]) if blocks else "ResBlock", len(blocks), 2.8)
    _arrow(ax, (xs["body"] + 1.4, 0), (xs["conv"] - _W / 2, 0))
    _box(ax, xs["conv"], 0, layer_label(body_conv)[1], "conv", w=_W)
    _arrow(ax, (xs["conv"] + _W / 2, 0), (xs["sum"] - 0.16, 0))
    _sum(ax, xs["sum"], 0)
    _skip(ax, (xs["body"] - 1.4, _H / 2), (xs["sum"], 0), 0.45, "global skip")
    _box(ax, xs["tail"], 0, layer_label(model.tail[0])[1], "conv")
    _arrow(ax, (xs["tail"] + _W / 2, 0), (xs["tail"] + _W / 2 + 0.6, 0))
    ax.text(xs["tail"] + _W / 2 + 0.95, 0, "SR\n3 ch", ha="center", va="center", fontsize=FONT)
    ax.text(
        9.5, rows[-1] - 0.9,
        f"MDSR: {n} scale branches (x{', x'.join(map(str, model.scales))}), shared body of "
        f"B = {len(blocks)} residual blocks, F = {body_conv.out_channels} features",
        ha="center", va="center", fontsize=FONT + 1, weight="bold",
    )  # fmt: skip
    return fig


def labels(fig: Figure) -> list[str]:
    """Every text drawn in ``fig``: how the tests read a diagram back."""
    return [t.get_text() for ax in fig.axes for t in ax.texts]
