"""The results table (``make results``, ``tools/make_results.py`` and ``tools/results_tables.py``):
evaluated like ``edsr-lite eval``, rendered only from data/RESULTS.json, and the shipped
checkpoints behind it.

The machinery runs on two tiny checkpoints trained for a few steps in a temporary
``checkpoints/`` folder (named like the shipped ones). The tests of the shipped models and of the
committed README / RESULTS.md skip while data/checkpoints holds no main model.
"""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import edsr_lite
from edsr_lite.checkpoint_eval import evaluate_checkpoint
from edsr_lite.checkpoints import read_checkpoint, save_checkpoint
from edsr_lite.cli import main as cli
from edsr_lite.core.published import MDSR_TOLERANCE_DB, PAPER_SRCNN, QUALITY_BAR_SET5
from edsr_lite.course.recorded import load_results
from edsr_lite.datasets import find_dataset
from edsr_lite.files import sha256_file
from edsr_lite.train import TrainConfig, train
from tools import make_results
from tools.make_results import main
from tools.results_tables import BEGIN, END, check, render, render_summary

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = make_results.find_main_models()  # the main models in data/checkpoints (finished runs)
NO_MAIN_MODEL = (
    "no main model ships in data/checkpoints yet (edsr_baseline_x2/x3/x4, mdsr_baseline)"
)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """A checkpoint folder as it ships: ``<name>/best.pt``, ``log.csv``, ``run.json``, for
    tiny stand-ins of ``edsr_baseline_x2`` and ``mdsr_baseline`` (a few training steps)."""
    root = tmp_path_factory.mktemp("results")
    images = root / "train"
    images.mkdir()
    for name in ("t1.png", "t2.png", "t3.png", "t5.png"):
        shutil.copy(find_dataset("T91") / name, images / name)
    common = dict(
        n_resblocks=1,
        n_feats=8,
        data=str(images),
        patch_size=12,
        batch_size=4,
        val_data="Set5",
        val_images=1,
        val_every=2,
        max_steps=4,
        seed=0,
        half_best=True,
    )
    folder = root / "checkpoints"
    train(TrainConfig(preset="edsr_tiny", scale=2, out=str(folder / "edsr_baseline_x2"), **common))
    train(
        TrainConfig(
            preset="mdsr_tiny", scale=[2, 3, 4], out=str(folder / "mdsr_baseline"), **common
        )
    )
    return folder


def _paths(folder: Path) -> dict[str, Path]:
    return {
        "json": folder / "RESULTS.json",
        "md": folder / "RESULTS.md",
        "readme": folder / "README.md",
        "cache": folder / "cache.json",
    }


def _args(paths: dict[str, Path]) -> list[str]:
    return [a for key, path in paths.items() for a in (f"--{key}", str(path))]


@pytest.fixture(scope="module")
def made(checkpoints, tmp_path_factory) -> dict[str, Path]:
    """``make_results.py`` run on the tiny checkpoints (Set5 x2, with self-ensemble) into a copy
    of the real README."""
    paths = _paths(tmp_path_factory.mktemp("made"))
    shutil.copy(ROOT / "README.md", paths["readme"])
    argv = ["--checkpoints", str(checkpoints), "--sets", "Set5", "--scales", "2", *_args(paths)]
    assert main(argv) == 0
    return paths


def _copy(made: dict[str, Path], folder: Path) -> dict[str, Path]:
    paths = _paths(folder)
    for key in ("json", "md", "readme"):
        shutil.copy(made[key], paths[key])
    return paths


def _row(data: dict, method: str, set_name: str = "Set5", scale: int = 2) -> dict:
    (row,) = [
        r for r in data["rows"] if (r["method"], r["set"], r["scale"]) == (method, set_name, scale)
    ]
    return row


# ------------------------------------------------------------------------------- the script


def test_script_writes_the_json_the_markdown_and_the_readme_block(made, checkpoints):
    data = json.loads(made["json"].read_text())
    assert data["format"] == "edsr-lite-results" and data["protocol"] == "model"
    assert (data["sets"], data["scales"], data["ensemble"]) == (["Set5"], [2], True)

    # Every checkpoint: its sha256, the step and the configuration it came from.
    assert set(data["checkpoints"]) == {"edsr_baseline_x2", "mdsr_baseline"}
    for name, info in data["checkpoints"].items():
        path = checkpoints / name / "best.pt"
        meta = read_checkpoint(path)["meta"]
        assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert info["step"] == meta["step"] and info["train_config"] == meta["train_config"]
        assert info["scales"] == meta["scales"] and info["dtype"] == ["float16"]
        assert info["validation_curve"][-1][0] == 4  # from log.csv
    p = data["parameters"]
    assert p["mdsr_baseline"] == 3_227_227 and p["edsr_baseline_total"] == 4_442_001
    assert p["mdsr_over_three_edsr"] == pytest.approx(3_227_227 / 4_442_001)

    methods = {r["method"] for r in data["rows"]}
    assert methods == {"bicubic", "edsr_baseline_x2", "edsr_baseline_x2+"} | {
        "mdsr_baseline",
        "mdsr_baseline+",
    }
    assert all(r["n_images"] == 5 and r["protocol"] == "model" for r in data["rows"])

    # The Markdown: one line per (set, scale), ours first, then the published numbers.
    md = made["md"].read_text()
    assert md.startswith("# edsr-lite: results\n\n")
    header = next(line for line in md.splitlines() if line.startswith("| Set | Scale |"))
    assert header.split(" | ")[2:7] == [
        "Bicubic",
        "EDSR-baseline (ours)",
        "EDSR-baseline+ (ours)",
        "MDSR-baseline (ours)",
        "MDSR-baseline+ (ours)",
    ]
    line = next(line for line in md.splitlines() if line.startswith("| Set5 | ×2 |"))
    for method in ("bicubic", "edsr_baseline_x2", "edsr_baseline_x2+", "mdsr_baseline+"):
        row = _row(data, method)
        assert f"{row['psnr']:.2f} / {row['ssim']:.4f}" in line
    assert "37.98 / 0.9604" in line and "38.11 / 0.9601" in line  # official weights, paper
    assert "**0.73×**" in md and "Set5 ×2" in md

    # The README: the block is the rendering, everything around it is untouched.
    readme, original = made["readme"].read_text(), (ROOT / "README.md").read_text()
    assert readme.split(BEGIN)[0] == original.split(BEGIN)[0]
    assert readme.split(END)[1] == original.split(END)[1]
    assert readme.split(BEGIN)[1].split(END)[0] == "\n" + render_summary(data) + "\n"
    assert md == "# edsr-lite: results\n\n" + render(data) + "\n"

    # The README's block is the summary: each shipped model on Set5, and a link to the rest.
    summary = render_summary(data)
    assert "| Set | Scale |" not in summary and "(data/RESULTS.md)" in summary
    for name in ("edsr_baseline_x2", "mdsr_baseline"):
        row = _row(data, name)
        line = next(line for line in summary.splitlines() if line.startswith(f"| `{name}`"))
        cells = [_row(data, "bicubic"), row]
        assert all(f"{r['psnr']:.2f} / {r['ssim']:.4f}" in line for r in cells)
        assert "37.98 / 0.9604" in line and "38.11 / 0.9601" in line  # official weights, paper


def test_check_passes_and_catches_hand_edits(made, tmp_path, capsys):
    paths = _copy(made, tmp_path)
    assert main(["--check", *_args(paths)]) == 0
    # Re-rendering from the JSON is byte-identical.
    before = {k: paths[k].read_bytes() for k in ("md", "readme")}
    assert main(["--render", *_args(paths)]) == 0
    assert {k: paths[k].read_bytes() for k in ("md", "readme")} == before

    data = json.loads(paths["json"].read_text())
    cell = f"{_row(data, 'edsr_baseline_x2')['psnr']:.2f}"
    for key in ("readme", "md"):
        text = paths[key].read_text()
        paths[key].write_text(text.replace(cell, "99.99", 1))
        capsys.readouterr()
        assert main(["--check", *_args(paths)]) == 1
        assert f"{paths[key]} differs" in capsys.readouterr().out
        paths[key].write_text(text)
    assert main(["--check", *_args(paths)]) == 0

    paths["json"].unlink()
    assert main(["--check", *_args(paths)]) == 2
    assert "run `make results` first" in capsys.readouterr().err


def test_json_holds_what_edsr_lite_eval_prints(made, checkpoints, capsys):
    data = json.loads(made["json"].read_text())
    edsr = str(checkpoints / "edsr_baseline_x2" / "best.pt")
    capsys.readouterr()
    assert cli(["eval", "--set", "Set5", "--scale", "2", "--model", edsr, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    stored = _row(data, "edsr_baseline_x2")
    assert (row["method"], row["psnr"], row["ssim"]) == (
        "edsr_baseline_x2",
        stored["psnr"],
        stored["ssim"],
    )

    # The printed table (what a person sees) has the README's cell.
    assert cli(["eval", "--set", "Set5", "--model", edsr]) == 0  # the model's own scale: x2
    cell = f"{stored['psnr']:.2f} / {stored['ssim']:.4f}"
    assert f"| Set5 | {cell} |" in capsys.readouterr().out
    assert cell in made["readme"].read_text()

    mdsr = str(checkpoints / "mdsr_baseline")  # a run folder means its best.pt
    assert (
        cli(["eval", "--set", "Set5", "--scale", "2", "--model", mdsr, "--ensemble", "--json"]) == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    stored = _row(data, "mdsr_baseline+")
    assert (row["method"], row["psnr"], row["ssim"]) == (
        "mdsr_baseline+",
        stored["psnr"],
        stored["ssim"],
    )


def test_eval_runs_several_models_at_their_own_scales(checkpoints, capsys):
    edsr = str(checkpoints / "edsr_baseline_x2")
    assert cli(["eval", "--set", "Set5", "--model", "bicubic", edsr, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["scale"]) for r in rows] == [
        ("bicubic", 2),
        ("bicubic", 3),
        ("bicubic", 4),
        ("edsr_baseline_x2", 2),
    ]
    assert cli(["eval", "--set", "Set5", "--scale", "3", "--model", edsr]) == 2
    assert "is a x2 model (no x3)" in capsys.readouterr().err


def test_resume_reuses_finished_evaluations(made, checkpoints, tmp_path, capsys):
    paths = _copy(made, tmp_path)
    shutil.copy(made["cache"], paths["cache"])
    argv = ["--checkpoints", str(checkpoints), "--sets", "Set5", "--scales", "2", "--resume"]
    capsys.readouterr()
    assert main([*argv, *_args(paths)]) == 0
    out = capsys.readouterr().out
    assert out.count("reused (--resume)") == 5
    old, new = (json.loads(p.read_text())["rows"] for p in (made["json"], paths["json"]))
    assert new == old


def test_resume_on_a_fresh_machine_reuses_the_committed_json_for_unchanged_checkpoints(
    made, checkpoints, tmp_path, capsys
):
    """No cache (build/ is not committed): --resume takes the rows of the previous
    RESULTS.json whose checkpoint is unchanged, and scores only the changed one again."""
    paths = _copy(made, tmp_path)
    changed = tmp_path / "checkpoints"
    shutil.copytree(checkpoints, changed)
    mdsr = edsr_lite.load_model(changed / "mdsr_baseline" / "best.pt")
    with torch.no_grad():
        mdsr.tail[0].bias.add_(1.0)  # brighter by one grey level: another checkpoint
    save_checkpoint(changed / "mdsr_baseline" / "best.pt", mdsr, meta=mdsr.meta, half=True)
    argv = ["--checkpoints", str(changed), "--sets", "Set5", "--scales", "2", "--resume"]
    capsys.readouterr()
    assert main([*argv, *_args(paths)]) == 0
    out = capsys.readouterr().out
    assert out.count("reused (--resume)") == 3  # bicubic, edsr_baseline_x2 with and without +
    old, new = (json.loads(p.read_text()) for p in (made["json"], paths["json"]))
    assert [r for r in new["rows"] if r["checkpoint"] != "mdsr_baseline"] == [
        r for r in old["rows"] if r["checkpoint"] != "mdsr_baseline"
    ]
    assert _row(new, "mdsr_baseline")["psnr"] != _row(old, "mdsr_baseline")["psnr"]


def test_script_refuses_when_no_main_model_ships(tmp_path, capsys):
    paths = _paths(tmp_path)
    paths["readme"].write_text(f"# x\n\n{BEGIN}\nnothing yet\n{END}\n")
    unfinished = tmp_path / "checkpoints" / "edsr_baseline_x2"
    unfinished.mkdir(parents=True)
    (unfinished / "best.pt").write_bytes(b"")
    (unfinished / "run.json").write_text('{"status": "running"}')
    assert main(["--checkpoints", str(tmp_path / "checkpoints"), *_args(paths)]) == 2
    assert "no main checkpoint ships" in capsys.readouterr().err
    assert not paths["json"].exists() and "nothing yet" in paths["readme"].read_text()


def test_readme_without_markers_fails_before_any_evaluation(checkpoints, tmp_path, capsys):
    paths = _paths(tmp_path)
    paths["readme"].write_text("# a README without the results markers\n")
    assert main(["--checkpoints", str(checkpoints), *_args(paths)]) == 2
    assert "must hold the markers" in capsys.readouterr().err
    assert not paths["json"].exists()


def test_the_readme_has_one_results_block():
    readme = (ROOT / "README.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1
    section = readme.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    assert BEGIN in section and END in section
    block = section.split(BEGIN)[1].split(END)[0]
    if not SHIPPED:  # no table may claim results that do not exist yet
        assert "|---" not in block and "make results" in block


def test_the_script_runs_from_the_repository_root(made, tmp_path):
    """As ``make results`` runs it: ``python tools/make_results.py`` (its sibling
    ``results_tables`` imported from ``tools/``, not as ``tools.results_tables``)."""
    paths = _copy(made, tmp_path)
    argv = [sys.executable, "tools/make_results.py", "--check", *_args(paths)]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"{paths['md']} and {paths['readme']} match {paths['json']}" in out.stdout


def test_the_makefile_target_runs_the_script():
    out = subprocess.run(
        ["make", "-n", "results", "RESULTS_ARGS=--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0 and "tools/make_results.py --check" in out.stdout


# ------------------------------------------------------------------------------- shipped models


def _shipped_set5(name: str, scale: int) -> dict:
    """Set5 at ``scale`` of a shipped model, no self-ensemble, evaluated now."""
    if name not in SHIPPED:
        pytest.skip(f"{name} does not ship yet")
    (row,) = evaluate_checkpoint(name, ["Set5"], [scale])
    return row


def test_committed_results_match_the_json_and_the_shipped_checkpoints():
    if not SHIPPED:
        pytest.skip(NO_MAIN_MODEL)
    assert make_results.RESULTS_JSON.is_file(), (
        "main models ship, data/RESULTS.json not: make results"
    )
    stale = check(make_results.RESULTS_JSON, make_results.RESULTS_MD, make_results.README)
    assert not stale, f"{stale} differ from data/RESULTS.json: make results RESULTS_ARGS=--render"
    data = load_results(make_results.RESULTS_JSON)
    assert set(data["checkpoints"]) == set(SHIPPED), "the shipped models changed: make results"
    for name, path in SHIPPED.items():
        assert data["checkpoints"][name]["sha256"] == sha256_file(path), f"{name} changed"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_each_shipped_edsr_reproduces_its_json_value_and_passes_the_quality_bar(scale):
    """Scored now on the shipped file: what data/RESULTS.json says, and above the issue's bar
    (above SRCNN: 37.0 / 33.2 / 30.9 dB at x2 / x3 / x4)."""
    name = f"edsr_baseline_x{scale}"
    now = _shipped_set5(name, scale)
    stored = _row(load_results(make_results.RESULTS_JSON), name, "Set5", scale)
    assert now["psnr"] == pytest.approx(stored["psnr"], abs=1e-3)
    assert now["ssim"] == pytest.approx(stored["ssim"], abs=1e-5)
    assert now["psnr"] >= QUALITY_BAR_SET5[scale]


@pytest.mark.parametrize(
    "name", [n for g in make_results.MAIN_GROUPS for n in g.names(make_results.SCALES)]
)
def test_shipped_checkpoints_load_by_name_with_metadata(name):
    if name not in SHIPPED:
        pytest.skip(f"{name} does not ship yet")
    model = edsr_lite.load_pretrained(name)
    meta = model.meta
    assert {"preset", "scales", "metrics", "train_config", "machine", "step"} <= set(meta)
    assert list(model.scales) == meta["scales"] and model.config["preset"] == meta["preset"]
    assert meta["preset"] == name.rsplit("_x", 1)[0]
    if name.startswith("edsr"):
        assert meta["scales"] == [int(name.rsplit("_x", 1)[1])]
    else:
        assert meta["scales"] == [2, 3, 4]
    folder = SHIPPED[name].parent
    assert (folder / "log.csv").is_file() and json.loads((folder / "run.json").read_text())[
        "status"
    ] == "finished"


def test_mdsr_is_within_0_15_db_of_the_single_scale_models_on_set5():
    needed = {"mdsr_baseline", "edsr_baseline_x2", "edsr_baseline_x3", "edsr_baseline_x4"}
    if not needed <= set(SHIPPED):
        pytest.skip(f"not all of {', '.join(sorted(needed))} ship yet")
    data = load_results(make_results.RESULTS_JSON)
    for scale in (2, 3, 4):
        edsr = _row(data, f"edsr_baseline_x{scale}", "Set5", scale)["psnr"]
        mdsr = _row(data, "mdsr_baseline", "Set5", scale)["psnr"]
        assert mdsr >= edsr - MDSR_TOLERANCE_DB, f"x{scale}: {mdsr:.2f} vs {edsr:.2f}"


@pytest.mark.parametrize(
    "name", [n for g in make_results.MAIN_GROUPS for n in g.names(make_results.SCALES)]
)
def test_float16_weights_score_what_the_float32_model_scored_in_training(name):
    """A checkpoint ships in float16; its Set5 PSNR (data/RESULTS.json, measured on the shipped
    file) must be within 0.005 dB of what the float32 weights scored at that training step."""
    if name not in SHIPPED:
        pytest.skip(f"{name} does not ship yet")
    meta = edsr_lite.load_pretrained(name).meta
    if meta.get("val_data") != "Set5" or meta["train_config"].get("val_images"):
        pytest.skip(f"{name} was not validated on the whole of Set5")
    data = load_results(make_results.RESULTS_JSON)
    for scale in meta["scales"]:
        trained = meta["metrics"]["Set5"][f"x{scale}"]
        assert _row(data, name, "Set5", scale)["psnr"] == pytest.approx(trained, abs=0.005)


def test_classic_section_holds_ours_against_srcnn_and_vdsr(made):
    """The issue's bar (SRCNN) and aim (VDSR, trained on the same 291 images), per set and
    scale, from RESULTS.json; a file written before the section existed renders without it."""
    data = load_results(made["json"])
    ours = _row(data, "edsr_baseline_x2")["psnr"]
    text = render(data)
    assert (
        f"| Set5 | ×2 | 36.66 | 37.53 | {ours:.2f} | {ours - 36.66:+.2f} | {ours - 37.53:+.2f} |"
        in text.splitlines()
    )
    bicubic = _row(data, "bicubic")["psnr"]
    assert f"(bicubic: up to {abs(bicubic - 33.66):.2f} dB)" in text
    assert "above SRCNN's Set5 scores (37.0 / 33.2 / 30.9 dB at ×2 / ×3 / ×4)" in text
    assert all(QUALITY_BAR_SET5[k] > PAPER_SRCNN["Set5", k][0] for k in (2, 3, 4))
    assert text.index("Against SRCNN and VDSR") > text.index("| Set | Scale | Bicubic |")
    del data["classic_cnns"]
    assert "Against SRCNN and VDSR" not in render(data)


@pytest.mark.parametrize(
    ("curve", "phrase"),
    [
        ([[2, 30.0], [4, 30.5], [6, 31.0], [8, 31.4]], "still rising at the end (+0.40 dB"),
        ([[2, 30.0], [4, 31.45], [6, 31.40], [8, 31.42]], "levelled off by the end (+0.02 dB"),
    ],
)
def test_gap_paragraph_says_whether_validation_was_still_rising(made, curve, phrase):
    data = load_results(made["json"])
    info = data["checkpoints"]["edsr_baseline_x2"]
    info.update(validation_curve=curve, train_steps=8, step=6, train_seconds=7200)
    text = render(data)
    assert phrase in text
    assert "Ours trained 8 steps of 4 patches" in text
    assert "(the shipped weights are those of step 6, its best Set5 score)" in text
    assert "in 2.0 h of wall time" in text
