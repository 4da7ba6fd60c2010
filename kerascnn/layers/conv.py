"""2-D convolution whose grouped form trains on CPUs with TensorFlow's own kernels.

Grouped convolutions: A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012 (two towers, figure 2); S. Xie et al., "Aggregated
Residual Transformations for Deep Neural Networks", CVPR 2017 (ResNeXt, figure 3c); X. Zhang et
al., "ShuffleNet", CVPR 2018 (grouped 1x1 convolutions).

TensorFlow's CPU kernels refuse the gradients of grouped convolutions, so Keras 3 compiles every
grouped convolution with XLA, whose CPU code for it is slow: 84% of an AlexNet training step on 2
cores went to its three grouped convolutions (tools/README.md). Here the forward pass is
TensorFlow's grouped `Conv2D` (oneDNN's grouped kernel), and so is the input gradient where it is
itself a grouped convolution (stride 1, no dilation: the output gradient convolved with the
flipped kernel, in and out channels swapped within each group); the filter gradient, and the
input gradient of strided layers, run one ordinary kernel per group. At ResNeXt-50's first
grouped layer that takes 61 ms where one convolution per group takes 105 ms, in each of the
forward pass and the input gradient (tools/grouped_conv_kernels.py, 2 AVX2 cores). Without
oneDNN (`TF_ENABLE_ONEDNN_OPTS=0`) TensorFlow's own grouped kernel is the slower one, and every
pass runs per group.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

__all__ = ["Conv2D"]


@keras.saving.register_keras_serializable(package="kerascnn")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose grouped convolutions train with TensorFlow's CPU kernels on
    CPU-only machines (see the module's docstring).

    Same arguments, weights (one `(kh, kw, in / groups, filters)` kernel, group `g` owning output
    channels `[g * filters / groups, (g + 1) * filters / groups)`, as in Keras), configuration and
    class name (so `.weights.h5` files written for Keras's layer load unchanged). With `groups=1`,
    channels-first data, or a GPU present (where XLA's grouped convolution runs on cuDNN), it is
    Keras's layer. Results differ from Keras's XLA computation only in float round-off
    (tests/test_grouped_conv.py).
    """

    def _split_by_group(self) -> bool:
        return self.groups > 1 and self.data_format == "channels_last" \
            and not tf.config.list_physical_devices("GPU")

    def convolution_op(self, inputs, kernel):
        if not self._split_by_group():
            return super().convolution_op(inputs, kernel)
        convolve = grouped_convolution if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1" \
            else per_group_convolution
        return convolve(inputs, kernel, self.groups, strides=self.strides,
                        padding=self.padding.upper(), dilations=self.dilation_rate)


def per_group_convolution(inputs, kernel, groups, *, strides, padding, dilations):
    """One ordinary convolution per group, concatenated (NHWC)."""
    return tf.concat([
        tf.nn.convolution(group_inputs, group_kernel, strides=list(strides), padding=padding,
                          dilations=list(dilations))
        for group_inputs, group_kernel in zip(tf.split(inputs, groups, axis=-1),
                                              tf.split(kernel, groups, axis=-1))
    ], axis=-1)


def _swapped_flipped_kernel(kernel, groups):
    """The kernel whose grouped convolution of the output gradient is the input gradient:
    flipped in space, input and output channels swapped within each group."""
    height, width, group_in, filters = kernel.shape
    group_out = filters // groups
    split = tf.reshape(kernel[::-1, ::-1], [height, width, group_in, groups, group_out])
    return tf.reshape(tf.transpose(split, [0, 1, 4, 3, 2]), [height, width, group_out,
                                                             groups * group_in])


def grouped_convolution(inputs, kernel, groups, *, strides, padding, dilations):
    """TensorFlow's grouped `Conv2D` forward, with the gradients its CPU kernels refuse (NHWC)."""
    strides4, dilations4 = [1, *strides, 1], [1, *dilations, 1]
    height, width = kernel.shape[0], kernel.shape[1]
    plain = tuple(strides) == (1, 1) and tuple(dilations) == (1, 1)
    if plain and padding == "VALID":
        input_padding = [[0, 0], [height - 1, height - 1], [width - 1, width - 1], [0, 0]]
    elif plain and padding == "SAME" and height % 2 and width % 2:
        input_padding = "SAME"
    else:
        input_padding = None  # strided, dilated or an even kernel: per group

    @tf.custom_gradient
    def convolve(inputs, kernel):
        outputs = tf.nn.conv2d(inputs, kernel, strides4, padding, dilations=dilations4)

        def gradient(upstream):
            if input_padding is not None:
                input_gradient = tf.nn.conv2d(upstream, _swapped_flipped_kernel(kernel, groups),
                                              1, input_padding)
            else:
                input_gradient = tf.concat([
                    tf.compat.v1.nn.conv2d_backprop_input(
                        tf.shape(group_inputs), group_kernel, group_upstream, strides4, padding,
                        dilations=dilations4)
                    for group_inputs, group_kernel, group_upstream in zip(
                        tf.split(inputs, groups, axis=-1), tf.split(kernel, groups, axis=-1),
                        tf.split(upstream, groups, axis=-1))], axis=-1)
            kernel_gradient = tf.concat([
                tf.compat.v1.nn.conv2d_backprop_filter(
                    group_inputs, [height, width, kernel.shape[2], kernel.shape[3] // groups],
                    group_upstream, strides4, padding, dilations=dilations4)
                for group_inputs, group_upstream in zip(tf.split(inputs, groups, axis=-1),
                                                        tf.split(upstream, groups, axis=-1))],
                axis=-1)
            return input_gradient, kernel_gradient

        return outputs, gradient

    # A tensor, not the variable: the gradient then reaches the variable through its read.
    return convolve(inputs, tf.convert_to_tensor(kernel))
