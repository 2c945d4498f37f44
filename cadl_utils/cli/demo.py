"""``python -m cadl_utils demo``: every technique on the sample images, headless.

The demo is a list of the ordinary command lines a user types (``dream``, ``zoom``, ``guide``, ``style``), so it
shows how to reproduce each result and exercises the CLI itself. ``CADL_PROFILE=quick`` makes it fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_commands(subparsers) -> None:
    """Add the ``demo`` sub-command."""
    description = ("Runs dream, zoom, guide (all presets) and style (progression and sweep) on the sample images and "
                   "prints every file written. CADL_PROFILE=quick makes it fast.")
    summary = "render every technique on the sample images into a folder (headless)"
    parser = subparsers.add_parser("demo", help=summary, description=description)
    parser.add_argument("--out", default="outputs", help="output folder (default outputs)")
    parser.add_argument("--weights", default=None, help="pretrained | untrained | auto (default: $CADL_WEIGHTS)")
    parser.set_defaults(func=lambda args: run_demo(Path(args.out), args.weights))


def demo_jobs(out: Path, weights: str | None = None) -> list[tuple[str, list[str]]]:
    """The demo's ``(title, argv)`` jobs in order, writing into ``out`` (``weights`` None: ``CADL_WEIGHTS``)."""
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
    """Run every job of ``demo_jobs`` through the CLI (a failing job is reported, the others still run).
    Returns 0 when every job succeeded, 1 when one failed, 130 when interrupted."""
    from ..config import weights_mode
    from ..files import check_output_path
    from . import main

    weights_mode(weights)  # a bad mode or --out fails once, before the first job
    check_output_path(Path(out) / "dream-jellyfish.gif")
    failed = []
    for title, argv in demo_jobs(Path(out), weights):
        print(f"\n== {title}\n   python -m cadl_utils {' '.join(argv)}", flush=True)
        started = time.perf_counter()
        code = main(argv)
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
