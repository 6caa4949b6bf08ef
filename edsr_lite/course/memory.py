"""Memory, measured: PyTorch's allocations by role, and what the operating system counts.

* :func:`profile_memory` runs a function under PyTorch's memory profiler and returns its
  allocations over time, by category (:data:`MEMORY_CATEGORIES`: parameter, activation,
  gradient, optimizer state, ...): notebook 01's training-step memory.
* :func:`peak_rss_mb` and :func:`reset_peak_rss`: the process's peak resident memory, restarted
  where the OS allows it.
* :func:`measure_upscale_memory`: one upscale (whole or tiled) in a fresh Python process, its
  time, PyTorch's peak allocation and the growth of the process's peak memory, beside the
  estimate the tiling uses: notebook 05's tiled inference and ``benchmarks/bench_infer.py``.

Sizes in MiB (2**20 bytes) where a name says ``_mb``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from edsr_lite.core.forward import receptive_radius, tile_grid
from edsr_lite.infer import Upscaler
from edsr_lite.memory_budget import MiB, choose_tile

# --------------------------------------------------------------------------------------------
# PyTorch's allocations
# --------------------------------------------------------------------------------------------


#: The memory profiler's categories, in the column order of its timeline.
MEMORY_CATEGORIES = (
    "parameter",
    "optimizer state",
    "input",
    "temporary",
    "activation",
    "gradient",
    "autograd detail",
    "other",
)


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: the profiler's C++ code prints progress there,
    which a notebook would show below the cell."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def profile_memory(step: Callable[[], object]) -> tuple[np.ndarray, np.ndarray]:
    """Run ``step()`` under PyTorch's memory profiler: ``(times_ms, bytes_by_category)``.

    The profiler records every allocation and free on the CPU and works out each tensor's role
    from the autograd graph (``torch.profiler.profile(profile_memory=True, ...)`` and its
    memory timeline). Rows: one per time with a change; columns: :data:`MEMORY_CATEGORIES`.
    """
    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export_memory_timeline is marked deprecated
        path = os.path.join(tmp, "timeline.json")
        with _native_stderr_silenced():
            with profile(
                activities=[ProfilerActivity.CPU],
                profile_memory=True,
                record_shapes=True,
                with_stack=True,
            ) as prof:
                step()
            prof.export_memory_timeline(path, device="cpu")
        with open(path) as f:
            times_us, sizes = json.load(f)
    sizes = np.asarray(sizes, dtype=np.int64)[:, 1:]  # column 0 is unused by torch
    if sizes.shape[1] != len(MEMORY_CATEGORIES):
        raise RuntimeError(f"unexpected memory timeline with {sizes.shape[1]} categories")
    times = (np.asarray(times_us, dtype=np.float64) - times_us[0]) / 1000
    return times, sizes


# --------------------------------------------------------------------------------------------
# The process's peak memory
# --------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """The process's peak resident memory, MiB: Linux's ``VmHWM`` (which
    :func:`reset_peak_rss` restarts), elsewhere ``ru_maxrss``.

    Not ``ru_maxrss`` on Linux: a child process starts with its parent's peak there (it is
    carried across fork and exec), so a fresh process started from a big Jupyter kernel would
    report the kernel's peak as its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MiB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def reset_peak_rss() -> bool:
    """Restart the peak of :func:`peak_rss_mb` at the memory in use now (Linux: ``5`` into
    ``/proc/self/clear_refs``), so that set-up and warm-up do not count. False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _current_rss_mb() -> float | None:
    """The process's resident memory now, MiB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Tiled inference in a fresh process
# --------------------------------------------------------------------------------------------


@dataclass
class UpscaleMemory:
    """One upscale run in a fresh process: its settings, tiles, time and peak memory (MiB).

    ``allocated_mb``: the most memory PyTorch had allocated at once during the upscale, over
    what it held before (the memory profiler, exact; None when measured with ``profile=False``).
    ``peak_rss_mb``: how much the process's peak resident memory grew (:func:`peak_rss_mb`, what
    the operating system counts: it adds the memory allocator's own keeping and oneDNN's scratch
    space, and varies from run to run).
    ``estimate_mb``: the tile budget's estimate (:func:`edsr_lite.memory_budget.bytes_per_lr_pixel`
    x the largest tile's pixels). ``seconds``: wall time of the (unprofiled) upscale.
    """

    label: str
    tile: int  # core tile side in LR pixels; 0: the whole image at once
    n_tiles: int
    seconds: float
    allocated_mb: float | None
    peak_rss_mb: float
    estimate_mb: float
    output: np.ndarray = field(repr=False)


def measure_upscale_memory(
    model: nn.Module,
    image: np.ndarray,
    tile: int | None = 0,
    max_memory_mb: float = 2048,
    label: str = "",
    profile: bool = True,
) -> UpscaleMemory:
    """Upscale ``image`` with ``model`` in a fresh Python process and measure its memory.

    ``tile=0``: one forward pass over the whole image; ``tile=None``: the automatic tile size
    for ``max_memory_mb`` (what :func:`edsr_lite.upscale` does); an integer: that core size.
    The overlap is the model's receptive radius, so every setting gives the same pixels. A
    fresh process is needed because a process's peak memory only ever goes up. ``profile``:
    also run the upscale a second time under PyTorch's memory profiler (``allocated_mb``; about
    doubles the time on a large image); the time and the peak RSS come from the first run.
    """
    from edsr_lite.checkpoints import save_checkpoint
    from edsr_lite.memory_budget import bytes_per_lr_pixel

    scale = model.scales[0]
    overlap = receptive_radius(model, scale)
    h, w = image.shape[:2]
    if tile is None:
        tile = choose_tile(model, scale, (1, h, w), max_memory_mb, overlap=overlap)
    grid = tile_grid(h, w, tile, overlap) if tile and tile < max(h, w) else []
    biggest = max(((r.stop - r.start) * (c.stop - c.start) for r, c, *_ in grid), default=h * w)
    estimate = bytes_per_lr_pixel(model, scale) * biggest / MiB
    with tempfile.TemporaryDirectory(prefix="edsr-lite-mem-") as tmp:
        ckpt, inp, out = Path(tmp, "m.pt"), Path(tmp, "in.npy"), Path(tmp, "out.npy")
        save_checkpoint(ckpt, model)
        np.save(inp, image)
        args = json.dumps([str(ckpt), str(inp), str(out), int(tile), int(scale), profile])
        code = "from edsr_lite.course.memory import upscale_worker; upscale_worker()"
        result = subprocess.run(
            [sys.executable, "-c", code, args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"the upscale process failed:\n{result.stderr[-2000:]}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        output = np.load(out)
    label = label or ("whole image" if not grid else f"tiles of {tile} px")
    return UpscaleMemory(
        label,
        int(tile),
        max(1, len(grid)),
        report["seconds"],
        report["allocated_mb"],
        report["peak_rss_mb"],
        estimate,
        output,
    )


def upscale_worker() -> None:
    """Body of the measuring process of :func:`measure_upscale_memory` (argv[1]: JSON args)."""
    from edsr_lite.weights import load_model

    ckpt, inp, out, tile, scale, profile = json.loads(sys.argv[1])
    model = load_model(ckpt)
    image = np.load(inp)
    upscaler = Upscaler(model, tile=tile)
    upscaler(image[:32, :32], scale)  # warm up: oneDNN sets itself up on the first call
    reset_peak_rss()
    before_peak = peak_rss_mb()
    before = _current_rss_mb() or before_peak
    start = time.perf_counter()
    sr = upscaler(image, scale)
    seconds = time.perf_counter() - start
    # The growth of the peak over the memory in use before. (Where the peak cannot be reset
    # and an earlier one was higher, this over-counts by at most before_peak - before: that
    # is reported as slack_mb.)
    peak = max(peak_rss_mb(), before_peak) - before
    np.save(out, sr)
    del sr
    allocated_mb = None
    if profile:
        # The same upscale again under the memory profiler (which needs much memory of its
        # own, so it runs after the RSS measurement): PyTorch's own allocations, exactly.
        _, allocated = profile_memory(lambda: upscaler(image, scale))
        total = allocated.sum(axis=1)
        allocated_mb = float(total.max() - total[0]) / MiB
    report = {
        "seconds": seconds,
        "allocated_mb": allocated_mb,
        "peak_rss_mb": peak,
        "slack_mb": before_peak - before,
    }
    print(json.dumps(report))


def upscale_memory_table(runs: Sequence[UpscaleMemory]) -> str:
    """Markdown table of :class:`UpscaleMemory` runs; pixels compared with the first run."""
    ref = runs[0].output
    lines = [
        "| run | core tile (LR px) | tiles | seconds | allocated by PyTorch (MiB) "
        "| estimate (MiB) | process peak RSS (MiB) | output values that differ from the first |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        differ = int((r.output != ref).sum()) if r.output.shape == ref.shape else -1
        lines.append(
            f"| {r.label} | {r.tile or '-'} | {r.n_tiles} | {r.seconds:.1f} "
            f"| {'-' if r.allocated_mb is None else f'{r.allocated_mb:.0f}'} "
            f"| {r.estimate_mb:.0f} | {r.peak_rss_mb:.0f} | {differ} |"
        )
    return "\n".join(lines)
