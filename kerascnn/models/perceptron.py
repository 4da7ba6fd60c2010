"""The perceptron, the single-layer network and the multi-layer perceptron.

F. Rosenblatt, "The Perceptron: a probabilistic model for information storage and organization in
the brain", Psychological Review 65(6), 1958; D. Rumelhart, G. Hinton, R. Williams, "Learning
representations by back-propagating errors", Nature 323, 1986.
"""

from __future__ import annotations

from typing import Sequence

import keras

from kerascnn import validation
from kerascnn.heads import predictions
from kerascnn.registry import register_family
from kerascnn.specs import perceptron as spec

__all__ = ["perceptron", "mlp"]


def _flat_input(input_shape: tuple):
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs if len(input_shape) == 1 else keras.layers.Flatten(name="stem_flatten")(inputs)
    return inputs, x


@register_family("perceptron", spec.PERCEPTRON_VARIANTS)
def perceptron(
    num_classes: int = 1,
    input_shape: tuple = (784,),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="sigmoid",
    name: str | None = None,
) -> keras.Model:
    """A single layer of neurons: y = f(x W + b) (Rosenblatt 1958).

    `perceptron` is one neuron with a sigmoid, the differentiable stand-in for Rosenblatt's step;
    `single_layer` is the notes' "basic single layer network" (4 inputs, 3 ReLU units).

    Args:
        num_classes: Number of neurons (int, default 1).
        input_shape: `(features,)`, or an image shape that is flattened first.
        include_top: Without the top there is nothing left but the (flattened) input.
        pooling: Unused; accepted for a uniform signature.
        classifier_activation: The neurons' activation ("sigmoid", "relu", None ...).
        name: Model name.

    Returns:
        A `keras.Model`.
    """
    inputs, x = _flat_input(input_shape)
    if include_top:
        x = predictions(x, num_classes, classifier_activation)
    return keras.Model(inputs, x, name=name or "perceptron")


@register_family("mlp", spec.MLP_VARIANTS)
def mlp(
    num_classes: int = 10,
    input_shape: tuple = (784,),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    hidden_units: Sequence[int] = (256, 128),
    activation: str = "relu",
    dropout_rate: float = 0.0,
    name: str | None = None,
) -> keras.Model:
    """A multi-layer perceptron: fully connected hidden layers, then the classifier (Rumelhart 1986).

    Args:
        num_classes: Output width (int, default 10).
        input_shape: `(features,)`, or an image shape that is flattened first.
        include_top: Whether to add `predictions`; without it the last hidden layer is the output.
        pooling: Unused; accepted for a uniform signature.
        classifier_activation: Activation of `predictions` (default "softmax").
        hidden_units: Widths of the hidden layers, in order (default (256, 128)).
        activation: Hidden activation (default "relu").
        dropout_rate: Dropout after each hidden layer, in [0, 1) (default 0).
        name: Model name.

    Returns:
        A `keras.Model` whose groups are `fc1` ... `fcN` and `head`.
    """
    if not isinstance(hidden_units, (list, tuple)) or not all(
        isinstance(u, int) and not isinstance(u, bool) and u >= 1 for u in hidden_units
    ):
        raise ValueError(
            "hidden_units must be a sequence of positive integers. "
            f"Received: hidden_units={hidden_units!r}"
        )
    validation.check_fraction(dropout_rate, "dropout_rate")
    inputs, x = _flat_input(input_shape)
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"fc{index}_dense")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"fc{index}_dropout")(x)
    if include_top:
        x = predictions(x, num_classes, classifier_activation)
    return keras.Model(inputs, x, name=name or "mlp")
