"""The package's own errors: one base class, :class:`EdsrLiteError`, for every fault the package
explains to the user on purpose.

A caller (the ``edsr-lite`` command, a notebook, a script) can then tell a fault the package has
put into words (catch :class:`EdsrLiteError`: the message is written for people, it names the
file, flag or value and says what to do) from a bug (anything else). Each error keeps the
built-in base it had before the hierarchy existed, so an ``except ValueError`` or an
``except OSError`` written against it keeps working:

* ``CheckpointError`` (:mod:`edsr_lite.checkpoints`), a ValueError: a file that is not the
  checkpoint it should be, or does not fit the model;
* ``ImageReadError`` (:mod:`edsr_lite.images`), a ValueError: a file that is not a readable image;
* ``RunRecordError`` (:mod:`edsr_lite.runs`), a ValueError: a broken ``run.json``;
* ``TrainingDiverged`` (:mod:`edsr_lite.train.engine`), a ValueError: the loss became NaN;
* ``DownloadError`` (:mod:`edsr_lite.download`), an OSError: the network, the server or the disk;
* ``UserError`` (:mod:`edsr_lite.cli`): a mistake in the command line.

The command line maps them (and the environment's own faults: OSError, MemoryError, ...) to one
line and an exit status in one place, :func:`edsr_lite.cli.main`.
"""

from __future__ import annotations

__all__ = ["EdsrLiteError"]


class EdsrLiteError(Exception):
    """A fault the package explains: the message is one plain sentence for the user that names
    the file, flag or value at fault and says what to do (never a traceback's worth of detail).

    Subclasses also derive from the built-in error that describes them (``ValueError`` for
    input that is wrong, ``OSError`` for a fault of the machine or the network).
    """
