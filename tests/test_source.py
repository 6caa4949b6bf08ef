"""The lessons' code excerpts (edsr_lite.course.source): the lines shown are the package's own,
numbered as in the file, and the caption's link reaches them."""

import inspect
import re
from pathlib import Path

import pytest

from edsr_lite.core import forward, models, recipe
from edsr_lite.core.init import init_from_state_dict
from edsr_lite.course.source import excerpt, show_code

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _file_lines(path: str, first: int, last: int) -> list[str]:
    return (ROOT / path).read_text(encoding="utf-8").splitlines()[first - 1 : last]


@pytest.mark.parametrize(
    "obj",
    [
        models.ResBlock,
        models.MDSR.forward,
        models.fold_res_scale,
        forward.self_ensemble,
        init_from_state_dict,
    ],
    ids=lambda obj: obj.__qualname__,
)
def test_a_whole_object_is_its_real_lines(obj):
    shown = excerpt(obj)
    source, first = inspect.getsourcelines(obj)
    assert (shown.first, shown.last) == (first, first + len(source) - 1)
    assert shown.path == Path(inspect.getsourcefile(obj)).resolve().relative_to(ROOT).as_posix()
    # The same lines as the file holds there, only dedented (a method starts at column 0).
    file_lines = _file_lines(shown.path, shown.first, shown.last)
    indent = min(len(line) - len(line.lstrip()) for line in file_lines if line.strip())
    assert shown.code.splitlines() == [line[indent:] for line in file_lines]


def test_markers_pick_the_lines_from_start_to_end():
    shown = excerpt(models.ResBlock, start="def __init__", end="return x + self.body")
    code = shown.code.splitlines()
    assert code[0].startswith("def __init__(") and code[-1].strip().startswith("return x + ")
    assert "if bn:" in shown.code and '"""' not in shown.code  # the docstring is above __init__
    assert [line.strip() for line in _file_lines(shown.path, shown.first, shown.last)] == [
        line.strip() for line in code
    ]


def test_lines_count_from_the_object_and_modules_from_line_one():
    source, first = inspect.getsourcelines(recipe.forward_backward)
    shown = excerpt(recipe.forward_backward, lines=(2, 3))
    assert (shown.first, shown.last) == (first + 1, first + 2)
    constants = excerpt(recipe, start="LEARNING_RATE =", end="MAX_STEPS =")
    assert constants.path == "edsr_lite/core/recipe.py"
    assert _file_lines(constants.path, constants.first, constants.first)[0].startswith(
        "LEARNING_RATE ="
    )
    assert constants.code.splitlines()[-1].startswith("MAX_STEPS =")


def test_a_stale_marker_or_range_is_an_error_not_wrong_lines():
    with pytest.raises(ValueError, match="update the lesson's marker"):
        excerpt(models.ResBlock, start="def no_such_line")
    with pytest.raises(ValueError, match="fall outside"):
        excerpt(models.ResBlock.forward, lines=(1, 99))
    with pytest.raises(ValueError, match="not both"):
        excerpt(models.ResBlock, start="def", lines=(1, 2))
    with pytest.raises(ValueError, match="not defined in edsr_lite"):
        excerpt(pytest.raises)


def test_the_caption_names_the_lines_and_links_to_them_from_the_notebooks():
    shown = excerpt(models.MDSR.forward)
    text = show_code(models.MDSR.forward, note="One branch per scale.").data
    link = re.search(r"\]\((?P<target>[^)]+)\)", text)["target"]
    path, anchor = link.split("#")
    assert (NOTEBOOKS / path).resolve() == (ROOT / "edsr_lite/core/models.py").resolve()
    assert anchor == f"L{shown.first}"
    assert f"lines {shown.first}-{shown.last}" in text and "One branch per scale." in text
    assert text.startswith("`MDSR.forward`: ")
    assert f"```python\n{shown.code}\n```" in text
