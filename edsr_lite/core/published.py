"""Published numbers: PSNR (dB) / SSIM on the benchmarks, keyed by ``(set, scale)``.

All on the Y channel with ``scale`` pixels shaved, Set5 / Set14 / B100 at x2, x3, x4:

* :data:`PAPER_BICUBIC`, :data:`PAPER_EDSR`, :data:`PAPER_EDSR_PLUS` (x2 and x4): Table 6 of
  Lim et al. 2017 (arXiv:1707.02921), "Bicubic", "EDSR" and "EDSR+" columns;
* :data:`PAPER_SRCNN`, :data:`PAPER_VDSR`: the same table's copies of Dong et al. 2016 and
  Kim et al. 2016;
* :data:`REFERENCE_EDSR_BASELINE`: the authors' released EDSR-baseline weights as measured by
  torchSR (the paper prints no benchmark numbers for its baselines);
* :data:`QUALITY_BAR_SET5`, :data:`MDSR_TOLERANCE_DB`: this project's own bars.

The bicubic column and SRCNN/VDSR use the older Y-plane protocol
(:func:`edsr_lite.evaluation.evaluate_paper_bicubic` reproduces the bicubic column); EDSR's own
numbers use protocol "model". Each table's comment gives its source and how it was checked.
"""

from __future__ import annotations

#: Published PSNR (dB) / SSIM of bicubic upscaling, keyed by ``(set, scale)``.
#: Source: the "Bicubic" column of EDSR's Table 6 (Lim et al. 2017, arXiv:1707.02921), which
#: repeats the numbers of VDSR (Kim et al., CVPR 2016).  :func:`evaluate_paper_bicubic`
#: reproduces them; protocol "model" does not (it scores bicubic 0.08-0.09 dB higher on Set14).
PAPER_BICUBIC: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (33.66, 0.9299),
    ("Set5", 3): (30.39, 0.8682),
    ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688),
    ("Set14", 3): (27.55, 0.7742),
    ("Set14", 4): (26.00, 0.7027),
    ("B100", 2): (29.56, 0.8431),
    ("B100", 3): (27.21, 0.7385),
    ("B100", 4): (25.96, 0.6675),
}

#: EDSR's published PSNR (dB) / SSIM, Table 6 of the paper ("EDSR" column, no self-ensemble),
#: keyed by ``(set, scale)``. Checked against two independent copies of the table
#: (the EDSR-PyTorch README's result table, and AdderNet's SR table, which reprints it).
PAPER_EDSR: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (38.11, 0.9601),
    ("Set5", 3): (34.65, 0.9282),
    ("Set5", 4): (32.46, 0.8968),
    ("Set14", 2): (33.92, 0.9195),
    ("Set14", 3): (30.52, 0.8462),
    ("Set14", 4): (28.80, 0.7876),
    ("B100", 2): (32.32, 0.9013),
    ("B100", 3): (29.25, 0.8093),
    ("B100", 4): (27.71, 0.7420),
}

#: EDSR+ (geometric self-ensemble), Table 6 of the paper, x2 and x4 (as reprinted in the
#: Invertible Image Rescaling README's comparison table).
PAPER_EDSR_PLUS: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (38.20, 0.9606),
    ("Set5", 4): (32.62, 0.8984),
    ("Set14", 2): (34.02, 0.9204),
    ("Set14", 4): (28.94, 0.7901),
    ("B100", 2): (32.37, 0.9018),
    ("B100", 4): (27.79, 0.7437),
}

#: SRCNN (Dong et al., TPAMI 2016) and VDSR (Kim et al., CVPR 2016): their published PSNR (dB) /
#: SSIM as Table 6 of Lim et al. 2017 reprints them, keyed by ``(set, scale)``. VDSR trained on
#: T91 + BSD200, the 291 images the shipped models train on: the classic result to compare a
#: CPU-trained model with. Checked against the EDSR-PyTorch README's copy of Table 6 and the VDSR
#: papers' own tables (as reprinted by several SR projects). Scored, like :data:`PAPER_BICUBIC`,
#: under the older Y-plane protocol.
PAPER_SRCNN: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (36.66, 0.9542),
    ("Set5", 3): (32.75, 0.9090),
    ("Set5", 4): (30.48, 0.8628),
    ("Set14", 2): (32.42, 0.9063),
    ("Set14", 3): (29.28, 0.8209),
    ("Set14", 4): (27.49, 0.7503),
    ("B100", 2): (31.36, 0.8879),
    ("B100", 3): (28.41, 0.7863),
    ("B100", 4): (26.90, 0.7101),
}
PAPER_VDSR: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (37.53, 0.9587),
    ("Set5", 3): (33.66, 0.9213),
    ("Set5", 4): (31.35, 0.8838),
    ("Set14", 2): (33.03, 0.9124),
    ("Set14", 3): (29.77, 0.8314),
    ("Set14", 4): (28.01, 0.7674),
    ("B100", 2): (31.90, 0.8960),
    ("B100", 3): (28.82, 0.7976),
    ("B100", 4): (27.29, 0.7251),
}

#: The official EDSR-baseline weights (EDSR-PyTorch release: 16 x 64, trained by the authors on
#: DIV2K for 3e5 steps on a GPU) on the benchmarks, PSNR (dB) / SSIM on Y, shave = scale.
#: The paper itself prints no Set5/Set14/B100 numbers for its baseline models (its Table 6 has
#: the full-size EDSR and MDSR; the baselines are compared on DIV2K validation images only),
#: so these are a measurement of the released x2/x3/x4 files: torchSR's README (Gouvine,
#: github.com/Coloquinte/torchSR, "benchmark results", row ``edsr_baseline``). Later papers'
#: tables print the same model as 37.99/0.9604, 33.57/0.9175, 32.16/0.8994 at x2 and
#: 32.09/0.8938, 28.58/0.7813, 27.57/0.7357 at x4 (within 0.01 dB / 0.0004 of these).
#: No such measurement of the MDSR-baseline weights was found, so none is given for it.
REFERENCE_EDSR_BASELINE: dict[tuple[str, int], tuple[float, float]] = {
    ("Set5", 2): (37.98, 0.9604),
    ("Set5", 3): (34.37, 0.9270),
    ("Set5", 4): (32.09, 0.8936),
    ("Set14", 2): (33.57, 0.9174),
    ("Set14", 3): (30.28, 0.8414),
    ("Set14", 4): (28.58, 0.7804),
    ("B100", 2): (32.15, 0.8993),
    ("B100", 3): (29.08, 0.8051),
    ("B100", 4): (27.56, 0.7354),
}

#: This project's quality bar for the shipped EDSR-baselines: Set5 PSNR (dB, protocol "model")
#: at each scale, a little above SRCNN's published scores (:data:`PAPER_SRCNN`); the aim is VDSR's.
QUALITY_BAR_SET5: dict[int, float] = {2: 37.0, 3: 33.2, 4: 30.9}

#: This project's bar for multi-scale against single-scale: MDSR-baseline within this many dB of
#: the EDSR-baseline of each scale, either way (the paper: "comparable" performance).
MDSR_TOLERANCE_DB = 0.15
