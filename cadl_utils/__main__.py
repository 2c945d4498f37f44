"""``python -m cadl_utils``: see cadl_utils.cli."""

import sys

from .cli import main

sys.exit(main())
