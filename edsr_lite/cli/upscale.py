"""``edsr-lite upscale``: upscale image files (or folders of them) with a model, writing PNGs.

:func:`add_upscale_arguments` declares the flags (each checked as it is parsed),
:func:`run_upscale_command` runs them in three steps, after the inference flags are made into
one :class:`~edsr_lite.infer.InferenceOptions` (:func:`inference_options`), checked and resolved
before anything is loaded:

1. the model (a shipped name, a checkpoint file, ``bicubic``, or by default the best shipped
   one for the scale: :func:`edsr_lite.cli.common.load_cli_model`) is loaded, which fixes the
   scale;
2. the plan (:func:`plan_outputs`): every input file, and every image of an input folder, gets
   its output ``<name>_x<scale>.png`` (:func:`output_path`); the plan is refused, before any
   computing, if two inputs would share an output or an output would replace an input, and a
   destination that cannot be written (a read-only folder, ``-o`` naming a folder) stops the
   command there; an output that exists already is skipped unless ``--overwrite``;
3. each input in turn: read, upscaled (gray stays gray, alpha kept:
   :func:`edsr_lite.infer.upscale_channels`) and written atomically; without ``--overwrite`` a
   file that appears meanwhile (another process) is never replaced. An unreadable input is
   reported and skipped; the exit status is 1 if any input was not written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from edsr_lite import backends
from edsr_lite.cli.common import load_cli_model, scale_arg
from edsr_lite.core.degradation import imresize
from edsr_lite.datasets import list_images
from edsr_lite.files import nearest_existing
from edsr_lite.images import (
    IMAGE_EXTENSIONS,
    max_pixels,
    output_format,
    read_image_with_alpha,
    write_image,
)
from edsr_lite.infer import (
    InferenceOptions,
    Upscaler,
    openvino_cache_dir,
    resolve_scale,
    upscale_channels,
)
from edsr_lite.memory_budget import (
    DEFAULT_MAX_MEMORY_MB,
    RUNTIME_MARGIN_MB,
    bicubic_memory_mb,
    check_budget,
    choose_tile,
    fixed_memory_mb,
)
from edsr_lite.precision import PRECISIONS
from edsr_lite.progress import progress_bar

# --------------------------------------------------------------------------- the flags


def _tile_arg(text: str) -> int:
    """``--tile``: a whole number of LR pixels, 1 or more, or 0 for no tiling."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a tile size in input pixels, 1 or more (or 0: the whole image at "
            f"once), got {text!r}"
        )
    return value


def _memory_arg(text: str) -> float:
    """``--max-memory-mb``: a finite number of megabytes above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a number of megabytes above 0 (e.g. {DEFAULT_MAX_MEMORY_MB}), got {text!r}"
        )
    return value


EPILOG = (
    "Outputs are PNG files, <name>_x<scale>.png next to each input (-o out.jpg writes a "
    "JPEG, quality 95); for a folder given as "
    "input, its images go to the folder <folder>_x<scale> beside it (or to --out-dir); "
    "--out-dir is created if missing. Two inputs that would share an output name (img.jpg "
    "and img.png) are refused before anything is computed; --keep-ext names the outputs "
    "img_jpg_x2.png, img_png_x2.png. Gray images stay gray: the model runs on three equal "
    "channels and the output is their mean. Transparency is kept: the alpha channel is "
    "upscaled with bicubic (the model never saw one) and the output is an RGBA (or gray + "
    "alpha) PNG."
)


def add_upscale_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``edsr-lite upscale``."""
    p.epilog = EPILOG
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files, or folders of images, to upscale"
    )
    p.add_argument(
        "-s",
        "--scale",
        type=scale_arg,
        default=None,
        help="upscaling factor (2, 3 or 4 for the shipped models; any for bicubic); "
        "default: the model's own",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", help="output file (only with a single input file)")
    out.add_argument(
        "--out-dir", help="folder for the outputs, created if missing (default: next to each input)"
    )
    p.add_argument(
        "--keep-ext",
        action="store_true",
        help="name outputs <name>_<ext>_x<scale>.png (img_jpg_x2.png), so that img.jpg and "
        "img.png do not clash",
    )
    p.add_argument(
        "--model",
        default=None,
        help="'bicubic', a shipped checkpoint name (see 'edsr-lite info'), or a "
        "checkpoint file; default: the best shipped model for the scale",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="self-ensemble x8 (the paper's '+'): a little sharper, 8x slower",
    )
    p.add_argument(
        "--tile",
        type=_tile_arg,
        default=None,
        help="tile size in input pixels, 1 or more (default: from --max-memory-mb; "
        "0: the whole image at once)",
    )
    p.add_argument(
        "--max-memory-mb",
        type=_memory_arg,
        default=DEFAULT_MAX_MEMORY_MB,
        help="memory budget in MiB that sets the tile size: what upscaling one image adds to "
        "the process at its peak (its input and output, a tile of the model's working memory "
        f"and {RUNTIME_MARGIN_MB} MB for PyTorch's scratch space), not the ~300 MB that "
        "Python, PyTorch and the model take before; an alpha channel is upscaled afterwards, "
        f"outside it (default {DEFAULT_MAX_MEMORY_MB})",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default: cpu")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="fp32 (default), or bf16: bfloat16 autocast, about 2x faster on a CPU with "
        "native bfloat16 (AVX512-BF16 or AMX; elsewhere it warns and runs fp32); about 1 "
        "output value in 5 moves by a level or more (at most 4), costing 0.010 dB of PSNR on "
        "Set5 and 0.004 dB on Set14 at x2 (0.003 and 0.001 dB at x4), measured by "
        "benchmarks/bench_runtimes.py",
    )
    p.add_argument(
        "--backend",
        default=os.environ.get("EDSR_LITE_BACKEND") or "auto",
        choices=backends.BACKENDS,
        help="what runs the network: auto (openvino when it is installed and --device is cpu, "
        "else torch), torch (PyTorch), or openvino (the network compiled by OpenVINO for the "
        "CPU: the same output image, 1.4 to 1.7x faster in fp32; pip install "
        "'edsr-lite[fast]'). A model is converted for OpenVINO once (a few seconds; auto "
        "converts only for half a megapixel of input or more, and runs torch meanwhile) and "
        "kept in the user cache (openvino/ in $EDSR_LITE_CACHE or ~/.cache/edsr-lite); later "
        "runs read it back in a fraction of a second. Default: $EDSR_LITE_BACKEND if set, "
        "else auto",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Job:
    """One input image and the file its upscaled version goes to."""

    source: Path
    target: Path


def output_path(
    input_path: Path,
    scale: int,
    output: str | None,
    out_dir: str | os.PathLike | None,
    keep_ext: bool = False,
) -> Path:
    """``<name>_x<scale>.png`` (``<name>_<ext>_x<scale>.png`` with ``keep_ext``) next to the
    input or in ``out_dir``; or ``output`` as given."""
    if output:
        return Path(output)
    folder = Path(out_dir) if out_dir else input_path.parent
    ext = input_path.suffix.lstrip(".")
    name = f"{input_path.stem}_{ext}" if keep_ext and ext else input_path.stem
    return folder / f"{name}_x{scale}.png"


def plan_outputs(
    inputs: list[str],
    scale: int,
    output: str | None = None,
    out_dir: str | None = None,
    keep_ext: bool = False,
) -> tuple[list[Job], list[str]]:
    """Every input file, and every image of an input folder, with its output path.

    Returns ``(jobs, folders)``: the jobs in order (a file given twice counts once) and, for
    each input folder, ``(folder, number of images, output folder)``. Raises ValueError
    (nothing computed yet) when two inputs would be written to one file, or an output would
    replace an input.
    """
    if output and (len(inputs) > 1 or Path(inputs[0]).is_dir()):
        raise ValueError(
            "-o/--output names the output of a single input file; for several inputs or a "
            "folder use --out-dir"
        )
    jobs, folders, seen = [], [], set()
    for name in inputs:
        path = Path(name).expanduser()
        if path.is_dir():
            files = list_images(path)
            named = path if path.name not in ("", ".", "..") else path.resolve()
            folder = out_dir or named.parent / f"{named.name}_x{scale}"
            folders.append((path, len(files), Path(folder)))
        else:
            files, folder = [path], out_dir
        for file in files:
            if _key(file) not in seen:
                seen.add(_key(file))
                jobs.append(Job(file, output_path(file, scale, output, folder, keep_ext)))
    _refuse_clashes(jobs, scale, out_dir, keep_ext)
    return jobs, folders


def _key(path: Path) -> str:
    """One spelling per file: absolute, symbolic links and ``..`` resolved."""
    return os.path.normcase(Path(path).expanduser().resolve())


def _refuse_clashes(jobs: list[Job], scale: int, out_dir: str | None, keep_ext: bool) -> None:
    """Two inputs to one output, or an output onto an input, lose an image: refuse them."""
    by_target = defaultdict(list)
    for job in jobs:
        by_target[_key(job.target)].append(job)
    for group in by_target.values():
        if len(group) > 1:
            names = ", ".join(str(job.source) for job in group)
            fix = "give them different --out-dir folders, or upscale them in separate runs"
            renamed = {output_path(j.source, scale, None, out_dir, True).name for j in group}
            if not keep_ext and len(renamed) == len(group):
                fix = f"add --keep-ext to name them {', '.join(sorted(renamed))}, or {fix}"
            raise ValueError(
                f"{names} would all be written to {group[0].target}, and all but one result "
                f"lost; nothing was upscaled. To keep each, {fix}."
            )
    sources = {_key(job.source) for job in jobs}
    for job in jobs:
        if _key(job.target) in sources:
            raise ValueError(
                f"the output of {job.source} would be {job.target}, which is an input; "
                "nothing was upscaled. Choose another output with -o or --out-dir."
            )


def check_destinations(jobs: list[Job], scale: int, output: str | None) -> None:
    """Before any computing: every output folder writable (or creatable), no folder in the way.

    Raises ValueError naming the folder, the ``-o`` path that is a folder, or an ``-o`` whose
    ending names a format that is not written (:func:`edsr_lite.images.output_format`: PNG for
    .png, JPEG for .jpg/.jpeg).
    """
    for job in jobs:
        if job.target.is_dir():
            if output:
                raise ValueError(
                    f"-o {output} is a folder; give the output file's name (e.g. "
                    f"{output_path(job.source, scale, None, output)}), or use --out-dir {output}"
                )
            raise ValueError(f"{job.target} is a folder, in the way of the output of {job.source}")
    if output:
        output_format(output)
    for folder in sorted({job.target.parent for job in jobs}):
        _check_writable_folder(folder)


def _check_writable_folder(folder: Path) -> None:
    """``folder`` exists and may be written to, or its nearest existing parent may (then the
    folder is created when the first output is written)."""
    existing = nearest_existing(folder)
    if not existing.is_dir():
        raise ValueError(f"cannot write into {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "" if existing == folder else f" (to create {folder} in it)"
        raise ValueError(
            f"cannot write into the folder {existing}{what}: permission denied; nothing was "
            "upscaled. Choose another folder with --out-dir (or -o), or change its permissions."
        )


# --------------------------------------------------------------------------- the command


def check_memory(
    jobs: list[Job], model: nn.Module | str, scale: int, options: InferenceOptions
) -> None:
    """Before any computing: every input's output, working copies and (for a network) smallest
    tile within ``--max-memory-mb`` (:mod:`edsr_lite.memory_budget`), read from the file
    headers. Raises ValueError naming the first input that does not fit; an unreadable input
    is left to be reported when it is read."""
    budget = options.max_memory_mb
    for job in jobs:
        size = _size(job.source)
        if size is None:
            continue
        shape = (1, size[1], size[0])
        if isinstance(model, str):
            check_budget(shape, scale, bicubic_memory_mb(shape, scale), budget, str(job.source))
            continue
        check_budget(shape, scale, fixed_memory_mb(shape, scale), budget, str(job.source))
        if options.tile is None:
            try:
                choose_tile(model, scale, shape, budget, options.ensemble, options.overlap)
            except ValueError as exc:
                raise ValueError(f"{job.source}: {exc}") from None


def _skip_existing(jobs: list[Job], overwrite: bool) -> list[Job]:
    """The jobs whose output may be written; the others are reported."""
    if overwrite:
        return jobs
    todo = []
    for job in jobs:
        if job.target.exists() or job.target.is_symlink():
            print(
                f"skipped {job.source}: {job.target} exists (use --overwrite to replace it)",
                file=sys.stderr,
            )
        else:
            todo.append(job)
    return todo


def _describe(sr, alpha) -> str:
    kind = "gray" if sr.ndim == 2 else "RGB"
    if alpha is not None:
        kind += " + alpha (bicubic)" if sr.ndim == 2 else "A (alpha: bicubic)"
    return f"{sr.shape[1]}x{sr.shape[0]} {kind}"


#: LR pixels (all the inputs of a run together) from which converting a model for OpenVINO
#: (once: later runs read it from the cache) pays for itself within the run. Measured on 2
#: cores (docs/speed.md): converting costs about 2 CPU s, OpenVINO saves about 11 CPU s per
#: megapixel at x2, so it pays from about 0.2 megapixel; half a megapixel leaves a margin.
CONVERT_FROM_PIXELS = 500_000


def inference_options(args: argparse.Namespace) -> InferenceOptions:
    """The flags' inference choices, checked and resolved by :class:`InferenceOptions` (before
    anything is loaded); bf16 where it would be slow is a warning (one line: ``cli.main`` shows
    every warning through ``plain_warnings``), and fp32."""
    return InferenceOptions(
        ensemble=args.ensemble,
        tile=args.tile,
        max_memory_mb=args.max_memory_mb,
        device=args.device,
        precision=args.precision,
        backend=args.backend,
        progress=not args.quiet,
    )


def _auto_backend(
    options: InferenceOptions, asked: str, model: nn.Module, scale: int, jobs: list[Job]
) -> InferenceOptions:
    """``--backend auto`` that chose OpenVINO keeps it when the model's converted network is in
    the cache, or when this run is big enough to pay for converting it
    (:data:`CONVERT_FROM_PIXELS`); else this run goes on torch, so that the first, small run of
    a model is not slower than torch. Both give the same image (PyTorch float32's)."""
    if asked != "auto" or options.backend != "openvino":
        return options
    if backends.is_cached(model, scale, openvino_cache_dir()):
        return options
    pixels = sum(_pixels(job.source) for job in jobs) * (8 if options.ensemble else 1)
    return options if pixels >= CONVERT_FROM_PIXELS else replace(options, backend="torch")


def _pixels(path: Path) -> int:
    """Width x height from the file's header (0 if unreadable: reading it reports why)."""
    size = _size(path)
    return 0 if size is None else size[0] * size[1]


def _size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None if unreadable (reading it says why)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():  # a big image: our reader's limit speaks for it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return img.width, img.height
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def run_upscale_command(args: argparse.Namespace) -> int:
    """``edsr-lite upscale``: plan and check every output, then each input in turn."""
    options = inference_options(args)  # the flags first: nothing is loaded for a bad choice
    max_pixels()  # and the environment: a bad $EDSR_LITE_MAX_PIXELS is named once, here
    model, scale = load_cli_model(args.model, args.scale)
    if isinstance(model, str):
        resolve_scale(model, scale)  # bicubic's stated limit on -s
    jobs, folders = plan_outputs(args.inputs, scale, args.output, args.out_dir, args.keep_ext)
    check_destinations(jobs, scale, args.output)
    check_memory(jobs, model, scale, options)
    empty = [folder for folder, count, _ in folders if count == 0]
    for folder in empty:
        print(
            f"skipped {folder}: no image files in this folder ({', '.join(IMAGE_EXTENSIONS)})",
            file=sys.stderr,
        )
    for folder, count, out in folders:
        if count and not args.quiet:
            print(f"{folder}: {count} image{'s' if count > 1 else ''}, upscaled into {out}")
    total = len(jobs) + len(empty)
    todo = _skip_existing(jobs, args.overwrite)
    failed = total - len(todo)
    if isinstance(model, str):
        fn = imresize
    else:
        fn = Upscaler(model, options=_auto_backend(options, args.backend, model, scale, todo))
    for job in progress_bar(todo, "images", enabled=not args.quiet and len(todo) > 1):
        try:
            lr, alpha = read_image_with_alpha(job.source)
            sr, sr_alpha = upscale_channels(fn, lr, scale, alpha)
            write_image(job.target, sr, sr_alpha, replace=args.overwrite)
        except FileExistsError:
            print(
                f"not written {job.source}: {job.target} appeared while it was being upscaled "
                "(another process?) and was left as it is",
                file=sys.stderr,
            )
            failed += 1
            continue
        except (ValueError, OSError) as exc:  # ImageReadError is a ValueError
            print(f"failed {job.source}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            print(f"{job.source} -> {job.target} ({_describe(sr, sr_alpha)})")
    if failed:
        print(f"{failed} of {total} inputs not written", file=sys.stderr)
    return 1 if failed else 0
