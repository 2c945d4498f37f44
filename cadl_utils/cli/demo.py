"""``python -m cadl_utils demo``: every technique on the sample images (the jobs are in cadl_utils.demo)."""

from __future__ import annotations

from pathlib import Path


def add_commands(subparsers) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="render every technique on the sample images into a folder (headless)",
        description="Runs dream, zoom, guide (all presets) and style (progression and sweep) on the "
        "sample images and prints every file written. CADL_PROFILE=quick makes it fast.",
    )
    parser.add_argument("--out", default="outputs", help="output folder (default outputs)")
    parser.add_argument("--weights", default=None, help="pretrained | untrained | auto (default: $CADL_WEIGHTS)")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    from ..demo import run_demo

    return run_demo(Path(args.out), args.weights)
