"""Right and typical wrong answers to each notebook's exercises, one module per notebook
(``RIGHT``, ``WRONG``: ``tests/test_exercises_lessons.py`` runs the checks on them) and the
fairness table ``VARIANTS`` (correct variants a check must accept, wrong answers with the
message each gets: ``tests/test_exercise_fairness.py``)."""
