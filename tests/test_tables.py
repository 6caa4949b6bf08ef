"""edsr_lite.course.tables: the markdown tables the notebooks show a reader."""

from __future__ import annotations

import numpy as np

from edsr_lite.course import tables


def test_values_read_as_a_reader_expects():
    row = {"count": 1369883, "ok": True, "no": np.bool_(False), "x": 0.12345, "n": None, "s": "x"}
    line = tables.rows_table([row], digits=3).splitlines()[-1]
    assert line == "| 1,369,883 | yes | no | 0.123 | - | x |"


def test_numpy_numbers_are_numbers():
    assert tables.cell(np.int64(12000)) == "12,000"
    assert tables.cell(np.float32(36.5), digits=1) == "36.5"
    assert tables.rows_table([]) == ""
