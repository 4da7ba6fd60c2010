"""kerascnn.layers.BatchNormalization (fused kernel) against keras.layers.BatchNormalization.

The reference is `keras.layers.BatchNormalization` itself (Ioffe & Szegedy 2015, Algorithm 1, as
Keras computes it), given the same configuration and weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn.layers import BatchNormalization as FusedBatchNorm


def _pair(input_shape=(4, 5, 5, 6), **config):
    """A Keras layer and a fused one with the same configuration and random, equal weights."""
    config = {"momentum": 0.9, "epsilon": 1e-3, **config}
    keras_bn = keras.layers.BatchNormalization(**config)
    fused_bn = FusedBatchNorm(**config)
    rng = np.random.default_rng(0)
    for layer in (keras_bn, fused_bn):
        layer.build(input_shape)
    weights = [rng.uniform(0.5, 2.0, size=w.shape).astype("float32") for w in keras_bn.weights]
    for layer in (keras_bn, fused_bn):
        layer.set_weights(weights)
    return keras_bn, fused_bn


def _inputs(shape=(4, 5, 5, 6), seed=1):
    return tf.constant(np.random.default_rng(seed).normal(3.0, 2.0, size=shape), tf.float32)


def _forward_and_gradients(layer, x, upstream, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(y * upstream)
    return y, tape.gradient(loss, [x, *layer.trainable_weights])


def test_training_step_matches_keras():
    keras_bn, fused_bn = _pair()
    x = _inputs()
    upstream = _inputs(seed=2)
    moving_variance_before = fused_bn.moving_variance.numpy()
    expected, expected_grads = _forward_and_gradients(keras_bn, x, upstream, training=True)
    got, got_grads = _forward_and_gradients(fused_bn, x, upstream, training=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # The gamma and beta gradients are sums over the batch of terms of size ~10 that cancel to
    # ~1: the summation order alone moves them by ~1e-4 in float32.
    for g, e in zip(got_grads, expected_grads):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=5e-4)
    for g, e in zip(fused_bn.non_trainable_weights, keras_bn.non_trainable_weights):
        np.testing.assert_allclose(g, e, rtol=1e-6)
    # The moving variance is fed the biased batch variance, as in Keras.
    biased = np.var(x.numpy(), axis=(0, 1, 2))
    np.testing.assert_allclose(fused_bn.moving_variance,
                               0.9 * moving_variance_before + 0.1 * biased, rtol=1e-5)


def test_inference_and_frozen_layers_are_keras_bit_for_bit():
    keras_bn, fused_bn = _pair()
    x = _inputs()
    np.testing.assert_array_equal(fused_bn(x, training=False), keras_bn(x, training=False))
    keras_bn.trainable = fused_bn.trainable = False
    np.testing.assert_array_equal(fused_bn(x, training=True), keras_bn(x, training=True))
    np.testing.assert_array_equal(fused_bn.moving_mean, keras_bn.moving_mean)


@pytest.mark.parametrize("config", [{"center": False}, {"scale": False},
                                    {"center": False, "scale": False}])
def test_without_scale_or_offset(config):
    keras_bn, fused_bn = _pair(**config)
    x = _inputs()
    np.testing.assert_allclose(fused_bn(x, training=True), keras_bn(x, training=True),
                               rtol=1e-5, atol=1e-5)


def test_other_ranks_and_axes_fall_back_to_keras():
    keras_bn, fused_bn = _pair((8, 6))
    x = _inputs((8, 6))
    np.testing.assert_array_equal(fused_bn(x, training=True), keras_bn(x, training=True))
    keras_bn, fused_bn = _pair((4, 6, 5, 5), axis=1)
    x = _inputs((4, 6, 5, 5))
    np.testing.assert_array_equal(fused_bn(x, training=True), keras_bn(x, training=True))


def test_one_value_per_channel():
    # A batch of one 1x1 map: the batch variance is 0 (the kernel's unbiased one is undefined).
    keras_bn, fused_bn = _pair((1, 1, 1, 6))
    x = _inputs((1, 1, 1, 6))
    np.testing.assert_allclose(fused_bn(x, training=True), keras_bn(x, training=True), atol=1e-5)
    np.testing.assert_allclose(fused_bn.moving_variance, keras_bn.moving_variance, rtol=1e-6)


def test_mixed_precision():
    keras_bn, fused_bn = _pair(dtype="mixed_float16")
    x = tf.cast(_inputs(), tf.float16)
    got, expected = fused_bn(x, training=True), keras_bn(x, training=True)
    assert got.dtype == expected.dtype == tf.float16
    np.testing.assert_allclose(np.float32(got), np.float32(expected), rtol=2e-3, atol=2e-3)
    assert fused_bn.moving_mean.dtype == "float32"


def _small_net(batch_norm_class):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, use_bias=False, name="conv")(inputs)
    x = batch_norm_class(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="fc")(x))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_trained_network_matches_keras(jit_compile):
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype("float32")
    y = np.arange(16) % 3
    trained = []
    for batch_norm_class in (keras.layers.BatchNormalization, FusedBatchNorm):
        model = _small_net(batch_norm_class)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), jit_compile=jit_compile,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    for fused, plain in zip(trained[1], trained[0]):
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)


def test_saves_and_loads_in_safe_mode(tmp_path):
    model = _small_net(FusedBatchNorm)
    path = tmp_path / "net.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.get_layer("bn")) is FusedBatchNorm
    assert loaded.get_layer("bn").get_config() == model.get_layer("bn").get_config()
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(loaded(x), model(x))


def test_reads_weights_files_written_with_keras_batch_norm(tmp_path):
    # Keras names entries of .weights.h5 files after the layer's class: same name, same entries.
    plain = _small_net(keras.layers.BatchNormalization)
    plain.get_layer("bn").set_weights([np.full(8, v, "float32") for v in (2.0, 0.5, 0.1, 3.0)])
    path = tmp_path / "plain.weights.h5"
    plain.save_weights(path)
    ours = _small_net(FusedBatchNorm)
    ours.load_weights(path)
    for got, expected in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(got, expected)
