"""Right and typical wrong answers to each notebook's exercises, one module per notebook
(``RIGHT``, ``WRONG``, ``CHECKS``): ``tests/test_exercises_lessons.py`` runs the checks on them."""
