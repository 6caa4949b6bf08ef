"""edsr_lite.course.figures: one colour per concept, in every plot that draws runs, and axis
labels that say what is measured and in what unit."""

from __future__ import annotations

import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from edsr_lite.course import bn_removal, figures, memory, residual_scaling
from edsr_lite.train import TrainLog


def _log(offset: float = 0.0, steps: int = 12) -> TrainLog:
    """A made-up run: a loss every step, a PSNR every 4 steps."""
    rows = [
        {
            "step": s,
            "seconds": 2.0 * s,
            "loss": 20.0 - s + offset,
            "grad_norm": 5.0 + offset,
            "psnr": 25.0 + s / 4 + offset if s % 4 == 0 else None,
        }
        for s in range(steps)
    ]
    return TrainLog(rows, {})


def _colours(fig: Figure) -> dict[str, str]:
    """``{legend label: colour}`` of the labelled lines of a figure."""
    return {
        line.get_label(): to_hex(line.get_color())
        for ax in fig.axes
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


#: Labels the notebooks pass, now or in their rewording, grouped by the concept they name.
SAME_CONCEPT = [
    ["EDSR block (no BN)", "EDSR (no BN)", "conv (EDSR block)", "no BN"],
    ["SRResNet block (BN)", "SRResNet, BN-ReLU", "conv + BN (SRResNet block)", "BN"],
    ["x4 from x2", "x4 from the x2 model", "from the x2 model", "pretrained"],
    ["x4 from scratch", "from scratch", "scratch"],
    ["res_scale 0.1", "res_scale 0.1, trained", "scale 0.1"],
    ["res_scale 1", "res_scale 1, trained", "no scaling"],
    ["MDSR", "MDSR-baseline"],
    ["EDSR per scale", "EDSR x2", "EDSR-baseline"],
    ["bicubic", "Bicubic"],
]


@pytest.mark.parametrize("labels", SAME_CONCEPT, ids=lambda labels: labels[0])
def test_labels_of_one_concept_share_its_colour(labels):
    concepts = {figures.concept_of(label) for label in labels}
    assert len(concepts) == 1 and None not in concepts, concepts
    colours = {figures.run_style(label)["color"] for label in labels}
    assert colours == {figures.CONCEPT_COLOURS[concepts.pop()]}


def test_concepts_compared_in_a_notebook_have_different_colours():
    pairs = [
        *[tuple(pair) for pair in (bn_removal.BN_PAIR, residual_scaling.RES_SCALE_PAIR)],
        ("x4 from x2", "x4 from scratch"),
        ("EDSR per scale", "MDSR"),
        ("MDSR", "bicubic"),
        ("SRResNet, BN-ReLU", "SRResNet, BN-PReLU"),
    ]
    for a, b in pairs:
        assert figures.run_style(a)["color"] != figures.run_style(b)["color"], (a, b)
    assert len(set(figures.CONCEPT_COLOURS.values())) == len(figures.CONCEPT_COLOURS) - 1
    assert not set(figures.FALLBACK_CYCLE) & set(figures.CONCEPT_COLOURS.values())


def test_a_run_keeps_its_colour_from_the_live_plot_to_the_shipped_one():
    """Notebook 01: the live pair and the shipped pair, in either order, and the BN range plot;
    notebook 04: the live runs and the shipped Fig. 4 pair, under both wordings."""
    live = figures.plot_curves(
        {"SRResNet block (BN)": _log(), "EDSR block (no BN)": _log(1)}, metric="psnr"
    )
    shipped = figures.plot_curves({label: _log() for label in bn_removal.BN_PAIR}, metric="psnr")
    bn_range = figures.plot_bn_range(
        [{"contrast": c, "conv_std": c, "conv_bn_std": 1.0} for c in (0.5, 1.0, 2.0)]
    )
    a, b, c = _colours(live), _colours(shipped), _colours(bn_range)
    assert a["EDSR block (no BN)"] == b["EDSR block (no BN)"] == c["conv (EDSR block)"]
    assert a["SRResNet block (BN)"] == b["SRResNet block (BN)"] == c["conv + BN (SRResNet block)"]
    assert a["EDSR block (no BN)"] != a["SRResNet block (BN)"]

    live = figures.plot_curves({"from scratch": _log(), "from the x2 model": _log(1)}, "psnr")
    shipped = figures.plot_curves({"x4 from x2": _log(1), "x4 from scratch": _log()}, "psnr")
    a, b = _colours(live), _colours(shipped)
    assert a["from scratch"] == b["x4 from scratch"] != a["from the x2 model"]
    assert a["from the x2 model"] == b["x4 from x2"]


def test_every_plot_of_runs_colours_by_concept():
    labels = ["res_scale 1", "res_scale 0.1"]
    expected = {label: to_hex(figures.run_style(label)["color"]) for label in labels}
    traces = [
        residual_scaling.RunTrace(label, 1.0, 1e-3, [3.0, 2.0], [1.0, 0.5], 1.0) for label in labels
    ]
    profiles = [
        residual_scaling.DepthProfile(label, 1.0, [1.0, 2.0], [0.5, 0.6], [0.1, 0.2], [1.0, 1.0])
        for label in labels
    ]
    for fig in (
        figures.plot_runs(traces),
        figures.plot_depth_profiles(profiles),
        figures.plot_curves({label: _log() for label in labels}, metric="loss", smooth=3),
    ):
        assert _colours(fig) == expected


def test_a_smoothed_curve_and_its_raw_curve_share_the_colour():
    fig = figures.plot_curves({"MDSR": _log(), "EDSR x2": _log(1)}, metric="loss", smooth=3)
    (ax,) = fig.axes
    colours = {to_hex(line.get_color()) for line in ax.get_lines()}
    assert colours == {to_hex(figures.CONCEPT_COLOURS[c]) for c in ("MDSR", "EDSR per scale")}


def test_edsr_per_scale_runs_differ_by_line_style():
    styles = [figures.run_style(f"EDSR x{s}") for s in (2, 3, 4)]
    assert len({s["color"] for s in styles}) == 1
    assert [s["linestyle"] for s in styles] == ["-", "--", ":"]
    assert figures.run_style("x4 from x2")["linestyle"] == "-"  # a scale in another concept


def test_unknown_labels_take_a_fixed_cycle():
    fig_a = figures.plot_curves({"fp32": _log(), "bf16": _log(1)})
    fig_b = figures.plot_curves({"fp32": _log(), "bf16": _log(1), "MDSR": _log(2)})
    a, b = _colours(fig_a), _colours(fig_b)
    assert a["fp32"] == b["fp32"] == to_hex(figures.FALLBACK_CYCLE[0])
    assert a["bf16"] == b["bf16"] == to_hex(figures.FALLBACK_CYCLE[1])


def test_upscale_memory_names_one_tile_in_the_singular():
    runs = [
        memory.UpscaleMemory("whole image", 0, 1, 1.0, 10.0, 12.0, 20.0, None),
        memory.UpscaleMemory("tile 64", 64, 4, 1.0, 5.0, 6.0, 9.0, None),
    ]
    fig = figures.plot_upscale_memory(runs)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["whole image\n(1 tile)", "tile 64\n(4 tiles)"]


def test_every_axis_label_gives_a_unit_or_what_it_counts():
    profiles = [residual_scaling.DepthProfile("res_scale 1", 1.0, [1.0], [0.5], [0.1], [1.0])]
    trace = residual_scaling.RunTrace("res_scale 1", 1.0, 1e-3, [3.0], [1.0], 1.0)
    figs = [
        figures.plot_bn_range([{"contrast": 1.0, "conv_std": 1.0, "conv_bn_std": 1.0}]),
        figures.plot_depth_profiles(profiles),
        figures.plot_runs([trace]),
        figures.plot_upscale_memory(
            [memory.UpscaleMemory("whole image", 0, 1, 1.0, 10.0, 12.0, 20.0, None)]
        ),
        *(figures.plot_curves({"MDSR": _log()}, metric=m) for m in ("loss", "grad_norm")),
        figures.plot_curves({"MDSR": _log()}, metric="psnr", x="minutes"),
    ]
    for fig in figs:
        for ax in fig.axes:
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                assert "(" in label and label.endswith(")"), label
    psnr = figures.plot_curves({"MDSR": _log()}, metric="psnr").axes[0]
    assert "(dB)" in psnr.get_ylabel() and "(minutes)" in figs[-1].axes[0].get_xlabel()


@pytest.mark.parametrize(
    ("value", "label"),
    [(40.0, "40"), (3000.0, "3,000"), (0.02, "0.02"), (2.5, "2.5"), (2e6, "2e+6"), (1e-4, "1e-4")],
)
def test_plain_number_writes_ticks_as_a_reader_writes_numbers(value, label):
    assert figures.plain_number(value) == label


def _tick_labels(fig: Figure) -> list[str]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() if t.get_text()]


def test_log_axes_print_plain_numbers_not_powers_of_ten():
    trace = residual_scaling.RunTrace(
        "res_scale 1", 1.0, 2e-3, [70.0, 3e5, 40.0], [1.0, 9e4, 5.0], 1.0
    )
    runs = figures.plot_runs([trace])
    curves = figures.plot_curves({"res_scale 1": _log(offset=30.0)}, logy=True, smooth=1)
    for fig in (runs, curves):
        labels = _tick_labels(fig)
        assert labels and not any("\\times" in t or "^" in t for t in labels), labels
    assert "40" in _tick_labels(curves)  # a narrow axis (10..50) still has labels


def test_runs_of_several_seeds_share_one_legend_entry():
    traces = [
        residual_scaling.RunTrace(
            f"res_scale {rs:g}, seed {seed}", rs, 1e-3, [3.0, 2.0], [1.0], 1.0
        )
        for seed in (0, 1)
        for rs in (1.0, 0.1)
    ]
    legend = [t.get_text() for t in figures.plot_runs(traces).axes[0].get_legend().get_texts()]
    assert legend == ["res_scale 1 (2 seeds)", "res_scale 0.1 (2 seeds)"]
