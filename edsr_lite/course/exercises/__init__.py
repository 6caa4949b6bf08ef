"""Automatic checks for the classroom exercises of the notebooks: one module per notebook.

Each notebook ends with a few exercises: a cell where the student writes a small function (or
class) between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers), then a
cell that calls a ``check_...`` of the exercise module named like the notebook's lesson::

    from edsr_lite.course.exercises import bn_removal as exercises
    exercises.check_resblock(EDSRBlock)

The check runs the student's code and the package's reference on seeded random inputs of
several shapes and scales, and either prints ``✓ check_resblock passed (3 cases)`` or raises an
``ExerciseError`` (an ``AssertionError``) whose message names the mistake. How a check runs,
compares and reports is written once, in :mod:`~edsr_lite.course.exercises.checking`.

* 00 :mod:`.tour`: the bicubic baseline, the error map
* 01 :mod:`.bn_removal`: the EDSR residual block, the memory it saves for backward
* 02 :mod:`.residual_scaling`: growth with depth, measured and predicted; folding ``res_scale``
* 03 :mod:`.multiscale`: MDSR's forward from its parts, the random-scale training step
* 04 :mod:`.pretrained_init`: copy the weights that match, the fraction left random
* 05 :mod:`.benchmark`: modcrop, PSNR on Y with the shave, the x8 self-ensemble

Each module's ``__all__`` lists its checks in the order the notebook's exercises call them.
"""
