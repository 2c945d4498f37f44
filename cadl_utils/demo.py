"""``python -m cadl_utils demo``: render every technique on the sample images, headless.

The demo is a list of ordinary command lines (the same ``dream``, ``zoom``, ``guide`` and ``style``
sub-commands a user types), so it shows how to reproduce each result and exercises the CLI itself.
Sizes and steps follow the profile (``CADL_PROFILE=quick`` for a fast run).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .errors import CadlError


def demo_jobs(out: Path, weights: str | None = None) -> list[tuple[str, list[str]]]:
    """The demo's jobs: a title and the sub-command's arguments for each.

    Args:
        out: output folder.
        weights: weights mode passed to every job (None: ``CADL_WEIGHTS``).

    Returns:
        ``(title, argv)`` pairs, in the order they run.
    """
    extra = ["--weights", weights] if weights else []
    return [
        ("Deep Dream feedback loop: the jellyfish neuron (the course's 'softmax')",
         ["dream", "cat", "--out", str(out / "dream-jellyfish.gif"), *extra]),
        ("Deep Dream of one channel, 3 octaves",
         ["dream", "coffee", "--layer", "mixed4d_3x3_bottleneck_pre_relu", "--channel", "139",
          "--octaves", "3", "--out", str(out / "dream-mixed4d-139.gif"), *extra]),
        ("Fractal zoom (the course's 'fractal')",
         ["zoom", "astronaut", "--out", str(out / "zoom-jellyfish.gif"), *extra]),
        ("Guided hallucination: all seven variants",
         ["guide", "--all-presets", "--out", str(out / "guided"), *extra]),
        ("Style transfer progression (the course's 'stylenet')",
         ["style", "--out", str(out), "--name", "style", *extra]),
        ("Style transfer weight sweep (the course's 'stylenet-c')",
         ["style", "--sweep", "1:0.1", "1:1", "1:10", "--out", str(out), "--name", "style", *extra]),
    ]  # fmt: skip


def run_demo(out: Path, weights: str | None = None) -> int:
    """Run every demo job; a failing job is reported and the others still run.

    Args:
        out: output folder (created).
        weights: weights mode for every job.

    Returns:
        0 when every job succeeded, 1 when one failed, 130 when interrupted.
    """
    from .cli import build_parser

    parser = build_parser()
    failed = []
    for title, argv in demo_jobs(Path(out), weights):
        print(f"\n== {title}\n   python -m cadl_utils {' '.join(argv)}", flush=True)
        started = time.perf_counter()
        args = parser.parse_args(argv)
        try:
            code = int(args.func(args) or 0)
        except CadlError as error:
            print(f"error: {error}", file=sys.stderr)
            code = 2
        if code == 130:
            return 130
        if code != 0:
            failed.append(title)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    if failed:
        print(f"\n{len(failed)} demo job(s) failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall demo outputs are in {out}/")
    return 0


def add_cli(subparsers) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="render every technique on the sample images into a folder (headless)",
        description="Runs dream, zoom, guide (all presets) and style (progression and sweep) on the "
        "sample images and prints every file written. CADL_PROFILE=quick makes it fast.",
    )
    parser.add_argument("--out", default="outputs", help="output folder (default outputs)")
    parser.add_argument("--weights", default=None, help="pretrained | untrained | auto (default: $CADL_WEIGHTS)")
    parser.set_defaults(func=lambda args: run_demo(Path(args.out), args.weights))

