"""2-D convolution whose grouped form runs TensorFlow's own CPU kernels, one per group.

Grouped convolutions: A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012 (two towers, figure 2); S. Xie et al., "Aggregated
Residual Transformations for Deep Neural Networks", CVPR 2017 (ResNeXt, figure 3c); X. Zhang et
al., "ShuffleNet", CVPR 2018 (grouped 1x1 convolutions).

TensorFlow's CPU `Conv2D` kernel rejects grouped convolutions, so Keras 3 compiles every grouped
convolution with XLA, whose CPU code for it is slow: 84% of an AlexNet training step on 2 cores
went to its three grouped convolutions (tools/README.md). Splitting the channels and running one
ordinary convolution per group computes the same sums with oneDNN's kernels.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["Conv2D"]


@keras.saving.register_keras_serializable(package="kerascnn")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that computes a grouped convolution as one convolution per group on
    CPU-only machines.

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
        outputs = [
            tf.nn.convolution(group_inputs, group_kernel, strides=list(self.strides),
                              padding=self.padding.upper(), dilations=list(self.dilation_rate))
            for group_inputs, group_kernel in zip(tf.split(inputs, self.groups, axis=-1),
                                                  tf.split(kernel, self.groups, axis=-1))
        ]
        return tf.concat(outputs, axis=-1)
