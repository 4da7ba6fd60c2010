"""The im2col reference against Keras Conv2D outputs and TensorFlow gradients (CS5242 lecture 6)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn.reference import col2im, conv2d_backward, conv2d_forward, im2col


def test_notes_1d_stride2_example():
    # w = [3 2 1], x = [1 0 2 2 3 1], s = 2: columns [1 0 2] and [2 2 3] -> y = [5 13].
    x = np.array([1, 0, 2, 2, 3, 1], dtype="float64").reshape(1, 1, 6, 1)
    w = np.array([3, 2, 1], dtype="float64").reshape(1, 3, 1, 1)
    np.testing.assert_array_equal(im2col(x, (1, 3), stride=2)[0], [[1, 2], [0, 2], [2, 3]])
    np.testing.assert_array_equal(conv2d_forward(x, w, stride=2).ravel(), [5, 13])
    # Backward with dL/dy = [1 1]: x[2] lies in both receptive fields, so its gradient is the
    # sum of both paths, w[2] + w[0] = 1 + 3.
    grad_x, grad_w, _ = conv2d_backward(np.ones((1, 1, 2, 1)), x, w, stride=2)
    np.testing.assert_array_equal(grad_x.ravel(), [3, 2, 4, 2, 1, 0])
    np.testing.assert_array_equal(grad_w.ravel(), [1 + 2, 0 + 2, 2 + 3])
    conv1d = keras.layers.Conv1D(1, 3, strides=2, use_bias=False)
    conv1d.build((None, 6, 1))
    conv1d.set_weights([w.reshape(3, 1, 1)])
    np.testing.assert_allclose(conv1d(x.reshape(1, 6, 1)).numpy().ravel(), [5, 13])


@pytest.mark.parametrize("stride, padding, kernel", [(1, 0, 3), (2, 1, 3), (2, 0, 5), (3, 2, 4)])
def test_forward_matches_keras_conv2d(stride, padding, kernel):
    rng = np.random.default_rng(stride * 10 + padding)
    x = rng.normal(size=(2, 11, 9, 3)).astype("float32")
    layer = keras.layers.Conv2D(4, kernel, strides=stride, padding="valid")
    layer.build((None, 11 + 2 * padding, 9 + 2 * padding, 3))
    w, b = layer.get_weights()
    b = rng.normal(size=b.shape).astype("float32")
    layer.set_weights([w, b])
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    expected = layer(padded).numpy()
    actual = conv2d_forward(x, w, b, stride=stride, padding=padding)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 0), (2, 1)])
def test_backward_matches_tensorflow_gradients(stride, padding):
    rng = np.random.default_rng(7 + stride)
    x = rng.normal(size=(2, 8, 7, 3))
    w = rng.normal(size=(3, 3, 3, 5))
    b = rng.normal(size=(5,))
    y = conv2d_forward(x, w, b, stride=stride, padding=padding)
    upstream = rng.normal(size=y.shape)
    tx, tw, tb = (tf.constant(v) for v in (x, w, b))
    with tf.GradientTape() as tape:
        tape.watch([tx, tw, tb])
        padded = tf.pad(tx, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
        ty = tf.nn.conv2d(padded, tw, strides=stride, padding="VALID") + tb
        loss = tf.reduce_sum(ty * upstream)
    expected = tape.gradient(loss, [tx, tw, tb])
    np.testing.assert_allclose(ty.numpy(), y, atol=1e-5)
    for actual, reference in zip(conv2d_backward(upstream, x, w, stride, padding), expected):
        np.testing.assert_allclose(actual, reference.numpy(), atol=1e-5)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 6, 6, 2))
    g = rng.normal(size=im2col(x, (3, 3), 2, 1).shape)
    # <im2col(x), g> == <x, col2im(g)> for every x and g.
    lhs = np.sum(im2col(x, (3, 3), 2, 1) * g)
    rhs = np.sum(x * col2im(g, x.shape, (3, 3), 2, 1))
    assert lhs == pytest.approx(rhs)


def test_kernel_larger_than_input_is_refused():
    with pytest.raises(ValueError, match="Received: kernel=5, size=3"):
        im2col(np.zeros((1, 3, 3, 1)), (5, 5))
