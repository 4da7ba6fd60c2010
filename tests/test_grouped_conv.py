"""kerascnn.layers.Conv2D (one convolution per group) against keras.layers.Conv2D (XLA's grouped
convolution) and against the definition of a grouped convolution written out with numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn.layers import Conv2D as SplitConv2D


def _pair(input_shape, **config):
    theirs = keras.layers.Conv2D(**config)
    ours = SplitConv2D(**config)
    for layer in (theirs, ours):
        layer.build(input_shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in theirs.weights]
    for layer in (theirs, ours):
        layer.set_weights(weights)
    return theirs, ours


def _inputs(shape, seed=1):
    return tf.constant(np.random.default_rng(seed).normal(size=shape), tf.float32)


@pytest.mark.parametrize("config", [
    dict(filters=8, kernel_size=3, groups=2, padding="same"),
    dict(filters=9, kernel_size=3, groups=3, padding="valid"),
    dict(filters=6, kernel_size=2, groups=2, padding="same"),
    dict(filters=12, kernel_size=5, groups=3, strides=2, padding="valid"),
    dict(filters=6, kernel_size=1, groups=3, use_bias=False),
    dict(filters=4, kernel_size=3, groups=2, dilation_rate=2, padding="same"),
])
def test_outputs_and_gradients_match_keras(config):
    theirs, ours = _pair((2, 9, 9, 6), **config)
    x = _inputs((2, 9, 9, 6))
    results = []
    for layer in (theirs, ours):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * tf.sin(y))
        results.append((y, tape.gradient(loss, [x, *layer.trainable_weights])))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-5)
    for got, expected in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_is_the_definition_of_a_grouped_convolution():
    # Group g sees input channels [g*c, (g+1)*c) and owns output channels [g*f, (g+1)*f)
    # (Krizhevsky et al. 2012, figure 2: each tower sees only its own half of the maps).
    layer = SplitConv2D(4, 1, groups=2, use_bias=False)
    layer.build((1, 1, 1, 4))
    kernel = np.random.default_rng(0).normal(size=(1, 1, 2, 4)).astype("float32")
    layer.set_weights([kernel])
    x = np.random.default_rng(1).normal(size=(1, 1, 1, 4)).astype("float32")
    expected = np.concatenate([x[0, 0, 0, :2] @ kernel[0, 0, :, :2],
                               x[0, 0, 0, 2:] @ kernel[0, 0, :, 2:]])
    np.testing.assert_allclose(layer(x)[0, 0, 0], expected, rtol=1e-6)


def test_ungrouped_is_keras_bit_for_bit():
    theirs, ours = _pair((2, 7, 7, 3), filters=5, kernel_size=3)
    x = _inputs((2, 7, 7, 3))
    np.testing.assert_array_equal(ours(x), theirs(x))


def test_saves_loads_and_reads_keras_weights_files(tmp_path):
    def net(conv_class):
        inputs = keras.Input((8, 8, 4))
        return keras.Model(inputs, conv_class(6, 3, groups=2, name="conv")(inputs))

    plain = net(keras.layers.Conv2D)
    plain.save_weights(tmp_path / "plain.weights.h5")
    ours = net(SplitConv2D)
    ours.load_weights(tmp_path / "plain.weights.h5")
    for got, expected in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(got, expected)
    ours.save(tmp_path / "ours.keras")
    loaded = keras.saving.load_model(tmp_path / "ours.keras", safe_mode=True)
    assert type(loaded.get_layer("conv")) is SplitConv2D
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 4)).astype("float32")
    np.testing.assert_array_equal(loaded(x), ours(x))
