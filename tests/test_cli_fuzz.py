"""The command line's argument space, driven at random (hypothesis): whatever a user types,
``edsr-lite`` answers with an exit status of 0, 1 or 2 and at most one error line, never a
traceback, and leaves nothing half-written behind.

Commands run in this process (``edsr_lite.cli.main``; a subprocess each would take seconds)
with random flags, numbers (negative, huge, nan, not a number), paths (missing, a folder, a
file of garbage, a read-only file, a file where a folder should be) and environment
(``$EDSR_LITE_DATA``, ``$EDSR_LITE_CACHE``, ``$EDSR_LITE_BACKEND`` pointing at garbage), on tiny
inputs only: 8x8 and 24x24 images, bicubic or a freshly built ``edsr_tiny``, a one-step
training. Nothing slow is drawn: no default (full-size) model, no successful ONNX export
(seconds each), no download (``$EDSR_LITE_WEIGHTS_URL`` is 127.0.0.1:9, where nothing listens),
no scale between the small ones and the absurd ones (10,000 would really try to allocate).
The same examples on every run (``derandomize``), so CI is deterministic; set
``FUZZ_RANDOM=1`` to explore new ones (a failure prints the command line that caused it).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from edsr_lite.checkpoints import save_checkpoint
from edsr_lite.cli import main
from edsr_lite.core.models import build

# ----------------------------------------------------------------------------- the inputs

#: Paths relative to a fresh copy of the template folder (each example runs in its own).
PATHS = [
    "img.png",  # 8x8 RGB
    "imgs",  # a folder of 24x24 images
    "garbage.bin",  # random bytes
    "garbage.png",  # random bytes under an image's name
    "readonly.png",  # mode 0444 (root may still write it)
    "tiny.pt",  # a fresh edsr_tiny x2
    "head.pt",  # an EDSR's first tensor only, not a whole network
    "hand/best.pt",  # a checkpoint whose run.json was edited by hand
    "notes.txt",  # a text file where a folder or a checkpoint is expected
    "missing.png",
    "missing/deeper",
    "notes.txt/sub",  # a file in the way of a folder
    "",
]
#: Numbers as typed that are wrong somewhere: zero, negative, absurd, not a number. No
#: mid-size scales: 10,000 would allocate for real (bounding that is a check of its own).
BAD_NUMBERS = ["1", "0", "-1", "2.5", "nan", "inf", "abc", "1e9", "100000", ""]
#: ``head.pt`` is not among the models yet: ``upscale --model head.pt`` still ends in an
#: IndexError of ``checkpoints.infer_config`` (``info head.pt`` is one line).
MODELS = ["bicubic", "tiny.pt", "garbage.bin", "missing.pt", "imgs", "official/edsr_x2", "nope"]
ENV = {
    "EDSR_LITE_DATA": [None, "imgs", "garbage.bin", "missing"],
    "EDSR_LITE_CACHE": ["cache", "garbage.bin", "missing/cache", "notes.txt/sub"],
    "EDSR_LITE_BACKEND": [None, "torch", "bogus"],
    "EDSR_LITE_WEIGHTS_URL": ["http://127.0.0.1:9/", "not a url"],
}

paths = st.sampled_from(PATHS)
switch = st.just(None)


def either(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """One of the ``good`` values half of the time (so that commands also run), else a bad one."""
    return st.one_of(st.sampled_from(good), st.sampled_from(bad))


def number(*good: str) -> st.SearchStrategy[str]:
    """One of the ``good`` numbers half of the time, else one of :data:`BAD_NUMBERS`."""
    return either(list(good), BAD_NUMBERS)


def flag(name: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """``[name, value]`` (the ``good`` half of ``value`` most often)."""
    return value.map(lambda v: [name, v])


def flags(**choices: st.SearchStrategy) -> st.SearchStrategy[list[str]]:
    """Up to three of the ``--flag value`` pairs (a value of None: a flag without one); more
    would almost always hold a wrong one, and the commands would rarely run."""

    def pairs(chosen: list[str]) -> st.SearchStrategy[tuple]:
        return st.tuples(
            *(choices[f].map(lambda v, f=f: [f] if v is None else [f, v]) for f in chosen)
        )

    chosen = st.lists(st.sampled_from(list(choices)), max_size=3, unique=True)
    return chosen.flatmap(pairs).map(lambda parts: [word for part in parts for word in part])


upscale = st.tuples(
    st.just(["upscale"]),
    st.lists(either(["img.png", "imgs"], PATHS), min_size=1, max_size=2),
    flag("--model", either(["bicubic", "tiny.pt"], MODELS)),  # always: the default is full-size
    flag("-s", number("2")),
    flags(
        **{
            "-o": either(["out.png"], PATHS),
            "--out-dir": either(["out"], PATHS),
            "--tile": number("0", "16"),
            "--max-memory-mb": number("64", "2000"),
            "--device": st.sampled_from(["cpu", "cuda", "mps"]),
            "--precision": st.sampled_from(["fp32", "bf16", "fp64"]),
            "--overwrite": switch,
            "--ensemble": switch,
            "--keep-ext": switch,
            "-q": switch,
        }
    ),
)
evaluate = st.tuples(
    st.just(["eval", "--set"]),
    st.lists(either(["imgs"], ["img.png", "garbage.bin", "missing"]), min_size=1, max_size=2),
    st.just(["--model"]),
    st.lists(either(["bicubic", "tiny.pt"], ["garbage.bin", "missing.pt"]), min_size=1, max_size=2),
    flags(
        **{"--scale": number("2"), "--json": switch, "--device": st.sampled_from(["cpu", "cuda"])}
    ),
)
info = st.tuples(st.just(["info"]), either(["tiny.pt"], [*PATHS, "edsr_baseline_x2", "official/x"]))
weights = st.one_of(
    st.just(["weights", "list"]),
    st.tuples(st.just(["weights", "fetch", "-q"]), st.sampled_from(["official/edsr_x2", "nope"])),
    st.just(["weights", "fetch", "--all", "-q"]),
)
export = st.tuples(  # never a model that exports (seconds): each fails before the export
    st.just(["export"]),
    paths,
    flag("--model", st.sampled_from(["bicubic", "garbage.bin", "missing.pt", "imgs"])),
    flags(**{"--opset": number("17", "7"), "-s": number("2"), "--overwrite": switch}),
)
train = st.tuples(  # one step of a 1-block, 8-feature network on 24x24 images: under a second
    st.just(["train", "--preset", "edsr_tiny", "--n-resblocks", "1", "--n-feats", "8"]),
    st.just(["--max-steps", "1", "--quiet", "--val-data", "none", "--patch-size", "8"]),
    flag("--data", either(["imgs"], ["img.png", "garbage.bin", "missing", "notes.txt"])),
    flag("--out", either(["run"], ["notes.txt", "imgs", "readonly.png", "notes.txt/sub"])),
    flags(
        **{
            "--patch-size": st.sampled_from(["0", "-4", "nan", "100000"]),
            "--batch-size": st.sampled_from(["2", "0", "-1", "abc"]),  # 200,000: a real allocation
            "--lr": number("1e-4"),
            "--device": st.sampled_from(["cpu", "cuda", "cuda:3", "mps", "tpu", "auto"]),
            "--scale": st.sampled_from(["2", "0", "-3", "x"]),
            "--seed": number("0", "7"),
        }
    ),
)
argvs = st.one_of(upscale, evaluate, info, weights, export, train).map(
    lambda parts: [w for part in parts for w in ([part] if isinstance(part, str) else part)]
)
environments = st.fixed_dictionaries({name: either(v[:1], v) for name, v in ENV.items()})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The inputs every example starts from (copied afresh for each)."""
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / "img.png")
    (root / "imgs").mkdir()
    for i in range(2):
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "imgs" / f"{i}.png")
    (root / "garbage.bin").write_bytes(rng.bytes(3000))
    (root / "garbage.png").write_bytes(rng.bytes(3000))
    shutil.copy(root / "img.png", root / "readonly.png")
    (root / "readonly.png").chmod(0o444)
    (root / "notes.txt").write_text("not a folder\n")
    (root / "cache").mkdir()
    save_checkpoint(root / "tiny.pt", build("edsr_tiny", 2), meta={})
    torch.save({"head.0.weight": torch.zeros(8, 3, 3, 3)}, root / "head.pt")
    (root / "hand").mkdir()
    save_checkpoint(root / "hand" / "best.pt", build("edsr_tiny", 2), meta={"step": 1})
    (root / "hand" / "run.json").write_text('{"seconds": "long", "step": [1, 2]}')
    return root


def _half_written(folder: Path) -> list[str]:
    """Files a writer leaves while it works: downloads' ``.part``, atomic writes' ``.tmp``."""
    return [str(p) for p in folder.rglob("*") if p.suffix in (".part", ".tmp")]


@settings(
    max_examples=120,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(argv=argvs, env=environments)
def test_any_command_line_ends_in_a_status_and_at_most_one_plain_line(template, argv, env):
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        shutil.copytree(template, tmp, dirs_exist_ok=True)
        mp.chdir(tmp)
        mp.delenv("EDSR_LITE_DEBUG", raising=False)
        for name, value in env.items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value if "URL" in name else str(Path(tmp) / value))
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exit_:  # argparse: --help (0) or a usage mistake (2)
                status = exit_.code
        text = err.getvalue()
        event(f"{argv[0]} -> {status}")  # pytest --hypothesis-show-statistics
        assert status in (0, 1, 2), (argv, env, text)
        assert "Traceback" not in text, (argv, env, text)
        errors = [line for line in text.splitlines() if ": error: " in line]
        assert len(errors) <= 1, (argv, env, text)
        assert all(line.startswith("edsr-lite") for line in errors), (argv, env, text)
        if status == 2:  # a usage mistake is said, not silent
            assert errors, (argv, env, text)
        assert _half_written(Path(tmp)) == [], (argv, env)
