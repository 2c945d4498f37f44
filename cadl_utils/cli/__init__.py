"""The command line: ``python -m cadl_utils <command> ...`` (also installed as ``cadl``); the engines print nothing.

Each module here adds its sub-commands with ``add_commands(subparsers)``: ``dream`` (dream, zoom), ``guide``,
``style``, ``models`` (layers, fetch, export-standin), ``course`` (alias ``demo``). The options of a technique's
settings come from its settings dataclass (``add_settings_options``): their names, defaults, help, checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import signal
import sys
import threading
import typing
from pathlib import Path
from typing import Any, Sequence

from ..errors import CadlError, ImageError
from ..settings import Settings

# Modules that add sub-commands, in the order --help lists them.
COMMAND_MODULES = ("dream", "guide", "style", "course", "models")

UNTRAINED_NOTE = ("note: UNTRAINED network (random weights): the pictures show textures, not objects. For the real "
                  "network use --weights pretrained (or set CADL_WEIGHTS=pretrained; `python -m cadl_utils fetch` "
                  "downloads it).")


def announce_model(model) -> None:
    """Print which network runs and, when its weights are untrained stand-ins for real ones, say what that
    means for the pictures (a model that is random by design, such as random-multiscale, has no real ones)."""
    print(model.describe())
    if getattr(model, "weights", "") == "untrained" and getattr(model, "has_pretrained", True):
        print(UNTRAINED_NOTE)


def _option_type(cls: type[Settings], field: dataclasses.Field) -> Any:
    """The argparse type of a settings field: metadata ``type``, else from its annotation."""
    if "type" in field.metadata:
        return field.metadata["type"]
    hint = typing.get_type_hints(cls)[field.name]
    return next((kind for kind in (bool, int, float) if hint is kind or kind in typing.get_args(hint)), str)


def add_settings_options(parser: argparse.ArgumentParser, cls: type[Settings], skip: Sequence[str] = ()) -> None:
    """Add one ``--option`` per field of a settings class (``step_size`` -> ``--step-size``; a boolean that
    defaults to True -> ``--no-<name>``). Options left out stay None: ``settings_from_args`` keeps the default."""
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.metadata.get("cli", True):
            continue
        flag, kind = "--" + field.name.replace("_", "-"), _option_type(cls, field)
        help_text = f"{field.metadata.get('help', '')} (default {field.default!r})"
        if kind is bool:
            parser.add_argument("--no-" + flag[2:] if field.default else flag, dest=field.name, action="store_const",
                                const=not field.default, default=None, help=help_text)
            continue
        parser.add_argument(flag, dest=field.name, type=kind, default=None, choices=field.metadata.get("choices"),
                            nargs=field.metadata.get("nargs"), metavar=field.metadata.get("metavar"), help=help_text)


def settings_from_args(cls: type[Settings], args: argparse.Namespace, **extra: Any) -> Settings:
    """The settings the user typed (the rest keep their defaults) plus ``extra``, checked before any model loads."""
    typed = {name: getattr(args, name) for name in cls.names() if getattr(args, name, None) is not None}
    # nargs options give lists; settings are frozen, so they hold tuples.
    typed = {name: tuple(value) if isinstance(value, list) else value for name, value in typed.items()}
    return cls.make(**{**typed, **extra})


def add_model_options(parser: argparse.ArgumentParser,
                      models: Sequence[str] = ("inception5h", "vgg19", "inception_v3")) -> None:
    """``--model`` and ``--weights``, the same for every command."""
    parser.add_argument("--model", default=models[0], choices=models, help=f"network (default {models[0]})")
    parser.add_argument("--weights", default=None,
                        help="pretrained | untrained | auto (default: $CADL_WEIGHTS, else pretrained)")


def load_cli_model(args: argparse.Namespace, **kwargs: Any):
    """Load the network named by ``--model`` / ``--weights`` and say which one runs."""
    from ..models import load_model

    model = load_model(args.model, args.weights, **kwargs)
    announce_model(model)
    return model


def input_path(name: str | None, kind: str, default: str) -> Path:
    """The path of ``name``: a sample image of ``kind`` (``photo`` or ``style``) or a file; None: ``default``."""
    from ..images import sample_images

    samples = sample_images(kind)
    if name is None:
        return samples.get(default) or next(iter(samples.values()))
    if name in samples:
        return samples[name]
    # os.path, not Path: Path.expanduser raises on "~nobody" and Path.exists on an over-long name.
    path = os.path.expanduser(name)
    if not os.path.exists(path):
        raise ImageError(f"no image file {name!r} and no sample of that name; give a path or one of: "
                         f"{', '.join(samples)}")
    return Path(path)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    description = ("Deep Dream, fractal zoom, guided hallucination and style transfer with inception5h. "
                   "Add --debug anywhere to see the traceback of an internal error.")
    parser = argparse.ArgumentParser(prog="python -m cadl_utils", description=description)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{module_name}").add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv[1:]). Returns the exit code: 0 success, 2 bad input
    (a CadlError), 130 interrupted (Ctrl-C or SIGTERM), 1 a bug (one line; ``--debug`` shows the traceback)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    try:
        # Building the parser reads the profile (help texts show its defaults): a bad CADL_PROFILE
        # is a user error, reported like any other.
        args = build_parser().parse_args(argv)
        if threading.current_thread() is threading.main_thread():
            # KeyboardInterrupt, as on Ctrl-C: a killed run keeps (and writes) what it finished.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
        return int(args.func(args) or 0)
    except CadlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: only the files listed above as written were kept", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if debug:
            raise
        print(f"internal error (a bug in cadl_utils, please report it): {type(error).__name__}: {error}; "
              "run again with --debug for the traceback", file=sys.stderr)
        return 1
