"""The ``layers``, ``fetch`` and ``export-standin`` commands."""

from __future__ import annotations

from ..models import MODEL_NAMES, load_model
from ..models.download import ensure_inception5h, inception5h_from_file
from ..models.standin import export_standin_zip
from ..settings import check_choice
from . import add_model_options


def add_commands(subparsers) -> None:
    """Add the ``layers``, ``fetch`` and ``export-standin`` sub-commands."""
    layers = subparsers.add_parser("layers", help="list a model's layers (name, kind, channels)")
    add_model_options(layers, MODEL_NAMES)
    layers.add_argument("--kind", help="only layers of this kind (conv_pre_relu, conv, mixed, pool, logits, softmax)")
    layers.set_defaults(func=run_layers)

    fetch = subparsers.add_parser("fetch", help="download and verify inception5h into the cache (or use your file)")
    fetch.add_argument("--cache-dir", help="cache folder (default: $CADL_CACHE_DIR or ~/.cache/cadl_utils)")
    fetch.add_argument("--url", help="https mirror of inception5h.zip (default: $CADL_INCEPTION5H_URL or Google's)")
    fetch.add_argument("--path", help="an inception5h.zip or tensorflow_inception_graph.pb you already have")
    fetch.set_defaults(func=run_fetch)

    export = subparsers.add_parser("export-standin", help="write the untrained stand-in as a zip like inception5h.zip")
    export.add_argument("out", help="path of the zip to write")
    export.add_argument("--seed", type=int, default=0, help="random seed of the weights (default 0)")
    export.set_defaults(func=run_export_standin)


def run_layers(args) -> int:
    """Print the model line and one row per layer: name, kind, channels."""
    model = load_model(args.model, args.weights)
    if args.kind is not None:  # a typo would print no layer at all
        check_choice(args.kind, "--kind", sorted({info.kind for info in model.layers}))
    print(model.describe())
    for info in model.layers:
        if args.kind is None or info.kind == args.kind:
            print(f"{info.name:48s} {info.kind:14s} {info.channels:6d}")
    return 0


def run_fetch(args) -> int:
    files = (inception5h_from_file(args.path, cache_dir=args.cache_dir) if args.path
             else ensure_inception5h(cache_dir=args.cache_dir, url=args.url))  # fmt: skip
    print(f"inception5h graph ready: {files.pb}")
    return 0


def run_export_standin(args) -> int:
    path = export_standin_zip(args.out, seed=args.seed)
    print(f"wrote {path} (UNTRAINED stand-in with inception5h's topology; not the real weights)")
    return 0
