"""Upscaling speed against the CPU runtimes, side by side, and the cost of reduced precision.

For ``edsr_baseline`` x2 and x4 and ``mdsr_baseline`` x4 (the shipped weights), on a
benchmark-sized LR input (512 x 384) and a photo-sized one (1000 x 750, skipped by ``--quick``),
each path upscales the same image and gets one row:

* bare torch ``model(x)``, NCHW and channels_last, float32;
* ``Upscaler`` as ``edsr-lite upscale`` runs it by default (``--backend auto``: OpenVINO when
  installed; tiled when the memory budget says so), and as the library runs it by default
  (``el.upscale``: the torch backend); the conversion is done before the timing starts;
* ONNX Runtime and OpenVINO at float32 (the file written by :func:`edsr_lite.export.export_onnx`);
* each reduced-precision path the CPU runs natively: torch bfloat16 autocast (bare, and
  ``--precision bf16`` through the CLI's and the library's default backends) where
  ``bf16_available()``; OpenVINO's bf16 / f16 precision hints where OpenVINO reports the
  capability.

Each row: the best of N times (after a warm-up call; every path takes the uint8 image and gives
the uint8 image, so rounding and layout changes are in each time), the ratio to bare torch
channels_last float32 measured in the same run, and the largest difference from torch float32
on the uint8 output. Then the PSNR cost (Y channel, the paper's protocol) of each reduced
precision path on Set5 (and Set14 without ``--quick``) at x2 and x4, and what a process pays
once per model for OpenVINO: converting the network, against reading the converted one back from
the disk cache. A runtime that is not installed is skipped with a line saying so. Read the
ratios: on a shared machine the milliseconds move from run to run.

    python benchmarks/bench_runtimes.py --quick    # a couple of minutes on 2 cores
    python benchmarks/bench_runtimes.py            # both input sizes, Set5 and Set14
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from edsr_lite import backends
from edsr_lite.backends import openvino_available, resolve_backend
from edsr_lite.core.metrics import psnr
from edsr_lite.datasets import benchmark
from edsr_lite.images import to_tensor
from edsr_lite.infer import Upscaler
from edsr_lite.precision import bf16_available
from edsr_lite.weights import load_model

Runner = Callable[[np.ndarray], np.ndarray]  # uint8 H x W x 3 -> uint8 sH x sW x 3

CASES = [("edsr_baseline_x2", 2), ("edsr_baseline_x4", 4), ("mdsr_baseline", 4)]
SIZES = {"benchmark": (512, 384), "photo": (1000, 750)}  # LR width x height
REFERENCE = "torch channels_last fp32"
AUTO = resolve_backend("auto", torch.device("cpu"))  # what `edsr-lite upscale` runs by default
CLI_FP32 = f"edsr-lite upscale (default: fp32, --backend auto = {AUTO})"
CLI_BF16 = f"edsr-lite upscale --precision bf16 (--backend auto = {AUTO})"
LIBRARY_FP32 = "el.upscale fp32 (library default: --backend torch)"
LIBRARY_BF16 = "el.upscale --precision bf16 --backend torch"


class Skipped(Exception):
    """A path this machine cannot run (a runtime not installed, no native bf16)."""


def _to_uint8(y) -> np.ndarray:
    """1 x 3 x sH x sW floats (tensor or array) -> uint8 sH x sW x 3, rounded and clamped."""
    y = y.numpy() if isinstance(y, torch.Tensor) else y
    return np.clip(np.rint(y[0].transpose(1, 2, 0)), 0, 255).astype(np.uint8)


def torch_path(model, scale: int, channels_last: bool, bf16: bool = False) -> Runner:
    if bf16 and not bf16_available():
        raise Skipped("no native bfloat16 on this CPU (bf16_available() is False)")
    layout = torch.channels_last if channels_last else torch.contiguous_format
    net = copy.deepcopy(model).to(memory_format=layout).eval()

    def run(lr: np.ndarray) -> np.ndarray:
        x = to_tensor(lr, channels_last=channels_last)
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return _to_uint8(net(x, scale).float())

    return run


def upscaler_path(model, scale: int, precision: str = "fp32", backend: str = "torch") -> Runner:
    if precision == "bf16" and not bf16_available():
        raise Skipped("no native bfloat16 on this CPU (edsr-lite upscale would warn, run fp32)")
    if backend == "openvino" and not openvino_available():
        raise Skipped("OpenVINO is not installed (pip install 'edsr-lite[fast]')")
    # as `edsr-lite upscale --precision ... --backend ...`
    upscaler = Upscaler(copy.deepcopy(model), precision=precision, backend=backend)
    return lambda lr: upscaler(lr, scale)


def onnx_file(model, scale: int, folder: Path) -> Path:
    """The model exported (and checked) once per case."""
    from edsr_lite.export import export_onnx

    path = folder / f"{model.config.get('preset', 'model')}_x{scale}.onnx"
    if not path.exists():
        try:
            export_onnx(model, path, scale)
        except ModuleNotFoundError as exc:
            raise Skipped(str(exc)) from None
    return path


def ort_path(onnx: Path) -> Runner:
    try:
        import onnxruntime as ort
    except ModuleNotFoundError:
        raise Skipped("onnxruntime is not installed (pip install onnxruntime)") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
    return lambda lr: _to_uint8(session.run(None, {"lr": _nchw(lr)})[0])


def openvino_path(onnx: Path, precision: str) -> Runner:
    try:
        import openvino as ov
    except ModuleNotFoundError:
        raise Skipped("OpenVINO is not installed (pip install openvino)") from None
    core = ov.Core()
    capability = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}[precision]
    if capability not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        raise Skipped(f"OpenVINO reports no native {precision} on this CPU")
    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "PERFORMANCE_HINT": "LATENCY",
    }
    compiled = core.compile_model(core.read_model(str(onnx)), "CPU", config)
    return lambda lr: _to_uint8(compiled([_nchw(lr)])[compiled.output(0)])


def _nchw(lr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(lr.transpose(2, 0, 1)[None], dtype=np.float32)


def paths(model, scale: int, folder: Path) -> dict[str, Callable[[], Runner]]:
    """Every row's builder, fp32 first; a builder raises :class:`Skipped` if it cannot run."""
    return {
        "torch NCHW fp32": lambda: torch_path(model, scale, channels_last=False),
        REFERENCE: lambda: torch_path(model, scale, channels_last=True),
        CLI_FP32: lambda: upscaler_path(model, scale, "fp32", "auto"),
        LIBRARY_FP32: lambda: upscaler_path(model, scale),
        "ONNX Runtime fp32": lambda: ort_path(onnx_file(model, scale, folder)),
        "OpenVINO fp32": lambda: openvino_path(onnx_file(model, scale, folder), "f32"),
        **reduced_paths(model, scale, folder),
    }


def reduced_paths(model, scale: int, folder: Path) -> dict[str, Callable[[], Runner]]:
    return {
        "torch channels_last bf16 autocast": lambda: torch_path(model, scale, True, bf16=True),
        CLI_BF16: lambda: upscaler_path(model, scale, "bf16", "auto"),
        LIBRARY_BF16: lambda: upscaler_path(model, scale, "bf16"),
        "OpenVINO bf16 hint": lambda: openvino_path(onnx_file(model, scale, folder), "bf16"),
        "OpenVINO f16 hint": lambda: openvino_path(onnx_file(model, scale, folder), "f16"),
    }


def best_time(fn: Runner, lr: np.ndarray, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn``, in seconds (after the warm-up call the caller
    made)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(lr)
        times.append(time.perf_counter() - start)
    return min(times)


def speed_table(name: str, scale: int, size: tuple[int, int], repeats: int, folder: Path) -> None:
    model = load_model(name)
    lr = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    rows, skipped = [], []
    # One path at a time, freed before the next: ONNX Runtime and OpenVINO keep their working
    # memory between calls, and a 1000 x 750 x4 upscale needs gigabytes of it per path.
    for label, build in paths(model, scale, folder).items():
        try:
            fn = build()
        except Skipped as why:
            skipped.append(f"skipped {label}: {why}")
            continue
        output = fn(lr)  # the warm-up call
        rows.append((label, best_time(fn, lr, repeats), output))
        del fn
        gc.collect()
    outputs = {label: out for label, _, out in rows}
    seconds = {label: t for label, t, _ in rows}
    reference = outputs[REFERENCE]
    ref_time = seconds[REFERENCE]
    print(f"\n### {name} x{scale}, {size[0]}x{size[1]} LR, best of {repeats}\n")
    print("| path | time | ratio | max abs diff (uint8) |\n|---|---:|---:|---:|")
    for label, t, out in sorted(rows, key=lambda r: r[1]):
        diff = int(np.abs(out.astype(np.int16) - reference).max())
        print(f"| {label} | {t * 1000:.0f} ms | {t / ref_time:.2f} | {diff} |")
    for line in skipped:
        print(line)
    _goals(rows)


def _goals(rows: list) -> None:
    """The issue's goals: our default within 1.05x of the fastest fp32 row, the fast mode
    within 1.05x of the fastest reduced-precision row."""
    times = {label: seconds for label, seconds, _ in rows}
    fp32 = min(t for label, t in times.items() if "fp32" in label)
    reduced = [t for label, t in times.items() if "fp32" not in label]
    print()
    if CLI_FP32 in times:
        print(f"edsr-lite upscale / fastest fp32 path: {times[CLI_FP32] / fp32:.2f} (goal: 1.05)")
    if reduced and CLI_BF16 in times:
        ratio = times[CLI_BF16] / min(reduced)
        print(f"edsr-lite upscale --precision bf16 / fastest reduced: {ratio:.2f} (goal: 1.05)")


def psnr_costs(sets: list[str], folder: Path) -> None:
    """Mean Y PSNR of each reduced-precision path minus torch fp32's, per set and scale."""
    print("\n### PSNR cost of reduced precision (Y channel, mean over the set, dB)\n")
    print("| path | set | scale | fp32 | reduced | cost |\n|---|---|---:|---:|---:|---:|")
    for name, scale in CASES[:2]:
        model = load_model(name)
        reference = upscaler_path(model, scale)
        for label, build in reduced_paths(model, scale, folder).items():
            try:
                fn = build()
            except Skipped as why:
                print(f"| {label} | skipped: {why} | | | | |")
                continue
            for set_name in sets:
                scores = [
                    (psnr(reference(lr), hr, scale), psnr(fn(lr), hr, scale))
                    for _, hr, lr in benchmark(set_name, scale)
                ]
                a, b = np.mean(scores, axis=0)
                print(f"| {label} | {set_name} | x{scale} | {a:.4f} | {b:.4f} | {a - b:+.4f} |")


def conversion_costs() -> None:
    """Seconds a process pays once per model for OpenVINO: converting, or reading the cache."""
    if not openvino_available():
        print("\nskipped the OpenVINO conversion costs: OpenVINO is not installed")
        return
    import openvino as ov

    print("\n### Once per process and model: OpenVINO conversion against the disk cache\n")
    print("| model | convert and save | read cached and compile | ratio |\n|---|---:|---:|---:|")
    for name, scale in CASES:
        model = load_model(name)
        with tempfile.TemporaryDirectory(prefix="bench_ov_cache_") as folder:
            seconds = []
            for _ in range(2):  # a cold cache, then a warm one
                start = time.perf_counter()
                backends._compile(model, scale, "f32", torch.get_num_threads(), Path(folder))
                seconds.append(time.perf_counter() - start)
        cold, warm = seconds
        print(f"| {name} x{scale} | {cold:.2f} s | {warm:.2f} s | {warm / cold:.2f} |")
    print(f"(openvino {ov.get_version()})")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    flags = ""
    if Path("/proc/cpuinfo").exists():
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), cpu
        )
        flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in info)
    versions = [time.strftime("%Y-%m-%d"), f"torch {torch.__version__}"]
    for module in ("onnxruntime", "openvino"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ModuleNotFoundError:
            versions.append(f"{module}: not installed")
    return (
        f"{cpu} ({flags}), {os.cpu_count()} cores, {torch.get_num_threads()} threads; "
        f"bf16_available() = {bf16_available()}; {', '.join(versions)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one input size, Set5 only")
    parser.add_argument("--repeats", type=int, default=None, help="best of N (default 3, 2)")
    parser.add_argument("--threads", type=int, default=None, help="default: torch's")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (2 if args.quick else 3)
    sizes = ["benchmark"] if args.quick else list(SIZES)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench_runtimes_") as tmp:
        for size in sizes:
            for name, scale in CASES:
                speed_table(name, scale, SIZES[size], repeats, Path(tmp))
        psnr_costs(["Set5"] if args.quick else ["Set5", "Set14"], Path(tmp))
    conversion_costs()


if __name__ == "__main__":
    main()
