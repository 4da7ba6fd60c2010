"""BN-Inception, the network of the batch-normalization paper.

S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift", ICML 2015.
"""

from __future__ import annotations

import keras

from kerascnn.blocks.conv import conv_bn_act
from kerascnn.blocks.inception import multi_branch
from kerascnn.heads import classifier_head
from kerascnn.registry import register_family
from kerascnn.specs import bn_inception as spec

__all__ = ["bn_inception"]


def _stem(x):
    filters, kernel, strides = spec.CONV1
    x = conv_bn_act(x, filters, kernel, strides, name="conv1")
    x = keras.layers.MaxPooling2D(*spec.POOL, padding="same", name="conv1_pool")(x)
    x = conv_bn_act(x, spec.CONV2_REDUCE, 1, name="conv2_reduce")
    x = conv_bn_act(x, spec.CONV2, 3, name="conv2")
    return keras.layers.MaxPooling2D(*spec.POOL, padding="same", name="conv2_pool")(x)


@register_family("bn_inception", spec.VARIANTS, input_shape=(224, 224, 3))
def bn_inception(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "bn_inception",
) -> keras.Model:
    """Ioffe & Szegedy 2015, "Batch Normalization ...": BN-Inception (section 4.1, figure 5).

    GoogLeNet with batch normalization after every (bias-free) convolution, before its ReLU; each
    5x5 convolution replaced by two 3x3 ("double 3x3" branches); the 28x28 modules widened
    (3a-3c); average pooling in the modules the figure marks "avg", max in 5b; stride-2 modules
    3c and 4e ("max + pass through") in place of GoogLeNet's pooling layers between stages; no
    LRN, no dropout, no auxiliary classifiers. Stem conv1 7x7/2 (112) -> max pool (56) -> conv2
    1x1 64, 3x3 192 -> max pool (28) -> 3a, 3b -> 3c (14) -> 4a-4d -> 4e (7) -> 5a, 5b -> global
    average pooling -> `predictions`. Layers are named `inception3a_branch{b}_{i}_conv/_bn/_relu`
    (branches: 1x1, 3x3, double 3x3, pool).

    Deviations: the figure's output column says 576 maps for 4c and 4d and 1024 for 4e, but its
    own branch widths sum to 608, 608 and 1056; the branch widths are built, as in other
    implementations (CNTK's BN-Inception example). The batch-norm epsilon and momentum are Keras'
    defaults (1e-3, 0.99): the paper gives none. Padding is "same" everywhere.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add the global average pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max" (1024 features).
        classifier_activation: Activation of `predictions`.
        name: Model name.

    Returns:
        A functional `keras.Model`.
    """
    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs)
    for module, row in spec.INCEPTION.items():
        x = multi_branch(x, spec.branches(row), name=module)
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
