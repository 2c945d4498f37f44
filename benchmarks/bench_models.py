"""inception5h speed: forward + gradient passes of the untrained stand-in (``python -m benchmarks.bench_models``).

Rows: softmax2[647] at 224 px (the full network), mixed4d at 512 px (a typical Deep Dream step), an
early layer (conv2d2) at 224 px (shows that it does not compute the rest of the graph), and the
same passes in bfloat16 and with the rewrites off (``rewrites=False``). Each time is the median of a few warm runs of a ``tf.function``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import cadl_utils  # noqa: F401  (quiet TensorFlow start-up)


def _image(size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    coarse = rng.uniform(0, 1, (1, size // 16 + 1, size // 16 + 1, 3)).astype(np.float32)
    return np.kron(coarse, np.ones((1, 16, 16, 1), np.float32))[:, :size, :size]


def time_gradient(model, layer: str, size: int, channel: int | None = None, repeats: int = 5) -> dict:
    """Median seconds of one forward + gradient pass of ``layer`` (one channel, or its mean).

    Args:
        model: an Inception5h.
        layer: layer name.
        size: square image side in px.
        channel: channel/class index, or None for the whole layer.
        repeats: timed runs after one warm-up (which also traces).

    Returns:
        ``{"median": s, "first": s, "nodes": graph nodes computed}``.
    """
    import tensorflow as tf

    @tf.function
    def step(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            features = model.extract(image, [layer])[0]
            picked = features if channel is None else features[..., channel]
            loss = tf.reduce_mean(picked)
        return tape.gradient(loss, image)

    image = tf.constant(_image(size))
    start = time.perf_counter()
    step(image).numpy()
    first = time.perf_counter() - start
    nodes = len(model.nodes_for([layer]))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(image).numpy()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "first": first, "nodes": nodes}


def main() -> dict:
    """Print the table and return the measurements keyed by row name."""
    import tensorflow as tf

    from cadl_utils.models.inception5h import load_inception5h

    start = time.perf_counter()
    model = load_inception5h(weights="untrained", precision="float32")
    built = time.perf_counter() - start
    jellyfish = model.label_index("jellyfish")
    rows = {
        "softmax2[647] @224": time_gradient(model, "softmax2", 224, jellyfish),
        "mixed4d @512": time_gradient(model, "mixed4d", 512),
        "conv2d2 @224": time_gradient(model, "conv2d2", 224),
    }
    fast = load_inception5h(weights="untrained", precision="bfloat16")
    rows["softmax2[647] @224 bf16"] = time_gradient(fast, "softmax2", 224, jellyfish)
    rows["mixed4d @512 bf16"] = time_gradient(fast, "mixed4d", 512)
    plain = load_inception5h(weights="untrained", precision="float32", rewrites=False)  # TensorFlow's own LRN and strided conv
    rows["mixed4d @512 plain ops"] = time_gradient(plain, "mixed4d", 512)

    print(f"inception5h stand-in built in {built:.2f} s; TensorFlow {tf.__version__}, "
          f"{len(model.graph.nodes)} graph nodes")
    print(f"{'forward + gradient':<26}{'median ms':>10}{'first ms':>10}{'nodes':>7}")
    for name, row in rows.items():
        print(f"{name:<26}{row['median'] * 1e3:>10.1f}{row['first'] * 1e3:>10.0f}{row['nodes']:>7}")
    full, early = rows["softmax2[647] @224"], rows["conv2d2 @224"]
    print(f"early layer / full pass at 224 px: {early['median'] / full['median']:.2f} of the time, "
          f"{early['nodes']} of {full['nodes']} nodes")
    return rows


if __name__ == "__main__":
    main()
