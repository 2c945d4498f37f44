"""The ``dream`` (feedback loop) and ``zoom`` (fractal zoom) commands."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from .. import objectives
from ..config import PRECISIONS, profile
from ..dream import MIN_IMAGE, DreamSettings, feedback_loop, fractal_zoom, required_side
from ..errors import NonFiniteError, ParameterError
from ..files import check_output_paths
from ..images import load_image
from ..models import MODEL_NAMES
from ..settings import check_int
from . import add_model_options, add_settings_options, input_path, load_cli_model, settings_from_args

ANIMATIONS = (".gif", ".mp4")
STILLS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
DESCRIPTIONS = {
    "dream": ("Deep Dream: the feedback loop as a GIF (default: jellyfish neuron of softmax2)",
              "Deep Dream an image: each frame adds --steps gradient steps to the previous one (the course's 'softmax' "
              "result); --frames 1 --octaves 4 --steps 10 makes one classic picture. Ctrl-C saves the frames so far."),
    "zoom": ("fractal zoom: dream, crop every margin, resize back, repeat (a GIF)",
             "Fractal zoom: after each frame the image is cropped by --margin around --center and resized back, so "
             "the dream zooms in forever. Ctrl-C stops and saves the frames finished so far."),
}  # fmt: skip


def add_commands(subparsers) -> None:
    """Add the ``dream`` and ``zoom`` sub-commands."""
    active = profile()
    for command, (summary, description) in DESCRIPTIONS.items():
        parser = subparsers.add_parser(command, help=summary, description=description)
        parser.add_argument("image", nargs="?",
                            help="input image: a file or a sample name (cat, coffee, astronaut, rocket; default cat)")
        add_model_options(parser, MODEL_NAMES)
        parser.add_argument("--precision", "--dtype", dest="precision", choices=PRECISIONS,
                            help="inception5h's compute precision (default CADL_PRECISION, else auto: bfloat16 "
                                 "where the hardware computes it natively)")
        parser.add_argument("--size", type=int, help="long side of the working image in px (default: the profile's, "
                            "raised to what the layer needs)")
        parser.add_argument("--layer", help="layer to dream with (default softmax2; see 'layers')")
        parser.add_argument("--neuron", help="class label or index of a softmax/logits layer (default jellyfish)")
        parser.add_argument("--channel", type=int, help="maximise this channel of --layer")
        parser.add_argument("--mean", action="store_true", help="maximise the mean activation of the whole --layer")
        parser.add_argument("--frames", type=int, default=active.frames, help=f"frames (default {active.frames})")
        steps = max(1, active.steps // 20)
        parser.add_argument("--steps", dest="frame_every", type=int, default=steps,
                            help=f"gradient steps per frame and octave (default {steps})")
        skip = ("steps", "frames", "frame_every", "include_start") + (() if command == "zoom" else ("margin", "center"))
        add_settings_options(parser, DreamSettings, skip=skip)
        parser.add_argument("--duration-ms", type=int, default=100, help="display time of each GIF frame (default 100)")
        parser.add_argument("--out", help="output: .gif or .mp4 for frames (a .png of the last frame is "
                            f"written next to it), .png/.jpg for one image (default outputs/{command}-<image>.gif)")
        parser.set_defaults(func=lambda args, command=command: run(args, command))


def run(args, command: str) -> int:
    """Check the settings and outputs, load the model, render, write the frames."""
    # Checked here so that the message names the option typed (--steps is the settings' frame_every).
    check_int(args.frame_every, "--steps", minimum=1, fix="use 1 or more, e.g. 5")
    settings = settings_from_args(DreamSettings, args)
    if args.size is not None:
        check_int(args.size, "--size", minimum=MIN_IMAGE, fix="use e.g. 512")
    source = input_path(args.image, "photo", "cat")
    out = Path(args.out or f"outputs/{command}-{source.stem}{'.gif' if settings.frames > 1 else '.png'}")
    if out.suffix.lower() not in ANIMATIONS + STILLS:
        raise ParameterError(f"--out {out} has no known extension: end it in .gif, .mp4 or .png")
    check_int(args.duration_ms, "--duration-ms", minimum=1, maximum=60_000, fix="use e.g. 100 (ms per frame)")
    # Before the model loads: an output that cannot be written, or would replace the input, fails now.
    animated = out.suffix.lower() in ANIMATIONS  # a .png of the last frame goes next to an animation
    check_output_paths([out, out.with_suffix(".png")] if animated else [out], inputs=(source,))
    model = load_cli_model(args, **({"precision": args.precision} if args.precision else {}))
    objective = _objective(args, model)
    image = _image(args, source, model, objective)
    print(f"{command}: {objective.describe()} on {source.name} ({image.shape[1]}x{image.shape[0]}), "
          f"{settings.frames} frame(s) x {settings.frame_every} step(s)")  # fmt: skip
    render = fractal_zoom if command == "zoom" else feedback_loop
    started, failure = time.perf_counter(), None
    try:
        result = render(image, objective, model, settings)
    except NonFiniteError as error:  # write the finite frames before it, then report it
        result, failure = error.result, error
    if result.frames:
        written = [result.save_gif(out, args.duration_ms, (source,))] if animated else []
        written.append(result.save(out.with_suffix(".png") if animated else out, (source,)))
        print("\n".join(f"wrote {path}" for path in written))
    if failure is not None:
        raise failure
    if result.interrupted:
        frames = len(result.frames)
        kept = f"{frames} finished frame(s) were saved" if frames else "no frame was finished, nothing saved"
        print(f"interrupted after {result.steps_done} steps: {kept}", file=sys.stderr)
        return 130
    print(f"done: {result.steps_done} steps in {time.perf_counter() - started:.1f} s")
    return 0


def _objective(args, model):
    """The objective named by --layer / --neuron / --channel / --mean."""
    name = args.layer
    if name is None:
        softmaxes = model.layer_names("softmax")
        name = "softmax2" if "softmax2" in softmaxes else (softmaxes[-1] if softmaxes else model.layers[-1].name)
    target = int(args.neuron) if isinstance(args.neuron, str) and args.neuron.strip().isdigit() else args.neuron
    if args.channel is not None:
        return objectives.channel(name, args.channel, model=model)
    if not args.mean and (target is not None or model.layer(name).kind in ("softmax", "logits")):
        return objectives.neuron("jellyfish" if target is None else target, name, model=model)
    return objectives.layer(name, model=model)


def _image(args, source: Path, model, objective):
    """Load the input at --size (raised to what the objective needs when --size was not given)."""
    image = load_image(source, size=args.size or profile().size)
    need, short = required_side(model, objective), min(image.shape[:2])
    if args.size is None and short < need:
        image = load_image(source, size=math.ceil(max(image.shape[:2]) * need / short))
        height, width = image.shape[:2]
        print(f"note: {objective.describe()} needs at least {need} px per side; using {width}x{height}")
    return image
