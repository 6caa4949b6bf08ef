"""Time the training engine against a bare PyTorch loop on the same model and batch.

Run from the repository root:

    python benchmarks/bench_train_step.py [--presets edsr_tiny mdsr_tiny edsr_baseline]
                                          [--steps 15] [--no-formats]

For each preset (x2, batch 16, 48 x 48 LR patches from T91):

* **bare**: the 10-line loop below, on a copy of the engine's model, with one fixed batch;
* **engine**: one step of :meth:`edsr_lite.train.Trainer.run`'s loop: new random patches,
  :meth:`Trainer.step` (zero_grad, forward/backward, the NaN guard, Adam, the schedule) and the
  CSV row (validation off; the progress bar is off, as in quiet mode);
* **data**: :meth:`Trainer.sample_batch` alone (cropping, flips, tensor conversion).

The two loops alternate step by step, so that load from other processes hits both alike;
medians of ``--steps`` steps are printed, and the ratio engine / bare (the engine should stay
within 1.10). Then, unless ``--no-formats``, the bare loop of each preset in the NCHW and
channels_last memory formats, in float32 and with bfloat16 autocast (also alternating).

Nothing is asserted: timings depend on the machine. MDSR runs with its x2 branch only, so
that both loops do the same work.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from edsr_lite.train import TrainConfig, Trainer, bf16_available  # noqa: E402
from edsr_lite.training_data import SkippedImagesWarning  # noqa: E402

warnings.simplefilter("ignore", SkippedImagesWarning)  # T91's t20.png is smaller than a patch


def adam(model) -> torch.optim.Adam:
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)


def bare_loop(model, opt, lr_batch, hr_batch, steps: int, bf16: bool = False) -> list[float]:
    """The reference: a plain PyTorch training loop. Returns the time of each step (s)."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            sr = model(lr_batch)
        loss = F.l1_loss(sr.float(), hr_batch)
        loss.backward()
        opt.step()
        loss.item()
        times.append(time.perf_counter() - start)
    return times


def engine_step(trainer: Trainer) -> float:
    """One step of the engine's loop (patches, step, NaN guard, CSV row); its time (s)."""
    start = time.perf_counter()
    trainer.files.append(trainer.step())
    return time.perf_counter() - start


def make_trainer(preset: str, out: Path, bf16: bool = False) -> Trainer:
    scale = [2] if preset.startswith("mdsr") else 2
    config = TrainConfig(
        preset=preset, scale=scale, data="T91", val_data=None, out=str(out), bf16=bf16, max_steps=0
    )
    return Trainer(config, quiet=True)


def median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times)


def compare(preset: str, steps: int, tmp: Path, bf16: bool = False) -> None:
    """Engine vs bare loop (and data time) for one preset; prints one line."""
    trainer = make_trainer(preset, tmp / f"{preset}{'_bf16' if bf16 else ''}", bf16)
    _, lr_batch, hr_batch = trainer.sample_batch(step=1)
    model = copy.deepcopy(trainer.model)
    opt = adam(model)
    bare_loop(model, opt, lr_batch, hr_batch, 2, bf16)  # warm-up: kernels and allocator
    trainer.run()  # writes the log header; max_steps=0: no step yet
    engine_step(trainer)
    bare, engine = [], []
    for _ in range(steps):  # alternate, so that load from other processes hits both alike
        bare += bare_loop(model, opt, lr_batch, hr_batch, 1, bf16)
        engine.append(engine_step(trainer))
    data = [_time(lambda k=k: trainer.sample_batch(k)) for k in range(1, 4 * steps)]
    b, e, d = median_ms(bare), median_ms(engine), median_ms(data)
    label = preset + (" bf16" if bf16 else "")
    print(
        f"{label:<20} bare {b:8.1f} ms  engine {e:8.1f} ms  ratio {e / b:5.3f}  "
        f"data {d:6.2f} ms ({100 * d / e:4.1f}% of a step)  {1000 / e:6.2f} it/s"
    )


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def formats(preset: str, steps: int, tmp: Path, with_bf16: bool = True) -> None:
    """The bare loop in NCHW / channels_last, float32 / bf16 autocast; one line each.

    The variants take turns step by step, so that load from other processes hits them alike.
    """
    trainer = make_trainer(preset, tmp / f"{preset}_formats")
    _, lr_batch, hr_batch = trainer.sample_batch(step=1)
    variants = {}
    for name, fmt, bf16 in (
        ("NCHW fp32", torch.contiguous_format, False),
        ("channels_last fp32", torch.channels_last, False),
        ("NCHW bf16", torch.contiguous_format, True),
        ("channels_last bf16", torch.channels_last, True),
    ):
        if bf16 and not with_bf16:
            continue
        model = copy.deepcopy(trainer.model).to(memory_format=fmt)
        x, y = lr_batch.contiguous(memory_format=fmt), hr_batch.contiguous(memory_format=fmt)
        variants[name] = (model, adam(model), x, y, bf16)
        bare_loop(*variants[name][:4], 2, bf16)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(steps):
        for name, (model, opt, x, y, bf16) in variants.items():
            times[name] += bare_loop(model, opt, x, y, 1, bf16)
    base = median_ms(times["NCHW fp32"])
    for name, t in times.items():
        ms = median_ms(t)
        print(f"  {preset:<14} {name:<19} {ms:8.1f} ms/step  x{base / ms:4.2f} vs NCHW fp32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["edsr_tiny", "mdsr_tiny", "edsr_baseline"])
    parser.add_argument("--steps", type=int, default=15, help="timed steps per loop and case")
    parser.add_argument("--no-formats", action="store_true", help="skip the format comparison")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; x2, batch 16, "
        "48 x 48 LR patches (96 x 96 HR); medians"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            compare(preset, args.steps, Path(tmp))
        fast_bf16 = bf16_available("cpu")
        if fast_bf16:
            compare(args.presets[-1], args.steps, Path(tmp), bf16=True)
        else:
            print(
                f"  no bfloat16 instructions on this CPU ({torch.backends.cpu.get_cpu_capability()}"
                "): the engine trains in float32 even with bf16=True, so it has no bf16 step to "
                f"time; the bare loop's bf16 is timed on {args.presets[0]} only (generic kernels)"
            )
        if not args.no_formats:
            print("memory format and precision (bare loop):")
            for i, preset in enumerate(args.presets):
                formats(preset, args.steps, Path(tmp), with_bf16=fast_bf16 or i == 0)


if __name__ == "__main__":
    main()
