"""Transitional: the sub-commands still come from cadl_utils.guided (being moved here)."""

from ..guided import add_cli


def add_commands(subparsers) -> None:
    """Add this module's sub-commands."""
    add_cli(subparsers)
