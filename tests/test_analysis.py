"""The analysis module against the lecture notes' hand computations.

Sources: cs231n lecture 9 / CS5242 lecture 6 VGG-16 table (shared/seeds, "INPUT: [224x224x3]
memory: 224*224*3=150K params: 0" ...); the SNU "Modern CNNs" notes (tf.nn.conv2d example, 189 =
3*3*3*7); cs231n's naive vs bottleneck inception module on 28x28x256.
"""

import keras
import pytest

import kerascnn
from kerascnn.analysis import conv_output_length


@pytest.fixture(scope="module")
def vgg16_summary():
    return kerascnn.summary(keras.applications.VGG16(weights=None), print_fn=None)


# (layer, weights without biases, activations) exactly as the notes tabulate VGG-16 (D).
VGG16_NOTES = [
    ("input_layer", 0, 224 * 224 * 3),
    ("block1_conv1", 1_728, 224 * 224 * 64),
    ("block1_conv2", 36_864, 224 * 224 * 64),
    ("block1_pool", 0, 112 * 112 * 64),
    ("block2_conv1", 73_728, 112 * 112 * 128),
    ("block2_conv2", 147_456, 112 * 112 * 128),
    ("block2_pool", 0, 56 * 56 * 128),
    ("block3_conv1", 294_912, 56 * 56 * 256),
    ("block3_conv2", 589_824, 56 * 56 * 256),
    ("block3_conv3", 589_824, 56 * 56 * 256),
    ("block3_pool", 0, 28 * 28 * 256),
    ("block4_conv1", 1_179_648, 28 * 28 * 512),
    ("block4_conv2", 2_359_296, 28 * 28 * 512),
    ("block4_conv3", 2_359_296, 28 * 28 * 512),
    ("block4_pool", 0, 14 * 14 * 512),
    ("block5_conv1", 2_359_296, 14 * 14 * 512),
    ("block5_conv2", 2_359_296, 14 * 14 * 512),
    ("block5_conv3", 2_359_296, 14 * 14 * 512),
    ("block5_pool", 0, 7 * 7 * 512),
    ("fc1", 102_760_448, 4096),
    ("fc2", 16_777_216, 4096),
    ("predictions", 4_096_000, 1000),
]


@pytest.mark.parametrize("layer, weights, activations", VGG16_NOTES)
def test_vgg16_rows_match_the_notes(vgg16_summary, layer, weights, activations):
    row = vgg16_summary[layer]
    assert row.weights == weights
    assert row.activations == activations


def test_vgg16_totals(vgg16_summary):
    # 138,357,544 parameters: the VGG paper's Table 2 ("138M") and torchvision's vgg16 num_params.
    assert vgg16_summary.total_params == 138_357_544
    assert vgg16_summary.trainable_params == 138_357_544
    # torchvision lists vgg16 at 15.47 "GFLOPS", which count multiply-accumulates.
    assert round(vgg16_summary.total_macs / 1e9, 2) == 15.47
    # The notes total the activations as "24M * 4 bytes ~= 96MB / image", but their own rows add
    # up to 15,237,608 (~61 MB in float32): the printed total is a slip. Flatten only re-views
    # block5_pool, so it adds nothing.
    assert vgg16_summary.total_activations == 15_237_608
    assert vgg16_summary.total_activations == sum(a for _, _, a in VGG16_NOTES)
    assert vgg16_summary["flatten"].activations == 0


def test_vgg16_receptive_fields(vgg16_summary):
    # Three stacked 3x3 convs see 7x7 (block1 pool doubles the jump, then 2 x 3x3 at jump 2 ...).
    assert vgg16_summary["block1_conv2"].rf_size == 5
    assert vgg16_summary["block5_pool"].rf_size == 212
    assert vgg16_summary["block5_pool"].rf_jump == 32
    assert vgg16_summary["fc1"].rf_size is None


def test_notes_conv2d_example():
    # tf.nn.conv2d with a [3, 3, 3, 7] filter: 189 = 3 * 3 * 3 * 7 weights, 7 more with biases.
    inputs = keras.Input((5, 5, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(7, 3, name="conv")(inputs))
    row = kerascnn.summary(model, print_fn=None)["conv"]
    assert (row.weights, row.params) == (189, 196)


@pytest.mark.parametrize("depth, field", [(1, 3), (2, 5), (3, 7)])
def test_stacked_3x3_receptive_field(depth, field):
    inputs = keras.Input((32, 32, 1))
    x = inputs
    for i in range(depth):
        x = keras.layers.Conv2D(1, 3, padding="same", name=f"conv{i}")(x)
    result = kerascnn.summary(keras.Model(inputs, x), print_fn=None)
    assert result.rows[-1].rf_size == field
    assert result.rows[-1].rf_jump == 1


def test_conv_output_length_formula():
    # AlexNet conv1 and pool1, the notes' "(227 - 11) / 4 + 1 = 55" and "(55 - 3) / 2 + 1 = 27".
    assert conv_output_length(227, 11, 4) == 55
    assert conv_output_length(55, 3, 2) == 27


def _inception(widths, naive):
    inputs = keras.Input((28, 28, 256))
    if naive:
        b1, b3, b5 = widths
        branches = [
            keras.layers.Conv2D(b1, 1, name="b1_1x1")(inputs),
            keras.layers.Conv2D(b3, 3, padding="same", name="b2_3x3")(inputs),
            keras.layers.Conv2D(b5, 5, padding="same", name="b3_5x5")(inputs),
            keras.layers.MaxPooling2D(3, 1, padding="same", name="b4_pool")(inputs),
        ]
    else:
        b1, r3, b3, r5, b5, pool_proj = widths
        reduce3 = keras.layers.Conv2D(r3, 1, name="b2_reduce")(inputs)
        reduce5 = keras.layers.Conv2D(r5, 1, name="b3_reduce")(inputs)
        pooled = keras.layers.MaxPooling2D(3, 1, padding="same", name="b4_pool")(inputs)
        branches = [
            keras.layers.Conv2D(b1, 1, name="b1_1x1")(inputs),
            keras.layers.Conv2D(b3, 3, padding="same", name="b2_3x3")(reduce3),
            keras.layers.Conv2D(b5, 5, padding="same", name="b3_5x5")(reduce5),
            keras.layers.Conv2D(pool_proj, 1, name="b4_proj")(pooled),
        ]
    outputs = keras.layers.Concatenate(name="concat")(branches)
    return kerascnn.summary(keras.Model(inputs, outputs), print_fn=None)


def test_naive_inception_module_cost():
    result = _inception((128, 192, 96), naive=True)
    # 28*28*128*1*1*256 + 28*28*192*3*3*256 + 28*28*96*5*5*256 (cs231n lecture 9).
    assert result.total_macs == 854_196_224
    assert result["concat"].output_shape == (None, 28, 28, 672)
    assert result["concat"].rf_size == 5


def test_bottleneck_inception_module_cost():
    # The notes' widths: 1x1 conv 128 branch; 64 and 64 reductions for the 3x3 (192) and 5x5 (96)
    # branches; 64 pool projection. Their terms are 12.8M + 12.8M + 25.7M + 86.7M + 120.4M + 12.8M,
    # which add up to 271,351,808, not the 358M the notes print: the printed total is wrong.
    result = _inception((128, 64, 192, 64, 96, 64), naive=False)
    assert result.total_macs == 271_351_808
    assert result["concat"].output_shape == (None, 28, 28, 480)
