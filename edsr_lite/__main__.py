"""``python -m edsr_lite`` is the ``edsr-lite`` command."""

import sys

from .cli import main

sys.exit(main())
