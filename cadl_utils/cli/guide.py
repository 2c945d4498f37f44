"""``guide``: guided hallucination with one preset or all seven (a GIF and a PNG each)."""

from __future__ import annotations

import argparse

from ..errors import ParameterError
from ..files import check_output_paths
from ..guided import PRESET_NAMES, PRESETS, GuidedSettings, preset_paths, render_presets
from ..settings import check_int
from . import add_model_options, add_settings_options, input_path, load_cli_model, settings_from_args


def add_commands(subparsers) -> None:
    """Add the ``guide`` sub-command."""
    description = ("The dream image follows the gradient of feature, pixel and smoothness terms against the guide. "
                   "Writes a GIF and a PNG per preset into --out, with the course's names (guided.gif...). Presets: "
                   + "; ".join(f"{p.name} ({p.signs()}): {p.why}" for p in PRESETS.values()))  # fmt: skip
    summary = "guided hallucination: a dream image guided by a second image (seven presets)"
    parser = subparsers.add_parser("guide", help=summary, description=description)
    parser.add_argument("dream", nargs="?", help="dream image (subject 1) or sample name (default: the sample 'cat')")
    parser.add_argument("guide", nargs="?", help="guide image (subject 2) or sample name (default: 'coffee')")
    parser.add_argument("--all-presets", action="store_true", help="render all seven presets")
    parser.add_argument("--out", default="outputs/guided", help="output folder (default: outputs/guided)")
    parser.add_argument("--duration-ms", type=int, default=100, help="GIF frame time in ms (default: 100)")
    add_model_options(parser)
    add_settings_options(parser, GuidedSettings)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``guide``; returns the exit code (130 after Ctrl-C, with that preset's frames so far written)."""
    if args.all_presets and args.preset:
        raise ParameterError("give either --preset or --all-presets, not both")
    settings = settings_from_args(GuidedSettings, args)
    duration_ms = check_int(args.duration_ms, "--duration-ms", minimum=1, maximum=60_000, fix="use e.g. 100")
    presets = PRESET_NAMES if args.all_presets else (settings.preset,)
    dream, guide = input_path(args.dream, "photo", "cat"), input_path(args.guide, "photo", "coffee")
    targets = preset_paths(args.out, presets)
    # Before the model is loaded: an unusable --out costs a second, not a render.
    check_output_paths([path for pair in targets.values() for path in pair], inputs=[dream, guide])
    model = load_cli_model(args)
    print(f"dream: {dream}\nguide: {guide}")
    results = render_presets(dream, guide, args.out, presets, model, settings, duration_ms=duration_ms)
    for result in results:
        print("\n".join(f"wrote {path}" for path in targets[result.preset.name]))
    if results[-1].interrupted:
        print(f"interrupted during preset {results[-1].preset.name!r}: its frames so far were written; "
              "later presets skipped")  # fmt: skip
        raise KeyboardInterrupt
    return 0
