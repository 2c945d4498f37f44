"""The untrained inception5h stand-in: topology, weights, labels and the exported zip."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from cadl_utils.models import standin

# Facts of the real graph, written out here so the tests do not derive them from the code under test.
BLOCK_CHANNELS = {
    "mixed3a": 256, "mixed3b": 480, "mixed4a": 508, "mixed4b": 512, "mixed4c": 512,
    "mixed4d": 528, "mixed4e": 832, "mixed5a": 832, "mixed5b": 1024,
}  # fmt: skip
BRANCHES = ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")


@pytest.fixture(scope="module")
def graph():
    return standin.standin_graphdef(0)


@pytest.fixture(scope="module")
def nodes(graph):
    return {node.name: node for node in graph.node}


def _const_shape(node) -> tuple[int, ...]:
    return tuple(d.size for d in node.attr["value"].tensor.tensor_shape.dim)


def test_op_counts_and_channels(graph, nodes):
    convs = [n for n in graph.node if n.op == "Conv2D"]
    assert len(convs) == 59
    assert sum(_const_shape(nodes[n.input[1]])[-1] for n in convs) == 7548
    assert all(n.name.endswith("_pre_relu/conv") and n.attr["padding"].s == b"SAME" for n in convs)
    assert [n.name for n in graph.node if n.op == "LRN"] == ["localresponsenorm0", "localresponsenorm1"]
    assert sorted(n.name for n in graph.node if n.op == "Softmax") == ["softmax0", "softmax1", "softmax2"]
    for head in ("softmax0", "softmax1", "softmax2"):
        assert _const_shape(nodes[f"{head}_w"])[1] == 1008


def test_conv_naming_and_kernels(nodes):
    conv = nodes["conv2d0_pre_relu/conv"]
    assert list(conv.input) == ["input", "conv2d0_w"]
    assert list(conv.attr["strides"].list.i) == [1, 2, 2, 1]
    assert _const_shape(nodes["conv2d0_w"]) == (7, 7, 3, 64)  # HWIO
    assert nodes["conv2d0_pre_relu"].op == "BiasAdd"
    assert list(nodes["conv2d0_pre_relu"].input) == ["conv2d0_pre_relu/conv", "conv2d0_b"]
    assert nodes["conv2d0"].op == "Relu" and list(nodes["conv2d0"].input) == ["conv2d0_pre_relu"]
    assert _const_shape(nodes["mixed4d_5x5_w"]) == (5, 5, 32, 64)
    assert _const_shape(nodes["head0_bottleneck_w"]) == (1, 1, 508, 128)
    assert _const_shape(nodes["head1_bottleneck_w"]) == (1, 1, 528, 128)


def test_mixed_blocks_use_the_old_concat(nodes):
    for block, channels in BLOCK_CHANNELS.items():
        concat = nodes[block]
        assert concat.op == "Concat"
        assert concat.input[0] == f"{block}/concat_dim"
        assert nodes[f"{block}/concat_dim"].op == "Const"
        assert list(concat.input[1:]) == [f"{block}_1x1", f"{block}_3x3", f"{block}_5x5", f"{block}_pool_reduce"]
        widths = [_const_shape(nodes[f"{block}_{b}_w"])[-1] for b in ("1x1", "3x3", "5x5", "pool_reduce")]
        assert sum(widths) == channels
        pool = nodes[f"{block}_pool"]
        assert pool.op == "MaxPool" and list(pool.attr["ksize"].list.i) == [1, 3, 3, 1]
        assert list(pool.attr["strides"].list.i) == [1, 1, 1, 1]
        for branch in BRANCHES:
            assert f"{block}_{branch}_pre_relu/conv" in nodes


def test_pools_heads_and_outputs(nodes):
    avg = nodes["avgpool0"]
    assert avg.op == "AvgPool" and avg.attr["padding"].s == b"VALID"
    assert list(avg.attr["ksize"].list.i) == [1, 7, 7, 1] and list(avg.attr["strides"].list.i) == [1, 1, 1, 1]
    for name in ("maxpool0", "maxpool1", "maxpool4", "maxpool10"):
        assert nodes[name].op == "MaxPool" and list(nodes[name].attr["strides"].list.i) == [1, 2, 2, 1]
    assert list(nodes["head0_pool"].input) == ["mixed4a"] and list(nodes["head1_pool"].input) == ["mixed4d"]
    assert list(nodes["head0_pool"].attr["ksize"].list.i) == [1, 5, 5, 1]
    assert list(nodes["head0_pool"].attr["strides"].list.i) == [1, 3, 3, 1]
    assert nodes["head0_bottleneck/reshape"].op == "Reshape"
    shape = nodes["head0_bottleneck/reshape/shape"].attr["value"].tensor
    import tensorflow as tf

    assert tf.make_ndarray(shape).tolist() == [-1, 2048]
    assert nodes["nn0_pre_relu/matmul"].op == "MatMul" and nodes["nn0"].op == "Relu"
    assert tf.make_ndarray(nodes["avgpool0/reshape/shape"].attr["value"].tensor).tolist() == [-1, 1024]
    assert list(nodes["softmax2_pre_activation/matmul"].input) == ["avgpool0/reshape", "softmax2_w"]
    for output, head in (("output", "softmax0"), ("output1", "softmax1"), ("output2", "softmax2")):
        assert nodes[output].op == "Identity" and list(nodes[output].input) == [head]
    placeholder = nodes["input"]
    assert placeholder.op == "Placeholder" and placeholder.attr["dtype"].type == tf.float32.as_datatype_enum


def test_parameter_count_matches_the_real_file(graph):
    floats = sum(
        int(np.prod(_const_shape(n))) for n in graph.node if n.op == "Const" and n.attr["dtype"].type == 1
    )
    assert 13.3e6 < floats < 13.5e6  # about 13.4 M float32 parameters, a .pb of about 54 MB


def test_seeded_and_deterministic():
    import tensorflow as tf

    a = standin.build_standin_graphdef(seed=3)
    b = standin.build_standin_graphdef(seed=3)
    c = standin.build_standin_graphdef(seed=4)
    assert a.SerializeToString() == b.SerializeToString()
    wa = tf.make_ndarray(next(n for n in a.node if n.name == "mixed4d_3x3_w").attr["value"].tensor)
    wc = tf.make_ndarray(next(n for n in c.node if n.name == "mixed4d_3x3_w").attr["value"].tensor)
    assert not np.allclose(wa, wc)
    fan_in = 3 * 3 * 144
    # He-normal scale (within the documented gain), zero-sum filters.
    assert np.sqrt(2.0 / fan_in) <= wa.std() <= np.sqrt(3.0 / fan_in) * 1.05
    assert np.abs(wa.sum(axis=(0, 1, 2))).max() < 1e-3


def test_cached_graph_is_shared():
    assert standin.standin_graphdef(0) is standin.standin_graphdef(0)


def test_imports_with_import_graph_def(graph):
    import tensorflow as tf

    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(graph, name="")
        ops = {op.name: op.type for op in g.get_operations()}
    assert ops["mixed4d"] == "Concat" and ops["softmax2"] == "Softmax"
    assert len(ops) == len(graph.node)


def test_labels():
    labels = standin.standin_labels()
    assert len(labels) == 1001
    assert labels[0] == "dummy"
    assert (labels[647], labels[851], labels[920], labels[947], labels[962]) == (
        "jellyfish", "broom", "minibus", "espresso", "school bus",
    )  # fmt: skip
    assert labels[12] == "standin class 12"
    assert len(set(labels)) == 1001


def test_export_zip_layout(tmp_path):
    path = standin.export_standin_zip(tmp_path / "sub" / "inception5h.zip", seed=0)
    assert path == tmp_path / "sub" / "inception5h.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["tensorflow_inception_graph.pb", "imagenet_comp_graph_label_strings.txt", "LICENSE"]
        )
        labels = archive.read("imagenet_comp_graph_label_strings.txt").decode("utf-8")
        pb = archive.read("tensorflow_inception_graph.pb")
        license_text = archive.read("LICENSE").decode("utf-8")
    assert not labels.endswith("\n")
    lines = labels.split("\n")
    assert len(lines) == 1001 and lines[0] == "dummy" and lines[647] == "jellyfish"
    assert "UNTRAINED STAND-IN" in license_text and "random weights" in license_text
    assert pb == standin.standin_graphdef(0).SerializeToString()
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["inception5h.zip"]  # no temp files


def test_export_is_reproducible_and_replaces(tmp_path):
    first = standin.export_standin_zip(tmp_path / "a.zip").read_bytes()
    target = tmp_path / "b.zip"
    target.write_bytes(b"old content")
    standin.export_standin_zip(target)
    assert target.read_bytes() == first


def test_export_interrupted_leaves_old_file(tmp_path, monkeypatch):
    target = tmp_path / "inception5h.zip"
    target.write_bytes(b"old content")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        standin.export_standin_zip(target)
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["inception5h.zip"]


def test_activations_neither_explode_nor_vanish():
    from cadl_utils.models.inception5h import untrained_inception5h

    model = untrained_inception5h(0)
    rng = np.random.default_rng(5)
    image = rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)
    image = np.kron(image, np.ones((1, 20, 20, 1), np.float32))[:, :224, :224]  # blocky, photo-like
    names = ["conv2d0", "mixed3a", "mixed4a", "mixed4e", "mixed5b", "softmax2_pre_activation", "softmax2"]
    outputs = dict(zip(names, (o.numpy() for o in model.extract(image, names))))
    rms = {n: float(np.sqrt(np.mean(outputs[n] ** 2))) for n in names[:5]}
    assert max(rms.values()) / min(rms.values()) < 5, rms
    assert 0.2 < outputs["softmax2_pre_activation"].std() < 5  # unsaturated logits
    assert outputs["softmax2"].max() < 0.5
    for name in names[1:5]:
        alive = (outputs[name].reshape(-1, outputs[name].shape[-1]).max(axis=0) > 0).mean()
        assert alive > 0.95, (name, alive)
