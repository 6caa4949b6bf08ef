"""``python -m edsr_lite`` is the ``edsr-lite`` command."""

import sys

from edsr_lite.cli import main

sys.exit(main())
