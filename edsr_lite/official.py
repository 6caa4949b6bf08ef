"""The authors' released weights, by name, fetched only on request.

The eight files of the official EDSR-PyTorch release (EDSR-baseline and EDSR at x2/x3/x4,
MDSR-baseline, MDSR) are known here as ``official/<model>`` (:data:`OFFICIAL_WEIGHTS`), with
torch.hub's file names, whose 8 hex digits begin the file's sha256. :func:`fetch_official`
downloads one into the user cache (:func:`official_dir`; one process at a time, resumable,
bounded in size and hash-checked by :mod:`edsr_lite.download`); :func:`official_file` finds
a cached one, or says how to get it.
Nothing downloads at import, and :func:`edsr_lite.weights.load_pretrained` only with
``download=True``. The files are official state dicts, which :func:`edsr_lite.weights.load_model`
reads as they are.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from edsr_lite.checkpoints import CheckpointError
from edsr_lite.core.models import build, count_parameters
from edsr_lite.core.published import PAPER_EDSR, REFERENCE_EDSR_BASELINE
from edsr_lite.download import DownloadError, is_web_address, sha256_matches, user_cache_dir
from edsr_lite.download import download as download_file

#: The folder the official EDSR-PyTorch code downloads its weights from (the torch.hub URLs
#: of its ``src/model/edsr.py`` and ``mdsr.py``); ``$EDSR_LITE_WEIGHTS_URL`` replaces it
#: (a mirror, or the tests' local server).
OFFICIAL_BASE_URL = "https://cv.snu.ac.kr/research/EDSR/models/"
#: How the authors' files are named here: ``official/<file name without the hash>``.
OFFICIAL_PREFIX = "official/"


@dataclass(frozen=True)
class OfficialWeights:
    """One file of the authors' release: where it is, what it holds, what it should score."""

    name: str  # "official/edsr_x4"
    file: str  # torch.hub's name: "<model>-<first 8 hex digits of its sha256>.pt"
    preset: str  # the architecture (edsr_lite.core.models.PRESETS)
    scales: tuple[int, ...]
    #: PSNR (dB) / SSIM on Y published for this file, keyed by ``(set, scale)``; empty if none
    published: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    source: str = ""  # where ``published`` comes from

    @property
    def sha256_prefix(self) -> str:
        return self.file.removesuffix(".pt").rsplit("-", 1)[1]

    @property
    def url(self) -> str:
        base = os.environ.get("EDSR_LITE_WEIGHTS_URL") or OFFICIAL_BASE_URL
        return base.rstrip("/") + "/" + self.file

    @property
    def max_bytes(self) -> int:
        """A bound on the file's size, which a download never passes: its float32 parameters
        (:func:`parameter_bytes`) plus an eighth and 1 MiB for the pickle around them."""
        data = parameter_bytes(self.preset, self.scales)
        return data + data // 8 + (1 << 20)

    @property
    def path(self) -> Path:
        """Where the file is kept: :func:`official_dir` / ``file``."""
        return official_dir() / self.file


@functools.cache
def parameter_bytes(preset: str, scales: tuple[int, ...]) -> int:
    """4 bytes per float32 parameter of ``preset`` at ``scales``: about the size of its file
    (built on the ``meta`` device: no memory, no time)."""
    with torch.device("meta"):
        model = build(preset, scales[0] if len(scales) == 1 else scales)
    return 4 * count_parameters(model)


def _at(table: dict[tuple[str, int], tuple[float, float]], scale: int) -> dict:
    return {key: value for key, value in table.items() if key[1] == scale}


_BASELINE = "the released file as torchSR measured it (the paper prints no baseline scores)"
#: The eight files, by name. Published scores: Table 6 of the paper for the full-size EDSR
#: (:data:`edsr_lite.core.published.PAPER_EDSR`), torchSR's measurement for EDSR-baseline; none is
#: given here for the MDSRs (no checked copy of the paper's MDSR column).
OFFICIAL_WEIGHTS: dict[str, OfficialWeights] = {
    w.name: w
    for w in [
        *(
            OfficialWeights(
                f"official/edsr_baseline_x{s}",
                f"edsr_baseline_x{s}-{h}.pt",
                "edsr_baseline",
                (s,),
                _at(REFERENCE_EDSR_BASELINE, s),
                _BASELINE,
            )
            for s, h in ((2, "1bc95232"), (3, "abf2a44e"), (4, "6b446fab"))
        ),
        *(
            OfficialWeights(
                f"official/edsr_x{s}",
                f"edsr_x{s}-{h}.pt",
                "edsr",
                (s,),
                _at(PAPER_EDSR, s),
                "Lim et al. 2017, Table 6 (EDSR)",
            )
            for s, h in ((2, "0edfb8a3"), (3, "ea3ef2c6"), (4, "4f62e9ef"))
        ),
        OfficialWeights(
            "official/mdsr_baseline", "mdsr_baseline-a00cab12.pt", "mdsr_baseline", (2, 3, 4)
        ),
        OfficialWeights("official/mdsr", "mdsr-4a78bedf.pt", "mdsr", (2, 3, 4)),
    ]
}


def official_dir() -> Path:
    """Where the authors' files are kept: ``<user cache>/official``
    (:func:`edsr_lite.download.user_cache_dir`: ``$EDSR_LITE_CACHE``, or the platform's)."""
    return user_cache_dir() / "official"


def official_weights(name: str) -> OfficialWeights:
    """The registry entry of ``name`` (``"official/edsr_x4"``); a clear error if unknown."""
    if name not in OFFICIAL_WEIGHTS:
        raise CheckpointError(
            f"{name!r} is not one of the authors' files; they are: {', '.join(OFFICIAL_WEIGHTS)}"
        )
    return OFFICIAL_WEIGHTS[name]


def cached_official() -> list[str]:
    """The names of the authors' files present in the cache (no download, no hashing)."""
    return [name for name, w in OFFICIAL_WEIGHTS.items() if w.path.is_file()]


def fetch_official(
    name: str, progress: bool = True, timeout: float = 60.0, stall: float = 60.0
) -> Path:
    """Download the authors' file ``name`` into the cache unless a checked copy is there;
    return its path. One process at a time, resumable, never more than
    :attr:`OfficialWeights.max_bytes`, sha256-checked, atomic
    (:func:`edsr_lite.download.download`, whose ``timeout`` and ``stall`` these are).

    Raises:
        DownloadError: a ``$EDSR_LITE_WEIGHTS_URL`` that is not a web address, or any fault
            of the download (one line that says what to do).
    """
    w = official_weights(name)
    base = os.environ.get("EDSR_LITE_WEIGHTS_URL")
    if base and not is_web_address(base):
        raise DownloadError(
            f"$EDSR_LITE_WEIGHTS_URL is {base!r}, not an http:// or https:// address: set it "
            f"to the folder of a mirror (such as {OFFICIAL_BASE_URL}), or unset it."
        )
    return download_file(
        w.url,
        w.path,
        w.sha256_prefix,
        max_bytes=w.max_bytes,
        progress=progress,
        timeout=timeout,
        stall=stall,
    )


def official_file(name: str, download: bool = False) -> Path:
    """The cached file of ``name``, checked against its sha256 prefix; fetched first when
    ``download``, else a missing file raises an error that says how to get it."""
    w = official_weights(name)
    if download:
        return fetch_official(name)
    if not w.path.is_file():
        raise CheckpointError(
            f"{name}: the authors' file is not in the cache ({w.path}). Fetch it with "
            f"`edsr-lite weights fetch {name}` (or load_pretrained({name!r}, download=True)), "
            f"which downloads {w.url}; or download that URL by other means and put the file "
            f"at {w.path}."
        )
    if not sha256_matches(w.path, w.sha256_prefix):
        raise CheckpointError(
            f"{w.path}: its sha256 does not start with {w.sha256_prefix}: damaged, or not the "
            f"authors' file. Delete it and run `edsr-lite weights fetch {name}`."
        )
    return w.path
