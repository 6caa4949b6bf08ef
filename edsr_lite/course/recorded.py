"""edsr_lite.course.recorded (split from edsr_lite.results; docstring to write)."""

from __future__ import annotations

import json
from pathlib import Path

from edsr_lite.locations import DATA_DIR

FORMAT = "edsr-lite-results"


class ResultsError(Exception):
    """A results file that is missing or not ours; run ``make results`` to write it."""


RESULTS_JSON = DATA_DIR / "RESULTS.json"


def row_value(data: dict, method: str, set_name: str, scale: int) -> list[float] | None:
    """``[psnr (dB), ssim]`` of ``method`` (``"bicubic"``, a checkpoint name, or one with ``+``
    for its self-ensemble) on ``set_name`` at ``scale`` in a results file's data, or None if
    it was not scored."""
    for row in data["rows"]:
        if (row["method"], row["set"], row["scale"]) == (method, set_name, scale):
            return [row["psnr"], row["ssim"]]
    return None


def load_results(json_path: Path) -> dict:
    if not json_path.is_file():
        raise ResultsError(f"{json_path} does not exist: run `make results` first")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ResultsError(f"{json_path} is not a results file of edsr-lite")
    return data
