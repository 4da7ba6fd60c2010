"""Convolution by im2col, forward and backward, as the CS5242 notes (lecture 6) describe it.

Forward: every receptive field of the input becomes one column of a matrix X_hat ("receptive field
to column"), and the convolution is one matrix product Y = W X_hat. Backward: dJ/dW = dJ/dY X_hat^T
and dJ/dX_hat = W^T dJ/dY; each column gradient is scattered back to its receptive field, and an
input pixel that lies in several receptive fields receives the *sum* of the gradients of all its
paths ("column to receptive field").

Layout follows Keras: inputs `(batch, height, width, channels)`, kernels `(kh, kw, c_in, c_out)`.
Like Keras and TensorFlow, this is cross-correlation (the kernel is not flipped).
"""

from __future__ import annotations

import numpy as np

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]


def _padded(x: np.ndarray, padding: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))


def _output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"The kernel ({kernel}) does not fit the padded input ({size} + 2x{padding}). "
            f"Received: kernel={kernel}, size={size}, padding={padding}"
        )
    return out


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int = 1, padding: int = 0) -> np.ndarray:
    """Unrolls receptive fields into columns.

    Args:
        x: Input `(batch, H, W, C)`.
        kernel: `(kh, kw)`.
        stride: Stride in both directions.
        padding: Zero padding on every side.

    Returns:
        `(batch, kh * kw * C, out_h * out_w)`: column t holds the receptive field of output t,
        ordered (row, column, channel) like a flattened Keras kernel.
    """
    batch, height, width, channels = x.shape
    kh, kw = kernel
    out_h = _output_size(height, kh, stride, padding)
    out_w = _output_size(width, kw, stride, padding)
    padded = _padded(x, padding)
    columns = np.empty((batch, kh * kw * channels, out_h * out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            field = padded[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            columns[:, :, i * out_w + j] = field.reshape(batch, -1)
    return columns


def col2im(
    columns: np.ndarray,
    input_shape: tuple,
    kernel: tuple[int, int],
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """Scatters column gradients back to the input, summing where receptive fields overlap.

    The adjoint of `im2col`: `col2im(im2col(x) * g)` gives the gradient of `sum(im2col(x) * g)`.
    """
    batch, height, width, channels = input_shape
    kh, kw = kernel
    out_h = _output_size(height, kh, stride, padding)
    out_w = _output_size(width, kw, stride, padding)
    grad = np.zeros((batch, height + 2 * padding, width + 2 * padding, channels), columns.dtype)
    for i in range(out_h):
        for j in range(out_w):
            field = columns[:, :, i * out_w + j].reshape(batch, kh, kw, channels)
            grad[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :] += field
    return grad[:, padding : padding + height, padding : padding + width, :]


def conv2d_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """Y = W X_hat (+ b) for each image.

    Args:
        x: Input `(batch, H, W, C)`.
        kernel: `(kh, kw, C, F)`.
        bias: `(F,)` or None.
        stride: Stride in both directions.
        padding: Zero padding on every side.

    Returns:
        `(batch, out_h, out_w, F)`.
    """
    kh, kw, _, filters = kernel.shape
    out_h = _output_size(x.shape[1], kh, stride, padding)
    out_w = _output_size(x.shape[2], kw, stride, padding)
    weight_matrix = kernel.reshape(-1, filters).T  # (F, kh*kw*C): one filter per row.
    y = weight_matrix @ im2col(x, (kh, kw), stride, padding)  # (batch, F, out_h*out_w)
    y = y.transpose(0, 2, 1).reshape(x.shape[0], out_h, out_w, filters)
    return y if bias is None else y + bias


def conv2d_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    kernel: np.ndarray,
    stride: int = 1,
    padding: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a loss with respect to the input, kernel and bias, given dJ/dY.

    Args:
        grad_output: dJ/dY, `(batch, out_h, out_w, F)`.
        x: The forward input `(batch, H, W, C)`.
        kernel: `(kh, kw, C, F)`.
        stride: Stride used in the forward pass.
        padding: Padding used in the forward pass.

    Returns:
        `(dJ/dx, dJ/dkernel, dJ/dbias)`, summed over the batch for the parameters.
    """
    kh, kw, _, filters = kernel.shape
    batch = x.shape[0]
    columns = im2col(x, (kh, kw), stride, padding)  # (batch, kh*kw*C, T)
    grad_y = grad_output.reshape(batch, -1, filters).transpose(0, 2, 1)  # (batch, F, T)
    grad_weight_matrix = np.einsum("bft,bkt->fk", grad_y, columns)
    grad_kernel = grad_weight_matrix.T.reshape(kernel.shape)
    weight_matrix = kernel.reshape(-1, filters).T
    grad_columns = np.einsum("fk,bft->bkt", weight_matrix, grad_y)
    grad_x = col2im(grad_columns, x.shape, (kh, kw), stride, padding)
    return grad_x, grad_kernel, grad_output.sum(axis=(0, 1, 2))
