"""The results table as Markdown: data/RESULTS.json rendered into data/RESULTS.md and README.md.

:func:`render` is a pure function of the data ``tools/make_results.py`` saves in RESULTS.json
(it scores nothing; only the project's bars come from :mod:`edsr_lite.core.published`), so a
table in the README can always be traced to the raw numbers, with each checkpoint's sha256,
behind it.
It reads these keys of that data:

- ``sets``, ``scales``, ``ensemble``: the rows of the main table and whether it has ``+``
  (x8 self-ensemble) columns;
- ``rows``: one ``{method, set, scale, psnr, ssim, ...}`` per evaluation, read through
  :func:`edsr_lite.course.recorded.row_value` (PSNR in dB on the Y channel, SSIM in [0, 1]);
- ``groups``, ``checkpoints``, ``parameters``: our methods, what each checkpoint is and how
  it was trained, and the parameter counts of EDSR-baseline and MDSR-baseline;
- ``official`` (only when the authors' files were in the cache): their ``groups`` and
  ``checkpoints``, scored here like ours: the columns "measured here with the authors'
  weights" (:func:`official_note` says so, or that they are left out);
- ``references``, ``classic_cnns``: published numbers (Lim et al. 2017, Table 6; the
  official EDSR-baseline weights; SRCNN, VDSR), copied into the JSON from
  :mod:`edsr_lite.core.published` by ``tools/results_models.py`` (``reference_columns``,
  ``classic_cnn_columns``).

Two renderings: :func:`render_results_md` (the title, then :func:`render`: every table) is the
whole of ``data/RESULTS.md``; :func:`render_summary` (each shipped model on Set5 beside the
published numbers, and a link to RESULTS.md) is what :func:`replace_block` puts into README.md
between :data:`BEGIN` and :data:`END`, leaving the rest of the README as it is.
:func:`write_outputs` writes the three files; :func:`check` tells which of the two Markdown files
differ from a fresh rendering, so no table is typed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from edsr_lite.checkpoint_eval import checkpoint_label
from edsr_lite.core.published import MDSR_TOLERANCE_DB, QUALITY_BAR_SET5
from edsr_lite.course.recorded import ResultsError, load_results, row_value
from edsr_lite.files import atomic_write_text

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
SETS = ("Set5", "Set14", "B100")
SCALES = (2, 3, 4)  # the text below names them: "at ×2 / ×3 / ×4"
#: A validation PSNR that gained at least this much over the last quarter of a run is "still
#: rising" in the README's gap paragraph; less is "levelled off" (Set5 moves by a few
#: hundredths of a dB from one validation to the next, so 0.1 dB is above its noise).
RISING_DB = 0.1


# --------------------------------------------------------------------------- rendering


def _cell(value: Sequence[float] | None) -> str:
    """``37.44 / 0.9589``: PSNR (dB) to 2 decimals, SSIM to 4; ``–`` when not scored."""
    return "–" if value is None else f"{value[0]:.2f} / {value[1]:.4f}"


def _columns(data: dict) -> list[tuple[str, Callable[[str, int], list[float] | None]]]:
    """``(header, value(set, scale))`` for every column of the main table."""
    columns: list[tuple[str, Callable]] = [
        ("Bicubic", lambda s, k: row_value(data, "bicubic", s, k))
    ]
    for group in data["groups"]:
        names = group["checkpoints"]
        if not any(n in data["checkpoints"] for n in names.values()):
            continue
        for plus in ("", "+") if data["ensemble"] else ("",):

            def value(s, k, names=names, plus=plus):
                name = names.get(f"x{k}")
                return row_value(data, f"{name}{plus}", s, k) if name else None

            columns.append((f"{group['label']}{plus} (ours)", value))
    for group in data.get("official", {}).get("groups", []):
        names = group["checkpoints"]
        columns.append(
            (
                f"{group['label']} (authors' weights, measured here)",
                lambda s, k, names=names: (
                    row_value(data, names[f"x{k}"], s, k) if f"x{k}" in names else None
                ),
            )
        )
    for ref in data["references"]:
        columns.append((ref["label"], lambda s, k, v=ref["values"]: v.get(f"{s} x{k}")))
    return columns


def official_note(data: dict) -> str:
    """The sentence on the columns measured here with the authors' weights: what they are, or
    that they are left out and how to add them."""
    official = data.get("official", {})
    if not official.get("groups"):
        return (
            "*Measured here with the authors' weights*: left out, their files were not in the "
            "cache when this table was made; `edsr-lite weights fetch --all`, then `make "
            "results`, adds these columns (the README's section \"The authors' weights\")."
        )
    files = ", ".join(f"`{name}`" for name in official["checkpoints"])
    return (
        "*(authors' weights, measured here)*: the files the authors released "
        f"({files}; sha256 in `data/RESULTS.json`), scored here under the same protocol as ours, "
        "without self-ensemble, as in the paper's Table 6."
    )


def _main_table(data: dict) -> list[str]:
    """One line per (set, scale): bicubic, ours (with ``+`` when ensembled), then references."""
    columns = _columns(data)
    lines = [
        "| Set | Scale | " + " | ".join(h for h, _ in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for s in data["sets"]:
        for k in data["scales"]:
            cells = [_cell(fn(s, k)) for _, fn in columns]
            lines.append(f"| {s} | ×{k} | " + " | ".join(cells) + " |")
    return lines


def _group(data: dict, key: str) -> dict | None:
    """The group (``"edsr_baseline"``, ``"mdsr_baseline"``) of RESULTS.json, if it has it."""
    return next((g for g in data["groups"] if g["key"] == key), None)


def _multiscale_section(data: dict) -> list[str]:
    """MDSR-baseline's parameters against three EDSR-baselines', and their Set5 PSNR side by
    side, held to this project's bar: at most
    :data:`edsr_lite.core.published.MDSR_TOLERANCE_DB` dB below."""
    p = data["parameters"]
    edsr = p["edsr_baseline"]
    lines = [
        "**Multi-scale vs single-scale.** Parameters: EDSR-baseline "
        + " / ".join(f"{edsr[f'x{k}']:,}" for k in SCALES)
        + f" at ×2 / ×3 / ×4 ({p['edsr_baseline_total']:,} for the three models); MDSR-baseline "
        f"{p['mdsr_baseline']:,} for all three scales, **{p['mdsr_over_three_edsr']:.2f}×** the "
        "three single-scale models.",
    ]
    edsr_group, mdsr_group = _group(data, "edsr_baseline"), _group(data, "mdsr_baseline")
    if "Set5" not in data["sets"] or edsr_group is None or mdsr_group is None:
        return lines
    pairs = []
    for k in data["scales"]:
        e = row_value(data, edsr_group["checkpoints"].get(f"x{k}", ""), "Set5", k)
        m = row_value(data, mdsr_group["checkpoints"].get(f"x{k}", ""), "Set5", k)
        if e is not None and m is not None:
            pairs.append((k, e[0], m[0]))
    if not pairs:
        return [*lines, "", "(Set5 scores of both models are not available yet.)"]
    lines += [
        "",
        "| Set5 (no self-ensemble) | EDSR-baseline (ours) | MDSR-baseline (ours) | MDSR − EDSR "
        f"| at most {MDSR_TOLERANCE_DB} dB below |",
        "|---|---:|---:|---:|---|",
    ]
    for k, e, m in pairs:
        ok = "yes" if m - e >= -MDSR_TOLERANCE_DB else "no"
        lines.append(f"| ×{k} | {e:.2f} | {m:.2f} | {m - e:+.2f} dB | {ok} |")
    return lines


def _classic_section(data: dict) -> list[str]:
    """Our EDSR-baseline against SRCNN and VDSR (VDSR trained on the same 291 images)."""
    group = _group(data, "edsr_baseline")
    classic = {c["key"]: c["values"] for c in data.get("classic_cnns", [])}
    if group is None or set(classic) != {"paper_srcnn", "paper_vdsr"}:
        return []
    bar = " / ".join(f"{QUALITY_BAR_SET5[k]:.1f}" for k in SCALES)
    lines = [
        "**Against SRCNN and VDSR.** VDSR (Kim et al. 2016) trained on T91 + BSD200, the 291 "
        "images ours train on, on a GPU; SRCNN (Dong et al. 2016) was the first CNN for the "
        f"task. This project's bar lies a little above SRCNN's Set5 scores ({bar} dB at ×2 / ×3 "
        "/ ×4), its aim is VDSR's. Their numbers are published ones (Table 6 of Lim et al. "
        "2017), scored under the older Y-plane protocol of the *Bicubic (paper)* column, which "
        f"moves a score a little{_protocol_difference(data)}. PSNR (dB), no self-ensemble:",
        "",
        "| Set | Scale | SRCNN (paper) | VDSR (paper) | EDSR-baseline (ours) | ours − SRCNN "
        "| ours − VDSR |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in data["sets"]:
        for k in data["scales"]:
            name = group["checkpoints"].get(f"x{k}")
            ours = row_value(data, name, s, k) if name else None
            srcnn = classic["paper_srcnn"].get(f"{s} x{k}")
            vdsr = classic["paper_vdsr"].get(f"{s} x{k}")
            lines.append(
                f"| {s} | ×{k} | {_psnr(srcnn)} | {_psnr(vdsr)} | {_psnr(ours)} "
                f"| {_gain(ours, srcnn)} | {_gain(ours, vdsr)} |"
            )
    return lines


def _protocol_difference(data: dict) -> str:
    """`` (bicubic: up to 0.09 dB)``: how far our bicubic scores are from the published ones."""
    published = next(r for r in data["references"] if r["key"] == "paper_bicubic")["values"]
    gaps = []
    for s in data["sets"]:
        for k in data["scales"]:
            ours = row_value(data, "bicubic", s, k)
            if ours is not None and f"{s} x{k}" in published:
                gaps.append(abs(ours[0] - published[f"{s} x{k}"][0]))
    return f" (bicubic: up to {max(gaps):.2f} dB)" if gaps else ""


def _psnr(value: Sequence[float] | None) -> str:
    return "–" if value is None else f"{value[0]:.2f}"


def _gain(ours: Sequence[float] | None, reference: Sequence[float] | None) -> str:
    return "–" if ours is None or reference is None else f"{ours[0] - reference[0]:+.2f}"


def _data_name(train_config: dict) -> str:
    """The training data of a run: ``"T91 + BSD200"`` for a list of sets."""
    data = train_config.get("data")
    return " + ".join(data) if isinstance(data, list) else str(data)


def _gap_section(data: dict) -> list[str]:
    """How far our x2 model is from the official EDSR-baseline on Set5, and the training budgets."""
    group = _group(data, "edsr_baseline")
    name = group["checkpoints"].get("x2") if group else None
    ours = row_value(data, name, "Set5", 2) if name else None
    ref = next(r for r in data["references"] if r["key"] == "edsr_baseline_official")
    official = ref["values"].get("Set5 x2")
    if ours is None or official is None:
        return []
    info = data["checkpoints"][name]
    gap = official[0] - ours[0]
    where = f"{abs(gap):.2f} dB {'below' if gap >= 0 else 'above'}"
    text = (
        f"**How far from the official EDSR-baseline, and why.** Our EDSR-baseline scores "
        f"{ours[0]:.2f} dB on Set5 ×2, {where} the authors' released weights ({official[0]:.2f} "
        "dB; later papers' tables print 37.99)."
    )
    return [text + _architecture_sentence(info) + _budget_sentence(info) + _curve_sentence(info)]


def _architecture_sentence(info: dict) -> str:
    """Whether the checkpoint is EDSR-baseline's network (16 blocks x 64 features, no BN)."""
    arch = info.get("architecture") or {}
    if (arch.get("n_resblocks"), arch.get("n_feats"), arch.get("bn")) == (16, 64, False):
        return (
            " The network (16 residual blocks × 64 features) and the L1 loss are the same; the "
            "training budget is not."
        )
    return (
        f" (This checkpoint is a {arch.get('n_resblocks')} × {arch.get('n_feats')} network, "
        "not EDSR-baseline's 16 × 64.)"
    )


def _train_steps(info: dict) -> int | None:
    """The steps the run trained (its last step), or the checkpoint's step if not recorded."""
    return info.get("train_steps") or info.get("step")


def _budget_sentence(info: dict) -> str:
    """Our training budget (steps, patches, images, wall time, machine) against the official
    3×10⁵ steps on DIV2K; empty when the checkpoint recorded no step."""
    step, total, tc = info.get("step"), _train_steps(info), info["train_config"]
    if not step:
        return ""
    details = [f"{info['train_images']} images"] if info.get("train_images") else []
    if info.get("train_megapixels") is not None:
        details.append(f"{info['train_megapixels']:,.1f} megapixels")
    details = f" ({', '.join(details)})" if details else ""
    shipped = (
        f" (the shipped weights are those of step {step:,}, its best Set5 score)"
        if total != step
        else ""
    )
    return (
        f" Ours trained {total:,} steps of {tc.get('batch_size', '?')} patches on "
        f"{_data_name(tc)}{details}{_where_trained(info)}{shipped}; the official model took "
        f"3×10⁵ steps on DIV2K's 800 training images of about 2K resolution on a GPU: "
        f"{3e5 / total:,.0f}× fewer updates, on a smaller and less varied set of images."
    )


def _where_trained(info: dict) -> str:
    """`` in 3.7 h of wall time on 2 CPU cores`` (each part only when recorded)."""
    seconds, machine = info.get("train_seconds"), info.get("machine") or {}
    took = f" in {_duration(seconds)} of wall time" if seconds else ""
    if machine.get("gpu"):
        return f"{took} on a {machine['gpu']}"
    if machine.get("cpu_cores"):
        return f"{took} on {machine['cpu_cores']} CPU cores"
    return took


def _curve_sentence(info: dict) -> str:
    """Whether validation PSNR was still rising over the last quarter of the run (by at least
    :data:`RISING_DB`) or had levelled off; empty without two validations."""
    curve, total, tc = info.get("validation_curve") or [], _train_steps(info), info["train_config"]
    if len(curve) < 2 or not total:
        return ""
    last_step = curve[-1][0]
    earlier = [c for c in curve if c[0] <= last_step - max(1, total // 4)] or curve[:1]
    first = earlier[-1]
    rise = curve[-1][1] - first[1]
    val = tc.get("val_data") or "validation"
    if tc.get("val_images"):
        val += f"[:{tc['val_images']}]"
    change = f"{rise:+.2f} dB over the last {last_step - first[0]:,} steps"
    if rise >= RISING_DB:
        return (
            f" Its {val} PSNR during training was still rising at the end ({change}): "
            "more steps alone would close part of the gap."
        )
    return (
        f" Its {val} PSNR during training had levelled off by the end ({change}, with "
        "the learning rate halved along the way): more steps of this schedule would "
        "add little; the gap is the training set and the length of the official run."
    )


def _duration(seconds: float) -> str:
    """Hours (one decimal) from 1.5 h on, minutes below."""
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def _checkpoint_table(data: dict) -> list[str]:
    """Each checkpoint behind the table: scales, step, initialization, data, sha256 prefix."""
    lines = [
        "| checkpoint | scales | step | initialized from | trained on | sha256 |",
        "|---|---|---:|---|---|---|",
    ]
    for name, info in data["checkpoints"].items():
        init = info.get("init_from")
        init = f"`{checkpoint_label(init)}`" if init else "random"
        step = f"{info['step']:,}" if info.get("step") is not None else "–"
        trained = _data_name(info["train_config"]) if info.get("train_config") else "–"
        scales = ", ".join(f"×{k}" for k in info["scales"])
        lines.append(
            f"| `{name}` | {scales} | {step} | {init} | {trained} | `{info['sha256'][:12]}` |"
        )
    return lines


def _selection_sentence(data: dict) -> str:
    """How each checkpoint's weights were chosen, from what its run recorded: the validation
    set (``train_config``'s ``val_data``) and the step kept as ``best.pt`` of the steps run.
    Empty when no checkpoint recorded a validation set."""
    parts, on_test_set = [], False
    for name, info in data["checkpoints"].items():
        tc = info.get("train_config") or {}
        val, step = tc.get("val_data"), info.get("best_step") or info.get("step")
        if not val or step is None:
            continue
        shown = "held-out training images" if val == "holdout" else val
        shown += f" (first {tc['val_images']} images)" if tc.get("val_images") else ""
        scales = "/".join(f"×{k}" for k in info["scales"])
        scales = f"mean {scales}" if len(info["scales"]) > 1 else scales
        total = _train_steps(info)
        of = f" of {total:,}" if total and total != step else " (the last)"
        parts.append(f"`{name}`: the best {shown} {scales} PSNR, step {step:,}{of}")
        on_test_set |= val in ("Set5", "Set14", "B100", "Urban100")
    if not parts:
        return ""
    text = (
        "**How each checkpoint was chosen.** Training validated as it went and kept the weights "
        "of the best validation PSNR as `best.pt`: " + "; ".join(parts) + "."
    )
    if on_test_set:
        text += (
            " Set5 is also a test set above, so its numbers for these checkpoints were seen "
            "when choosing the step (the paper validated on DIV2K images it did not train on); "
            "Set14 and B100 were not. Runs trained now validate on 10 held-out training images "
            "instead (`val_data: holdout`, `configs/README.md`)."
        )
    return text


def render(data: dict) -> str:
    """The results as Markdown (no markers, no title), a pure function of RESULTS.json's data."""
    ensemble = " `+`: the x8 geometric self-ensemble." if data["ensemble"] else ""
    lines = [
        "Generated by `make results` (`tools/make_results.py`) from `data/RESULTS.json`: do not "
        "edit by hand. PSNR (dB) / SSIM on the Y channel, `scale` pixels shaved from each border, "
        "LR images made by MATLAB-exact bicubic downscaling (protocol `model`, what "
        f"`edsr-lite eval` prints).{ensemble} Columns after ours are published numbers.",
        "",
        *_main_table(data),
        "",
        "*Bicubic*: measured here under the same protocol as our models. *Bicubic (paper)*, "
        "*EDSR (paper)* and *EDSR+ (paper)*: Table 6 of Lim et al. 2017 (the bicubic column "
        "under the older Y-plane protocol, which `edsr-lite eval --protocol paper_bicubic` "
        "reproduces; EDSR is the full-size 43 M-parameter model). *EDSR-baseline (official "
        "weights)*: the authors' released EDSR-baseline files (trained on DIV2K, 3×10⁵ steps on a "
        "GPU) as measured by torchSR; the paper prints no Set5/Set14/B100 numbers for its "
        "baseline models. –: not published, or not shipped yet.",
        "",
        official_note(data),
        "",
        *_multiscale_section(data),
    ]
    classic = _classic_section(data)
    if classic:
        lines += ["", *classic]
    gap = _gap_section(data)
    if gap:
        lines += ["", *gap]
    lines += ["", *_checkpoint_table(data)]
    selection = _selection_sentence(data)
    if selection:
        lines += ["", selection]
    return "\n".join(lines)


def _summary_rows(data: dict) -> list[str]:
    """One line per shipped model and scale: Set5 PSNR / SSIM of bicubic, ours, the official
    EDSR-baseline weights and the paper's EDSR (``–`` where a number is missing)."""
    refs = {r["key"]: r["values"] for r in data["references"]}
    official, paper = refs.get("edsr_baseline_official", {}), refs.get("paper_edsr", {})
    lines = []
    for group in data["groups"]:
        for k in data["scales"]:
            name = group["checkpoints"].get(f"x{k}")
            if name not in data["checkpoints"]:
                continue
            cells = (
                row_value(data, "bicubic", "Set5", k),
                row_value(data, name, "Set5", k),
                official.get(f"Set5 x{k}"),
                paper.get(f"Set5 x{k}"),
            )
            lines.append(
                f"| `{name}` ({group['label']}) | ×{k} | " + " | ".join(map(_cell, cells)) + " |"
            )
    return lines


def render_summary(data: dict) -> str:
    """The README's results block: each shipped model on Set5 beside the published numbers, a
    pure function of RESULTS.json's data; the full tables are in ``data/RESULTS.md``."""
    rows = _summary_rows(data) if "Set5" in data["sets"] else []
    head = (
        "Generated by `make results` (`tools/make_results.py`) from `data/RESULTS.json`: do not "
        "edit by hand. Set5, PSNR (dB) / SSIM on the Y channel as `edsr-lite eval` scores it "
        "(protocol `model`), no self-ensemble."
    )
    if not rows:
        return head + " No shipped model has Set5 scores yet: run `make results`."
    table = [
        "| shipped model | scale | Bicubic | ours | EDSR-baseline (official weights) "
        "| EDSR (paper) |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
    ]
    tail = (
        "*EDSR-baseline (official weights)*: the authors' released EDSR-baseline files (16 "
        "blocks × 64 features, like ours), trained on DIV2K for 3×10⁵ steps on a GPU (measured "
        "by torchSR); *EDSR (paper)*: the "
        "full-size 43 M-parameter model, Table 6 of Lim et al. 2017. Set14, B100, the x8 "
        "self-ensemble, SRCNN and VDSR, the gap and its reasons, and the sha256 of each "
        "checkpoint: [`data/RESULTS.md`](data/RESULTS.md)."
    )
    return "\n".join([head, "", *table, "", tail])


def render_results_md(data: dict) -> str:
    """The whole of ``data/RESULTS.md``: a title, then :func:`render`."""
    return "# edsr-lite: results\n\n" + render(data) + "\n"


def replace_block(text: str, body: str, where: str = "README.md") -> str:
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by ``body``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ResultsError(
            f"{where} must hold the markers {BEGIN} and {END} once each, in that order, "
            "around the results block"
        )
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"


def dump_json(data: dict) -> str:
    """RESULTS.json's text: two-space indents, non-ASCII kept (×, –), a final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_outputs(data: dict, json_path: Path, md_path: Path, readme_path: Path) -> None:
    """RESULTS.json, then RESULTS.md (:func:`render_results_md`) and the README block
    (:func:`render_summary`) rendered from it, each atomically."""
    readme_text = readme_path.read_text(encoding="utf-8")  # read just before it is written
    readme = replace_block(readme_text, render_summary(data), readme_path.name)
    atomic_write_text(json_path, dump_json(data))
    atomic_write_text(md_path, render_results_md(data))
    atomic_write_text(readme_path, readme)


def check(json_path: Path, md_path: Path, readme_path: Path) -> list[str]:
    """The files (of RESULTS.md and README.md) that differ from a fresh rendering of the JSON."""
    data = load_results(json_path)
    stale = []
    if not md_path.is_file() or md_path.read_text(encoding="utf-8") != render_results_md(data):
        stale.append(str(md_path))
    readme = readme_path.read_text(encoding="utf-8")
    if replace_block(readme, render_summary(data), readme_path.name) != readme:
        stale.append(str(readme_path))
    return stale
