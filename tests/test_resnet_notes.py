"""The lecture notes' residual block, ported to Keras layers, against the notes' formula."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from conftest import trainable_count
from kerascnn.blocks.notes_residual import notes_residual_block
from test_resnet import train_one_step


def _block_model(n_in, n_out, subsample):
    inputs = keras.Input((6, 6, n_in))
    return keras.Model(inputs, notes_residual_block(inputs, n_in, n_out, subsample, name="res"))


def _randomize(model, rng):
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                               if "variance" in w.path or "gamma" in w.path
                               else rng.normal(0, 0.5, w.shape).astype("float32")
                               for w in layer.weights])


def _notes_formula(model, x, subsample, training):
    """The notes' residual_block, written with tf.nn.conv2d as the slides do."""
    w = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}

    def batch_norm(y, scope):
        gamma, beta, moving_mean, moving_variance = w[scope]
        mean, var = tf.nn.moments(y, [0, 1, 2]) if training else (moving_mean, moving_variance)
        return tf.nn.batch_normalization(y, mean, var, beta, gamma, 1e-3)

    stride = 2 if subsample else 1
    y = tf.nn.conv2d(x, w["res_conv_1"][0], [1, stride, stride, 1], padding="SAME")
    shortcut = (tf.nn.conv2d(x, w["res_shortcut"][0], [1, 2, 2, 1], padding="SAME")
                if subsample else tf.identity(x))
    y = tf.nn.relu(batch_norm(y, "res_bn_1"))
    y = tf.nn.bias_add(tf.nn.conv2d(y, w["res_conv_2"][0], [1, 1, 1, 1], padding="SAME"),
                       w["res_conv_2"][1])
    y = batch_norm(y, "res_bn_2")
    return tf.nn.relu(y + shortcut).numpy()


@pytest.mark.parametrize("n_in, n_out, subsample", [(4, 4, False), (4, 8, True)])
@pytest.mark.parametrize("training", [False, True])
def test_block_matches_the_notes_formula(n_in, n_out, subsample, training):
    rng = np.random.default_rng(0)
    model = _block_model(n_in, n_out, subsample)
    _randomize(model, rng)
    x = rng.normal(size=(3, 6, 6, n_in)).astype("float32")
    expected = _notes_formula(model, tf.constant(x), subsample, training)
    actual = keras.ops.convert_to_numpy(model(x, training=training))
    assert actual.shape == (3, 6 // (2 if subsample else 1), 6 // (2 if subsample else 1), n_out)
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_block_initialisation_and_arguments():
    model = _block_model(64, 64, False)
    kernel = keras.ops.convert_to_numpy(model.get_layer("res_conv_1").kernel)
    # The notes' conv2d: tf.truncated_normal(stddev=sqrt(2 / (k * k * n_in))), no bias; the
    # truncation at two deviations leaves a spread of about 0.88 of the nominal one.
    stddev = math.sqrt(2 / (3 * 3 * 64))
    assert np.max(np.abs(kernel)) <= 2 * stddev
    assert 0.8 * stddev < kernel.std() < 0.95 * stddev
    assert not model.get_layer("res_conv_1").use_bias
    assert model.get_layer("res_conv_2").use_bias
    with pytest.raises(ValueError, match="n_out must equal n_in"):
        _block_model(4, 8, False)


def test_notes_resnet20():
    model = train_one_step("notes_resnet20")
    # Parameters from the notes' formula: conv1 3*3*3*16 + BN 2*16; per identity block of width
    # n two 3x3 convolutions (9n^2 each), one bias n and two batch norms (4n); a subsampling block
    # from m to n has 9mn (conv_1) + 9mn (shortcut) + 9n^2 + n + 4n.
    def identity(n):
        return 2 * 9 * n * n + n + 4 * n

    def subsampling(m, n):
        return 2 * 9 * m * n + 9 * n * n + n + 4 * n

    expected = (432 + 32 + 3 * identity(16) + subsampling(16, 32) + 2 * identity(32)
                + subsampling(32, 64) + 2 * identity(64) + 64 * 10 + 10)
    assert trainable_count(model) == expected
    assert kerascnn.group_names(model) == ["input", "conv1", "conv2", "conv3", "conv4", "head"]
