"""The paper in code: EDSR and MDSR (Lim et al., CVPRW 2017, arXiv:1707.02921) and nothing else.

Everything here is one of the paper's ideas, written to be read, in this order:

1. :mod:`~edsr_lite.core.models` -- the residual block without batch normalization and its
   residual scaling (Fig. 2, Sec. 3.1), EDSR (Fig. 3) and MDSR (Fig. 5, Sec. 3.2).
2. :mod:`~edsr_lite.core.degradation` -- how low-resolution images are made: MATLAB's bicubic
   ``imresize``, bit for bit, after cropping to a multiple of the scale.
3. :mod:`~edsr_lite.core.metrics` -- how results are scored: PSNR and SSIM on Y, border shaved.
4. :mod:`~edsr_lite.core.patches` -- training data: 48 x 48 LR patches, the 8 symmetries, MDSR's
   random scale per minibatch (Sec. 4.1).
5. :mod:`~edsr_lite.core.recipe` -- the training recipe: L1 loss, Adam, the halving schedule,
   one step (Sec. 4.1), the paper's numbers beside ours.
6. :mod:`~edsr_lite.core.init` -- pretrained initialization: x3/x4 from a trained x2 (Fig. 4).
7. :mod:`~edsr_lite.core.forward` -- inference: the receptive radius, the tiled forward, the
   geometric self-ensemble (EDSR+, Sec. 4.3).
8. :mod:`~edsr_lite.core.published` -- the numbers the paper (Table 6) and others published.

The core imports only the standard library, numpy, torch and itself: no files, no paths, no
printing. Reading files, checking what a user typed, caches, the command line: the library
around it (``edsr_lite``), which imports the core, never the other way round.
``tests/test_layers.py`` holds these rules.
"""
