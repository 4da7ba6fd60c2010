"""Channel shuffle and channel split: the two tensor re-arrangements of the ShuffleNets.

X. Zhang, X. Zhou, M. Lin, J. Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural Network
for Mobile Devices", CVPR 2018, section 3.1 (channel shuffle); N. Ma, X. Zhang, H.-T. Zheng, J. Sun,
"ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design", ECCV 2018, section 4
(channel split). Both move values without arithmetic, so they count zero MACs and have no weights.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ChannelShuffle", "ChannelSplit"]


def _check_groups(groups, name: str) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{name} must be an integer >= 1. Received: {name}={groups!r}")
    return groups


def _check_divisible(channels, groups: int, name: str, layer: str) -> None:
    if channels is None or channels % groups:
        raise ValueError(
            f"{layer} needs a known channel count divisible by {name}={groups}. "
            f"Received: input channels={channels}"
        )


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelShuffle(keras.layers.Layer):
    """Shuffles channels across `groups` so that stacked group convolutions exchange information.

    As the ShuffleNet paper describes it: reshape the channel dimension into `(groups, n)`,
    transpose it to `(n, groups)`, and flatten it back. Output channel `i * groups + j` is input
    channel `j * n + i`, the order torchvision's `channel_shuffle` produces. Works on
    `channels_last` tensors of any rank >= 2 and on unknown spatial sizes.

    Args:
        groups: Number of groups `g` (>= 1); the channel count must be divisible by it.
        **kwargs: Base `Layer` arguments (`name`, `dtype` ...).

    Raises:
        ValueError: If `groups` is not a positive integer, or the input channels are not divisible
            by it.
    """

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = _check_groups(groups, "groups")

    def build(self, input_shape):
        _check_divisible(input_shape[-1], self.groups, "groups", type(self).__name__)

    def call(self, inputs):
        if self.groups == 1:
            return inputs
        shape = ops.shape(inputs)
        channels = inputs.shape[-1]
        grouped = ops.reshape(inputs, (*shape[:-1], self.groups, channels // self.groups))
        return ops.reshape(ops.swapaxes(grouped, -1, -2), shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelSplit(keras.layers.Layer):
    """Splits the channels into `num_splits` equal, contiguous parts (ShuffleNet v2's split).

    The first part is the first `C / num_splits` channels, as `torch.chunk` gives them, so weights
    laid out for torchvision's ShuffleNet v2 see the same channels.

    Args:
        num_splits: Number of parts (>= 1); the channel count must be divisible by it.
        **kwargs: Base `Layer` arguments.

    Returns:
        A list of `num_splits` tensors.

    Raises:
        ValueError: If `num_splits` is not a positive integer, or the channels do not divide.
    """

    def __init__(self, num_splits: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.num_splits = _check_groups(num_splits, "num_splits")

    def build(self, input_shape):
        _check_divisible(input_shape[-1], self.num_splits, "num_splits", type(self).__name__)

    def call(self, inputs):
        return ops.split(inputs, self.num_splits, axis=-1)

    def compute_output_shape(self, input_shape):
        part = tuple(input_shape[:-1]) + (input_shape[-1] // self.num_splits,)
        return [part] * self.num_splits

    def get_config(self):
        return {**super().get_config(), "num_splits": self.num_splits}
