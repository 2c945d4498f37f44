"""``style``: a style-transfer progression (GIF and PNG), or a weight sweep (GIF and grid)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..errors import NonFiniteError, OutputError, ParameterError
from ..files import check_output_paths
from ..style import StyleSettings, StyleTransfer, check_pairs
from . import add_model_options, add_settings_options, announce_model, input_path, settings_from_args


def add_commands(subparsers) -> None:
    """Add the ``style`` sub-command."""
    description = ("Paint CONTENT in the style of STYLE (several STYLE images are blended). Writes a progression GIF "
                   "and the final PNG, or with --sweep a GIF and a grid with one picture per weight pair.")
    summary = "style transfer: progression GIF, or a weight sweep GIF and grid"
    parser = subparsers.add_parser("style", help=summary, description=description)
    parser.add_argument("content", nargs="?", help="content image or sample name (default: the sample 'coffee')")
    parser.add_argument("style", nargs="*", help="style image(s) or sample names (default: the sample starry_night)")
    add_model_options(parser, ("inception5h", "vgg19", "random-multiscale"))
    add_settings_options(parser, StyleSettings)
    parser.add_argument("--sweep", nargs="+", default=None, metavar="C:S",
                        help="content:style weight pairs, one picture each, e.g. --sweep 1:1 1:10 1:100")
    parser.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    parser.add_argument("--name", default="style", help="file name prefix inside --out: NAME.gif and NAME.png, or "
                        "NAME-sweep.gif and NAME-sweep-grid.png with --sweep (default: style)")  # fmt: skip
    parser.set_defaults(func=run)


def parse_pairs(texts: str | Sequence[str]) -> list[tuple[float, float]]:
    """``"1:10,1:100"`` (or a list of ``"C:S"`` strings) as checked weight pairs (ParameterError if malformed)."""
    pairs = []
    for text in [texts] if isinstance(texts, str) else texts:
        for token in filter(None, (t.strip() for t in str(text).split(","))):
            try:
                left, right = token.split(":")  # not two parts: ValueError
                pairs.append((float(left), float(right)))
            except ValueError:
                raise ParameterError(f"cannot read sweep pair {token!r}: write CONTENT:STYLE weights, e.g. "
                                     "--sweep 1:1 1:10 1:100") from None
    return check_pairs(pairs)


def output_plan(out: str, name: str, sweep: bool) -> tuple[Path, Path]:
    """The GIF and the PNG (or grid) the command writes; ``name`` must stay inside ``out``."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise OutputError(f"--name {name!r} must be a plain file name without folders, e.g. --name style; "
                          "choose the folder with --out")  # fmt: skip
    stem = f"{name}-sweep" if sweep else name
    return Path(out) / f"{stem}.gif", Path(out) / (f"{stem}-grid.png" if sweep else f"{stem}.png")


def run(args: argparse.Namespace) -> int:
    """Run ``style``; returns the exit code (130 after Ctrl-C, with the frames so far written)."""
    settings = settings_from_args(StyleSettings, args)
    pairs = parse_pairs(args.sweep) if args.sweep is not None else None
    content = input_path(args.content, "photo", "coffee")
    styles = [input_path(name, "style", "starry_night") for name in args.style or [None]]
    gif_path, png_path = output_plan(args.out, args.name, pairs is not None)
    inputs = [content, *styles]
    # Before the images and the model are loaded: an unusable --out costs a second, not a render.
    check_output_paths((gif_path, png_path), inputs=inputs)
    engine = StyleTransfer(content, styles, args.model, settings)
    announce_model(engine.model)
    failure = None
    if pairs is None:
        try:
            result = engine.run()
        except NonFiniteError as error:  # write the finite frames before it, then report it
            result, failure = error.result, error
        written = [result.save_gif(gif_path, inputs=inputs), result.save(png_path, inputs=inputs)]
    else:
        result = engine.sweep(pairs)
        written = ([result.save_gif(gif_path, inputs=inputs), result.save_grid(png_path, inputs=inputs)]
                   if result.results else [])  # fmt: skip
    for path in written:
        print(f"wrote {path}")
    if failure is not None:
        raise failure
    if result.interrupted:
        kept = "the files above hold the frames rendered so far" if written else "no pair was finished, nothing saved"
        print(f"interrupted: {kept}", file=sys.stderr)
        return 130
    return 0
