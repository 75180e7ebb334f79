"""``python -m cris_cli``."""

import sys

from .cli import main

sys.exit(main())
