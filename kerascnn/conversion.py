"""Copying the variables of one Keras graph into another that computes the same function in
another layout: the conversions weight files from keras.applications need.

Layers are matched by name, or in order when the names differ. A convolution bias the target does
not have folds into the batch norm that follows it: BN(Wx + b) with moving mean m equals BN(Wx)
with moving mean m - b. A different batch-norm epsilon folds into the moving variance:
(x - m) / sqrt(v + e1) = (x - m) / sqrt((v + e1 - e2) + e2). A 1x1 convolution classifier fills a
Dense layer of the same size.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["transfer", "weighted_layers"]


def weighted_layers(model: keras.Model) -> list:
    """The layers of `model` that hold variables, in the model's layer order."""
    return [layer for layer in model.layers if layer.weights]


def _following_batch_norm(layer):
    consumers = [node.operation for node in layer._outbound_nodes]
    if len(consumers) == 1 and isinstance(consumers[0], keras.layers.BatchNormalization):
        return consumers[0]
    return None


def _copy_kernel_layer(source, target, folds: dict) -> None:
    values = source.get_weights()
    kernel, bias = values[0], (values[1] if len(values) > 1 else None)
    expected = tuple(target.weights[0].shape)
    if kernel.shape != expected:
        if kernel.size != int(np.prod(expected)) or kernel.squeeze().shape != tuple(
            d for d in expected if d != 1
        ):
            raise ValueError(f"{source.name} has a {kernel.shape} kernel, {target.name} {expected}")
        kernel = kernel.reshape(expected)  # a 1x1 convolution classifier into a Dense layer
    if hasattr(source, "strides") and hasattr(target, "strides") and (
        tuple(source.strides) != tuple(target.strides)
    ):
        raise ValueError(f"{source.name} strides {source.strides}, {target.name} {target.strides}")
    if len(target.weights) > 1:
        target.set_weights([kernel, bias if bias is not None else np.zeros(expected[-1])])
        return
    target.set_weights([kernel])
    if bias is not None and np.any(bias):
        norm = _following_batch_norm(target)
        if norm is None:
            raise ValueError(f"{source.name} has a bias that {target.name} cannot take")
        folds[norm.name] = folds.get(norm.name, 0) + bias


def _batch_norm_values(layer) -> dict:
    values = dict(zip([v.path.rsplit("/", 1)[-1] for v in layer.weights], layer.get_weights()))
    size = values["moving_mean"].shape
    return {"gamma": values.get("gamma", np.ones(size)), "beta": values.get("beta", np.zeros(size)),
            "moving_mean": values["moving_mean"], "moving_variance": values["moving_variance"]}


def _copy_batch_norm(source, target) -> None:
    values = _batch_norm_values(source)
    # (x - m) / sqrt(v + eps): a different epsilon is absorbed by the variance.
    values["moving_variance"] = values["moving_variance"] + source.epsilon - target.epsilon
    if np.any(values["moving_variance"] < 0):
        raise ValueError(f"{target.name}'s epsilon is too large for {source.name}'s variances")
    names = [v.path.rsplit("/", 1)[-1] for v in target.weights]
    for absent, neutral in (("gamma", 1.0), ("beta", 0.0)):
        if absent not in names and not np.allclose(values[absent], neutral):
            raise ValueError(f"{target.name} has no {absent} to take {source.name}'s")
    target.set_weights([values[n] for n in names])


def transfer(source_model: keras.Model, target_model: keras.Model) -> None:
    """Copies every variable of `source_model` into `target_model`, converting layouts.

    Layers are matched by name when every weighted layer of the source has a namesake in the
    target, else in order. Kernels must agree in shape and stride (a 1x1 convolution classifier
    may fill a Dense layer); biases the target lacks fold into the next batch norm's moving mean;
    epsilons fold into moving variances. Every weighted target layer must be matched.

    Raises:
        ValueError: Naming the first pair of layers that do not agree.
    """
    sources, targets = weighted_layers(source_model), weighted_layers(target_model)
    by_name = {layer.name: layer for layer in targets}
    if all(layer.name in by_name for layer in sources):
        pairs = [(layer, by_name[layer.name]) for layer in sources]
    elif len(sources) == len(targets):
        pairs = list(zip(sources, targets))
    else:
        raise ValueError(
            f"{source_model.name} has {len(sources)} layers with weights and "
            f"{target_model.name} {len(targets)}, under different names"
        )
    unmatched = set(map(id, targets)) - {id(target) for _, target in pairs}
    if unmatched:
        names = [layer.name for layer in targets if id(layer) in unmatched]
        raise ValueError(f"no weights for {names[:5]} in {source_model.name}")
    folds: dict = {}
    for source, target in pairs:
        if isinstance(source, keras.layers.BatchNormalization) and isinstance(
            target, keras.layers.BatchNormalization
        ):
            _copy_batch_norm(source, target)
        elif hasattr(source, "kernel") and hasattr(target, "kernel"):
            _copy_kernel_layer(source, target, folds)
        else:
            values = source.get_weights()
            if [v.shape for v in values] != [tuple(w.shape) for w in target.weights]:
                raise ValueError(f"{source.name} and {target.name} hold different variables")
            target.set_weights(values)
    for name, bias in folds.items():
        norm = target_model.get_layer(name)
        names = [v.path.rsplit("/", 1)[-1] for v in norm.weights]
        values = norm.get_weights()
        values[names.index("moving_mean")] = values[names.index("moving_mean")] - bias
        norm.set_weights(values)


