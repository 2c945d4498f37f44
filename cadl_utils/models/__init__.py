"""Networks: inception5h (pretrained download or untrained stand-in) and Keras backbones.

``load_model(name, weights)`` is the one entry point the engines, notebooks and CLI use.
"""

from __future__ import annotations

import argparse
import difflib

from ..config import weights_mode
from ..errors import ModelError
from .base import LayerInfo, Model

MODEL_NAMES = ("inception5h", "vgg19", "inception_v3")

__all__ = ["LayerInfo", "Model", "MODEL_NAMES", "load_model", "resolve_model", "add_cli"]


def load_model(name: str = "inception5h", weights: str | None = None, **kwargs) -> Model:
    """Load a network by name.

    Args:
        name: ``inception5h`` (the course's network), ``vgg19`` or ``inception_v3``.
        weights: ``pretrained``, ``untrained``, ``auto`` or None (``CADL_WEIGHTS``, default pretrained).
        **kwargs: passed to the model's loader (e.g. ``cache_dir``, ``seed``, ``path``).

    Returns:
        The Model; ``model.weights`` says which weights were actually loaded.
    """
    key = str(name).strip().lower().replace("-", "_")
    mode = weights_mode(weights)
    if key == "inception5h":
        from .inception5h import load_inception5h

        return load_inception5h(weights=mode, **kwargs)
    if key in ("vgg19", "inception_v3"):
        from .keras_backbones import load_keras_backbone

        return load_keras_backbone(key, weights=mode, **kwargs)
    close = difflib.get_close_matches(key, MODEL_NAMES, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelError(f"unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}.{hint}")


def resolve_model(model: "Model | str | None" = None, weights: str | None = None) -> Model:
    """The one model resolver of the engines and widgets.

    Args:
        model: a Model (returned as it is), a model name, or None for inception5h.
        weights: the weights mode when a model is loaded (None: ``CADL_WEIGHTS``).

    Returns:
        The Model.
    """
    if model is None or isinstance(model, str):
        return load_model(model or "inception5h", weights)
    return model


def _run_layers(args: argparse.Namespace) -> int:
    model = load_model(args.model, args.weights)
    print(model.describe())
    for info in model.layers:
        if args.kind is None or info.kind == args.kind:
            print(f"{info.name:48s} {info.kind:14s} {info.channels:6d}")
    return 0


def _run_fetch(args: argparse.Namespace) -> int:
    from .download import ensure_inception5h, inception5h_from_file

    if args.path:
        files = inception5h_from_file(args.path)
    else:
        files = ensure_inception5h(cache_dir=args.cache_dir, url=args.url)
    print(f"inception5h graph ready: {files.pb}")
    return 0


def _run_export_standin(args: argparse.Namespace) -> int:
    from .standin import export_standin_zip

    path = export_standin_zip(args.out, seed=args.seed)
    print(f"wrote {path} (UNTRAINED stand-in with inception5h's topology; not the real weights)")
    return 0


def add_cli(subparsers) -> None:
    """Add the ``layers``, ``fetch`` and ``export-standin`` sub-commands."""
    layers = subparsers.add_parser("layers", help="list a model's layers (name, kind, channels)")
    layers.add_argument("--model", default="inception5h", choices=MODEL_NAMES, help="network (default inception5h)")
    layers.add_argument("--weights", default=None, help="pretrained | untrained | auto (default: $CADL_WEIGHTS or pretrained)")
    layers.add_argument("--kind", default=None, help="only layers of this kind (conv_pre_relu, conv, mixed, pool, logits, softmax)")
    layers.set_defaults(func=_run_layers)

    fetch = subparsers.add_parser("fetch", help="download and verify inception5h into the cache (or register a file you have)")
    fetch.add_argument("--cache-dir", default=None, help="cache folder (default: $CADL_CACHE_DIR or ~/.cache/cadl_utils)")
    fetch.add_argument("--url", default=None, help="mirror of inception5h.zip (default: $CADL_INCEPTION5H_URL or Google's URL)")
    fetch.add_argument("--path", default=None, help="an inception5h.zip or tensorflow_inception_graph.pb you already have")
    fetch.set_defaults(func=_run_fetch)

    export = subparsers.add_parser("export-standin", help="write the untrained stand-in as a zip laid out like inception5h.zip")
    export.add_argument("out", help="path of the zip to write")
    export.add_argument("--seed", type=int, default=0, help="random seed of the weights (default 0)")
    export.set_defaults(func=_run_export_standin)
