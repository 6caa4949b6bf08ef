"""Notebook 05, the benchmark: the evaluation protocol taken apart, the paper's table, EDSR+.

The protocol, piece by piece (:func:`protocol_scores`, :func:`lr_difference`,
:func:`pil_matlab_scores`, :func:`gray_image_scores`), per image so that a sentence about a
difference can judge it against its noise (:func:`border_sentence`, :func:`pil_sentence`);
the bicubic column and our models beside published numbers (:func:`bicubic_table`,
:func:`evaluate_named`, :func:`paper_comparison`; the tables are
:data:`edsr_lite.core.published.PAPER_EDSR` and its neighbours); the self-ensemble
(:func:`ensemble_scores`, :func:`ensemble_effect`, :func:`paper_ensemble_gain`); and
:func:`mosaic`, a large real image for tiled inference, whose memory
:func:`edsr_lite.course.memory.measure_upscale_memory` measures.

For the notebook's computed sentences and its "measured here vs the paper" table:
:func:`paper_deltas` and :func:`largest_deviation` (against a published table, with the bar
:data:`BICUBIC_TOLERANCE_DB`) and :func:`tiled_versus_whole` (what tiling measured, in
words).
Column names are words (:data:`Y_SHAVED`, ...), not identifiers: a reader sees them. Every
loop over images shows a :func:`edsr_lite.course.live.progress` line in a notebook. Pictures
of these measurements: :mod:`edsr_lite.course.benchmark_pictures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image
from torch import nn

from edsr_lite.core.metrics import psnr
from edsr_lite.core.published import PAPER_EDSR, PAPER_EDSR_PLUS
from edsr_lite.course.claims import WITHIN_NOISE, Effect, compare, count, paired, signed
from edsr_lite.course.live import progress
from edsr_lite.course.memory import UpscaleMemory
from edsr_lite.datasets import benchmark, find_dataset, list_images
from edsr_lite.evaluation import (
    SRFunction,
    bicubic_sr,
    evaluate,
    evaluate_model_protocol,
    evaluate_paper_bicubic,
)
from edsr_lite.images import read_image
from edsr_lite.infer import Upscaler

# --------------------------------------------------------------------------------------------
# The protocol, piece by piece
# --------------------------------------------------------------------------------------------

#: Columns of :func:`protocol_scores`: mean PSNR (dB) scored the protocol's way and two others.
Y_SHAVED = "Y, border shaved: the protocol (dB)"
RGB_SHAVED = "RGB, border shaved (dB)"
Y_BORDER_KEPT = "Y, border kept (dB)"
#: Columns of :func:`pil_matlab_scores`: mean Y PSNR (dB) on LR images made each way.
MATLAB_LR = "MATLAB's LR images (dB)"
PIL_LR = "PIL's LR images (dB)"
DIFFERENCE = "difference (dB)"
#: Columns of :func:`gray_image_scores`: bicubic's PSNR (dB) under each protocol.
MODEL_PROTOCOL = 'protocol "model" (dB)'
PAPER_PROTOCOL = 'protocol "paper_bicubic" (dB)'
#: How close protocol "paper_bicubic" must come to each cell of the paper's bicubic column to
#: count as reproducing it: half a unit of the table's last digit, plus rounding of our own.
BICUBIC_TOLERANCE_DB = 0.01


def protocol_scores(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2
) -> dict[str, np.ndarray]:
    """Each method's per-image PSNR (dB) on a set, three ways: the protocol and two mistakes.

    ``methods``: ``{name: fn(lr, scale) -> sr}`` (e.g. ``{"bicubic": bicubic_sr}``, or a
    network's :class:`edsr_lite.infer.Upscaler`). Returns ``{name: n_images x 3 array}``, the
    columns :data:`Y_SHAVED` (Y channel, ``scale`` pixels shaved: the protocol),
    :data:`RGB_SHAVED` (RGB channels), :data:`Y_BORDER_KEPT` (Y, borders kept), on MATLAB
    bicubic LR images; a progress line shows the images as they are scored.
    """
    scores: dict[str, list[tuple[float, float, float]]] = {name: [] for name in methods}
    for _, hr, lr in progress(
        benchmark(set_name, scale), f"scoring {set_name} x{scale}", _n_images(set_name), "images"
    ):
        for name, fn in methods.items():
            sr = fn(lr, scale)
            scores[name].append(
                (psnr(sr, hr, scale), psnr(sr, hr, scale, y_channel=False), psnr(sr, hr, 0))
            )
    return {name: np.asarray(s, dtype=np.float64) for name, s in scores.items()}


def variant_rows(scores: Mapping[str, np.ndarray]) -> list[dict]:
    """:func:`protocol_scores` as table rows: per method the mean of each column (dB)."""
    keys = (Y_SHAVED, RGB_SHAVED, Y_BORDER_KEPT)
    return [
        {"method": name, **dict(zip(keys, map(float, s.mean(axis=0)), strict=True))}
        for name, s in scores.items()
    ]


def protocol_variants(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2
) -> list[dict]:
    """Each method's mean score on a set, three ways (:func:`protocol_scores`, averaged):
    one row per method with :data:`Y_SHAVED`, :data:`RGB_SHAVED`, :data:`Y_BORDER_KEPT`."""
    return variant_rows(protocol_scores(methods, set_name, scale))


def border_effects(scores: Mapping[str, np.ndarray]) -> dict[str, Effect]:
    """What keeping the border does to each method's score: per-image ``kept - shaved`` PSNR
    (dB), as :func:`edsr_lite.course.claims.paired` effects (positive: keeping it raises it)."""
    return {
        name: paired(s[:, 2], s[:, 0], how=f"{count(len(s), 'image')}")
        for name, s in scores.items()
    }


def border_sentence(scores: Mapping[str, np.ndarray]) -> str:
    """Computed sentences: how keeping the border moves each method's score, judged against
    the per-image noise, and whether two methods pay a different amount (paired per image)."""
    effects = border_effects(scores)
    said = [
        f"Keeping the border moves {name}'s score by {signed(e.value)} ({_noise_words(e)})."
        for name, e in effects.items()
    ]
    if len(scores) == 2:
        (a, sa), (b, sb) = scores.items()
        gap = paired(sa[:, 2] - sa[:, 0], sb[:, 2] - sb[:, 0])
        if gap.verdict == WITHIN_NOISE:
            said.append(f"The two methods pay the same within noise (gap {gap}).")
        else:
            said.append(f"The border costs {a} and {b} different amounts (gap {gap}).")
    return " ".join(said)


def _noise_words(effect: Effect) -> str:
    """ "within noise, ±0.02 dB" or "beyond its noise, ±0.02 dB", per image pairs."""
    noise = "∞" if math.isinf(effect.noise) else f"{effect.noise:.3f} dB"
    where = "within" if effect.verdict == WITHIN_NOISE else "beyond"
    return f"{where} its noise, ±{noise} over {effect.how}"


def _n_images(set_name: str) -> int:
    return len(list_images(find_dataset(set_name)))


def pil_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PIL's bicubic resize of a uint8 image to ``size`` = (height, width)."""
    pil = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return np.asarray(pil)


def lr_difference(set_name: str = "Set5", scale: int = 2) -> dict[str, float]:
    """How PIL's bicubic downscaling differs from MATLAB's on a set's HR images.

    ``values_differ``: the fraction of LR values (all pixels and channels of all images)
    that differ; ``mean_abs_diff`` and ``max_abs_diff``: over all values, on the 0..255 scale.
    """
    diffs = []
    for _, hr, lr in benchmark(set_name, scale):
        diffs.append(np.abs(pil_resize(hr, lr.shape[:2]).astype(int) - lr.astype(int)).ravel())
    d = np.concatenate(diffs)
    return {
        "values_differ": float((d > 0).mean()),
        "mean_abs_diff": float(d.mean()),
        "max_abs_diff": float(d.max()),
    }


def pil_matlab_scores(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2
) -> dict[str, np.ndarray]:
    """Each method's per-image Y PSNR (dB, shave = scale) on LR images made by MATLAB's bicubic
    (column 0, the protocol) and by PIL's (column 1): ``{name: n_images x 2 array}``."""
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    items = benchmark(set_name, scale)
    for _, hr, lr in progress(items, f"PIL and MATLAB LR, {set_name}", _n_images(set_name)):
        lr_pil = pil_resize(hr, lr.shape[:2])
        for name, fn in methods.items():
            scores[name].append(
                (psnr(fn(lr, scale), hr, scale), psnr(fn(lr_pil, scale), hr, scale))
            )
    return {name: np.asarray(s, dtype=np.float64) for name, s in scores.items()}


def pil_rows(scores: Mapping[str, np.ndarray]) -> list[dict]:
    """:func:`pil_matlab_scores` as table rows: the means (dB) and their difference."""
    rows = []
    for name, s in scores.items():
        matlab, pil = map(float, s.mean(axis=0))
        rows.append({"method": name, MATLAB_LR: matlab, PIL_LR: pil, DIFFERENCE: pil - matlab})
    return rows


def pil_vs_matlab(
    methods: Mapping[str, SRFunction], set_name: str = "Set5", scale: int = 2
) -> list[dict]:
    """Each method's mean Y PSNR (shave = scale) on LR images made by MATLAB's bicubic (the
    protocol) and by PIL's, and the difference (dB): :func:`pil_matlab_scores`, averaged."""
    return pil_rows(pil_matlab_scores(methods, set_name, scale))


def pil_sentence(scores: Mapping[str, np.ndarray]) -> str:
    """Computed sentences: each method's PIL-minus-MATLAB score, judged by the one rule on
    the per-image paired differences ("within noise" when it does not exceed 2 standard
    errors)."""
    said = []
    for name, s in scores.items():
        e = paired(s[:, 1], s[:, 0], how=count(len(s), "image"))
        if e.verdict == WITHIN_NOISE:
            said.append(
                f"On PIL's LR images {name} scores the same as on MATLAB's within noise "
                f"({signed(e.value, digits=3)}, noise ±{e.noise:.3f} dB over {e.how})."
            )
        else:
            words = "higher" if e.value > 0 else "lower"
            said.append(
                f"On PIL's LR images {name} scores {abs(e.value):.3f} dB {words} than on "
                f"MATLAB's, {_noise_words(e)}."
            )
    return " ".join(said)


def gray_image_scores(set_name: str = "Set14", scale: int = 2) -> list[dict]:
    """Bicubic PSNR per image under both protocols, and their difference.

    Rows: ``image``, ``stored as`` ("gray" for a grayscale file, else "RGB"),
    :data:`MODEL_PROTOCOL` (read as RGB, scored on MATLAB's Y = 16 + 219/255 * gray for a gray
    image), :data:`PAPER_PROTOCOL` (a gray image is scored on its gray values),
    :data:`DIFFERENCE`; then the "mean" row. For a gray image the difference is close to
    20 log10(255/219) = 1.32 dB: errors on Y are 219/255 of the errors on gray.
    """
    model_scores = evaluate_model_protocol(bicubic_sr, set_name, scale)
    paper_scores = evaluate_paper_bicubic(set_name, scale)
    paths = {p.stem: p for p in list_images(find_dataset(set_name))}
    rows = []
    for m, p in zip(model_scores, paper_scores, strict=True):
        gray = read_image(paths[m.name], mode="keep").ndim == 2
        rows.append(
            {
                "image": m.name,
                "stored as": "gray" if gray else "RGB",
                MODEL_PROTOCOL: m.psnr,
                PAPER_PROTOCOL: p.psnr,
                DIFFERENCE: m.psnr - p.psnr,
            }
        )
    columns = (MODEL_PROTOCOL, PAPER_PROTOCOL, DIFFERENCE)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in columns}
    return rows + [{"image": "mean", "stored as": "", **mean}]


# --------------------------------------------------------------------------------------------
# The paper's table and the self-ensemble
# --------------------------------------------------------------------------------------------


def paper_comparison(
    rows: Sequence[dict], reference: Mapping[tuple[str, int], tuple[float, float]]
) -> str:
    """:func:`edsr_lite.evaluation.evaluate` rows beside published numbers, with the differences.

    One line per (method, set, scale): measured PSNR / SSIM, the paper's, and the difference
    in dB and SSIM. Pairs the reference lacks show "-".
    """
    lines = [
        "| method (protocol) | set | scale | measured PSNR / SSIM | paper PSNR / SSIM | Δ dB "
        "| Δ SSIM |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = reference.get((r["set"], r["scale"]))
        paper = f"{ref[0]:.2f} / {ref[1]:.4f}" if ref else "-"
        d_psnr = f"{r['psnr'] - ref[0]:+.2f}" if ref else "-"
        d_ssim = f"{r['ssim'] - ref[1]:+.4f}" if ref else "-"
        lines.append(
            f"| {r['method']} ({r['protocol']}) | {r['set']} | ×{r['scale']} "
            f"| {r['psnr']:.2f} / {r['ssim']:.4f} "
            f"| {paper} | {d_psnr} | {d_ssim} |"
        )
    return "\n".join(lines)


def largest_deviation(
    rows: Sequence[dict], reference: Mapping[tuple[str, int], tuple[float, float]]
) -> tuple[float, int]:
    """The largest ``|measured - published|`` PSNR (dB) over the ``evaluate`` rows the
    reference has, and how many such cells there are."""
    deltas = [abs(d) for d in paper_deltas(rows, reference).values()]
    return max(deltas, default=0.0), len(deltas)


def paper_deltas(
    rows: Sequence[dict], reference: Mapping[tuple[str, int], tuple[float, float]]
) -> dict[str, float]:
    """``{"edsr_baseline_x2 on Set5 x2": measured - published PSNR (dB)}`` for the
    :func:`edsr_lite.evaluation.evaluate` rows the reference has (as :func:`paper_comparison`'s
    "Δ dB" column)."""
    deltas = {}
    for r in rows:
        if (r["set"], r["scale"]) in reference:
            published = reference[(r["set"], r["scale"])][0]
            deltas[f"{r['method']} on {r['set']} x{r['scale']}"] = r["psnr"] - published
    return deltas


def bicubic_table(sets: Sequence[str], scales: Sequence[int]) -> list[dict]:
    """:func:`edsr_lite.evaluation.evaluate` rows of bicubic upscaling under protocol
    "paper_bicubic" then "model", for every set and scale, with a progress line."""
    jobs = [(p, s, k) for p in ("paper_bicubic", "model") for s in sets for k in scales]
    rows = []
    for protocol, set_name, scale in progress(jobs, "bicubic", unit="sets x scales"):
        rows += evaluate("bicubic", (set_name,), (scale,), protocol=protocol)
    return rows


def evaluate_named(names: Sequence[str], sets: Sequence[str]) -> list[dict]:
    """:func:`edsr_lite.evaluation.evaluate` rows (protocol "model", each model's own scales)
    for named checkpoints (:func:`edsr_lite.weights.load_pretrained`), the method column
    holding the name; a progress line counts the (model, set, scale) evaluations."""
    from edsr_lite.weights import load_pretrained

    models = {name: load_pretrained(name) for name in names}
    jobs = [(n, s, k) for n, m in models.items() for s in sets for k in m.scales]
    rows = []
    for name, set_name, scale in progress(jobs, "evaluating", unit="models x sets x scales"):
        rows += [{**r, "method": name} for r in evaluate(models[name], (set_name,), (scale,))]
    return rows


def ensemble_scores(model: nn.Module, sets: Sequence[str], scale: int = 2) -> list[dict]:
    """Per-image Y PSNR (dB, protocol "model") of ``model`` without and with the x8
    self-ensemble, on the same images: rows ``{"set", "image", "plain", "plus"}``, with a
    progress line over the images (the ensemble costs 8 forward passes per image)."""
    plain, plus = Upscaler(model), Upscaler(model, ensemble=True)
    items = [(s, name, hr, lr) for s in sets for name, hr, lr in benchmark(s, scale)]
    rows = []
    for set_name, name, hr, lr in progress(items, "self-ensemble", unit="images"):
        a, b = psnr(plain(lr, scale), hr, scale), psnr(plus(lr, scale), hr, scale)
        rows.append({"set": set_name, "image": name, "plain": a, "plus": b})
    return rows


def ensemble_effect(rows: Sequence[dict]) -> Effect:
    """The self-ensemble's gain (dB) from :func:`ensemble_scores`: per-image ``plus - plain``,
    :func:`edsr_lite.course.claims.paired` (positive: the ensemble helps, the paper's way)."""
    return paired(
        [r["plus"] for r in rows], [r["plain"] for r in rows], how=count(len(rows), "image")
    )


def ensemble_table(rows: Sequence[dict], name: str, scale: int = 2) -> list[dict]:
    """Per set: mean PSNR without (``name``) and with (``name+``) the self-ensemble, their
    gain and the paper's gain for EDSR where it gives one (dB), for :func:`rows_table`."""
    paper = paper_ensemble_gain()
    table = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        mine = [r for r in rows if r["set"] == set_name]
        a = float(np.mean([r["plain"] for r in mine]))
        b = float(np.mean([r["plus"] for r in mine]))
        table.append(
            {
                "set": f"{set_name} ({count(len(mine), 'image')})",
                f"{name} (dB)": a,
                f"{name}+ (dB)": b,
                "gain (dB)": b - a,
                "paper's gain, EDSR (dB)": paper.get((set_name, scale)),
            }
        )
    return table


def paper_ensemble_gain() -> dict[tuple[str, int], float]:
    """The paper's self-ensemble gain in dB: EDSR+ minus EDSR, where both are known."""
    return {k: round(v[0] - PAPER_EDSR[k][0], 2) for k, v in PAPER_EDSR_PLUS.items()}


# --------------------------------------------------------------------------------------------
# A large image for tiled inference
# --------------------------------------------------------------------------------------------


def mosaic(set_name: str = "B100", rows: int = 3, cols: int = 3, tile=(320, 480)) -> np.ndarray:
    """A large real image: ``rows x cols`` landscape photos of a set, each cropped to ``tile``
    = (height, width), side by side. B100 3 x 3: a 960 x 1440 x 3 uint8 image."""
    photos = []
    for path in list_images(find_dataset(set_name)):
        image = read_image(path)
        if image.shape[0] >= tile[0] and image.shape[1] >= tile[1]:
            photos.append(image[: tile[0], : tile[1]])
        if len(photos) == rows * cols:
            break
    if len(photos) < rows * cols:
        raise ValueError(f"{set_name} has only {len(photos)} images of at least {tile}")
    return np.concatenate(
        [np.concatenate(photos[r * cols : (r + 1) * cols], axis=1) for r in range(rows)], axis=0
    )


# --------------------------------------------------------------------------------------------
# What the notebook shows of the runs
# --------------------------------------------------------------------------------------------


def tiled_versus_whole(tiled: UpscaleMemory, whole: UpscaleMemory) -> str:
    """What a tiled upscale measured against the whole image at once, in words chosen from the
    numbers: same pixels or not, memory PyTorch allocated, time, the budget's estimate, and the
    process's peak (all from :func:`edsr_lite.course.memory.measure_upscale_memory`)."""
    differ = int((tiled.output != whole.output).sum())
    # compared as printed (1 decimal), so that the words never contradict "5.0 s against 5.0 s"
    seconds = round(tiled.seconds, 1), round(whole.seconds, 1)
    took = compare(*seconds, unit="s", digits=1, words=("longer", "less time"))
    allocated = tiled.allocated_mb or 0.0
    peak = compare(tiled.peak_rss_mb, allocated, unit="MiB", digits=0, words=("more", "less"))
    return " ".join(
        [
            f"Tiled ({tiled.label}, {count(tiled.n_tiles, 'tile')}), the upscale gives",
            "the same pixels as" if differ == 0 else f"{differ} output values that differ from",
            f"the whole image at once, and PyTorch allocates {tiled.allocated_mb:.0f} MiB against",
            f"{whole.allocated_mb:.0f} MiB; it took",
            "as long" if took == "level with" else took,
            f"({seconds[0]:.1f} s against {seconds[1]:.1f} s). The allocations stay",
            "within" if (tiled.allocated_mb or 0.0) <= tiled.estimate_mb else "above",
            f"the budget's estimate ({tiled.estimate_mb:.0f} MiB), and the process's peak grew by",
            f"{tiled.peak_rss_mb:.0f} MiB:",
            "as much as" if peak == "level with" else f"{peak} than",
            "PyTorch allocated.",
        ]
    )
