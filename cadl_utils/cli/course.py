"""``python -m cadl_utils course --out DIR`` (old name ``demo``): the CADL course's eleven pictures with its file
names, and index.html, a gallery of them with each one's caption, settings and command line (to make it again)."""

from __future__ import annotations

import html
import shlex
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

from .. import cli, models
from ..config import profile, weights_mode
from ..files import atomic_write, check_output_paths
from ..guided import COURSE_FILES, PRESETS

# (frames, steps per frame) of softmax and fractal, (steps, steps per frame) of guided and stylenet, fixed so that the
# frames of every GIF are known. The course (CADL session 4): 51 steps (frame every 5), 101 (every 10), 100 (every 5).
PLANS = {"full": ((20, 5), (21, 5), (100, 5), (100, 5)), "quick": ((4, 1), (4, 1), (4, 2), (4, 2))}
CAPTIONS = {  # file -> (title, what the course describes)
    "softmax.gif": ("Deep Dream feedback loop", "The jellyfish neuron's gradient (softmax2, class 647) is added to "
                    "the image, frame after frame: each frame dreams on from the last."),
    "fractal.gif": ("Fractal zoom", "The same jellyfish feedback loop, the image cropped at every margin and resized "
                    "back each frame, so the dream zooms in forever."),
    "guided.gif": ("Guided by itself", "The guide as the dream: the dot product grows what the network sees in it."),
    "guided2.gif": ("Guided, swapped", "The second subject as the dream, guided by the first (dot product)."),
    "guided_dot_notv.gif": ("Dot product, no TV", "The feature dot product without the total variation: unsmoothed."),
    "guided_l1.gif": ("L1 feature distance", "Ascending it: what would make the dream different from the guide."),
    "guided_l2.gif": ("L2 feature distance", "Ascending it: what would make the dream different from the guide."),
    "guided_l1_-fl.gif": ("Negative L1 feature loss", "Descending the L1 feature distance: towards the guide."),
    "guided_l2_-fl.gif": ("Negative L2 feature loss", "Descending the L2 feature distance: towards the guide."),
    "stylenet.gif": ("Style transfer", "The Starry Night's style painted onto a photograph, progressing over the "
                     "optimisation: the content loss keeps the layout, the Gram-matrix style loss brings the strokes."),
    "stylenet-c.gif": ("Style transfer, other weights", "The same with other weights for the content and style "
                       "losses (1:1 instead of 1:10): less of the painting, more of the photograph."),
}  # fmt: skip


class Picture(NamedTuple):
    """One course picture: file, title, caption, the command line that makes it, and the frames of its GIF."""

    file: str
    title: str
    caption: str
    argv: tuple[str, ...]
    frames: int


def add_commands(subparsers) -> None:
    """Add the ``course`` sub-command (also called ``demo``, its old name)."""
    summary = "render the course's eleven pictures and a gallery page (index.html) into a folder"
    description = f"{summary}. Each picture is an ordinary command line of this CLI, shown on the page."
    parser = subparsers.add_parser("course", aliases=["demo"], help=summary, description=description)
    parser.add_argument("--out", default="outputs/course", help="output folder (default outputs/course)")
    parser.add_argument("--weights", default=None, help="pretrained | untrained | auto (default: $CADL_WEIGHTS)")
    parser.set_defaults(func=lambda args: run_course(Path(args.out), args.weights))


def course_pictures(out: Path | str, weights: str = "untrained", profile_name: str | None = None) -> list[Picture]:
    """The eleven pictures in the course's order, writing into ``out`` with ``--weights weights`` (pretrained or
    untrained; untrained style pictures use random-multiscale) and the step counts of ``profile_name``."""
    plan = PLANS[profile(profile_name).name]
    (frames, every), (zoom_frames, zoom_every), (steps, per), (style_steps, style_per) = plan
    model, out = "random-multiscale" if weights == "untrained" else "inception5h", Path(out)
    style = ("style", "--model", model, "--steps", str(style_steps), "--frame-every", str(style_per), "--out", str(out),
             "--content-weight", "1")
    guide = ("guide", "cat", "astronaut", "--all-presets", "--steps", str(steps), "--frame-every", str(per),
             "--out", str(out))
    jobs = {  # file -> (command line, frames of its GIF)
        "softmax.gif": (("dream", "coffee", "--frames", str(frames), "--steps", str(every), "--step-size", "0.02",
                         "--out", str(out / "softmax.gif")), frames),
        "fractal.gif": (("zoom", "coffee", "--frames", str(zoom_frames), "--steps", str(zoom_every),
                         "--step-size", "0.02", "--out", str(out / "fractal.gif")), zoom_frames),
        **{f"{COURSE_FILES[name]}.gif": (guide, steps // per + 1) for name in PRESETS},
        "stylenet.gif": ((*style, "--style-weight", "10", "--name", "stylenet"), style_steps // style_per + 1),
        "stylenet-c.gif": ((*style, "--style-weight", "1", "--name", "stylenet-c"), style_steps // style_per + 1),
    }  # fmt: skip
    terms = {f"{COURSE_FILES[name]}.gif": f" Terms: {preset.signs()}." for name, preset in PRESETS.items()}
    return [Picture(file, CAPTIONS[file][0], CAPTIONS[file][1] + terms.get(file, ""), (*argv, "--weights", weights),
                    count) for file, (argv, count) in jobs.items()]


def resolve_weights(weights: str | None) -> tuple[str, str]:
    """The weights of every picture, decided once: (pretrained or untrained, what the page says). Pretrained ones
    are loaded now, so that an offline machine hears it once, before any picture; ``auto`` may fall back."""
    mode = weights_mode(weights)
    if mode == "untrained":
        return mode, "untrained (random weights)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a fall-back is said once, below
        model = models.load_model("inception5h", mode)
    if model.weights == "untrained":
        reason = getattr(model, "fallback_reason", None) or "not available"
        print(f"note: the pretrained weights cannot be had ({reason}); every picture uses --weights untrained")
        return "untrained", f"untrained: weights=auto fell back ({reason})"
    return "pretrained", f"pretrained ({getattr(model, 'source', 'inception5h')})"


def write_index(out: Path, pictures: list[Picture], weights: tuple[str, str], profile_name: str) -> None:
    """Write ``out/index.html``: each picture written so far, its caption, command and settings (not None)."""
    esc, parser = html.escape, cli.build_parser()
    banner = ("<p class=banner>Untrained network: these pictures are textures, not the course's jellyfish/objects."
              "</p>" if weights[0] == "untrained" else "")  # fmt: skip
    parts = ["<!doctype html><meta charset=utf-8><title>The course's pictures</title><style>body{font:16px sans-serif;"
             "max-width:60em;margin:auto}.banner{background:#c00;color:#fff;padding:1em}pre{white-space:pre-wrap}"
             "</style>",
             f"<h1>The course's pictures</h1>{banner}<p>Weights: {esc(weights[1])}. Profile: {esc(profile_name)}.</p>"]
    for picture in pictures:
        found = (out / picture.file).exists()
        image = f'<img src="{esc(picture.file)}" alt="{esc(picture.title)}">' if found else "<p>(not written)</p>"
        settings = ", ".join(f"{key}={value}" for key, value in vars(parser.parse_args(picture.argv)).items()
                             if value is not None and key not in ("func", "command", "out"))  # fmt: skip
        parts.append(f"<h2>{esc(picture.title)}: {esc(picture.file)}</h2>{image}<p>{esc(picture.caption)}</p><pre>"
                     f"python -m cadl_utils {esc(shlex.join(picture.argv))}</pre><p>Settings: {esc(settings)}</p>")
    with atomic_write(out / "index.html") as temporary:
        temporary.write_text("\n".join(parts) + "\n", encoding="utf-8")


def run_course(out: Path, weights: str | None = None) -> int:
    """Render the course's pictures through the CLI, rewriting index.html after each job; a failing job is
    reported and the others still run. Returns 0 (all written), 1 (a job failed) or 130 (interrupted)."""
    weights_mode(weights)  # a bad mode, then a bad --out, fail before anything is loaded or written
    check_output_paths([out / name for name in [*CAPTIONS, "index.html"]])
    chosen, active = resolve_weights(weights), profile().name
    pictures, failed = course_pictures(out, chosen[0], active), []
    for argv in dict.fromkeys(picture.argv for picture in pictures):
        files = ", ".join(picture.file for picture in pictures if picture.argv == argv)
        print(f"\n== {files}\n   python -m cadl_utils {shlex.join(argv)}", flush=True)
        code = cli.main(argv)
        write_index(out, pictures, chosen, active)
        if code == 130:
            print(f"interrupted: {out / 'index.html'} shows the pictures written so far", file=sys.stderr)
            return 130
        if code:
            failed.append(files)
    print(f"\nwrote {out / 'index.html'}: the gallery of the pictures in {out}/")
    if failed:
        print(f"\n{len(failed)} course job(s) failed: {'; '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
