"""Scores recorded in ``data/RESULTS.json``, for the notebooks that show them without scoring.

Scoring the shipped models on Set14 and B100 takes minutes per model on 2 CPU cores, too long
for a notebook cell; ``make results`` (``tools/make_results.py``) scored them once, on the
shipped files, and saved the numbers. This module reads them back, e.g. notebook 03's MDSR vs
EDSR table on Set14 and B100 (:func:`edsr_lite.course.multiscale.recorded_scores`).

A results file is JSON with ``"format": "edsr-lite-results"`` (:data:`FORMAT`) and ``"rows"``:
one dict per evaluation, ``{"method", "set", "scale", "psnr", "ssim", ...}``, where ``method``
is ``"bicubic"`` or a checkpoint's name, with ``+`` appended under the x8 self-ensemble; PSNR
is in dB and SSIM in [0, 1], both on the Y channel with ``scale`` pixels shaved from each
border (protocol ``model``, what ``edsr-lite eval`` prints). The tool writes more (the
checkpoints' sha256, the published references); the course reads only the rows.

:data:`RESULTS_JSON` is ``RESULTS.json`` in :data:`edsr_lite.locations.DATA_DIR`: the clone's
``data/``, or the copy an installed package carries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edsr_lite.locations import DATA_DIR

#: The ``"format"`` a results file declares.
FORMAT = "edsr-lite-results"
#: The recorded results the project ships.
RESULTS_JSON = DATA_DIR / "RESULTS.json"


class ResultsError(Exception):
    """A results file that is missing or not ours, or anything else the person running
    ``make results`` can fix; the tool prints it without a traceback."""


def load_results(json_path: str | os.PathLike | None = None) -> dict:
    """The data of a results file (default :data:`RESULTS_JSON`).

    Raises:
        ResultsError: the file does not exist (run ``make results``) or is not a results file.
    """
    json_path = Path(json_path) if json_path is not None else RESULTS_JSON
    if not json_path.is_file():
        raise ResultsError(f"{json_path} does not exist: run `make results` first")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ResultsError(f"{json_path} is not a results file of edsr-lite")
    return data


def row_value(data: dict, method: str, set_name: str, scale: int) -> list[float] | None:
    """``[psnr (dB), ssim]`` of ``method`` (``"bicubic"``, a checkpoint name, or one with ``+``
    for its self-ensemble) on ``set_name`` at ``scale`` in a results file's data, or None if
    it was not scored."""
    for row in data["rows"]:
        if (row["method"], row["set"], row["scale"]) == (method, set_name, scale):
            return [row["psnr"], row["ssim"]]
    return None
