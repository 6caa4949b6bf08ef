"""Evaluate the shipped checkpoints and write the results table (``make results``).

    python tools/make_results.py             # evaluate, write data/RESULTS.json, RESULTS.md, README
    python tools/make_results.py --check     # exit 1 if RESULTS.md or the README block are stale
    python tools/make_results.py --render    # re-render both from data/RESULTS.json
    python tools/make_results.py --sets Set5 --scales 2 --no-ensemble   # a quick partial table

The work is done by :mod:`edsr_lite.results` (see its docstring), with the same evaluation
function as ``edsr-lite eval``. One to two hours on 2 CPU cores: run it once after training.
"""

import sys

from edsr_lite.results import main

if __name__ == "__main__":
    sys.exit(main())
