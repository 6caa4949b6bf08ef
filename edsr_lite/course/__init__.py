"""The course: what the notebooks measure, one module per notebook, named like it.

=============================  ===========================  ==================================
notebook                       lesson module                its exercise checks
=============================  ===========================  ==================================
``00_tour.ipynb``              :mod:`.tour`                 :mod:`.exercises.tour`
``01_bn_removal.ipynb``        :mod:`.bn_removal`           :mod:`.exercises.bn_removal`
``02_residual_scaling.ipynb``  :mod:`.residual_scaling`     :mod:`.exercises.residual_scaling`
``03_multiscale.ipynb``        :mod:`.multiscale`           :mod:`.exercises.multiscale`
``04_pretrained_init.ipynb``   :mod:`.pretrained_init`      :mod:`.exercises.pretrained_init`
``05_benchmark.ipynb``         :mod:`.benchmark`            :mod:`.exercises.benchmark`
=============================  ===========================  ==================================

What the notebooks share: :mod:`.settings` (fast / full mode), :mod:`.figures`,
:mod:`.widgets` (the zoom widget), :mod:`.memory` (measuring memory), :mod:`.runs` (short live
training runs and the shipped runs' logs), :mod:`.tables` and :mod:`.recorded` (scores that
``make results`` recorded). The course builds on the library's public names; the library never
imports the course (``tests/test_layers.py``). Its extra dependencies (matplotlib, ipywidgets,
anywidget, scikit-image, JupyterLab) install with ``pip install edsr-lite[course]``.
"""
