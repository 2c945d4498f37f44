"""The command line: ``python -m cadl_utils <command> ...`` (also installed as ``cadl``).

Each engine module contributes its sub-commands through an ``add_cli(subparsers)`` function that
adds its parsers and sets ``func`` (called with the parsed arguments, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .errors import CadlError

# Modules that add sub-commands, in the order --help lists them.
COMMAND_MODULES = ("dream", "guided", "style", "demo", "models")


UNTRAINED_NOTE = (
    "note: UNTRAINED network (random weights): the pictures show textures, not objects. For the real "
    "network use --weights pretrained (or set CADL_WEIGHTS=pretrained; `python -m cadl_utils fetch` downloads it)."
)


def announce_model(model) -> None:
    """Print which network runs and, when its weights are untrained, say what that means for the pictures."""
    print(model.describe())
    if getattr(model, "weights", "") == "untrained":
        print(UNTRAINED_NOTE)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="python -m cadl_utils",
        description="Deep Dream, fractal zoom, guided hallucination and style transfer with inception5h.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"cadl_utils.{module_name}")
        module.add_cli(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: arguments without the program name (default: sys.argv[1:]).

    Returns:
        Exit code: 0 success, 2 bad input (a CadlError), 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CadlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: frames rendered so far were kept (see messages above)", file=sys.stderr)
        return 130
