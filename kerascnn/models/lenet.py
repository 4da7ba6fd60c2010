"""LeNet-5, in its common modern form and as LeCun et al. (1998) built it.

Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 86(11), 1998.
"""

from __future__ import annotations

import keras
import numpy as np

from kerascnn.heads import classifier_head
from kerascnn.layers import EuclideanRBF, PartialConv2D, ScaledTanh, Subsampling
from kerascnn.registry import register_family
from kerascnn.specs import lenet as spec

__all__ = ["lenet5", "lenet5_1998", "rbf_prototypes"]


@register_family("lenet", spec.MODERN_VARIANTS, input_shape=(32, 32, 1), num_classes=10)
def lenet5(
    num_classes: int = 10,
    input_shape: tuple = (32, 32, 1),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    activation: str = "relu",
    name: str = "lenet5",
) -> keras.Model:
    """LeNet-5 in its common modern form: [CONV-POOL-CONV-POOL-FC-FC-FC] (cs231n, CS5242 notes).

    5x5 valid convolutions (6 and 16 maps), 2x2 max pooling, fully connected 120-84-classes.
    61,706 trainable parameters on 32x32x1 with 10 classes. Deviates from the paper (see
    `lenet5_1998`): full C3 connectivity, max pooling, ReLU and a softmax output.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 1); the CS5242 table uses (32, 32, 3).
        include_top: Whether to add the fully connected layers and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions`.
        activation: Hidden activation ("relu"; "tanh" for the 1990s flavour).
        name: Model name.
    """
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for index, (filters, kernel) in enumerate(spec.CONVOLUTIONS, start=1):
        x = keras.layers.Conv2D(filters, kernel, activation=activation, name=f"conv{index}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=f"conv{index}_pool")(x)
    if include_top:
        x = keras.layers.Flatten(name="fc3_flatten")(x)
        for index, units in enumerate(spec.FULLY_CONNECTED, start=3):
            x = keras.layers.Dense(units, activation=activation, name=f"fc{index}_dense")(x)
        x = classifier_head(x, include_top=True, pooling=None, num_classes=num_classes,
                            classifier_activation=classifier_activation, top_reduction=None)
    else:
        x = classifier_head(x, include_top=False, pooling=pooling, num_classes=num_classes,
                            classifier_activation=None)
    return keras.Model(inputs, x, name=name)


def rbf_prototypes(num_classes: int, units: int = 84, seed: int = 1998) -> np.ndarray:
    """The RBF centres: the paper's 7x12 digit bitmaps for 10 classes, else fixed random +-1 codes.

    The paper notes that for classes without a drawable character, random codes work as well; the
    seed keeps them identical between builds, so a rebuilt model computes the same function.
    """
    if num_classes == 10 and units == 84:
        bitmaps = [spec.DIGIT_BITMAPS[d] for d in range(10)]
        return np.array([[1.0 if c == "#" else -1.0 for c in "".join(b)] for b in bitmaps])
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_classes, units))


@register_family("lenet", spec.PAPER_VARIANTS, input_shape=(32, 32, 1), num_classes=10)
def lenet5_1998(
    num_classes: int = 10,
    input_shape: tuple = (32, 32, 1),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "lenet5_1998",
) -> keras.Model:
    """LeNet-5 faithful to LeCun et al. (1998), section II.B.

    C1 6@28x28 (5x5) -> S2 trainable subsampling -> C3 16@10x10 with the partial connection table
    of Table I -> S4 -> C5 120@1x1 (5x5) -> F6 84 -> Euclidean RBF output against fixed +-1
    prototypes (the 7x12 digit bitmaps). Every layer but the output is followed by the scaled tanh
    1.7159 tanh(2a/3). Trainable parameters: C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
    F6 10,164: 60,000 in all, the paper's figure.

    The RBF layer outputs the negated penalties; "softmax" (the default) turns them into
    probabilities, and `classifier_activation=None` gives them as logits. Deviation: the paper's input is a 32x32
    image normalised to [-0.1, 1.175]; normalisation lives in the data pipeline here.

    Args:
        num_classes: Number of RBF units (default 10; other counts use random +-1 codes).
        input_shape: Default (32, 32, 1).
        include_top: Whether to add F6 and the RBF output (C5, a convolution, is a feature layer).
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Applied to the RBF scores (default "softmax"; None for logits).
        name: Model name.
    """
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Conv2D(6, 5, name="c1_conv")(inputs)
    x = ScaledTanh(name="c1_tanh")(x)
    x = Subsampling(2, name="s2_subsample")(x)
    x = ScaledTanh(name="s2_tanh")(x)
    x = PartialConv2D(16, 5, spec.c3_connection_table(), name="c3_conv")(x)
    x = ScaledTanh(name="c3_tanh")(x)
    x = Subsampling(2, name="s4_subsample")(x)
    x = ScaledTanh(name="s4_tanh")(x)
    x = keras.layers.Conv2D(120, 5, name="c5_conv")(x)
    x = ScaledTanh(name="c5_tanh")(x)
    if not include_top:
        x = classifier_head(x, include_top=False, pooling=pooling, num_classes=num_classes,
                            classifier_activation=None)
        return keras.Model(inputs, x, name=name)
    x = keras.layers.Flatten(name="c5_flatten")(x)
    x = keras.layers.Dense(84, name="f6_dense")(x)
    x = ScaledTanh(name="f6_tanh")(x)
    x = EuclideanRBF(rbf_prototypes(num_classes), name="predictions_rbf")(x)
    if classifier_activation is not None:
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)
