"""Numpy reference implementations, used as test oracles for the Keras layers."""

from kerascnn.reference.im2col import (
    col2im,
    conv2d_backward,
    conv2d_forward,
    im2col,
)

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]
