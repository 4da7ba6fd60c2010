"""ResNet's descendants: pre-activation ResNets, Wide ResNets, ResNeXt, and stochastic depth."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from conftest import build_shapes, trainable_count
from kerascnn.analysis import analyze
from kerascnn.layers import StochasticDepth
from test_resnet import train_one_step


@pytest.mark.parametrize("name, count", [
    # keras.applications.ResNet50V2 / 101V2 / 152V2(weights=None).count_params(); its
    # documentation table rounds them to 25.6M, 44.7M and 60.4M.
    ("resnet101v2", 44_675_560), ("resnet152v2", 60_380_648),
])
def test_resnet_v2_depths_match_keras_applications(name, count):
    assert build_shapes(name).count_params() == count


def test_resnet50v2_matches_keras_applications():
    model = build_shapes("resnet50v2")
    # keras.applications.ResNet50V2(weights=None).count_params() (25.6M in its documentation).
    assert model.count_params() == 25_613_800
    # The TF-slim layout of keras.applications: the stride sits in each stage's last unit.
    assert model.get_layer("conv2_block3_2_conv").strides == (2, 2)
    assert model.get_layer("conv2_block3_out").output.shape == (None, 28, 28, 256)
    assert model.get_layer("conv5_block3_out").output.shape == (None, 7, 7, 2048)
    assert kerascnn.group_names(model)[-2:] == ["post", "head"]


def _kernel_weights(model):
    # He et al. 2016 count the convolution and fully connected weights (without batch norm).
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights if v.path.endswith("kernel"))


@pytest.mark.parametrize("name, width", [("preact_resnet110", 64), ("preact_resnet164", 256)])
def test_preact_cifar_parameters_and_training_step(name, width):
    # He et al. 2016, Table 3: ResNet-110 and ResNet-164 (pre-activation), 1.7M parameters each;
    # basic units end at 64 channels, bottleneck units at 4 x 64.
    model = train_one_step(name)
    assert round(_kernel_weights(model) / 1e6, 1) == 1.7
    # The network ends with a batch norm and ReLU before pooling.
    assert model.get_layer("post_relu").output.shape == (None, 8, 8, width)
    # The first unit's shortcut reads conv1's activation (the paper's appendix); later identity
    # shortcuts read the raw sum of the unit before.
    shortcut_source = "conv2_block1_0_conv" if name == "preact_resnet164" else "conv2_block1_out"
    assert "conv2_block1_preact_relu" in _inputs_of(model, shortcut_source)
    assert "conv2_block1_out" in _inputs_of(model, "conv2_block2_out")


def _inputs_of(model, layer_name):
    node = model.get_layer(layer_name)._inbound_nodes[0]
    return [t._keras_history.operation.name for t in node.input_tensors]


def test_preact_resnet1001_parameters():
    # He et al. 2016, Table 3 and section 5: ResNet-1001, 10.2M parameters. (Its builder is
    # preact_resnet164's, trained above, with 111 units per stage instead of 18.)
    assert round(_kernel_weights(build_shapes("preact_resnet1001")) / 1e6, 1) == 10.2


@pytest.mark.parametrize("name, millions", [("wrn28_10", 36.5), ("wrn16_8", 11.0)])
def test_wide_resnet_cifar(name, millions):
    # Zagoruyko & Komodakis 2016, Table 4 / section 3: WRN-28-10 36.5M, WRN-16-8 11.0M parameters.
    model = train_one_step(name)
    assert round(trainable_count(model) / 1e6, 1) == millions
    width = {"wrn28_10": 640, "wrn16_8": 512}[name]
    assert model.get_layer("post_relu").output.shape == (None, 8, 8, width)


@pytest.mark.parametrize("name, params, gmacs", [
    # torchvision's weights metadata: num_params and GFLOPS (multiply-adds) at 224x224.
    ("wide_resnet50_2", 68_883_240, 11.40),
    ("resnext50_32x4d", 25_028_904, 4.23),
    ("resnext101_32x8d", 88_791_336, 16.41),
])
def test_imagenet_bottleneck_variants(name, params, gmacs):
    model = build_shapes(name)
    table = analyze(model)
    assert table.trainable_params == params
    assert round(table.total_macs / 1e9, 2) == gmacs
    if name == "resnext50_32x4d":
        # Xie et al. 2017, Table 1: conv2 of ResNeXt-50 (32x4d) is a 3x3 convolution 128 wide
        # in C = 32 groups of 4 channels.
        conv = model.get_layer("conv2_block1_2_conv")
        assert (conv.groups, conv.filters, tuple(conv.kernel.shape)) == (32, 128, (3, 3, 4, 128))


def test_stochastic_depth_layer():
    layer = StochasticDepth(0.5, seed=1)
    x = np.ones((4000, 2, 2, 3), "float32")
    # Identity at inference.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    # During training each example's branch is dropped whole or scaled by 1 / (1 - rate).
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    per_example = y.reshape(4000, -1)
    assert set(np.unique(per_example)) == {0.0, 2.0}
    assert np.all(per_example.min(axis=1) == per_example.max(axis=1))
    assert abs(per_example.mean() - 1.0) < 0.1
    assert StochasticDepth.from_config(layer.get_config()).rate == 0.5
    with pytest.raises(ValueError, match="Received: rate=1.0"):
        StochasticDepth(1.0)


@pytest.mark.parametrize("name, options, blocks", [
    ("resnet20", {}, 9),
    ("preact_resnet110", {"depth": 20}, 9),
    ("wrn16_8", {"depth": 10}, 3),
    ("resnet18", {}, 8),
])
def test_drop_path_rate_decays_linearly(name, options, blocks):
    model = build_shapes(name, drop_path_rate=0.5, **options)
    rates = [layer.rate for layer in model.layers if isinstance(layer, StochasticDepth)]
    # Huang et al. 2016, equation 4: block l of L survives with 1 - l / L * (1 - p_L).
    np.testing.assert_allclose(rates, [0.5 * block / blocks for block in range(1, blocks + 1)])
    if name == "resnet20":
        assert not any(isinstance(layer, StochasticDepth) for layer in build_shapes(name).layers)


def test_drop_path_model_round_trip(tmp_path):
    model = kerascnn.build("resnet20", depth=8, drop_path_rate=0.2, input_shape=(8, 8, 3))
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")
    path = tmp_path / "resnet20.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    expected = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(x)), expected)
    model.export(tmp_path / "export", verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "export"))  # keep it: it owns the variables
    np.testing.assert_allclose(exported.serve(x).numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="Received: drop_path_rate=0.1"):
        kerascnn.build("plain20", drop_path_rate=0.1)


def test_grouped_bottleneck_exports(tmp_path):
    from kerascnn.blocks.residual import bottleneck_block

    # TensorFlow runs grouped convolutions on CPU through XLA; the export must serve them too.
    inputs = keras.Input((8, 8, 64))
    outputs = bottleneck_block(inputs, 64, 2, groups=32, width=128, stride_at="3x3",
                               name="conv2_block1")
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 64)).astype("float32")
    model.export(tmp_path / "export", verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "export"))
    served = exported.serve(x)
    assert served.shape == (2, 4, 4, 256)
    np.testing.assert_allclose(served.numpy(), keras.ops.convert_to_numpy(model(x)), atol=1e-5)
