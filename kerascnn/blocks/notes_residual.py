"""The lecture notes' residual block, ported from `tf.nn.conv2d` and variable scopes to layers.

The notes ("Residual learning building block", after He et al. 2015) give:

    def residual_block(x, n_in, n_out, subsample, phase_train, scope='res_block'):
        with tf.variable_scope(scope):
            if subsample:
                y = conv2d(x, n_in, n_out, 3, 2, 'SAME', False, scope='conv_1')
                shortcut = conv2d(x, n_in, n_out, 3, 2, 'SAME', False, scope='shortcut')
            else:
                y = conv2d(x, n_in, n_out, 3, 1, 'SAME', False, scope='conv_1')
                shortcut = tf.identity(x, name='shortcut')
            y = batch_norm(y, n_out, phase_train, scope='bn_1')
            y = tf.nn.relu(y, name='relu_1')
            y = conv2d(y, n_out, n_out, 3, 1, 'SAME', True, scope='conv_2')
            y = batch_norm(y, n_out, phase_train, scope='bn_2')
            y = y + shortcut
            y = tf.nn.relu(y, name='relu_2')
        return y

with `conv2d(x, n_in, n_out, k, s, p, bias)` a `tf.nn.conv2d` whose kernel starts from
`tf.truncated_normal([k, k, n_in, n_out], stddev=sqrt(2 / (k * k * n_in)))`, plus a zero-initialised
bias when `bias` is True. This is the corrected second copy in the notes; the first copy indents
everything from `bn_1` on into the `else` branch, so a subsampling block would skip its second
convolution and never add its shortcut.

Each scope becomes a layer with the scope's name: `{name}_conv_1`, `{name}_shortcut`, `{name}_bn_1`,
`{name}_relu_1`, `{name}_conv_2`, `{name}_bn_2`, `{name}_add`, `{name}_relu_2`. `phase_train` is
Keras' `training` flag, which batch norm reads (batch statistics while training, moving averages
at inference). The notes do not define `batch_norm`; Keras' BatchNormalization with its default
epsilon (1e-3) stands in for it.
"""

from __future__ import annotations

import math

import keras

from kerascnn.layers.batch_norm import BatchNormalization

__all__ = ["notes_conv2d", "notes_residual_block"]


def notes_conv2d(x, n_in: int, n_out: int, k: int, s: int, p: str = "SAME", bias: bool = False,
                 *, name: str):
    """The notes' `conv2d` helper as a Conv2D layer: truncated-normal kernel, optional zero bias.

    Args:
        x: Input tensor with `n_in` channels.
        n_in: Input channels (the initialiser's fan-in).
        n_out: Output channels.
        k: Square kernel size.
        s: Stride.
        p: Padding, "SAME" or "VALID" (TensorFlow's spelling).
        bias: Whether to add a bias (initialised to 0).
        name: Layer name.

    Returns:
        The convolution's output.
    """
    # tf.truncated_normal and Keras' TruncatedNormal both redraw values beyond two deviations.
    initializer = keras.initializers.TruncatedNormal(stddev=math.sqrt(2 / (k * k * n_in)))
    return keras.layers.Conv2D(n_out, k, strides=s, padding=p.lower(), use_bias=bias,
                               kernel_initializer=initializer, bias_initializer="zeros",
                               name=name)(x)


def notes_residual_block(x, n_in: int, n_out: int, subsample: bool, *, name: str):
    """The notes' `residual_block`: 3x3 conv, BN, ReLU, 3x3 conv (with bias), BN, + shortcut, ReLU.

    Args:
        x: Input tensor with `n_in` channels.
        n_in: Input channels.
        n_out: Output channels; must equal `n_in` unless `subsample` (the identity shortcut).
        subsample: Halve the map with stride 2 and project the shortcut with a 3x3 stride-2
            convolution (no bias, no batch norm).
        name: The block's scope, the prefix of its layer names.

    Returns:
        The block's output.

    Raises:
        ValueError: If `n_in != n_out` without `subsample` (an identity cannot change width), or
            `x` does not have `n_in` channels.
    """
    if x.shape[-1] != n_in:
        raise ValueError(f"x must have n_in={n_in} channels. Received: x.shape={tuple(x.shape)}")
    if not subsample and n_in != n_out:
        raise ValueError(
            "Without subsampling the shortcut is the identity, so n_out must equal n_in. "
            f"Received: n_in={n_in}, n_out={n_out}, subsample={subsample}"
        )
    stride = 2 if subsample else 1
    y = notes_conv2d(x, n_in, n_out, 3, stride, "SAME", False, name=f"{name}_conv_1")
    if subsample:
        shortcut = notes_conv2d(x, n_in, n_out, 3, 2, "SAME", False, name=f"{name}_shortcut")
    else:
        shortcut = x
    y = BatchNormalization(name=f"{name}_bn_1")(y)
    y = keras.layers.Activation("relu", name=f"{name}_relu_1")(y)
    y = notes_conv2d(y, n_out, n_out, 3, 1, "SAME", True, name=f"{name}_conv_2")
    y = BatchNormalization(name=f"{name}_bn_2")(y)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.Activation("relu", name=f"{name}_relu_2")(y)
