"""``python -m cadl_utils``: see cadl_utils.cli."""

from .cli import main

raise SystemExit(main())
