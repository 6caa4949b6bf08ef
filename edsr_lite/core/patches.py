"""Training patches (paper Sec. 4.1): random 48 x 48 LR patches, the 8 symmetries, MDSR's scale.

**Patch size is counted in LR pixels.** The paper's "48 x 48 RGB patches" are LR patches:
the HR targets are 96 x 96 (x2), 144 x 144 (x3) or 192 x 192 (x4). (The official code's
``--patch_size`` counts HR pixels instead, e.g. 96 for x2 and 192 for x4: same patches,
another number.)

Randomness is counter-based: the patches of step ``k`` come from a generator seeded with
``(seed, k, rank)`` (:func:`step_rng`), so a resumed run draws exactly the patches the
uninterrupted run would have drawn, and no generator state needs saving.

Images arrive here already paired: HR cropped to a multiple of the scale and its LR made once
with MATLAB's bicubic (:mod:`edsr_lite.core.degradation`); reading and caching them is the
library's job (:mod:`edsr_lite.training_data`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The paper's LR patch size (48 x 48 LR pixels; the HR patch is scale times larger).
PATCH_SIZE = 48

# Separate random streams (see step_rng): the MDSR scale of a step, and the patches.
_STREAM_SCALE = 1
_STREAM_PATCHES = 2


# --------------------------------------------------------------------------------------------
# Randomness
# --------------------------------------------------------------------------------------------


def step_rng(seed: int, step: int, stream: int = _STREAM_PATCHES, rank: int = 0):
    """The random generator of one training step: a pure function of its arguments.

    ``stream`` separates independent uses (the MDSR scale, the patches); ``rank`` gives each
    distributed process its own patches. The entropy always has 4 entries because numpy's
    ``SeedSequence`` treats a missing trailing entry like a 0.
    """
    return np.random.default_rng([seed, step, stream, rank])


def draw_scale(scales: Sequence[int], seed: int, step: int) -> int:
    """The scale of training step ``step`` (MDSR: one scale per minibatch, drawn at random).

    The rank is *not* an input: under DistributedDataParallel every process must train the
    same branch in a step, or the gradients of different branches would be averaged.
    """
    rng = step_rng(seed, step, stream=_STREAM_SCALE, rank=0)
    return int(scales[rng.integers(len(scales))])


# --------------------------------------------------------------------------------------------
# Patches and augmentation
# --------------------------------------------------------------------------------------------


def random_patch(
    hr: np.ndarray, lr: np.ndarray, scale: int, patch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An aligned pair of patches at a random position.

    Args:
        hr: uint8 HR image, (s*h) x (s*w) x 3. lr: its LR version, h x w x 3.
        scale: s. patch_size: side of the LR patch, p (LR pixels).

    Returns:
        ``(lr_patch, hr_patch)``: views of shape p x p x 3 and (s*p) x (s*p) x 3. LR pixel
        ``(y, x)`` covers HR pixels ``s*y .. s*y+s-1``, so the HR corner is ``s`` times the LR one.
    """
    h, w = lr.shape[:2]
    y = int(rng.integers(h - patch_size + 1))
    x = int(rng.integers(w - patch_size + 1))
    lr_patch = lr[y : y + patch_size, x : x + patch_size]
    hr_patch = hr[scale * y : scale * (y + patch_size), scale * x : scale * (x + patch_size)]
    return lr_patch, hr_patch


def augment(
    lr_patch: np.ndarray, hr_patch: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the same random one of the 8 flips/rotations to both patches (H x W x 3 views).

    Three coin flips, as in the official code: horizontal flip, vertical flip, transpose
    (a transpose after the flips gives the 90 and 270 degree rotations). 2 x 2 x 2 = 8.
    """
    hflip, vflip, transpose = (bool(b) for b in rng.integers(2, size=3))

    def apply(img: np.ndarray) -> np.ndarray:
        if hflip:
            img = img[:, ::-1]
        if vflip:
            img = img[::-1, :]
        if transpose:
            img = img.transpose(1, 0, 2)
        return img

    return apply(lr_patch), apply(hr_patch)


def sample_patches(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    scale: int,
    batch_size: int,
    patch_size: int,
    rng: np.random.Generator,
    augment_patches: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One minibatch: uint8 LR N x p x p x 3 and HR N x sp x sp x 3 (``N = batch_size``).

    Each patch comes from an image of ``pairs`` (``(hr, lr)`` at ``scale``) drawn uniformly,
    with replacement, at a uniform random position, then one of the 8 flips/rotations if
    ``augment_patches``: the paper's "we use RGB input patches of size 48 x 48 from LR image
    with the corresponding HR patches", "augment the training data with random horizontal
    flips and 90 rotations" (Sec. 4.1).
    """
    lr_patches, hr_patches = [], []
    for i in rng.integers(len(pairs), size=batch_size):
        hr, lr = pairs[i]
        lr_patch, hr_patch = random_patch(hr, lr, scale, patch_size, rng)
        if augment_patches:
            lr_patch, hr_patch = augment(lr_patch, hr_patch, rng)
        lr_patches.append(lr_patch)
        hr_patches.append(hr_patch)
    return np.stack(lr_patches), np.stack(hr_patches)
