"""The rest of the lecture notes' lineage: LeCun et al. 1989, ZFNet, Network in Network and
BN-Inception, each counted against its paper (or its authors' released definition)."""

import math

import keras
import numpy as np
import pytest

import kerascnn
from conftest import build_shapes, trainable_count
from kerascnn.registry import get_entry
from kerascnn.training.recipes import recipe_for
from kerascnn.transfer import replace_head

LINEAGE = ("lecun1989", "zfnet", "nin_cifar", "nin_imagenet", "bn_inception")


def _spatial(table, layer):
    return table[layer].output_shape[1:3]


# --- LeCun et al. 1989 ---------------------------------------------------------------------------


def test_lecun1989_matches_the_paper():
    table = kerascnn.summary("lecun1989", print_fn=None)
    assert _spatial(table, "h1_bias") == (8, 8) and table["h1_bias"].output_shape[-1] == 12
    assert _spatial(table, "h2_bias") == (4, 4) and table["h2_bias"].output_shape[-1] == 12
    # The paper: "1256 units, 64,660 connections, and 9760 independent parameters". Units are
    # the 16x16 inputs, H1's 12x8x8, H2's 12x4x4, H3's 30 and the 10 outputs.
    unit_layers = ("input", "h1_bias", "h2_bias", "h3_dense", "predictions")
    assert sum(math.prod(table[name].output_shape[1:]) for name in unit_layers) == 1_256
    assert table.total_connections == 64_660
    assert table.trainable_params == 9_760
    # Per layer (Karpathy's reproduction asserts the same, karpathy/lecun1989-repro, repro.py):
    # H1 12 shared 5x5 kernels + 768 unit biases, H2 12 kernels over 8 maps + 192 biases,
    # H3 192 x 30 + 30, output 30 x 10 + 10.
    assert table["h1_conv"].params + table["h1_bias"].params == 300 + 768
    assert table["h2_conv"].params + table["h2_bias"].params == 2_400 + 192
    assert table["h3_dense"].params == 5_790 and table["predictions"].params == 310
    # Weight sharing is why connections outnumber parameters: H1 has 8 x 8 x 12 x 26 links.
    assert table["h1_conv"].connections + table["h1_bias"].connections == 19_968


def test_lecun1989_each_h2_map_reads_eight_h1_maps():
    model = kerascnn.build("lecun1989")
    kernel = keras.ops.convert_to_numpy(model.get_layer("h2_conv").full_kernel())
    connected = np.any(kernel != 0, axis=(0, 1))  # (12 H1 maps, 12 H2 maps)
    assert connected.sum(axis=0).tolist() == [8] * 12  # every H2 map reads 8 of the 12
    assert connected.sum(axis=1).tolist() == [8] * 12  # every H1 map feeds 8
    assert connected[:8, 0].all() and not connected[8:, 0].any()


def test_lecun1989_units_have_their_own_biases():
    model = kerascnn.build("lecun1989", classifier_activation=None)
    h1 = keras.Model(model.input, model.get_layer("h1_bias").output)
    x = np.zeros((1, 16, 16, 1), "float32")
    before = keras.ops.convert_to_numpy(h1(x))
    bias = model.get_layer("h1_bias")
    values = np.zeros(bias.bias.shape, "float32")
    values[3, 5, 7] = 1.0
    bias.set_weights([values])
    changed = keras.ops.convert_to_numpy(h1(x)) != before
    # One unit of map 7 moved; the rest of map 7 shares its kernel but not its bias.
    assert changed.sum() == 1 and changed[0, 3, 5, 7]


def test_lenet5_1998_connections_match_the_paper():
    # LeCun et al. 1998, section II.B: C1 122,304, S2 5,880, C3 151,600, S4 2,000 connections;
    # C5 48,120 and F6 10,164 (fully connected: one per parameter); with the 84 x 10 RBF
    # connections, 340,908 in all.
    table = kerascnn.summary("lenet5_1998", print_fn=None)
    per_layer = {"c1_conv": 122_304, "s2_subsample": 5_880, "c3_conv": 151_600,
                 "s4_subsample": 2_000, "c5_conv": 48_120, "f6_dense": 10_164,
                 "predictions_rbf": 840}
    for layer, count in per_layer.items():
        assert table[layer].connections == count, layer
    assert table.total_connections == 340_908


def test_lecun1989_recipe_is_plain_online_sgd():
    recipe = recipe_for(get_entry("lecun1989").family)
    # The paper: weights updated after each pattern, 23 passes through the training set.
    assert recipe.name == "lecun1989"
    assert (recipe.batch_size, recipe.epochs, recipe.momentum) == (1, 23, 0.0)
    assert (recipe.schedule, recipe.weight_decay) == ("constant", 0.0)


@pytest.mark.slow
def test_lecun1989_trains_on_digits(tmp_path):
    # One pass of the recipe (single-example SGD) over scikit-learn's digits, resized to 16x16.
    result = kerascnn.train("lecun1989", "digits", epochs=1, run_dir=str(tmp_path / "run"),
                            report=False, verbose=0)
    assert result.model.input_shape == (None, 16, 16, 1)
    assert result.history["val_accuracy"][-1] >= 0.8


# --- ZFNet -----------------------------------------------------------------------------------


def test_zfnet_follows_figure_3():
    table = kerascnn.summary(build_shapes("zfnet"), print_fn=None)
    sizes = [_spatial(table, name)[0] for name in (
        "conv1_conv", "conv1_pool", "conv2_conv", "conv2_pool", "conv3_conv", "conv4_conv",
        "conv5_conv", "conv5_pool")]
    # Figure 3: 110 (layer 1) -> 55 (pooled) -> 26 (layer 2) -> 13 -> 13 -> 13 -> 13 -> 6.
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6]
    assert [table[f"conv{i}_conv"].output_shape[-1] for i in range(1, 6)] == [
        96, 256, 384, 384, 256]
    # From the figure: 7*7*3*96+96 + 5*5*96*256+256 + 3*3*256*384+384 + 3*3*384*384+384
    # + 3*3*384*256+256 + 6*6*256*4096+4096 + 4096*4096+4096 + 4096*1000+1000
    # = 14,208 + 614,656 + 885,120 + 1,327,488 + 884,992 + 37,752,832 + 16,781,312 + 4,097,000.
    assert table.trainable_params == 62_357_608
    assert table["conv1_lrn"].type == "LocalResponseNormalization"
    assert table["conv2_lrn"].type == "LocalResponseNormalization"


def test_zfnet_renormalizes_filters_to_rms_0_1():
    shape = (*kerascnn.minimum_input_size("zfnet"), 3)
    model = kerascnn.build("zfnet", num_classes=3, input_shape=shape)
    constraint = model.get_layer("conv2_conv").kernel_constraint
    kernel = np.random.default_rng(0).normal(size=(5, 5, 96, 256)).astype("float32")
    kernel[..., 0] *= 1e-3  # a filter below the radius is left alone
    renormed = keras.ops.convert_to_numpy(constraint(kernel))
    rms = np.sqrt(np.mean(np.square(renormed), axis=(0, 1, 2)))
    np.testing.assert_allclose(rms[1:], 0.1, rtol=1e-4)
    np.testing.assert_allclose(renormed[..., 0], kernel[..., 0], rtol=1e-5)
    unconstrained = kerascnn.build("zfnet", num_classes=3, input_shape=shape, filter_radius=None)
    assert unconstrained.get_layer("conv2_conv").kernel_constraint is None
    with pytest.raises(ValueError, match="Received: filter_radius=-1"):
        kerascnn.build("zfnet", filter_radius=-1)


# --- Network in Network ----------------------------------------------------------------------


def _caffe_pool(x, kind, size=3, stride=2):
    """Caffe's pooling without padding: windows start every `stride` until one starts past
    n - size, and are clipped to the map (the mean divides by the clipped window's size)."""
    n = x.shape[1]
    starts = range(0, -(-(n - size) // stride) * stride + 1, stride)
    reduce = np.max if kind == "max" else np.mean
    return np.array([[reduce(x[i:i + size, j:j + size], axis=(0, 1)) for j in starts]
                     for i in starts])


@pytest.mark.parametrize("kind", ("max", "avg"))
def test_ceil_mode_pooling_is_caffes(kind):
    from kerascnn.layers import CeilModePooling2D

    for n in (5, 6, 13, 26):
        x = np.random.default_rng(n).normal(size=(1, n, n, 2)).astype("float32")
        out = keras.ops.convert_to_numpy(CeilModePooling2D(kind, 3, 2)(x))[0]
        expected = _caffe_pool(x[0], kind)
        assert out.shape == expected.shape == (-(-(n - 3) // 2) + 1,) * 2 + (2,)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_nin_cifar_matches_the_released_definition():
    model = kerascnn.build("nin_cifar")
    table = kerascnn.summary(model, print_fn=None)
    # The authors' CIFAR-10 definition (Caffe model zoo gist e56253735ef32c3c296d, cuda-convnet
    # NIN/): 5*5*3*192+192 + 192*160+160 + 160*96+96 + 5*5*96*192+192 + 2*(192*192+192)
    # + 3*3*192*192+192 + 192*192+192 + 192*10+10
    # = 14,592 + 30,880 + 15,456 + 460,992 + 74,112 + 331,968 + 37,056 + 1,930.
    assert table.trainable_params == 966_986
    assert [_spatial(table, n)[0] for n in ("mlpconv1_pool", "mlpconv2_pool", "mlpconv3_conv")
            ] == [16, 8, 8]
    assert [model.get_layer(f"mlpconv{i}_pool").pool_type for i in (1, 2)] == ["max", "avg"]
    # No fully connected layer but the class scores, read off the globally averaged maps.
    assert [r.name for r in table.rows if r.type == "Dense"] == ["predictions"]
    assert table.rows[-2].name == "head_avg_pool"


def test_nin_imagenet_matches_the_released_definition():
    table = kerascnn.summary(build_shapes("nin_imagenet"), print_fn=None)
    # The Caffe model zoo's NIN ImageNet train_val.prototxt (gist d802a5849de39225bcc6):
    # conv1 11*11*3*96+96, cccp1-2 2*(96*96+96), conv2 5*5*96*256+256, cccp3-4 2*(256*256+256),
    # conv3 3*3*256*384+384, cccp5-6 2*(384*384+384), conv4-1024 3*3*384*1024+1024,
    # cccp7-1024 1024*1024+1024, cccp8-1024 1024*1000+1000
    # = 34,944 + 18,624 + 614,656 + 131,584 + 885,120 + 295,680 + 3,539,968 + 1,049,600
    # + 1,025,000 (about 29 MiB in float32: the model zoo's "29MB" snapshot).
    assert table.trainable_params == 7_595_176
    sizes = [_spatial(table, n)[0] for n in ("mlpconv1_conv", "mlpconv1_pool", "mlpconv2_pool",
                                              "mlpconv3_pool", "mlpconv4_conv")]
    assert sizes == [54, 27, 13, 6, 6]
    relu_maps = kerascnn.summary(build_shapes("nin_imagenet", class_map_relu=True), print_fn=None)
    assert relu_maps.trainable_params == 7_595_176
    assert relu_maps["predictions_conv"].output_shape == (None, 6, 6, 1000)


def test_nin_class_maps_then_averaging_equal_averaging_then_dense():
    model = kerascnn.build("nin_cifar", classifier_activation=None)
    dense = model.get_layer("predictions")
    assert isinstance(dense, keras.layers.Dense)
    features = keras.Model(model.input, model.get_layer("mlpconv3_cccp1_relu").output)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    maps = keras.ops.convert_to_numpy(features(x))  # (2, 8, 8, 192)
    kernel, bias = dense.get_weights()
    class_maps = np.einsum("bhwc,ck->bhwk", maps, kernel) + bias  # the 1x1 convolution
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)),
                               class_maps.mean(axis=(1, 2)), rtol=1e-4, atol=1e-5)


def test_nin_rejects_unknown_layout():
    with pytest.raises(ValueError, match="Received: layout='mnist'"):
        kerascnn.build("nin_cifar", layout="mnist")
    with pytest.raises(ValueError, match="Received: class_map_relu=1"):
        kerascnn.build("nin_cifar", class_map_relu=1)


# --- BN-Inception ----------------------------------------------------------------------------

# Figure 5 of Ioffe & Szegedy 2015: #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3,
# pool projection (0 = max pooling passed through, stride 2).
FIGURE_5 = {
    "3a": (64, 64, 64, 64, 96, 32), "3b": (64, 64, 96, 64, 96, 64),
    "3c": (0, 128, 160, 64, 96, 0), "4a": (224, 64, 96, 96, 128, 128),
    "4b": (192, 96, 128, 96, 128, 128), "4c": (160, 128, 160, 128, 160, 128),
    "4d": (96, 128, 192, 160, 192, 128), "4e": (0, 128, 192, 192, 256, 0),
    "5a": (352, 192, 320, 160, 224, 128), "5b": (352, 192, 320, 192, 224, 128),
}


def _figure_5_parameters(num_classes=1000):
    """Trainable parameters from the figure: bias-free convolutions, batch-norm gamma and beta."""

    def conv(k, cin, cout):
        return k * k * cin * cout + 2 * cout

    total = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    width = 192
    for ones, red3, n3, red_d, n_d, proj in FIGURE_5.values():
        total += conv(1, width, ones) if ones else 0
        total += conv(1, width, red3) + conv(3, red3, n3)
        total += conv(1, width, red_d) + conv(3, red_d, n_d) + conv(3, n_d, n_d)
        total += conv(1, width, proj) if proj else 0
        width = ones + n3 + n_d + (proj or width)
    return total + width * num_classes + num_classes, width


def test_bn_inception_follows_figure_5():
    model = build_shapes("bn_inception")
    table = kerascnn.summary(model, print_fn=None)
    expected, width = _figure_5_parameters()
    assert width == 1024
    assert table.trainable_params == expected == 11_285_224
    sizes = {n: _spatial(table, n)[0] for n in ("conv1_conv", "conv1_pool", "conv2_pool",
                                                "inception3b_concat", "inception3c_concat",
                                                "inception4e_concat", "inception5b_concat")}
    assert sizes == {"conv1_conv": 112, "conv1_pool": 56, "conv2_pool": 28,
                     "inception3b_concat": 28, "inception3c_concat": 14,
                     "inception4e_concat": 7, "inception5b_concat": 7}
    # The figure's 28x28 modules widened from GoogLeNet's 256/480: 256, 320, then 576 at 3c.
    widths = [table[f"inception{m}_concat"].output_shape[-1] for m in ("3a", "3b", "3c", "5b")]
    assert widths == [256, 320, 576, 1024]
    # Batch norm after every convolution, which then has no bias; no LRN, no dropout.
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and not any(layer.use_bias for layer in convs)
    norms = {layer.name for layer in model.layers if "Normalization" in type(layer).__name__}
    assert {c.name.replace("_conv", "_bn") for c in convs} == norms
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    # 5x5 convolutions replaced by two 3x3: no kernel is larger than 3x3 after the stem.
    assert max(c.kernel_size[0] for c in convs if c.name.startswith("inception")) == 3
    # The pooling choices of the figure: average in 3a-5a (but the stride-2 modules), max in 5b.
    pools = {n: type(model.get_layer(f"inception{n}_branch3_0_pool")).__name__
             for n in ("3a", "4d", "5a", "5b")}
    assert pools == {"3a": "AveragePooling2D", "4d": "AveragePooling2D",
                     "5a": "AveragePooling2D", "5b": "MaxPooling2D"}


# --- all five ----------------------------------------------------------------------------------


def test_listed_with_their_papers():
    papers = {"lecun1989": "LeCun et al. 1989", "zfnet": "Zeiler & Fergus 2014",
              "nin_cifar": "Lin, Chen & Yan 2014", "nin_imagenet": "Lin, Chen & Yan 2014",
              "bn_inception": "Ioffe & Szegedy 2015"}
    for name, paper in papers.items():
        assert paper in get_entry(name).summary_line, name


def test_block_groups_and_new_heads():
    groups = {
        "lecun1989": ["input", "h1", "h2", "h3", "head"],
        "zfnet": ["input", "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "head"],
        "nin_cifar": ["input", "mlpconv1", "mlpconv2", "mlpconv3", "head"],
    }
    for name, expected in groups.items():
        shape = (*kerascnn.minimum_input_size(name), get_entry(name).default_input_shape[-1])
        model = kerascnn.build(name, num_classes=3, input_shape=shape)
        assert kerascnn.group_names(model) == expected, name
        # Fine-tuning's new head replaces `predictions`, as in every other family.
        assert replace_head(model, 5).output_shape == (None, 5), name


# nin_imagenet is nin_cifar's builder with another table.
@pytest.mark.parametrize("name", ("lecun1989", "zfnet", "nin_cifar",
                                  pytest.param("bn_inception", marks=pytest.mark.slow)))
def test_a_training_step_changes_the_weights(name):
    shape = (*kerascnn.minimum_input_size(name), get_entry(name).default_input_shape[-1])
    model = kerascnn.build(name, num_classes=3, input_shape=shape)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(size=(4, *shape)).astype("float32")
    y = np.array([0, 1, 2, 0])
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after))


def test_export_of_the_smallest(tmp_path):
    model = kerascnn.build("lecun1989")
    path = kerascnn.export(model, tmp_path / "lecun1989")
    import tensorflow as tf

    serve = tf.saved_model.load(path).signatures["serving_default"]
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 1), dtype=np.uint8)
    out = serve(images=tf.constant(images))["probabilities"].numpy()
    expected = keras.ops.convert_to_numpy(model(images.astype("float32") / 255.0))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_trainable_counts_match_count_params():
    # The per-unit biases are trainable weights like any other: Keras counts what the table does.
    model = kerascnn.build("lecun1989")
    assert trainable_count(model) == model.count_params() == 9_760
