"""AlexNet, the two-tower network of the paper and its single-tower form.

A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.heads import fully_connected_head
from kerascnn.layers import Conv2D, LocalResponseNormalization
from kerascnn.registry import register_family
from kerascnn.specs import alexnet as spec

__all__ = ["alexnet"]


@register_family("alexnet", spec.VARIANTS)
def alexnet(
    num_classes: int = 1000,
    input_shape: tuple = (227, 227, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    towers: int = 2,
    dropout_rate: float = spec.DROPOUT_RATE,
    lrn: str = "paper",
    layout: str = "paper",
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet (Krizhevsky et al. 2012): five convolutions, three fully connected layers.

    `alexnet` is the paper's two-tower network of figure 2, its towers written as grouped
    convolutions (groups=2 in conv2, conv4 and conv5): ReLU everywhere, local response
    normalization after conv1 and conv2 (k=2, n=5, alpha=1e-4, beta=0.75), overlapping 3x3/2 max
    pooling after both normalizations and after conv5, and dropout 0.5 after FC6 and FC7. Maps
    55 -> 27 -> 27 -> 13 -> 13 -> 13 -> 13 -> 6; 60,965,224 parameters, about 0.72 G MACs.
    `alexnet_onetower` (`towers=1`) is the single-group form of cs231n's "simplified AlexNet"
    and Caffe's single-GPU model: 62,378,344 parameters.

    `lrn="caffe"` uses the response-normalization constants of BVLC's Caffe replication
    (k=1, alpha=1e-4/5; `kerascnn.specs.alexnet.LRN_CONSTANTS`), which its `bvlc_alexnet` weights
    need; the layers are otherwise those of its deploy.prototxt.

    `alexnet_torchvision` (`layout="torchvision"`, one tower) is torchvision's variant, whose
    weights it loads: 64-192-384-256-256 filters, conv1 padded by 2 on every side, no LRN, 224x224
    inputs (61,100,840 parameters). torchvision's adaptive 6x6 average pooling before FC6 is the
    identity at 224x224; here FC6 reads the 6x6 map directly, as in the paper.

    Deviations: the input is 227x227 (the paper's "224x224" does not give its 55x55 maps with an
    11x11/4 valid convolution); the initialization is Keras' (Glorot uniform, zero biases)
    rather than the paper's N(0, 0.01) with unit biases, which trains only with its schedule.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (227, 227, 3); at least the computed minimum (67x67).
        include_top: Whether to add FC6, FC7 and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions`.
        towers: 2 (the paper's grouped convolutions) or 1 (one group).
        dropout_rate: Dropout after FC6 and FC7 (default 0.5).
        lrn: LRN constants, "paper" (default) or "caffe".
        layout: Convolution table, "paper" (default) or "torchvision" (`spec.LAYOUTS`).
        name: Model name.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: If `towers` is not 1 or 2, `dropout_rate` is not in [0, 1) or `lrn` is not
            a key of `LRN_CONSTANTS`, or `layout` is not a key of `LAYOUTS`.
    """
    validation.check_choice(towers, "towers", (1, 2))
    validation.check_fraction(dropout_rate, "dropout_rate")
    validation.check_choice(lrn, "lrn", tuple(spec.LRN_CONSTANTS))
    validation.check_choice(layout, "layout", tuple(spec.LAYOUTS))
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for layer in spec.LAYOUTS[layout]:
        padding = layer.padding
        if isinstance(padding, int):
            x = keras.layers.ZeroPadding2D(padding, name=f"{layer.name}_pad")(x)
            padding = "valid"
        x = Conv2D(
            layer.filters, layer.kernel, strides=layer.strides, padding=padding,
            groups=layer.tower_groups if towers == 2 else 1, name=f"{layer.name}_conv",
        )(x)
        x = keras.layers.ReLU(name=f"{layer.name}_relu")(x)
        if layer.lrn:
            x = LocalResponseNormalization(**spec.LRN_CONSTANTS[lrn], name=f"{layer.name}_lrn")(x)
        if layer.pool:
            x = keras.layers.MaxPooling2D(
                spec.POOL_SIZE, strides=spec.POOL_STRIDES, name=f"{layer.name}_pool"
            )(x)
    x = fully_connected_head(
        x, groups=[(group, spec.FC_UNITS) for group in spec.FULLY_CONNECTED], dense_suffix="_dense",
        dropout_rate=dropout_rate, include_top=include_top, pooling=pooling,
        num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
