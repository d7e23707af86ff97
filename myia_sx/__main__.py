"""``python -m myia_sx`` is the ``myia-sx`` command."""

import sys

from .cli import main

sys.exit(main())
