"""Every command in the README works as written.

Shell blocks (```sh) run line by line from the repository root; ``make test`` is checked with a
dry run (this suite *is* ``make test``), and ``make lab`` is started, seen serving, and stopped.
Python blocks (```python) are executed.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import edsr_lite

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def _commands() -> list[str]:
    lines = [line for block in _blocks("sh") for line in block.splitlines()]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip()]


def test_quick_start_is_two_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first = re.search(r"```sh\n(.*?)```", quick, re.S).group(1)
    assert [re.sub(r"\s+#.*$", "", c).strip() for c in first.strip().splitlines()] == [
        "make lab",
        "make test",
    ]


def test_install_without_make_is_documented_for_linux_and_windows():
    """The route without make: tests/test_student.py runs its Linux commands; Windows gets the
    same with its own paths; the sizes of both environments are given."""
    installing = README.split("\n## Installing\n", 1)[1].split("\n## ", 1)[0]
    linux = re.search(r"```bash\n(.*?)```", installing, re.S).group(1).splitlines()
    assert linux == ["python3 -m venv .venv", '.venv/bin/python -m pip install -e ".[course]"']
    windows = re.search(r"```bat\n(.*?)```", installing, re.S).group(1)
    assert "py -m venv .venv" in windows and ".venv\\Scripts\\jupyter lab" in windows
    assert re.search(r"course alone takes [\d.]+ GB", installing.replace("\n", " "))


def test_make_lab_installs_the_course_alone_and_make_test_the_developer_tools():
    lab = subprocess.run(["make", "-n", "-B", "lab"], cwd=ROOT, capture_output=True, text=True)
    assert "-e '.[course]'" in lab.stdout and "dev" not in lab.stdout
    test = subprocess.run(["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True)
    assert "-e '.[course,dev,fast]'" in test.stdout


def test_make_test_runs_pytest():
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "-m pytest" in out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_jupyterlab_on_the_notebooks(tmp_path):
    port, token = _free_port(), "edsr-lite-test"
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path)}
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, body = time.time() + 90, None
        while time.time() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token={token}"
                body = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert body is not None, "make lab did not serve:\n" + (tmp_path / "lab.log").read_text()
        # The server's root is the repository (so the notebooks' links to README.md, data/ and
        # the package open): its listing holds the top-level files and folders.
        assert '"notebooks"' in body and '"README.md"' in body and '"edsr_lite"' in body
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("command", [c for c in _commands() if c not in ("make lab", "make test")])
def test_shell_command_works(command):
    out = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"{command}\n{out.stdout}\n{out.stderr}"
    if "__version__" in command:
        assert out.stdout.strip() == edsr_lite.__version__


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs(index):
    code = _blocks("python")[index]
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"{code}\n{out.stderr}"


def _headings() -> list[str]:
    return re.findall(r"^## (.+)$", README, re.M)


def test_readme_leads_a_newcomer():
    """What it is, the two commands, the six notebooks, a picture; then the rest."""
    assert _headings()[:3] == ["Quick start", "The notebooks", "The network"]
    intro = README.split("\n## ", 1)[0]
    assert intro.startswith("# edsr-lite\n\n") and intro.strip().count("\n\n") == 1  # a paragraph
    notebooks = README.split("\n## The notebooks\n", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"^\d\. \[`(\d\d_\w+\.ipynb)`\]\(notebooks/\1\): .+$", notebooks, re.M)
    assert linked == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    pictures = re.findall(r"!\[[^\]]+\]\((docs/\w+\.png)\)", README)
    assert pictures and all((ROOT / p).is_file() for p in pictures)
    assert README.index(pictures[0]) < README.index("\n## Results\n")


def test_the_full_results_table_lives_in_data_results_md():
    results = README.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    assert "(data/RESULTS.md)" in results
    assert "| Set | Scale |" not in README  # the 11-column table is data/RESULTS.md's
    assert "| Set | Scale |" in (ROOT / "data" / "RESULTS.md").read_text()


def test_readme_links_point_to_files_that_exist():
    for target in re.findall(r"\]\(((?!https?:|#)[^)#\s]+)\)", README):
        assert (ROOT / target).exists(), target
