"""``python -m eofusion`` is the ``eofusion`` command."""

import sys

from eofusion.cli import main

sys.exit(main())
