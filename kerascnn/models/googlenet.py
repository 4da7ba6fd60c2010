"""GoogLeNet as the paper describes it: 5x5 convolutions, LRN, and the auxiliary classifiers.

C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke,
A. Rabinovich, "Going Deeper with Convolutions", CVPR 2015.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.conv import conv_bn_act
from kerascnn.blocks.inception import inception_module
from kerascnn.heads import classifier_head, predictions
from kerascnn.layers import LocalResponseNormalization
from kerascnn.registry import register_family
from kerascnn.specs import googlenet as spec

__all__ = ["googlenet", "inference_model"]


def _conv(x, filters, kernel, strides=1, padding="same", *, batch_norm=False, name):
    return conv_bn_act(x, filters, kernel, strides, padding, use_bias=not batch_norm,
                       batch_norm=batch_norm, bn_epsilon=spec.TORCHVISION["bn_epsilon"], name=name)


def _max_pool(x, padding: str, name: str, size: int = spec.POOL[0]):
    """Max pooling 3x3/2: "same", or Caffe's ceil mode (equal to "same" on even sizes).

    Caffe's output size is ceil((n - k) / s) + 1, which is floor((n + s - 1 - k) / s) + 1: a
    valid pooling of the map padded by s - 1 at its end.
    """
    if padding == "same":
        return keras.layers.MaxPooling2D(size, spec.POOL[1], padding="same", name=name)(x)
    end = spec.POOL[1] - 1
    # Every max pooling here follows a ReLU, so zeros never win a maximum.
    x = keras.layers.ZeroPadding2D(((0, end), (0, end)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(size, spec.POOL[1], name=name)(x)


def _stem(x, padding: str = "same", torchvision: bool = False):
    filters, kernel, strides = spec.CONV1
    if padding == "caffe":
        # Caffe pads 3 on every side; "same" pads 2 before and 3 after for 7x7/2 on even sizes.
        x = keras.layers.ZeroPadding2D(kernel // 2, name="conv1_pad")(x)
        x = _conv(x, filters, kernel, strides, "valid", batch_norm=torchvision, name="conv1")
    else:
        x = _conv(x, filters, kernel, strides, batch_norm=torchvision, name="conv1")
    x = _max_pool(x, padding, "conv1_pool")
    if not torchvision:
        x = LocalResponseNormalization(**spec.LRN, name="conv1_lrn")(x)
    x = _conv(x, spec.CONV2_REDUCE, 1, batch_norm=torchvision, name="conv2_reduce")
    x = _conv(x, spec.CONV2, 3, batch_norm=torchvision, name="conv2")
    if not torchvision:
        x = LocalResponseNormalization(**spec.LRN, name="conv2_lrn")(x)
    return _max_pool(x, padding, "conv2_pool")


def _auxiliary(x, num_classes, classifier_activation, name):
    if None in x.shape[1:3] or min(x.shape[1:3]) < spec.AUX_POOL[0]:
        raise ValueError(
            f"aux_logits=True needs a fixed input size with {spec.AUX_POOL[0]}x{spec.AUX_POOL[0]} "
            f"maps after {spec.AUX_AFTER[0]} (an input of at least 65x65). Received: input with "
            f"{tuple(x.shape[1:3])} maps there"
        )
    x = keras.layers.AveragePooling2D(*spec.AUX_POOL, name=f"{name}_pool")(x)
    x = _conv(x, spec.AUX_CONV, 1, name=name)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(spec.AUX_UNITS, activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(spec.AUX_DROPOUT_RATE, name=f"{name}_dropout")(x)
    return predictions(x, num_classes, classifier_activation, name=f"{name}_predictions")


@register_family("googlenet", spec.VARIANTS, input_shape=(224, 224, 3))
def googlenet(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    aux_logits: bool = False,
    naive: bool = False,
    dropout_rate: float = spec.DROPOUT_RATE,
    padding: str = "same",
    layout: str = "paper",
    name: str = "googlenet",
) -> keras.Model:
    """GoogLeNet (Szegedy et al. 2015), faithful to Table 1 and figure 3.

    Stem conv1 7x7/2 -> max pool -> LRN -> conv2 (1x1 reduce, 3x3) -> LRN -> max pool, nine
    inception modules with Table 1's branch widths (`kerascnn.specs.googlenet.INCEPTION`) and 5x5
    convolutions in the 5x5 branch, global average pooling (7x7 at 224x224), dropout 0.4 and a
    linear layer: about 1.58 G multiply-accumulates, the paper's "1.5 billion multiply-adds".
    All convolutions have biases and ReLUs; there is no batch normalization.

    `aux_logits=True` adds the two auxiliary classifiers of section 5 on top of 4a and 4d; the model
    then returns `[predictions, aux1_predictions, aux2_predictions]`, to be trained with loss
    weights `AUX_LOSS_WEIGHTS` (1, 0.3, 0.3). `inference_model` drops them again.
    `naive=True` builds figure 2a's naive modules for the cost comparison of section 4.

    Deviations: torchvision's googlenet uses 3x3 convolutions in the "5x5" branch, batch
    normalization and no LRN; this builder follows the paper, and builds torchvision's network
    with `layout="torchvision"` (registered as `googlenet_torchvision`, with `padding="caffe"`,
    whose conv1 padding and ceil-mode pooling are torchvision's too, and dropout 0.2): batch norm
    (eps 0.001) after every bias-free convolution, no LRN, 3x3 "5x5" branches, 2x2/2 max pooling
    before 5a; 6,624,904 parameters, as torchvision counts them without its auxiliary heads.
    The 7x7 average pooling is global average pooling, identical at 224x224, so that other input sizes work. The paper gives no LRN
    parameters; those of the authors' Caffe model are used. Max pooling pads like Caffe's ceil
    mode ("same"), which gives the table's 112 -> 56 -> 28 -> 14 -> 7. `padding="caffe"` pads as
    BVLC's Caffe model (bvlc_googlenet deploy.prototxt), which its weights need: conv1 by 3 on
    every side, where "same" pads 2 before and 3 after, and max pooling rounded up on odd sizes too.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add the classifier (and, with `aux_logits`, the auxiliary ones).
        pooling: With `include_top=False`: None, "avg" or "max" (1024 features).
        classifier_activation: Activation of the classifiers.
        aux_logits: Add the auxiliary classifiers (needs `include_top` and at least 65x65 input).
        naive: Use the naive inception module of figure 2a.
        dropout_rate: Dropout before the linear layer (default 0.4).
        padding: "same" (default) or "caffe".
        layout: "paper" (default) or "torchvision" (see above; no auxiliary classifiers).
        name: Model name.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: For non-boolean `aux_logits`/`naive`, a `dropout_rate` outside [0, 1), a
            `padding` other than "same" or "caffe", an unknown `layout`, auxiliary classifiers
            with the torchvision layout, or an input too small for the auxiliary classifiers.
    """
    validation.check_choice(aux_logits, "aux_logits", (False, True))
    validation.check_choice(naive, "naive", (False, True))
    validation.check_fraction(dropout_rate, "dropout_rate")
    validation.check_choice(padding, "padding", ("same", "caffe"))
    validation.check_choice(layout, "layout", spec.LAYOUTS)
    torchvision = layout == "torchvision"
    if torchvision and aux_logits:
        raise ValueError(
            "The torchvision layout's auxiliary classifiers (batch norm, adaptive pooling) are not "
            "built here; build without them. Received: aux_logits=True, layout='torchvision'"
        )
    options = ({"five_kernel": spec.TORCHVISION["five_kernel"], "batch_norm": True,
                "bn_epsilon": spec.TORCHVISION["bn_epsilon"]} if torchvision else {})
    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs, padding, torchvision)
    auxiliary = []
    for module, widths in spec.INCEPTION.items():
        if module in spec.POOL_BEFORE:
            size = (spec.TORCHVISION["pool_before_5a"] if torchvision and module == "inception5a"
                    else spec.POOL[0])
            x = _max_pool(x, padding, f"{module}_pre_pool", size)
        x = inception_module(x, widths, name=module, naive=naive, **options)
        if aux_logits and include_top and module in spec.AUX_AFTER:
            index = spec.AUX_AFTER.index(module) + 1
            auxiliary.append(_auxiliary(x, num_classes, classifier_activation, f"aux{index}"))
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation, dropout_rate=dropout_rate)
    return keras.Model(inputs, [x, *auxiliary] if auxiliary else x, name=name)


def inference_model(model: keras.Model) -> keras.Model:
    """The single-output network of a model built with `aux_logits=True`, sharing its weights.

    The auxiliary classifiers only help training; inference uses the main classifier alone.
    """
    outputs = model.outputs
    return keras.Model(model.input, outputs[0], name=model.name) if len(outputs) > 1 else model
