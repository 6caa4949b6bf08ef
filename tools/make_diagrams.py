"""Draw the networks into docs/ (README's "The network"): blocks.png, edsr.png, mdsr.png.

    python tools/make_diagrams.py            # writes docs/blocks.png, docs/edsr.png, docs/mdsr.png

The figures are read off the model objects (:mod:`edsr_lite.course.diagrams`), so rerun this
after changing :mod:`edsr_lite.core.models`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edsr_lite.course.diagrams import draw_blocks, draw_edsr, draw_mdsr
from edsr_lite.files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
#: No timestamp in the file: the same code draws the same bytes.
PNG = {"format": "png", "dpi": 100, "metadata": {"Software": None}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="the folder to write")
    args = parser.parse_args(argv)
    for name, draw in (("blocks", draw_blocks), ("edsr", draw_edsr), ("mdsr", draw_mdsr)):
        fig = draw()
        atomic_write(args.out / f"{name}.png", lambda f, fig=fig: fig.savefig(f, **PNG))
        print(f"wrote {args.out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
