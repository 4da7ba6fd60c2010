"""Inception building blocks: GoogLeNet's module, the Inception-v4 multi-branch modules, and the
Inception-ResNet residual block.

C. Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (figure 2).
C. Szegedy, S. Ioffe, V. Vanhoucke, A. Alemi, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017 (figures 3-19).

Branches are data: a tuple of operations, each with a `kind` attribute — "conv" (`filters`,
`kernel`, `strides`, `padding`), "pool" (`type` "max" or "avg", `size`, `strides`, `padding`) or
"fork" (`convs`: convolutions applied side by side to the same input, their outputs concatenated,
as in Inception-C). `kerascnn.specs.inception_v4` defines these records.
"""

from __future__ import annotations

import keras

from kerascnn.blocks.conv import conv_bn_act
from kerascnn.layers import ScaledResidual

__all__ = ["inception_module", "multi_branch", "branch", "inception_resnet_block", "pool"]


def pool(x, op, name: str):
    """Max or average pooling from a "pool" record; average pooling ignores the padding."""
    layer = keras.layers.MaxPooling2D if op.type == "max" else keras.layers.AveragePooling2D
    return layer(op.size, strides=op.strides, padding=op.padding, name=name)(x)


def branch(x, ops, *, name: str, **conv_options):
    """Applies a sequence of conv/pool/fork records; layer `i` is named `{name}_{i}`.

    Args:
        x: Input tensor.
        ops: Tuple of records (see the module docstring).
        name: Prefix of the layer names.
        **conv_options: Passed to `conv_bn_act` (`bn_scale`, `bn_epsilon` ...).

    Returns:
        The branch output; a fork's outputs are concatenated along channels.
    """
    for index, op in enumerate(ops):
        prefix = f"{name}_{index}"
        if op.kind == "pool":
            x = pool(x, op, f"{prefix}_pool")
        elif op.kind == "fork":
            outputs = [
                conv_bn_act(x, c.filters, c.kernel, c.strides, c.padding, name=f"{prefix}{suffix}",
                            **conv_options)
                for c, suffix in zip(op.convs, "abcdefgh")
            ]
            x = keras.layers.Concatenate(name=f"{prefix}_concat")(outputs)
        else:
            x = conv_bn_act(x, op.filters, op.kernel, op.strides, op.padding, name=prefix,
                            **conv_options)
    return x


def multi_branch(x, branches, *, name: str, **conv_options):
    """Runs each branch on `x` and concatenates them (the Inception-v4 modules and reductions).

    Branch `b` is named `{name}_branch{b}_...`, the concatenation `{name}_concat`.
    """
    outputs = [branch(x, ops, name=f"{name}_branch{b}", **conv_options)
               for b, ops in enumerate(branches)]
    if len(outputs) == 1:
        return outputs[0]
    return keras.layers.Concatenate(name=f"{name}_concat")(outputs)


def inception_resnet_block(x, branches, scale: float, *, name: str, activation="relu",
                           **conv_options):
    """An Inception-ResNet block (figures 10-13, 16-19): branches, linear 1x1, scaled residual.

    The concatenated branches are projected back to the input's width by a 1x1 convolution with a
    bias and no batch normalization or activation ("1x1 Conv (linear)"; the paper puts batch
    normalization only on the traditional layers, not on the summations), scaled by `scale`
    (section 3.3), added to the input, and passed through `activation`.

    Args:
        x: Input tensor.
        branches: Tuple of branches, each a tuple of records.
        scale: Residual scale (0.1 to 0.3 in the paper).
        name: Prefix of the layer names: `{name}_branch{b}_...`, `{name}_concat`,
            `{name}_up_conv`, `{name}_add`, `{name}_out`.
        activation: Activation after the addition, or None (the last block of Inception-ResNet-v2
            in the authors' code).
        **conv_options: Passed to `conv_bn_act` for the branch convolutions.

    Returns:
        The block output, with the input's shape.
    """
    mixed = multi_branch(x, branches, name=name, **conv_options)
    up = conv_bn_act(mixed, x.shape[-1], 1, use_bias=True, batch_norm=False, activation=None,
                     name=f"{name}_up")
    x = ScaledResidual(scale, name=f"{name}_add")([x, up])
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_out")(x)
    return x


def inception_module(x, widths, *, name: str, naive: bool = False, five_kernel: int = 5,
                     batch_norm: bool = False, bn_epsilon: float = 1e-3):
    """GoogLeNet's inception module (figure 2): 1x1, 3x3 and 5x5 convolutions and 3x3 max pooling.

    With dimension reductions (figure 2b, the default): 1x1 convolutions reduce the input before the
    3x3 and 5x5 convolutions and project the pooled branch. The naive module (figure 2a) applies
    the 1x1, 3x3 and 5x5 convolutions to the input directly and passes the pooled input through,
    so its width grows by the input's width. Every convolution has a bias and a ReLU.

    Args:
        x: Input tensor.
        widths: `(#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)`, a row of Table 1.
        name: Prefix of the layer names: `{name}_1x1`, `{name}_3x3_reduce`, `{name}_3x3`,
            `{name}_5x5_reduce`, `{name}_5x5`, `{name}_pool`, `{name}_pool_proj`, `{name}_concat`.
        naive: Build figure 2a instead of 2b (the reduce and projection widths are unused).
        five_kernel: Kernel of the "5x5" branch (default 5; torchvision's GoogLeNet uses 3).
        batch_norm: Batch norm after every convolution, which then has no bias (default False;
            torchvision's GoogLeNet).
        bn_epsilon: Batch-norm epsilon (default 1e-3, torchvision's GoogLeNet's).

    Returns:
        The concatenated branches.
    """
    ones, reduce3, threes, reduce5, fives, pool_proj = widths

    def conv(tensor, filters, kernel, suffix):
        return conv_bn_act(tensor, filters, kernel, use_bias=not batch_norm,
                           batch_norm=batch_norm, bn_epsilon=bn_epsilon, name=f"{name}_{suffix}")

    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    if naive:
        outputs = [conv(x, ones, 1, "1x1"), conv(x, threes, 3, "3x3"),
                   conv(x, fives, five_kernel, "5x5"),
                   pooled]
    else:
        outputs = [
            conv(x, ones, 1, "1x1"),
            conv(conv(x, reduce3, 1, "3x3_reduce"), threes, 3, "3x3"),
            conv(conv(x, reduce5, 1, "5x5_reduce"), fives, five_kernel, "5x5"),
            conv(pooled, pool_proj, 1, "pool_proj"),
        ]
    return keras.layers.Concatenate(name=f"{name}_concat")(outputs)
