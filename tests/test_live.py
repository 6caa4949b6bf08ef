"""The lessons' live progress (edsr_lite.course.live): a training board and a progress line
that update one output in place while a cell runs, keep only the final state in the saved
notebook, and cost nothing outside a kernel."""

from __future__ import annotations

import nbformat
import pytest

from edsr_lite.course import live


def test_outside_a_kernel_nothing_is_drawn_and_every_item_comes_through(capsys):
    assert not live.in_notebook()
    assert list(live.progress(range(4), "evaluating", unit="images")) == [0, 1, 2, 3]
    board = live.TrainingBoard("runs", total_steps=3)
    record = board.callback("EDSR")
    for step in (1, 2, 3):
        record(step, {"loss": 10.0 / step, **({"psnr": 30.0} if step == 3 else {})}, None)
    board.close()
    assert board.runs["EDSR"].losses == [10.0, 5.0, 10.0 / 3]
    assert board.runs["EDSR"].psnr_steps == [3] and board.runs["EDSR"].psnrs == [30.0]
    assert capsys.readouterr().out == ""  # no stray output in scripts and tests


def test_the_figure_has_a_line_per_run_and_labelled_axes():
    board = live.TrainingBoard("two runs", total_steps=2)
    board.record("a", 1, loss=3.0, psnr=20.0)
    board.record("b", 1, loss=4.0)
    png = board.png()
    assert png.startswith(b"\x89PNG")
    assert "b: step 1/2 · loss 4" in board.status


@pytest.mark.slow
def test_in_a_kernel_one_output_each_is_updated_to_its_final_state(run_notebook):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import time\n"
            "from edsr_lite.course.live import TrainingBoard, progress\n"
            "board = TrainingBoard('demo', total_steps=30, every_s=0.0)\n"
            "for step in range(1, 31):\n"
            "    psnr = 20 + step if step % 10 == 0 else None\n"
            "    board.record('run', step, loss=1 / step, psnr=psnr)\n"
            "board.close()\n"
            "for _ in progress(range(5), 'evaluating Set5', unit='images', every_s=0.0):\n"
            "    time.sleep(0.01)\n"
        )
    ]
    run_notebook(nb, timeout=120)
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data", "display_data"]
    assert "image/png" in outputs[0].data  # the final figure, not 30 frames
    assert outputs[1].data["text/plain"].startswith("evaluating Set5: 5/5 images in ")
