"""Optional inference backends: the network's forward run by OpenVINO instead of PyTorch.

A *backend* only replaces the forward call of one tile, ``fn(x) -> y`` with ``x`` N x 3 x h x w
float32 in 0..255 and ``y`` N x 3 x sh x sw float32 (not rounded or clamped);
:class:`edsr_lite.infer.Upscaler` keeps the tiling, the self-ensemble and the rounding.

* ``"torch"``: the network itself (``model(x, scale)``), on any device.
* ``"openvino"``: the network traced and converted by ``openvino.convert_model`` with dynamic
  height and width, compiled for the CPU with the precision hint ``f32`` or ``bf16``. Same
  uint8 output as torch float32 on Set5 x2 and x4 (measured: no value differs), and faster
  (``python benchmarks/bench_runtimes.py`` prints the ratios; docs/speed.md keeps them).
* ``"auto"``: OpenVINO when it is installed and the device is the CPU, else torch.

Converting takes seconds, so the converted network is kept twice: in memory per model object,
and on disk (OpenVINO's IR, ``<key>.xml`` + ``<key>.bin`` in ``cache_dir``) under a key made of
the weights' bytes, the architecture, the scale and the OpenVINO version (:func:`cache_key`).
The next process reads and compiles that file, a fraction of a second. The precision hint is
not in the key: it is applied when compiling, so one file serves fp32 and bf16.

The disk cache is verified before use: when a pair is written, the sha256 of its ``.xml`` and
``.bin`` go into ``<key>.json`` (written last, atomically), and a pair is read only if both
files still have those hashes. A damaged, truncated or replaced file (or a missing or garbled
record) is never handed to OpenVINO: the network is converted again, quietly, and rewritten.
A wrong image from a damaged cache is impossible. Writes take an inter-process lock per key
(``<key>.lock``, :mod:`filelock`): a second process converting the same network waits, then
reads the pair the first one wrote. A cache that cannot be written costs only the conversion
at each run, and says so in one warning.

OpenVINO is an optional dependency: ``pip install openvino`` or ``pip install 'edsr-lite[fast]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import tempfile
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from torch import nn

from edsr_lite.files import atomic_write, atomic_write_text, sha256_file

__all__ = [
    "BACKENDS",
    "INSTALL_HINT",
    "cache_key",
    "is_cached",
    "openvino_available",
    "openvino_forward",
    "resolve_backend",
]

#: The backends an :class:`edsr_lite.infer.Upscaler` runs a tile with.
BACKENDS = ("auto", "torch", "openvino")

INSTALL_HINT = "pip install openvino (or pip install 'edsr-lite[fast]')"

#: OpenVINO's name of each of :data:`edsr_lite.precision.PRECISIONS`.
OPENVINO_PRECISION = {"fp32": "f32", "bf16": "bf16"}

Forward = Callable[[torch.Tensor], torch.Tensor]

#: Compiled networks, per model (held weakly: a model that is freed drops its entries), keyed by
#: (scale, precision, threads); stored with the parameters' version counters at conversion, so
#: that weights changed in place since (a training step, load_state_dict) are converted again.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported (without importing it: it is slow)."""
    return importlib.util.find_spec("openvino") is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"torch"`` or ``"openvino"``: the backend to run ``backend`` with on ``device`` (what
    :class:`edsr_lite.infer.InferenceOptions` asks when it is built).

    ``"auto"`` is OpenVINO when installed and ``device`` is the CPU, else torch. Asking for
    ``"openvino"`` on a GPU, or without the package, is a clear ValueError.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "openvino" if device.type == "cpu" and openvino_available() else "torch"
    if backend == "openvino":
        if device.type != "cpu":
            raise ValueError(f"the openvino backend runs on the CPU, not {device.type}")
        if not openvino_available():
            # worded as the flag: `edsr-lite upscale` reports this error as it is
            raise ValueError(
                f"--backend openvino needs OpenVINO, which is not installed: {INSTALL_HINT}"
            )
    return backend


class OneScale(nn.Module):
    """``model(x, scale)`` with the scale fixed, so that a converted or exported graph has one
    input, the image (OpenVINO here, ONNX in :mod:`edsr_lite.export`)."""

    def __init__(self, model: nn.Module, scale: int):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.scale)


def openvino_forward(
    model: nn.Module, scale: int, precision: str = "fp32", cache_dir: str | Path | None = None
) -> Forward:
    """The network at ``scale`` compiled by OpenVINO for the CPU, as a tile's forward.

    Returns ``fn(x) -> y``: ``x`` N x 3 x h x w float32 in 0..255 (any h, w, any memory
    format), ``y`` N x 3 x sh x sw float32, as ``model(x, scale)`` computes it. ``precision``
    ``"fp32"`` or ``"bf16"`` sets OpenVINO's inference precision hint (the caller checks that
    the CPU runs bfloat16 natively). It runs on ``torch.get_num_threads()`` threads. Compiled
    once per model, scale, precision and thread count, then kept in memory; the converted
    network is read from ``cache_dir`` when it is there, else converted and written there
    (``None``: no disk cache).
    """
    threads = torch.get_num_threads()
    versions = tuple(p._version for p in model.parameters())
    cached_versions, compiled = _COMPILED.get(model, (None, {}))
    if cached_versions != versions:
        compiled = {}
        _COMPILED[model] = (versions, compiled)
    key = (scale, precision, threads)
    if key not in compiled:
        compiled[key] = _compile(model, scale, OPENVINO_PRECISION[precision], threads, cache_dir)
    network = compiled[key]

    def fn(x: torch.Tensor) -> torch.Tensor:
        y = network(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32))
        return torch.from_numpy(y[network.output(0)])

    return fn


def _compile(model: nn.Module, scale: int, hint: str, threads: int, cache_dir):
    """The converted network (from the disk cache, or converted now), compiled for the CPU."""
    import openvino as ov

    core = ov.Core()
    if cache_dir is None:
        converted = _convert(model, scale)
    else:
        converted = _cached_or_converted(core, model, scale, Path(cache_dir))
    config = {
        "INFERENCE_PRECISION_HINT": hint,
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
    }
    return core.compile_model(converted, "CPU", config)


def _convert(model: nn.Module, scale: int):
    """Trace ``model(x, scale)`` and convert it with dynamic N, H, W (an ``openvino.Model``).

    The trace is done here, without ``torch.jit.trace``'s check (which runs the network twice
    more and compares): that check took two thirds of ``convert_model``'s time.
    """
    import openvino as ov

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():  # tracing runs the network once: no autograd needed
            example = torch.full((1, 3, 16, 16), 128.0)
            traced = torch.jit.trace(OneScale(model, scale), example, check_trace=False)
            return ov.convert_model(traced, example_input=example, input=[-1, 3, -1, -1])
    finally:
        model.train(was_training)


def cache_key(model: nn.Module, scale: int) -> str:
    """32 hex digits naming ``model`` at ``scale`` converted by this OpenVINO version.

    A sha256 of the OpenVINO version, the scale, every module's type and plain settings
    (kernel sizes, ``res_scale``, ...: what the weights do not say) and every parameter and
    buffer (name, dtype, shape, bytes). About 10 ms for EDSR-baseline.
    """
    version = importlib.metadata.version("openvino")  # without importing it: 0.2 s saved
    digest = hashlib.sha256(f"edsr-lite openvino 1|{version}|x{scale}".encode())
    for name, module in model.named_modules():
        settings = sorted(
            (k, v)
            for k, v in vars(module).items()
            if not k.startswith("_")
            and k != "training"
            and isinstance(v, int | float | str | tuple | list)
        )
        digest.update(f"|{name}:{type(module).__name__}:{settings!r}".encode())
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"|{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:32]


def is_cached(model: nn.Module, scale: int, cache_dir: str | Path) -> bool:
    """Whether ``model`` at ``scale``, converted, is in ``cache_dir``: the ``.xml`` and ``.bin``
    with the hashes recorded when they were written (a damaged pair is not cached)."""
    return _is_verified(Path(cache_dir) / f"{cache_key(model, scale)}.xml")


def _record_path(xml: Path) -> Path:
    """``<key>.json``: the sha256 of ``<key>.xml`` and ``<key>.bin``, written after them."""
    return xml.with_suffix(".json")


def _is_verified(xml: Path) -> bool:
    """Whether the pair of ``xml`` has the hashes its record holds (a missing or garbled
    record, a missing file or a changed byte: False). Hashing the pair takes milliseconds."""
    try:
        record = json.loads(_record_path(xml).read_text(encoding="utf-8"))
        return isinstance(record, dict) and all(
            record.get(suffix) == sha256_file(xml.with_suffix(f".{suffix}"))
            for suffix in ("xml", "bin")
        )
    except (OSError, ValueError):  # ValueError: not UTF-8, not JSON
        return False


def _cached_or_converted(core, model: nn.Module, scale: int, folder: Path):
    """The network read from ``folder/<key>.xml`` (+ ``.bin``) when the pair is verified, else
    converted and saved there (under the key's lock; a second process waits, then reads it).

    A cache that cannot be written (read-only, a file in the way) only warns: the conversion
    is used all the same.
    """
    xml = folder / f"{cache_key(model, scale)}.xml"
    if (cached := _read_verified(core, xml)) is not None:
        return cached
    converted = None
    try:
        with _key_lock(xml):
            if (cached := _read_verified(core, xml)) is not None:  # written while we waited
                return cached
            converted = _convert(model, scale)
            _save(converted, xml)
    except OSError as exc:  # the lock or the files could not be written
        warnings.warn(_unwritable(folder, exc), stacklevel=3)
    return _convert(model, scale) if converted is None else converted


def _read_verified(core, xml: Path):
    """The network of a verified pair (an ``openvino.Model``), or None: no pair, a damaged one,
    or one OpenVINO cannot read. Nothing unverified is handed to OpenVINO (whose parser
    prints its own errors for a file that is not an IR)."""
    if not _is_verified(xml):
        return None
    try:
        return core.read_model(xml)
    except RuntimeError:  # verified yet unreadable (another OpenVINO wrote it): convert again
        return None


@contextlib.contextmanager
def _key_lock(xml: Path) -> Iterator[None]:
    """One writer per key at a time: ``<key>.lock`` beside the pair (creating the folder)."""
    xml.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(xml.with_suffix(".lock")):
        yield


def _unwritable(folder: Path, exc: OSError) -> str:
    """The warning for a cache that cannot be written, in one line that says what to do."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    why = f"{blocker} is a file" if blocker and not blocker.is_dir() else exc.strerror or exc
    return (
        f"could not cache the OpenVINO model in {folder} ({why}): it is converted again on "
        "each run (seconds). Make that folder writable, or set $EDSR_LITE_CACHE to a folder "
        "you can write."
    )


def _save(converted, xml: Path) -> None:
    """Write the IR pair atomically (:func:`edsr_lite.files.atomic_write`), then its record.

    The record (the pair's sha256) is written last: a pair without a record, or with a record
    that does not match, is never read (a save killed midway only costs a conversion). The
    caller holds the key's lock.
    """
    import openvino as ov

    with tempfile.TemporaryDirectory(dir=xml.parent, prefix=".convert-") as tmp:
        saved = Path(tmp) / "model.xml"
        ov.save_model(converted, saved, compress_to_fp16=False)  # keep float32 weights
        record = {}
        for suffix in ("bin", "xml"):
            data = saved.with_suffix(f".{suffix}").read_bytes()
            record[suffix] = hashlib.sha256(data).hexdigest()
            atomic_write(xml.with_suffix(f".{suffix}"), lambda f, data=data: f.write(data))
    atomic_write_text(_record_path(xml), json.dumps(record, indent=1) + "\n")
