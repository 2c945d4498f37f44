"""inception5h: the TF2 graph interpreter, inventory, sizes, errors, gradients and the loaders."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import re
import socket
import threading
import warnings
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from cadl_utils import config
from cadl_utils.errors import DownloadError, ImageError, IntegrityError, LayerError, ModelError, ParameterError
from cadl_utils.models import standin
from cadl_utils.models.base import Model
from cadl_utils.models.inception5h import Inception5h, load_inception5h, untrained_inception5h

MIXED = {
    "mixed3a": 256, "mixed3b": 480, "mixed4a": 508, "mixed4b": 512, "mixed4c": 512,
    "mixed4d": 528, "mixed4e": 832, "mixed5a": 832, "mixed5b": 1024,
}  # fmt: skip


@pytest.fixture(scope="module")
def model() -> Inception5h:
    return load_inception5h(weights="untrained")


def photo(size, batch: int = 1, seed: int = 0) -> np.ndarray:
    """A blocky random image (smooth regions and edges, like a photo) in [0, 1]."""
    h, w = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (batch, h // 16 + 1, w // 16 + 1, 3)).astype(np.float32)
    return np.kron(coarse, np.ones((1, 16, 16, 1), np.float32))[:, :h, :w]


# --- inventory and labels --------------------------------------------------------------------------
def test_is_a_model(model):
    assert isinstance(model, Model)
    assert model.name == "inception5h" and model.weights == "untrained"
    assert "untrained" in model.source and model.fallback_reason is None
    assert "UNTRAINED" in model.describe()


def test_inventory_matches_the_facts(model):
    pre = model.layer_names("conv_pre_relu")
    relu = model.layer_names("conv")
    assert len(pre) == 59 and len(relu) == 59
    assert sum(model.layer(n).channels for n in pre) == 7548
    assert pre[0] == "conv2d0_pre_relu" and relu[0] == "conv2d0"
    assert model.layer("mixed4d_3x3_bottleneck_pre_relu").channels == 144
    assert model.layer("head1_bottleneck").channels == 128
    assert {n: model.layer(n).channels for n in model.layer_names("mixed")} == MIXED
    assert set(model.layer_names("pool")) >= {"maxpool0", "maxpool1", "maxpool4", "maxpool10", "avgpool0"}
    assert model.layer("avgpool0").channels == 1024
    assert model.layer_names("softmax") == ["softmax0", "softmax1", "softmax2"]
    assert {model.layer(n).channels for n in model.layer_names("logits") + model.layer_names("softmax")} == {1008}
    assert "softmax2_pre_activation" in model.layer_names("logits")


def test_labels(model):
    assert len(model.labels) == 1008
    assert model.label_index("jellyfish") == 647
    assert model.label_index("School Bus") == 962
    assert model.label(0) == "dummy"
    assert model.label(1003) == "(no label: 1003)" and model.labels[1007] == "(no label: 1007)"
    with pytest.raises(LayerError, match="jellyfish"):
        model.label_index("jellyfsh")


def test_unknown_layer_lists_close_names(model):
    with pytest.raises(LayerError, match=r"mixed4e.*Closest names:.*mixed4d"):
        model.extract(photo(32), ["mixed4e_3x3_pre_rel"])
    with pytest.raises(LayerError, match="mixed4d"):
        model.layer("mixd4d")


def test_channel_out_of_range_names_the_count(model):
    with pytest.raises(LayerError, match="528 channels"):
        model.check_channel("mixed4d", 528)
    assert model.check_channel("mixed4d", 527).channels == 528
    with pytest.raises(LayerError, match="1008 channels"):
        model.check_channel("softmax2", 1008)


# --- sizes --------------------------------------------------------------------------------------
def test_min_sizes(model):
    assert model.min_size("conv2d0") == 1
    assert model.min_size("mixed5b") == 1
    assert model.min_size("softmax2") == 193  # ceil(side / 32) >= 7 for the 7x7 VALID avgpool0
    assert model.min_size("softmax2_pre_activation") == 193
    assert model.min_size("head0_pool") == 65  # 5x5 VALID on mixed4a (stride 16)
    assert model.min_size("softmax0") == 209  # the 2048-wide reshape needs a 4x4 grid
    model.check_size("softmax2", 193, 193)
    with pytest.raises(LayerError, match="193x193"):
        model.check_size("softmax2", 192, 400)


def test_softmax_rows_224_and_299(model):
    rows224 = model.extract(photo(224), ["softmax2"], rows=True)[0]
    assert rows224.shape == (1, 1008)
    images = photo(299, batch=2)
    rows = model.extract(images, ["softmax2", "softmax2_pre_activation"], rows=True)
    assert rows[0].shape == (32, 1008) and rows[1].shape == (32, 1008)  # 4x4 rows per image
    mean = model.extract(images, ["softmax2"])[0]
    assert mean.shape == (2, 1008)
    np.testing.assert_allclose(mean.numpy(), rows[0].numpy().reshape(2, 16, 1008).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(mean.numpy().sum(axis=1), 1.0, rtol=1e-4)
    # The two images differ, so their averaged rows must differ too (rows are not mixed up).
    assert not np.allclose(mean[0], mean[1])


def test_too_small_for_softmax(model):
    with pytest.raises(LayerError, match=r"at least 193x193 px.*got 160x160"):
        model.extract(photo(160), ["softmax2"])


def test_aux_head_reshape_quirk_names_a_working_size(model):
    with pytest.raises(LayerError) as info:
        model.extract(photo(299), ["softmax0"])
    message = str(info.value)
    assert "2048" in message
    suggested = int(re.search(r"nearby: (\d+)x\1", message).group(1))
    out = model.extract(photo(suggested), ["softmax0", "softmax1"])
    assert out[0].shape == (1, 1008) and out[1].shape == (1, 1008)


def test_bad_images_are_rejected(model):
    with pytest.raises(ImageError, match="batch"):
        model.extract(photo(32)[0], ["conv2d0"])
    with pytest.raises(ImageError, match="uint8"):
        model.extract(np.zeros((1, 32, 32, 3), np.uint8), ["conv2d0"])


# --- computation -------------------------------------------------------------------------------
def _run_nodes_spied(model, monkeypatch, image, names) -> list[str]:
    """The graph nodes one extract call computes, seen by wrapping every op of the table."""
    ran = []

    def spy(op):
        return lambda node, args: ran.append(node.name) or op(node, args)

    for table in (_i5h._OPS, _i5h._REWRITES):
        for key, op in list(table.items()):
            monkeypatch.setitem(table, key, spy(op))
    model.extract(image, names)
    return ran


def test_early_layer_does_not_run_late_nodes(model, monkeypatch):
    early = list(_run_nodes_spied(model, monkeypatch, photo(64), ["conv2d2"]))  # a copy: the spy stays on
    assert "conv2d2" in early and "conv2d0_pre_relu/conv" in early
    assert not any(n.startswith(("mixed", "softmax", "head", "nn", "avgpool")) for n in early)
    assert set(early) <= set(model.nodes_for(["conv2d2"]))
    full = _run_nodes_spied(model, monkeypatch, photo(224), ["softmax2"])
    assert "mixed5b" in full and not any(n.startswith(("head", "softmax0", "softmax1")) for n in full)
    assert len(early) < len(full) / 10


def test_matches_tensorflows_own_import(model):
    graph = standin.standin_graphdef(0)
    image = photo(224, seed=3)
    names = ["conv2d0_pre_relu", "localresponsenorm1", "mixed3a", "mixed4d", "softmax2_pre_activation", "softmax2"]
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(graph, name="")
        with tf.compat.v1.Session(graph=g) as session:
            expected = session.run([f"{n}:0" for n in names], {"input:0": image * 255.0 - 117.0})
    ours = model.run_nodes(model.preprocess(image), names)
    for name, want, got in zip(names, expected, ours):
        scale = float(np.abs(want).max())
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-3, atol=1e-4 * scale, err_msg=name)


def test_gradients_for_every_mixed_block(model):
    image = tf.constant(photo(64))
    for block in MIXED:
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = tf.reduce_mean(model.extract(image, [block])[0])
        grad = tape.gradient(loss, image).numpy()
        assert np.isfinite(grad).all(), block
        assert np.abs(grad).max() > 0, block


def test_gradient_of_the_jellyfish_neuron(model):
    image = tf.constant(photo(224))
    index = model.label_index("jellyfish")
    with tf.GradientTape() as tape:
        tape.watch(image)
        loss = model.extract(image, ["softmax2"])[0][0, index]
    grad = tape.gradient(loss, image).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


@pytest.mark.slow
def test_works_inside_tf_function_with_small_traces(model):
    @tf.function
    def step(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = tf.reduce_mean(model.extract(image, ["mixed4a"])[0])
        return loss, tape.gradient(loss, image)

    image = tf.constant(photo(96))
    loss, grad = step(image)
    eager = tf.reduce_mean(model.extract(image, ["mixed4a"])[0])
    np.testing.assert_allclose(float(loss), float(eager), rtol=1e-4)
    assert np.abs(grad.numpy()).max() > 0
    step(tf.constant(photo(96, seed=1)))
    assert step.experimental_get_tracing_count() == 1
    # Weights are captured as variables, not baked into the traced graph as constants.
    traced = step.get_concrete_function(image).graph.as_graph_def().ByteSize()
    assert traced < 2_000_000


def test_bfloat16_compute(model):
    fast = load_inception5h(weights="untrained", dtype="bfloat16")
    assert fast.dtype == "bfloat16" and fast is not model
    image = photo(64)
    want = model.extract(image, ["mixed4d"])[0].numpy()
    got = fast.extract(image, ["mixed4d"])[0]
    assert got.dtype == tf.float32
    # bfloat16 keeps about 3 significant digits, and the error grows over 13 layers: a few percent.
    assert np.abs(got.numpy() - want).mean() < 0.15 * np.abs(want).mean()
    assert np.corrcoef(got.numpy().ravel(), want.ravel())[0, 1] > 0.99


def test_precision_follows_the_hardware(monkeypatch):
    class FakeCpuinfo:
        def __init__(self, path):
            pass

        def read_text(self):
            return f"processor : 0\nflags : fpu sse2 avx2 {flags}\n"

    monkeypatch.setattr(config, "Path", FakeCpuinfo)
    for flags, want in (("avx512f", "float32"), ("avx512f avx512_bf16", "bfloat16"), ("amx_bf16", "bfloat16")):
        dtype, why = config.compute_dtype("auto")
        assert dtype == want and why.startswith("auto: ")
    assert config.compute_dtype("float32") == ("float32", "precision=float32")
    monkeypatch.undo()
    monkeypatch.setenv("CADL_PRECISION", "bfloat16")
    fast = load_inception5h(weights="untrained")
    assert (fast.precision, fast.dtype) == ("bfloat16", "bfloat16") and "[bfloat16 compute" in fast.describe()
    assert load_inception5h(weights="untrained", dtype="float32").dtype == "float32"  # the old name still works
    monkeypatch.setenv("CADL_PRECISION", "fp8")
    with pytest.raises(ParameterError, match="CADL_PRECISION"):
        load_inception5h(weights="untrained")
    from cadl_utils.cli import build_parser

    for flag in ("--precision", "--dtype"):  # --dtype: the old name
        assert build_parser().parse_args(["dream", flag, "bfloat16"]).precision == "bfloat16"
    assert build_parser().parse_args(["zoom"]).precision is None  # None: CADL_PRECISION, else auto


def test_classify(model):
    top = model.classify(photo(100)[0], top=3)  # scaled up to 224 inside
    assert len(top) == 3
    probs = [p for _, _, p in top]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] < 1
    assert all(label == model.label(i) for i, label, _ in top)
    with pytest.raises(ParameterError):
        model.classify(photo(100)[0], top=0)
    with pytest.raises(ImageError):
        model.classify(photo(100), top=3)


# --- graphs that are not quite the stand-in ----------------------------------------------------------
def _tiny_graph(op_of_relu: str = "Relu", bias_name: str = "a_pre_relu"):
    """input -> a_pre_relu/conv -> BiasAdd (bias_name) -> a (op_of_relu) -> mixedx (ConcatV2 of a)."""
    graph = tf.compat.v1.GraphDef()

    def node(name, op, inputs=(), **attrs):
        n = graph.node.add(name=name, op=op)
        n.input.extend(inputs)
        if op not in ("Const", "Placeholder"):
            n.attr["T"].type = tf.float32.as_datatype_enum
        for key, value in attrs.items():
            n.attr[key].CopyFrom(value)
        return n

    def const(name, value):
        return node(name, "Const", dtype=tf.compat.v1.AttrValue(type=tf.as_dtype(value.dtype).as_datatype_enum),
                    value=tf.compat.v1.AttrValue(tensor=tf.make_tensor_proto(value)))

    node("input", "Placeholder", dtype=tf.compat.v1.AttrValue(type=1))
    const("a_w", np.ones((1, 1, 3, 2), np.float32))
    const("a_b", np.array([1.0, -1.0], np.float32))
    const("axis", np.array(3, np.int32))
    ints = tf.compat.v1.AttrValue(list=tf.compat.v1.AttrValue.ListValue(i=[1, 1, 1, 1]))
    node("a_pre_relu/conv", "Conv2D", ["input", "a_w"], strides=ints, padding=tf.compat.v1.AttrValue(s=b"SAME"))
    node(bias_name, "BiasAdd", ["a_pre_relu/conv", "a_b"])
    node("a", op_of_relu, [bias_name])
    node("mixedx", "ConcatV2", ["a", "a", "axis"], N=tf.compat.v1.AttrValue(i=2))
    return graph


def test_unknown_op_is_named():
    with pytest.raises(ModelError, match=r"'a'.*'Swish'"):
        Inception5h(_tiny_graph(op_of_relu="Swish"), None, weights="untrained")


def test_inventory_follows_edges_when_a_node_is_oddly_named():
    model = Inception5h(_tiny_graph(bias_name="2"), ["dummy", "thing"], weights="untrained")
    assert [(i.name, i.kind, i.channels) for i in model.layers] == [
        ("a_pre_relu", "conv_pre_relu", 2), ("a", "conv", 2), ("mixedx", "mixed", 4),
    ]  # fmt: skip
    image = np.full((1, 4, 4, 3), 0.5, np.float32)
    pre, mixed = model.extract(image, ["a_pre_relu", "mixedx"])
    x = 3 * (0.5 * 255 - 117)
    np.testing.assert_allclose(pre.numpy()[0, 0, 0], [x + 1, x - 1], rtol=1e-6)
    assert mixed.shape == (1, 4, 4, 4)
    assert model.label(1) == "thing" and model.label(5) == "(no label: 5)"


def test_graph_without_input_is_refused():
    graph = _tiny_graph()
    del graph.node[0]
    with pytest.raises(ModelError, match="input"):
        Inception5h(graph, None)


# --- loading ---------------------------------------------------------------------------------------
def test_untrained_is_cached_per_seed(model):
    assert load_inception5h(weights="untrained") is model
    assert untrained_inception5h(0) is model


def test_bad_arguments():
    with pytest.raises(ParameterError, match="precision 'float16': use one of auto, float32, bfloat16"):
        load_inception5h(weights="untrained", dtype="float16")
    with pytest.raises(ParameterError, match="weights"):
        load_inception5h(weights="trained")
    with pytest.raises(ParameterError, match="path"):
        load_inception5h(weights="untrained", path="somewhere.zip")


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The stand-in exported as inception5h.zip, with the hashes a test pins."""
    folder = tmp_path_factory.mktemp("mirror")
    path = standin.export_standin_zip(folder / "inception5h.zip", seed=0)
    with zipfile.ZipFile(path) as archive:
        pb_sha1 = _sha1(archive.read(standin.PB_NAME))
    return path, _sha1(path.read_bytes()), pb_sha1


@contextlib.contextmanager
def serve(folder):
    """A static HTTP server on 127.0.0.1 (free port) in a thread, always shut down."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_pretrained_path_downloads_the_exported_zip(exported, tmp_path, model):
    pytest.importorskip("cadl_utils.models.download")
    path, zip_sha1, pb_sha1 = exported
    with serve(path.parent) as base:
        loaded = load_inception5h(
            weights="pretrained", url=f"{base}/inception5h.zip", cache_dir=tmp_path / "cache",
            zip_sha1=zip_sha1, pb_sha1=pb_sha1, progress=False, retries=0,
        )  # fmt: skip
    assert loaded.weights == "pretrained" and loaded is not model
    assert "download" in loaded.source and str(tmp_path / "cache") in loaded.source
    assert loaded.label_index("jellyfish") == 647 and len(loaded.labels) == 1008
    assert [(i.name, i.channels) for i in loaded.layers] == [(i.name, i.channels) for i in model.layers]
    image = photo(64)
    np.testing.assert_allclose(
        loaded.extract(image, ["mixed4d"])[0].numpy(), model.extract(image, ["mixed4d"])[0].numpy(), rtol=1e-5
    )
    # Second load: from the cache, no server needed.
    again = load_inception5h(
        weights="pretrained", url=f"http://127.0.0.1:{_free_port()}/inception5h.zip", cache_dir=tmp_path / "cache",
        zip_sha1=zip_sha1, pb_sha1=pb_sha1, progress=False, retries=0,
    )  # fmt: skip
    assert again.weights == "pretrained"


def test_pretrained_with_a_wrong_hash_fails(exported, tmp_path):
    pytest.importorskip("cadl_utils.models.download")
    path, _, pb_sha1 = exported
    with serve(path.parent) as base:
        with pytest.raises(IntegrityError, match="SHA-1"):
            load_inception5h(
                weights="pretrained", url=f"{base}/inception5h.zip", cache_dir=tmp_path / "cache",
                zip_sha1="0" * 40, pb_sha1=pb_sha1, progress=False, retries=0,
            )  # fmt: skip
    assert not (tmp_path / "cache" / "inception5h" / "inception5h.zip").exists()


def test_pretrained_from_a_users_zip(exported, tmp_path):
    pytest.importorskip("cadl_utils.models.download")
    path, zip_sha1, _ = exported
    loaded = load_inception5h(path=path, sha1=zip_sha1, cache_dir=tmp_path / "cache")
    assert loaded.weights == "pretrained" and loaded.label(647) == "jellyfish"
    with pytest.raises(IntegrityError):
        load_inception5h(path=path, cache_dir=tmp_path / "cache")  # the official pin does not match
    with pytest.raises(ParameterError, match="zip_sha1"):
        load_inception5h(weights="pretrained", sha1=zip_sha1, cache_dir=tmp_path / "cache")


def test_auto_falls_back_loudly(tmp_path, model):
    pytest.importorskip("cadl_utils.models.download")
    url = f"http://127.0.0.1:{_free_port()}/inception5h.zip"  # nothing listens there
    with pytest.warns(RuntimeWarning, match="UNTRAINED"):
        loaded = load_inception5h(weights="auto", url=url, cache_dir=tmp_path / "cache", progress=False, retries=0)
    assert loaded.weights == "untrained"
    assert "refused" in loaded.fallback_reason and "DownloadError" in loaded.fallback_reason
    assert model.fallback_reason is None  # the shared stand-in is not marked
    assert loaded.extract(photo(32), ["conv2d0"])[0].shape == (1, 16, 16, 64)


def test_pretrained_without_network_raises(tmp_path):
    pytest.importorskip("cadl_utils.models.download")
    url = f"http://127.0.0.1:{_free_port()}/inception5h.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pretrained never falls back silently
        with pytest.raises(DownloadError, match="untrained"):
            load_inception5h(weights="pretrained", url=url, cache_dir=tmp_path / "cache", progress=False, retries=0)


# --- speed rewrites: each must equal the plain TF op (forward and input gradient) -------------------
from cadl_utils.models import inception5h as _i5h  # noqa: E402


def _value_and_input_gradient(fn, x):
    """fn(x) and the gradient of a random projection of it with respect to x, as arrays."""
    y, grad = _value_and_input_gradient_graph(fn, x)
    return y.numpy(), grad.numpy()


def _assert_same(got, want, what):
    for name, a, b in zip(("forward", "gradient"), got, want):
        assert a.shape == b.shape, (what, name)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(b).max()), err_msg=f"{what} {name}")


def _conv_node(stride: int) -> "_i5h._Node":
    return _i5h._Node("c", "Conv2D", ("x", "w"), {"strides": [1, stride, stride, 1], "padding": "SAME"})


@pytest.mark.parametrize("size", [(9, 9), (10, 11), (17, 20), (32, 33), (64, 64)])
# No 1x1 kernel with stride 2: TF 2.21's own oneDNN gradient of that conv corrupts the heap
# ("free(): invalid size"), so there is no reference to compare with.
@pytest.mark.parametrize("kernel,stride", [((7, 7, 3, 64), 2), ((3, 3, 3, 8), 2), ((2, 2, 3, 5), 2), ((5, 4, 2, 6), 3)])
def test_space_to_depth_conv_equals_the_strided_conv(size, kernel, stride):
    rng = np.random.default_rng(sum(size) + stride)
    x = tf.constant(rng.normal(0, 50, (2, *size, kernel[2])).astype(np.float32))
    w = tf.constant(rng.normal(0, 0.1, kernel).astype(np.float32))
    node = _conv_node(stride)
    assert _i5h._s2d_applies(node, x, w)
    want = _value_and_input_gradient(lambda v: tf.nn.conv2d(v, w, stride, "SAME"), x)
    got = _value_and_input_gradient(lambda v: _i5h._conv2d_fast(node, [v, w]), x)
    _assert_same(got, want, f"{size} {kernel} /{stride}")
    # Traced for images of any size (as the dream step is), the padding is computed in the graph.
    spec = tf.TensorSpec([None, None, None, kernel[2]], tf.float32)
    any_size = tf.function(lambda v: _value_and_input_gradient_graph(lambda u: _i5h._conv2d_fast(node, [u, w]), v),
                           input_signature=[spec])  # fmt: skip
    _assert_same([t.numpy() for t in any_size(x)], want, f"{size} {kernel} /{stride} (dynamic shape)")


def _value_and_input_gradient_graph(fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * tf.random.stateless_normal(tf.shape(y), seed=[1, 2]))
    return y, tape.gradient(loss, x)


def test_space_to_depth_leaves_other_convs_alone():
    x = tf.zeros([1, 16, 16, 3])
    assert not _i5h._s2d_applies(_conv_node(1), x, tf.zeros([3, 3, 3, 8]))  # stride 1
    assert not _i5h._s2d_applies(_conv_node(2), tf.zeros([1, 16, 16, 64]), tf.zeros([3, 3, 64, 8]))  # many channels
    valid = _i5h._Node("c", "Conv2D", ("x", "w"), {"strides": [1, 2, 2, 1], "padding": "VALID"})
    assert not _i5h._s2d_applies(valid, x, tf.zeros([3, 3, 3, 8]))


LRN_CASES = [
    (standin.LRN_ATTRS, 64),
    (standin.LRN_ATTRS, 192),
    ({"depth_radius": 2, "bias": 2.0, "alpha": 1e-3, "beta": 0.75}, 7),
    ({"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}, 3),  # window wider than the channels
    ({"depth_radius": 0, "bias": 0.5, "alpha": 0.1, "beta": 1.0}, 5),
]


@pytest.mark.parametrize("attrs,channels", LRN_CASES)
@pytest.mark.parametrize("size", [(5, 7), (8, 8)])
def test_banded_lrn_equals_tensorflows_lrn(attrs, channels, size):
    rng = np.random.default_rng(channels)
    x = tf.constant(np.maximum(rng.normal(0, 30, (2, *size, channels)), 0).astype(np.float32))
    node = _i5h._Node("lrn", "LRN", ("x",), dict(attrs))
    want = _value_and_input_gradient(lambda v: tf.nn.local_response_normalization(v, **attrs), x)
    got = _value_and_input_gradient(lambda v: _i5h._lrn_fast(node, [v]), x)
    _assert_same(got, want, f"{attrs} C={channels}")


def test_lrn_without_a_static_channel_count_uses_tensorflows_op():
    node = _i5h._Node("lrn", "LRN", ("x",), dict(standin.LRN_ATTRS))
    fn = tf.function(lambda v: _i5h._lrn_fast(node, [v]))
    graph = fn.get_concrete_function(tf.TensorSpec([None, None, None, None], tf.float32)).graph
    assert "LRN" in {op.type for op in graph.get_operations()}
    x = tf.constant(np.random.default_rng(0).uniform(0, 9, (1, 4, 4, 16)).astype(np.float32))
    np.testing.assert_allclose(fn(x).numpy(), tf.nn.local_response_normalization(x, **standin.LRN_ATTRS).numpy(), rtol=1e-6)


def _graph_ops(model) -> set[str]:
    fn = tf.function(lambda v: model.run_nodes(v, ["localresponsenorm1"]))
    return {op.type for op in fn.get_concrete_function(tf.TensorSpec([1, 64, 64, 3], tf.float32)).graph.get_operations()}


def test_the_rewrites_switch(model):
    assert model.rewrites and "SpaceToDepth" in _graph_ops(model) and "LRN" not in _graph_ops(model)
    plain = load_inception5h(weights="untrained", rewrites=False)
    assert not plain.rewrites and "LRN" in _graph_ops(plain) and "SpaceToDepth" not in _graph_ops(plain)
    image = photo(64)
    for name in ("localresponsenorm1", "mixed3a"):
        fast = model.run_nodes(model.preprocess(image), [name])[0].numpy()
        slow = plain.run_nodes(plain.preprocess(image), [name])[0].numpy()
        np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5 * float(np.abs(slow).max()), err_msg=name)



def test_relu_after_max_pool_equals_the_plain_graph(model):
    plain = load_inception5h(weights="untrained", rewrites=False)
    fn = tf.function(lambda v: model.run_nodes(v, ["maxpool0"]))
    ops = [op.type for op in fn.get_concrete_function(tf.TensorSpec([1, 64, 64, 3], tf.float32)).graph.get_operations()]
    assert ops.index("MaxPool") < ops.index("Relu", ops.index("MaxPool"))  # a ReLU on the pooled map
    x = tf.constant(model.preprocess(photo(64)))
    for nodes in (["maxpool0"], ["maxpool0", "conv2d0"], ["mixed3a"]):  # conv2d0 asked for: it keeps its value
        for index, name in enumerate(nodes):
            got = _value_and_input_gradient(lambda v, nodes=nodes, index=index: model.run_nodes(v, nodes)[index], x)
            want = _value_and_input_gradient(lambda v, nodes=nodes, index=index: plain.run_nodes(v, nodes)[index], x)
            _assert_same(got, want, name)
