"""Deep Dream speed: cadl_utils.dream against the TensorFlow 2 tutorial's approach (``python -m benchmarks.bench_dream``).

The baseline re-implements the approach of the TensorFlow 2 "DeepDream" tutorial on the same
inception5h model (``model.extract``) and objective (mean activation of ``--layer``):

- *simple*: the tutorial's ``DeepDream`` module, one ``tf.function(input_signature=...)`` whose body
  loops ``for n in tf.range(steps)`` over tape -> gradient / (std + 1e-8) -> add -> clip;
- *tiled*: the tutorial's ``TiledGradients``: a random roll of up to a tile, then a ``tf.function``
  looping over tile positions with ``tf.range``, each tile's loss differentiated with respect to the
  whole rolled image and accumulated, rolled back, normalised by the std; the step loop in Python.
  One quirk is not copied: the tutorial drops the last tile position (``tf.range(...)[:-1]``), so
  part of the image gets no gradient in a step; here both contestants cover every pixel every step,
  so they do the same work.

Both run in one process, alternating, on the same images, sizes and numbers of steps (tracing
excluded: each is warmed up first); both comparisons are repeated in ``--processes`` fresh processes
and the median taken, as the tutorial's loops run at different speeds in different processes. Also
measured in the same run, interleaved round by round (ratios per round, then medians: another process
on a shared machine slows a whole round alike):

- float32, bfloat16 and ``auto`` precision steps at 512 px, the FLOP/s of a 4096^2 ``tf.matmul`` in
  both dtypes, and TensorFlow itself running the frozen graph (``import_graph_def`` through
  ``wrap_function``) with the tutorial's loop; a step's FLOPs are counted from the graph's convolutions
  and matmuls (forward + input gradient = 2x the forward pass); and the same convolutions alone, on random
  tensors in one graph: the rate TensorFlow's kernels reach on these shapes, and their share of a step;
- quality of bfloat16: the objective gain after 20 steps from the same start (both pictures judged by
  the float32 network) and the PSNR of one step against float32;
- time per megapixel from 256 to 2048 px, and the peak RSS of a tiled 4096 px step in a subprocess.

``python -m benchmarks.bench_dream`` prints every target of issues 4 and 14 with its value and met / not
met, and writes ``outputs/bench_dream.json``. It takes several minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import cadl_utils  # noqa: F401  (quiet TensorFlow start-up)
from cadl_utils.files import atomic_write

REPO = Path(__file__).resolve().parents[1]


# --- the tutorial's approach -----------------------------------------------------------------------


class TutorialDeepDream:
    """The tutorial's ``DeepDream`` module: the whole step loop inside one tf.function."""

    def __init__(self, model, layers):
        import tensorflow as tf

        self.model = model
        self.layers = list(layers)
        self.__call__ = tf.function(
            self._call,
            input_signature=(
                tf.TensorSpec([None, None, 3], tf.float32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
            ),
        )

    def calc_loss(self, img):
        import tensorflow as tf

        activations = self.model.extract(tf.expand_dims(img, 0), self.layers)
        return tf.reduce_sum([tf.reduce_mean(a) for a in activations])

    def _call(self, img, steps, step_size):
        import tensorflow as tf

        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(img)
                loss = self.calc_loss(img)
            gradients = tape.gradient(loss, img)
            gradients /= tf.math.reduce_std(gradients) + 1e-8
            img = img + gradients * step_size
            img = tf.clip_by_value(img, 0.0, 1.0)
        return loss, img

    def run(self, img, steps, step_size):
        import tensorflow as tf

        _, out = self.__call__(tf.convert_to_tensor(img), tf.constant(steps), tf.constant(step_size))
        return out


class TutorialTiled:
    """The tutorial's ``TiledGradients`` plus its Python step loop (random roll of up to a tile)."""

    def __init__(self, model, layers, seed: int = 0):
        import tensorflow as tf

        self.model = model
        self.layers = list(layers)
        self.rng = tf.random.Generator.from_seed(seed)
        self.gradients = tf.function(
            self._gradients,
            input_signature=(
                tf.TensorSpec([None, None, 3], tf.float32),
                tf.TensorSpec([2], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([2], tf.int32),
            ),
        )

    def _gradients(self, img, img_size, tile_size, shift):
        import tensorflow as tf

        img_rolled = tf.roll(img, shift=shift, axis=[0, 1])
        gradients = tf.zeros_like(img_rolled)
        xs = tf.range(0, img_size[1], tile_size)
        ys = tf.range(0, img_size[0], tile_size)
        for x in xs:
            for y in ys:
                with tf.GradientTape() as tape:
                    tape.watch(img_rolled)
                    img_tile = img_rolled[y : y + tile_size, x : x + tile_size]
                    activations = self.model.extract(tf.expand_dims(img_tile, 0), self.layers)
                    loss = tf.reduce_sum([tf.reduce_mean(a) for a in activations])
                gradients = gradients + tape.gradient(loss, img_rolled)
        gradients = tf.roll(gradients, shift=-shift, axis=[0, 1])
        gradients /= tf.math.reduce_std(gradients) + 1e-8
        return gradients

    def run(self, img, steps, step_size, tile_size):
        import tensorflow as tf

        img = tf.convert_to_tensor(img)
        size = tf.constant(img.shape[:2], tf.int32)
        for _ in range(steps):
            shift = self.rng.uniform([2], minval=-tile_size, maxval=tile_size, dtype=tf.int32)
            grads = self.gradients(img, size, tf.constant(tile_size), shift)
            img = tf.clip_by_value(img + grads * step_size, 0.0, 1.0)
        return img


# --- measurements ----------------------------------------------------------------------------------


def _graph_ops(layers, height: int, width: int):
    """The Conv2D and MatMul operations of inception5h's graph definition that compute ``layers`` at this size
    (the stand-in has the same topology and shapes), in a TF1 graph with static shapes."""
    import tensorflow as tf

    from cadl_utils.models.standin import standin_graphdef

    # Only the nodes the layers need (the auxiliary heads cannot take every image size).
    pruned = tf.compat.v1.graph_util.extract_sub_graph(standin_graphdef(), list(layers))
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [1, height, width, 3])
        tf.graph_util.import_graph_def(pruned, input_map={"input": image}, name="")
    return [op for op in graph.get_operations() if op.type in ("Conv2D", "MatMul")]


def forward_flops(layers, height: int, width: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of the network's own convolutions and matmuls computing ``layers``.

    Counted on inception5h's graph definition, not on what the interpreter traces: its faster rewrites
    (conv2d0 as a zero-padded stride-1 conv) must not inflate the count.
    """
    total = 0
    for op in _graph_ops(layers, height, width):
        if op.type == "Conv2D":
            out, kernel = op.outputs[0].shape, op.inputs[1].shape
            total += 2 * out[1] * out[2] * out[3] * kernel[0] * kernel[1] * kernel[2]
        else:
            a, b = op.inputs[0].shape, op.inputs[1].shape
            total += 2 * a[0] * a[1] * b[1]
    return int(total)


def conv_clock(layer: str, size: int, dtype: str):
    """A traced function to time (``_time``): the step's convolutions alone, every Conv2D of the graph up to
    ``layer`` at ``size`` px, forward and input gradient, on random tensors in ``dtype``, all in one tf.function
    (independent, so TensorFlow may run two at once, as it runs an inception block's branches). Their FLOPs
    are a step's FLOPs (``2 * forward_flops``), so FLOPs / this time is the rate TensorFlow's own kernels reach
    on these shapes: what a step could reach if everything else (ReLU, LRN, pooling, concat, casts) took no time."""
    import tensorflow as tf

    convs = [(tuple(op.inputs[0].shape), tuple(op.inputs[1].shape), tuple(op.outputs[0].shape),
              list(op.get_attr("strides")), op.get_attr("padding").decode())
             for op in _graph_ops([layer], size, size) if op.type == "Conv2D"]  # fmt: skip
    tensors = [[tf.cast(tf.random.normal(shape, seed=i) * scale, dtype) for shape, scale in
                ((x, 1.0), (k, 0.05), (y, 1.0))] for i, (x, k, y, _, _) in enumerate(convs)]  # fmt: skip

    @tf.function
    def run(tensors):
        total = tf.constant(0.0)
        for (x, kernel, dy), (x_shape, _, _, strides, padding) in zip(tensors, convs):
            y = tf.nn.conv2d(x, kernel, strides, padding)
            dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=x_shape, filter=kernel, out_backprop=dy, strides=strides,
                                                padding=padding)
            total += tf.cast(y[0, 0, 0, 0] + dx[0, 0, 0, 0], tf.float32)  # keeps both alive, reads one value
        return total

    run(tensors).numpy()
    return lambda: run(tensors)


def _time(fn) -> float:
    start = time.perf_counter()
    result = fn()
    if hasattr(result, "numpy"):
        result.numpy()
    return time.perf_counter() - start


def _ours(dreamer, image, steps, step_size, tile_size=None, jitter=0, seed=0):
    """Our loop without the progress bar: the same calls dream() makes per step."""
    import tensorflow as tf

    from cadl_utils.dream import DreamSettings

    settings = DreamSettings(step_size=step_size, seed=seed, jitter=jitter, tile_size=tile_size, normalize="std")
    x = tf.convert_to_tensor(image)
    for index in range(steps):
        x, _ = dreamer.step(x, settings, index)
    return x


def _image(size: int, seed: int = 0) -> np.ndarray:
    import tensorflow as tf

    small = np.random.default_rng(seed).random((max(2, size // 16), max(2, size // 16), 3)).astype(np.float32)
    return np.clip(tf.image.resize(small[None], (size, size), method="bicubic")[0].numpy(), 0.0, 1.0)


def _median_ratio(ours: list, theirs: list) -> float:
    """The median of per-round time ratios: another process slows a whole round alike, so ratios are steadier
    than a ratio of medians on a shared machine."""
    return statistics.median(a / b for a, b in zip(ours, theirs))


def compare_simple(model, objective, layer, size, steps, rounds, step_size=0.01) -> dict:
    """Alternating runs: the tutorial's DeepDream module vs our untiled step, no jitter."""
    from cadl_utils.dream import get_dreamer

    dreamer = get_dreamer(model, objective)
    tutorial = TutorialDeepDream(model, [layer])
    image = _image(size)
    tutorial.run(image, 1, step_size).numpy()  # trace
    _ours(dreamer, image, 1, step_size).numpy()
    ours_times, tutorial_times = [], []
    for _ in range(rounds):
        tutorial_times.append(_time(lambda: tutorial.run(image, steps, step_size)) / steps)
        ours_times.append(_time(lambda: _ours(dreamer, image, steps, step_size)) / steps)
    # One step: the same maths gives the same picture (float rounding only). Over more steps the
    # untrained network amplifies rounding differences, so later pictures drift apart.
    difference = float(np.abs(tutorial.run(image, 1, step_size).numpy() - _ours(dreamer, image, 1, step_size).numpy()).max())
    return {
        "size": size,
        "steps": steps,
        "tutorial_s_per_step": statistics.median(tutorial_times),
        "ours_s_per_step": statistics.median(ours_times),
        "time_ratio_ours_over_tutorial": _median_ratio(ours_times, tutorial_times),
        "max_abs_difference_of_results": difference,
    }


def compare_tiled(model, objective, layer, size, tile, steps, rounds, step_size=0.01) -> dict:
    """Alternating runs: the tutorial's TiledGradients loop vs our tiled step (both roll randomly)."""
    from cadl_utils.dream import get_dreamer

    dreamer = get_dreamer(model, objective)
    tutorial = TutorialTiled(model, [layer])
    image = _image(size, 1)
    tutorial.run(image, 1, step_size, tile).numpy()
    _ours(dreamer, image, 1, step_size, tile_size=tile, jitter=32).numpy()
    ours_times, tutorial_times = [], []
    for _ in range(rounds):
        tutorial_times.append(_time(lambda: tutorial.run(image, steps, step_size, tile)) / steps)
        ours_times.append(_time(lambda: _ours(dreamer, image, steps, step_size, tile_size=tile, jitter=32)) / steps)
    return {
        "size": size,
        "tile": tile,
        "steps": steps,
        "tutorial_s_per_step": statistics.median(tutorial_times),
        "ours_s_per_step": statistics.median(ours_times),
        "time_ratio_ours_over_tutorial": _median_ratio(ours_times, tutorial_times),
    }


def per_megapixel(model, objective, sizes, tile, untiled_max, steps_for, rounds) -> list[dict]:
    """Seconds per step per megapixel, untiled up to ``untiled_max`` and tiled from 1024 px.

    Sizes alternate within each round and the fastest round counts: other processes on a shared
    machine only ever add time, so the minimum is the steadiest estimate of the cost itself.
    """
    from cadl_utils.dream import get_dreamer

    dreamer = get_dreamer(model, objective)
    cases = []
    for size in sizes:
        if size <= untiled_max:
            cases.append((size, None))
        if size >= 1024:
            cases.append((size, tile))
    images = {size: _image(size, 2) for size in sizes}
    for size, mode in cases:
        _ours(dreamer, images[size], 1, 0.01, tile_size=mode).numpy()  # warm-up at this size
    times = {case: [] for case in cases}
    for _ in range(rounds):
        for size, mode in cases:
            steps = steps_for(size)
            times[(size, mode)].append(_time(lambda: _ours(dreamer, images[size], steps, 0.01, tile_size=mode)) / steps)
    rows = []
    for (size, mode), values in times.items():
        seconds = min(values)
        rows.append({"size": size, "tile": mode, "s_per_step": seconds, "s_per_megapixel": seconds / (size * size / 1e6),
                     "s_per_step_all_rounds": values})  # fmt: skip
    return rows


class FrozenGraphTutorial(TutorialDeepDream):
    """The tutorial's loop on TensorFlow executing the frozen graph itself (``import_graph_def``)."""

    def __init__(self, graph_def, layer):
        import tensorflow as tf

        super().__init__(None, [layer])
        # TF2's way to run a TF1 frozen graph: wrap_function + prune gives a differentiable function.
        wrapped = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
        self.network = wrapped.prune(feeds=["input:0"], fetches=[f"{layer}:0"])

    def calc_loss(self, img):
        import tensorflow as tf

        return tf.reduce_mean(self.network(tf.expand_dims(img, 0) * 255.0 - 117.0)[0])


def matmul_rate(dtype: str, n: int = 4096) -> float:
    """FLOP/s of one n x n tf.matmul in ``dtype`` (float32 or bfloat16): the machine's dense-maths rate."""
    import tensorflow as tf

    a, b = (tf.cast(tf.random.normal([n, n], seed=i), dtype) for i in (1, 2))
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1], tf.float32)))
    matmul(a, b).numpy()
    return 2.0 * n**3 / min(_time(lambda: matmul(a, b)) for _ in range(2))


def _psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def precision_comparison(weights, layer, size, steps, rounds) -> dict:
    """float32, bfloat16 and ``auto`` steps at ``size`` px, the matmul rates of both dtypes and TensorFlow running
    the frozen graph with the tutorial's loop, interleaved in every round (ratios per round, then medians: other
    processes on a shared machine slow everything in a round alike); then the quality of bfloat16 vs float32."""
    from cadl_utils import objectives
    from cadl_utils.dream import get_dreamer
    from cadl_utils.models import load_model
    from cadl_utils.models.standin import standin_graphdef

    image = _image(size, 3)
    models = {p: load_model("inception5h", weights, precision=p) for p in ("float32", "bfloat16", "auto")}
    dreamers = {p: get_dreamer(m, objectives.layer(layer)) for p, m in models.items()}
    graph_def = standin_graphdef() if models["float32"].weights == "untrained" else None
    frozen = FrozenGraphTutorial(graph_def, layer) if graph_def is not None else None
    clocks = {p: (lambda d=d: _ours(d, image, steps, 0.01)) for p, d in dreamers.items()}
    if frozen is not None:
        clocks["frozen"] = lambda: frozen.run(image, steps, 0.01)
    for clock in clocks.values():
        clock().numpy()  # trace
    convs = {f"convs_{dtype}": conv_clock(layer, size, dtype) for dtype in ("float32", "bfloat16")}
    flop = 2 * forward_flops([layer], size, size)
    rows = []
    for _ in range(rounds):
        row = {name: _time(clock) / steps for name, clock in clocks.items()}
        row.update({name: _time(clock) for name, clock in convs.items()})
        row.update(mm_float32=matmul_rate("float32"), mm_bfloat16=matmul_rate("bfloat16"))
        rows.append(row)
    med = lambda f: statistics.median(f(r) for r in rows)  # noqa: E731
    out = {"size": size, "steps": steps, "rounds": rows, "step_gflop": flop / 1e9, "auto_is": models["auto"].dtype,
           "float32_of_matmul": med(lambda r: flop / r["float32"] / r["mm_float32"]),
           "bfloat16_of_matmul": med(lambda r: flop / r["bfloat16"] / r["mm_bfloat16"]),
           "auto_speedup": med(lambda r: r["float32"] / r["auto"]),
           "bfloat16_speedup": med(lambda r: r["float32"] / r["bfloat16"]),
           "matmul_bfloat16_over_float32": med(lambda r: r["mm_bfloat16"] / r["mm_float32"])}
    for dtype in ("float32", "bfloat16"):  # the convolutions alone: their rate, and their share of a step's time
        out[f"{dtype}_convs_of_matmul"] = med(lambda r: flop / r[f"convs_{dtype}"] / r[f"mm_{dtype}"])
        out[f"{dtype}_convs_share_of_step"] = med(lambda r: r[f"convs_{dtype}"] / r[dtype])
    if frozen is not None:
        out["float32_over_frozen_graph"] = med(lambda r: r["float32"] / r["frozen"])
    out.update(quality(models, layer, image))
    return out


def quality(models, layer, image, steps: int = 20, starts: int = 4) -> dict:
    """bfloat16 against float32 from the same starts: the objective gain after ``steps`` steps (both judged by
    the float32 network) and the PSNR of one step. On the untrained network 20 steps are chaotic: one start's
    gain ratio spreads about +-10 % either way for a given rounding, so the gains are summed over ``starts``
    start images (``image`` and ``starts - 1`` others) and each start's ratio is kept too."""
    from cadl_utils import objectives
    from cadl_utils.dream import get_dreamer

    judge = lambda x: float(np.mean(models["float32"].extract(np.asarray(x)[None], [layer])[0]))  # noqa: E731
    dreamers = {p: get_dreamer(models[p], objectives.layer(layer)) for p in ("float32", "bfloat16")}
    images = [image] + [_image(image.shape[0], 100 + k) for k in range(starts - 1)]
    gains, psnr_one, psnr_after = {"float32": [], "bfloat16": []}, [], []
    for start in images:
        after = {p: _ours(d, start, steps, 0.01, jitter=32).numpy() for p, d in dreamers.items()}
        one = {p: _ours(d, start, 1, 0.01).numpy() for p, d in dreamers.items()}
        for p in after:
            gains[p].append(judge(after[p]) - judge(start))
        psnr_one.append(_psnr(one["float32"], one["bfloat16"]))
        psnr_after.append(_psnr(after["float32"], after["bfloat16"]))
    return {"objective_gain_float32": float(np.mean(gains["float32"])),
            "objective_gain_bfloat16": float(np.mean(gains["bfloat16"])),
            "gain_ratio": float(np.sum(gains["bfloat16"]) / np.sum(gains["float32"])),
            "gain_ratio_per_start": [b / f for b, f in zip(gains["bfloat16"], gains["float32"])],
            "quality_steps": steps, "quality_starts": len(images),
            "psnr_db_1_step": min(psnr_one), "psnr_db_after_steps": float(np.median(psnr_after))}


def in_processes(args, kind: str, size: int) -> dict:
    """``compare_simple`` (``kind`` simple) or ``compare_tiled`` (tiled) at ``size`` in ``--processes`` fresh
    processes, one after another. The tutorial's loops run at different speeds in different processes (its tiled
    loop 0.30-0.73 s at 1024 px, its simple one about 0.09-0.3 s at 512 px, beside ours' steady times): the ratio
    is the median over processes; each process's own result is kept."""
    rows = []
    for _ in range(args.processes):
        command = [sys.executable, "-m", "benchmarks.bench_dream", f"--child-{kind}", str(size), "--tile",
                   str(args.tile), "--layer", args.layer, "--weights", args.weights, "--precision", args.precision,
                   "--rounds", str(args.rounds), "--steps", str(args.steps)]  # fmt: skip
        output = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True, timeout=1800)
        rows.append(json.loads(output.stdout.strip().splitlines()[-1]))
    out = {key: statistics.median(row[key] for row in rows) for key in
           ("tutorial_s_per_step", "ours_s_per_step", "time_ratio_ours_over_tutorial")}  # fmt: skip
    return {**rows[0], **out, "processes": rows}


def _child_compare(args) -> None:
    """In the subprocess: one ``compare_simple`` (``--child-simple``) or ``compare_tiled`` (``--child-tiled``)."""
    from cadl_utils import objectives
    from cadl_utils.models import load_model

    model = load_model("inception5h", args.weights, precision=args.precision)
    objective = objectives.layer(args.layer)
    if args.child_simple:
        result = compare_simple(model, objective, args.layer, args.child_simple, args.steps, args.rounds)
    else:
        steps = max(1, 2 * 1024**2 // args.child_tiled**2)
        rounds = max(2, args.rounds // 2)
        result = compare_tiled(model, objective, args.layer, args.child_tiled, args.tile, steps, rounds)
    print(json.dumps(result))


def rss_child(size: int, tile: int, steps: int, layer: str, weights: str) -> dict:
    """Run a tiled dream step in a fresh process and report its peak RSS."""
    command = [sys.executable, "-m", "benchmarks.bench_dream", "--child-rss", str(size), "--tile", str(tile),
               "--child-steps", str(steps), "--layer", layer, "--weights", weights]  # fmt: skip
    output = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(output.stdout.strip().splitlines()[-1])


def _child_rss(args) -> None:
    """In the subprocess: load, measure RSS, dream ``--child-steps`` tiled steps, print JSON."""
    from cadl_utils import objectives
    from cadl_utils.dream import get_dreamer
    from cadl_utils.models import load_model

    model = load_model("inception5h", args.weights)
    dreamer = get_dreamer(model, objectives.layer(args.layer))
    image = np.random.default_rng(0).random((args.child_rss, args.child_rss, 3), dtype=np.float32)
    loading_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    before_mb = _status_mb("VmRSS")
    # Reset the kernel's high-water mark so the dream's own peak is visible (Linux >= 4.0).
    reset = _reset_peak()
    start = time.perf_counter()
    out = _ours(dreamer, image, args.child_steps, 0.01, tile_size=args.tile, jitter=32)
    assert np.all(np.isfinite(out.numpy()))
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dream_peak_mb = _status_mb("VmHWM") if reset else float("nan")
    print(json.dumps({"size": args.child_rss, "tile": args.tile, "steps": args.child_steps, "seconds": seconds,
                      "peak_rss_mb": peak_mb, "peak_rss_while_dreaming_mb": dream_peak_mb,
                      "rss_before_dream_mb": before_mb, "peak_rss_while_loading_mb": loading_peak_mb}))  # fmt: skip


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status in MB (NaN where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# --- report ----------------------------------------------------------------------------------------


def targets(results: dict) -> list[tuple[str, float, str, bool]]:
    """Every target of the dream benchmark: (what, measured value, goal, met)."""
    rows = []
    p = results.get("precision")
    if p:
        rows += [
            (f"bf16 step FLOP/s / bf16 matmul FLOP/s ({p['size']} px)", p["bfloat16_of_matmul"], ">= 0.5",
             p["bfloat16_of_matmul"] >= 0.5),
            ("fp32 step FLOP/s / fp32 matmul FLOP/s", p["float32_of_matmul"], ">= 0.6", p["float32_of_matmul"] >= 0.6),
            (f"auto ({p['auto_is']}) step speed-up over fp32", p["auto_speedup"], ">= 2.5", p["auto_speedup"] >= 2.5),
            (f"bf16 objective gain / fp32's after {p['quality_steps']} steps ({p.get('quality_starts', 1)} starts)",
             p["gain_ratio"], "0.95..1.05",
             abs(p["gain_ratio"] - 1) <= 0.05),
            ("bf16 vs fp32 PSNR after 1 step (dB, worst start)", p["psnr_db_1_step"], ">= 40",
             p["psnr_db_1_step"] >= 40),
        ]
        if "float32_over_frozen_graph" in p:
            rows.append(("fp32 step time / TF running the frozen graph (tutorial loop)", p["float32_over_frozen_graph"],
                         "< 1", p["float32_over_frozen_graph"] < 1))
    s = results["simple"]
    rows.append((f"untiled step / tutorial's DeepDream ({s['size']} px)", s["time_ratio_ours_over_tutorial"], "< 1",
                 s["time_ratio_ours_over_tutorial"] < 1))
    for t in results["tiled"]:
        goal = 0.8 if t["size"] <= 1024 else 1.0
        rows.append((f"tiled step / tutorial's TiledGradients ({t['size']} px, tiles {t['tile']})",
                     t["time_ratio_ours_over_tutorial"], f"<= {goal}", t["time_ratio_ours_over_tutorial"] <= goal))
    if "per_megapixel_spread_512_2048" in results:
        spread = results["per_megapixel_spread_512_2048"]
        rows.append(("s per megapixel spread 512..2048 px (max/min - 1)", spread, "<= 0.10", spread <= 0.10))
    if results.get("rss"):
        rows.append((f"peak RSS, tiled {results['rss']['size']} px step (MB)", results["rss"]["peak_rss_mb"], "<= 3072",
                     results["rss"]["peak_rss_mb"] <= 3072))
    return rows


def _table(results: dict) -> str:
    lines = [f"{'target':64s} {'measured':>10s}  {'goal':>10s}  met", "-" * 96]
    for what, value, goal, met in targets(results):
        lines.append(f"{what:64s} {value:10.3f}  {goal:>10s}  {'met' if met else 'NOT MET'}")
    lines += ["", "details:"]
    p = results.get("precision")
    if p:
        times = {k: statistics.median(r[k] for r in p["rounds"]) for k in p["rounds"][0]}
        lines.append(f"  {p['size']} px step s (medians): " + ", ".join(
            f"{k} {v:.3f}" for k, v in times.items() if not k.startswith("mm")))
        lines.append(f"  matmul GFLOP/s: fp32 {times['mm_float32'] / 1e9:.0f}, bf16 {times['mm_bfloat16'] / 1e9:.0f}; "
                     f"step {p['step_gflop']:.1f} GFLOP")
        lines.append(f"  convolutions alone (forward + input gradient, TF's kernels): fp32 {p['float32_convs_of_matmul']:.2f}"
                     f" and bf16 {p['bfloat16_convs_of_matmul']:.2f} of the matmul rate; their time is "
                     f"{p['float32_convs_share_of_step']:.0%} of the fp32 step and {p['bfloat16_convs_share_of_step']:.0%} "
                     "of the bf16 step (the rest: ReLU, LRN, pooling, concat, casts)")
        lines.append(f"  objective gain fp32 {p['objective_gain_float32']:.4f}, bf16 {p['objective_gain_bfloat16']:.4f}; "
                     f"PSNR after {p['quality_steps']} steps {p['psnr_db_after_steps']:.1f} dB; gain ratio per start "
                     + ", ".join(f"{r:.3f}" for r in p.get("gain_ratio_per_start", [])))
    for t in [results["simple"], *results["tiled"]]:
        each = ", ".join(f"{r['tutorial_s_per_step']:.3f}/{r['ours_s_per_step']:.3f}" for r in t.get("processes", []))
        mode = "tiled" if "tile" in t else "untiled"
        lines.append(f"  {mode} {t['size']} px: tutorial {t['tutorial_s_per_step']:.3f} s, cadl "
                     f"{t['ours_s_per_step']:.3f} s (medians; per process tutorial/cadl: {each})")
    for row in results.get("per_megapixel", []):
        mode = f"tiles {row['tile']}" if row["tile"] else "untiled"
        lines.append(f"  s per megapixel at {row['size']} px ({mode}): {row['s_per_megapixel']:.4f}")
    lines.append(f"  traces of the cadl step (all sizes): {results['trace_counts']}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    """Run the benchmark, print the targets table and write outputs/bench_dream.json. Returns the results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_dream", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=os.environ.get("CADL_WEIGHTS", "untrained"),
                        help="inception5h weights (default: $CADL_WEIGHTS or untrained)")
    parser.add_argument("--precision", default="auto", help="precision of the tutorial comparisons (default auto)")
    parser.add_argument("--layer", default="mixed4c", help="objective: mean activation of this layer (default mixed4c)")
    parser.add_argument("--size", type=int, default=512, help="image side of the untiled comparisons (default 512)")
    parser.add_argument("--steps", type=int, default=4, help="steps per timed run (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds, medians taken (default 5)")
    parser.add_argument("--tiled-sizes", type=int, nargs="*", default=[1024, 2048], help="tiled comparisons (px)")
    parser.add_argument("--tile", type=int, default=512, help="tile size (default 512)")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per tutorial comparison (default 3)")
    parser.add_argument("--rss-size", type=int, default=4096, help="image side of the RSS run (0 skips it)")
    parser.add_argument("--no-megapixel", action="store_true", help="skip the time-per-megapixel rows")
    parser.add_argument("--out", default=str(REPO / "outputs" / "bench_dream.json"), help="JSON output")
    parser.add_argument("--child-rss", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-tiled", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-simple", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-steps", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else ([] if __name__ != "__main__" else None))
    if args.child_rss or args.child_tiled or args.child_simple:
        (_child_rss if args.child_rss else _child_compare)(args)
        return {}
    results = run(args)
    print()
    print(_table(results))
    print(f"total {results['seconds_total']:.0f} s")
    results["targets"] = [{"what": w, "value": v, "goal": g, "met": m} for w, v, g, m in targets(results)]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {out}")
    return results


def run(args) -> dict:
    """The measurements of ``main``."""
    from cadl_utils import objectives
    from cadl_utils.dream import get_dreamer
    from cadl_utils.models import load_model

    started = time.perf_counter()
    model = load_model("inception5h", args.weights, precision=args.precision)
    objective = objectives.layer(args.layer)
    print(f"{model.describe()}; objective: {objective.describe()}", flush=True)
    results: dict = {"model": model.describe(), "objective": objective.describe(), "cpu_count": os.cpu_count()}
    print("precisions, matmul rates, TensorFlow on the frozen graph, quality...", flush=True)
    results["precision"] = precision_comparison(args.weights, args.layer, args.size, args.steps, args.rounds)
    print(f"simple comparison in {args.processes} fresh processes...", flush=True)
    results["simple"] = in_processes(args, "simple", args.size)
    results["tiled"] = []
    for size in args.tiled_sizes:
        print(f"tiled comparison at {size} px in {args.processes} fresh processes...", flush=True)
        results["tiled"].append(in_processes(args, "tiled", size))
    if not args.no_megapixel:
        print("time per megapixel...", flush=True)
        rows = per_megapixel(model, objective, [256, 512, 1024, 2048], args.tile, untiled_max=1024,
                             steps_for=lambda size: {256: 8, 512: 4, 1024: 2}.get(size, 1), rounds=3)  # fmt: skip
        results["per_megapixel"] = rows
        # Flatness over 512..2048 px, each size by its fastest mode (untiled while it fits, then tiles).
        best = {}
        for row in rows:
            if 512 <= row["size"] <= 2048:
                best[row["size"]] = min(best.get(row["size"], float("inf")), row["s_per_megapixel"])
        results["per_megapixel_spread_512_2048"] = max(best.values()) / min(best.values()) - 1.0
    if args.rss_size:
        print(f"peak RSS of a tiled {args.rss_size} px step (subprocess)...", flush=True)
        results["rss"] = rss_child(args.rss_size, args.tile, 1, args.layer, args.weights)
    compiled = get_dreamer(model, objective).functions
    results["trace_counts"] = {name: fn.experimental_get_tracing_count() for name, fn in compiled.items()}
    results["seconds_total"] = time.perf_counter() - started
    return results


if __name__ == "__main__":
    main()
