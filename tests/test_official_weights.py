"""The authors' weights on request: registry, cache, fetch, load, and the full-size EDSR on a CPU.

Everything runs against a local HTTP server on 127.0.0.1 (``local_server.py``) serving small
state dicts saved with ``torch.save`` as the official files are (bare state dicts), named
``<name>-<their own sha256[:8]>.pt``; the registry entry under test is pointed at them
(``$EDSR_LITE_WEIGHTS_URL`` and the file name) and the cache at a temporary folder
(``$EDSR_LITE_CACHE``). Nothing is downloaded from the internet.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from local_server import LocalServer, hashed_name, no_proxy

import edsr_lite as el
import edsr_lite.cli
from edsr_lite import official
from edsr_lite.checkpoints import CheckpointError
from edsr_lite.cli import main
from edsr_lite.core.published import PAPER_EDSR
from edsr_lite.images import read_image, write_png

ROOT = Path(__file__).resolve().parents[1]
NAME = "official/edsr_baseline_x2"


def _state_dict_bytes(preset: str, scale: int, seed: int = 0) -> bytes:
    """A random network of ``preset`` saved as the authors' files are: a bare state dict."""
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(el.build(preset, scale).state_dict(), buffer)
    return buffer.getvalue()


PAYLOAD = _state_dict_bytes("edsr_baseline", 2)
FILE = hashed_name("edsr_baseline_x2", PAYLOAD)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache, and the registry's x2 baseline renamed after the served file."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("EDSR_LITE_CACHE", str(folder))
    entry = dataclasses.replace(official.OFFICIAL_WEIGHTS[NAME], file=FILE)
    monkeypatch.setitem(official.OFFICIAL_WEIGHTS, NAME, entry)
    return folder


@pytest.fixture
def server(cache, monkeypatch):
    no_proxy(monkeypatch)
    with LocalServer({FILE: PAYLOAD}) as s:
        monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", s.url)
        yield s


@pytest.fixture
def lr_image(tmp_path) -> Path:
    path = tmp_path / "lr.png"
    write_png(path, read_image(ROOT / "data" / "Set5" / "baby.png")[:24, :20])
    return path


# --------------------------------------------------------------------------- the registry


def test_the_registry_names_the_eight_files_of_the_official_code():
    files = {w.name: w.file for w in official.OFFICIAL_WEIGHTS.values()}
    assert files == {
        "official/edsr_baseline_x2": "edsr_baseline_x2-1bc95232.pt",
        "official/edsr_baseline_x3": "edsr_baseline_x3-abf2a44e.pt",
        "official/edsr_baseline_x4": "edsr_baseline_x4-6b446fab.pt",
        "official/edsr_x2": "edsr_x2-0edfb8a3.pt",
        "official/edsr_x3": "edsr_x3-ea3ef2c6.pt",
        "official/edsr_x4": "edsr_x4-4f62e9ef.pt",
        "official/mdsr_baseline": "mdsr_baseline-a00cab12.pt",
        "official/mdsr": "mdsr-4a78bedf.pt",
    }
    x4 = official.OFFICIAL_WEIGHTS["official/edsr_x4"]
    assert (x4.preset, x4.scales, x4.sha256_prefix) == ("edsr", (4,), "4f62e9ef")
    assert x4.published[("Set5", 4)] == PAPER_EDSR[("Set5", 4)] == (32.46, 0.8968)
    assert official.OFFICIAL_WEIGHTS["official/mdsr"].scales == (2, 3, 4)


def test_the_base_url_is_the_authors_unless_a_setting_says_otherwise(monkeypatch):
    monkeypatch.delenv("EDSR_LITE_WEIGHTS_URL", raising=False)
    x4 = official.OFFICIAL_WEIGHTS["official/edsr_x4"]
    assert x4.url == "https://cv.snu.ac.kr/research/EDSR/models/edsr_x4-4f62e9ef.pt"
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", "http://127.0.0.1:9/mirror")
    assert x4.url == "http://127.0.0.1:9/mirror/edsr_x4-4f62e9ef.pt"


def test_the_cache_is_the_setting_or_the_platforms(cache, monkeypatch):
    assert official.official_dir() == cache / "official"
    monkeypatch.delenv("EDSR_LITE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache / "xdg"))
    if sys.platform.startswith("linux"):
        assert official.official_dir() == cache / "xdg" / "edsr-lite" / "official"


# --------------------------------------------------------------------------- not cached


def test_without_the_file_every_way_in_says_how_to_get_it(cache, capsys):
    x4 = official.OFFICIAL_WEIGHTS["official/edsr_x4"]
    with pytest.raises(CheckpointError) as err:
        el.load_pretrained("official/edsr_x4")
    message = str(err.value)
    assert "edsr-lite weights fetch official/edsr_x4" in message
    assert x4.url in message and str(x4.path) in message
    assert not cache.exists()  # nothing created, nothing fetched

    assert main(["upscale", "in.png", "--model", "official/edsr_x4"]) == 2
    assert main(["eval", "--model", "official/edsr_x4", "--set", "Set5"]) == 2
    err_text = capsys.readouterr().err
    assert err_text.count("edsr-lite weights fetch official/edsr_x4") == 2
    with pytest.raises(CheckpointError, match="not one of the authors' files"):
        el.load_pretrained("official/edsr_x5")


def test_the_listing_shows_shipped_cached_and_available(server, capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "edsr_baseline_x2" in out.split("The authors' weights")[0]  # shipped
    assert str(official.official_dir()) in out
    line = next(row for row in out.splitlines() if NAME in row)
    assert "available" in line and "~" in line  # its size from the parameter count
    assert main(["weights", "fetch", NAME, "-q"]) == 0
    assert main(["weights", "list"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith(f"  {NAME}"))
    assert "cached" in line and f"{len(PAYLOAD) / 2**20:.1f} MB" in line


# --------------------------------------------------------------------------- fetching


def test_load_pretrained_downloads_only_when_asked(server, cache):
    model = el.load_pretrained(NAME, download=True)
    assert model.config["preset"] == "edsr_baseline" and model.scales == (2,)
    assert (cache / "official" / FILE).read_bytes() == PAYLOAD
    assert server.ranges == [None]
    again = el.load_pretrained(NAME)  # cached: no request
    assert server.ranges == [None]
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_fetch_resumes_after_a_cut_connection(server, cache, capsys):
    server.cut_after = len(PAYLOAD) // 3
    assert main(["weights", "fetch", NAME, "-q"]) == 1  # a fault of the network, not the user's
    assert "interrupted" in capsys.readouterr().err
    part = cache / "official" / (FILE + ".part")
    assert part.stat().st_size == len(PAYLOAD) // 3
    assert not (cache / "official" / FILE).exists()

    server.cut_after = None
    assert main(["weights", "fetch", NAME, "-q"]) == 0
    assert server.ranges == [None, f"bytes={len(PAYLOAD) // 3}-"]
    assert "sha256 checked" in capsys.readouterr().out
    assert not part.exists()


def test_a_file_with_the_wrong_hash_is_refused_and_not_kept(server, cache, monkeypatch, capsys):
    wrong = dataclasses.replace(official.OFFICIAL_WEIGHTS[NAME], file=FILE)
    server.files["edsr_baseline_x2-00000000.pt"] = PAYLOAD
    wrong = dataclasses.replace(wrong, file="edsr_baseline_x2-00000000.pt")
    monkeypatch.setitem(official.OFFICIAL_WEIGHTS, NAME, wrong)
    assert main(["weights", "fetch", NAME, "-q"]) == 1
    assert "sha256" in capsys.readouterr().err
    kept = [p.name for p in (cache / "official").iterdir()]
    assert kept == [wrong.file + ".lock"]  # neither the file nor its .part; the lock stays
    # a wrong file put in the cache by hand is refused at load time
    (cache / "official" / wrong.file).write_bytes(PAYLOAD)
    with pytest.raises(CheckpointError, match="does not start with 00000000"):
        el.load_pretrained(NAME)


def test_offline_the_error_says_where_to_put_the_file(cache, monkeypatch, capsys):
    no_proxy(monkeypatch)
    monkeypatch.setenv("EDSR_LITE_WEIGHTS_URL", "http://127.0.0.1:9/")  # nothing listens there
    assert main(["weights", "fetch", "--all", "-q"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err
    assert f"put it at {cache / 'official' / 'edsr_baseline_x2'}" in err
    assert main(["weights", "fetch"]) == 2  # neither names nor --all
    assert main(["weights", "fetch", "official/nope"]) == 2


# --------------------------------------------------------------------------- using them


def test_upscale_and_eval_take_an_official_name(server, lr_image, tmp_path, capsys):
    el.load_pretrained(NAME, download=True)
    out = tmp_path / "sr.png"
    assert main(["upscale", str(lr_image), "--model", NAME, "-o", str(out)]) == 0
    assert read_image(out).shape == (48, 40, 3)
    assert "edsr-lite upscale: done in" in capsys.readouterr().err

    folder = tmp_path / "set"
    folder.mkdir()
    write_png(folder / "a.png", read_image(ROOT / "data" / "Set5" / "baby.png")[:32, :32])
    assert main(["eval", "--model", NAME, "--set", str(folder), "--json"]) == 0
    captured = capsys.readouterr()
    (row,) = json.loads(captured.out)
    assert (row["method"], row["scale"], row["n_images"]) == (NAME, 2, 1)
    assert "edsr-lite eval: done in" in captured.err


# --------------------------------------------------------------------------- full size


@pytest.fixture(scope="module")
def full_size_x4(tmp_path_factory) -> tuple[Path, str]:
    """A randomly initialised full-size EDSR x4 (43 M parameters) saved as the authors' file
    is (a bare float32 state dict, 164 MB), in a cache folder; returns (cache, file name)."""
    cache = tmp_path_factory.mktemp("full") / "cache"
    torch.manual_seed(0)
    model = el.build("edsr", 4)
    assert el.count_parameters(model) > 43_000_000
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    payload = buffer.getvalue()
    name = hashed_name("edsr_x4", payload)
    (cache / "official").mkdir(parents=True)
    (cache / "official" / name).write_bytes(payload)
    return cache, name


@pytest.mark.slow
def test_the_full_size_edsr_upscales_within_the_memory_budget(full_size_x4, lr_image, tmp_path):
    """``edsr-lite upscale --model official/edsr_x4 --max-memory-mb 1200``: tiled (its 68-pixel
    receptive radius leaves tiles of about 20 pixels in that budget), in a fresh process whose
    peak memory is measured: the budget plus the weights (twice while loading) plus PyTorch."""
    cache, name = full_size_x4
    out = tmp_path / "sr.png"
    script = (
        "import resource, sys\n"
        "from edsr_lite import official\n"
        "from edsr_lite.cli import main\n"
        "import dataclasses\n"
        "w = official.OFFICIAL_WEIGHTS['official/edsr_x4']\n"
        f"official.OFFICIAL_WEIGHTS[w.name] = dataclasses.replace(w, file={name!r})\n"
        f"status = main(['upscale', {str(lr_image)!r}, '--model', 'official/edsr_x4', "
        f"'--max-memory-mb', '1200', '-o', {str(out)!r}])\n"
        "print('peak_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        "sys.exit(status)\n"
    )
    env = {**os.environ, "EDSR_LITE_CACHE": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert read_image(out).shape == (96, 80, 3)
    assert "edsr-lite upscale: done in" in result.stderr
    peak = float(result.stdout.split("peak_mb")[1])
    print(f"full-size EDSR x4, 24 x 20 -> 96 x 80, --max-memory-mb 1200: peak {peak:.0f} MB")
    # The budget bounds what the upscale adds; Python, PyTorch (~300 MB) and the 43 M-parameter
    # model (170 MB, twice while it loads) come on top of it.
    assert peak < 1200 + 500, f"peak {peak:.0f} MB: over the budget and the process's own"


@pytest.mark.slow
def test_eval_estimates_the_time_of_the_full_size_edsr(full_size_x4, monkeypatch, tmp_path, capsys):
    from edsr_lite.checkpoint_eval import estimate_seconds, lr_work
    from edsr_lite.cli import _announce_eval

    cache, name = full_size_x4
    monkeypatch.setenv("EDSR_LITE_CACHE", str(cache))
    entry = dataclasses.replace(official.OFFICIAL_WEIGHTS["official/edsr_x4"], file=name)
    monkeypatch.setitem(official.OFFICIAL_WEIGHTS, entry.name, entry)
    model = el.load_pretrained("official/edsr_x4")
    # Set5 x4 at the default 4096 MB budget: each LR image (at most 128 x 128) runs whole
    assert lr_work(model, "Set5", 4) == sum(
        (h // 4) * (w // 4) for h, w, _ in (read_image(p).shape for p in _set5())
    )
    seconds = estimate_seconds(model, ["Set5"], [4])
    assert seconds > 10  # minutes on a CPU: the run that needs an announcement

    args = type(
        "Args",
        (),
        {
            "models": ["official/edsr_x4"],
            "sets": ["Set5"],
            "scales": None,
            "ensemble": False,
            "device": "cpu",
        },
    )()
    # The announcement's threshold is a minute; this machine may need less than that here.
    monkeypatch.setattr(edsr_lite.cli, "LONG_RUN_SECONDS", 5.0)
    _announce_eval({"official/edsr_x4": model}, args)
    assert "edsr-lite eval: this will take up to about" in capsys.readouterr().err


def _set5() -> list[Path]:
    return sorted((ROOT / "data" / "Set5").glob("*.png"))


# --------------------------------------------------------------------------- make results


def test_results_gain_columns_for_the_cached_files_and_say_so_when_absent(server):
    from tools import make_results
    from tools.results_tables import render

    data = json.loads((ROOT / "data" / "RESULTS.json").read_text())
    assert "official" not in data
    text = render(data)
    assert "authors' weights, measured here)" not in text.split("\n\n")[1]  # the main table
    assert "*Measured here with the authors' weights*: left out" in text
    assert "`edsr-lite weights fetch --all`, then `make results`" in text

    assert make_results.find_official_models() == {}
    el.load_pretrained(NAME, download=True)
    found = make_results.find_official_models()
    assert list(found) == [NAME]
    info = make_results.describe_official(NAME, found[NAME])
    assert (info["file"], info["preset"], info["scales"]) == (FILE, "edsr_baseline", [2])
    data["official"] = make_results.official_data({NAME: info}, data["scales"])
    data["rows"].append(
        {
            "method": NAME,
            "set": "Set5",
            "scale": 2,
            "psnr": 37.98,
            "ssim": 0.9604,
            "checkpoint": NAME,
        }
    )
    text = render(data)
    header = next(line for line in text.splitlines() if line.startswith("| Set | Scale |"))
    assert "EDSR-baseline (authors' weights, measured here)" in header
    row = next(line for line in text.splitlines() if line.startswith("| Set5 | ×2 |"))
    assert "37.98 / 0.9604" in row
    assert f"`{NAME}`; sha256 in `data/RESULTS.json`" in text
