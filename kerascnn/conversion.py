"""Copying the variables of one Keras graph into another that computes the same function in
another layout: the conversions weight files from keras.applications need; and filling a Keras
graph from the tensors of a PyTorch-layout state dict (torchvision, timm).

Layers are matched by name, or in order when the names differ. A convolution bias the target does
not have folds into the batch norm that follows it: BN(Wx + b) with moving mean m equals BN(Wx)
with moving mean m - b. A different batch-norm epsilon folds into the moving variance:
(x - m) / sqrt(v + e1) = (x - m) / sqrt((v + e1 - e2) + e2). A 1x1 convolution classifier fills a
Dense layer of the same size.

State dicts (`assign_state_dict`): convolution kernels are (out, in / groups, kh, kw) in PyTorch
and (kh, kw, in / groups, out) in Keras; depthwise kernels (in * multiplier, 1, kh, kw) and
(kh, kw, in, multiplier); linear weights (out, in) and (in, out). A fully connected layer that
follows a flattened (H, W, C) map reads PyTorch's C, H, W order, so its rows are permuted. Batch
norm keeps PyTorch's statistics, with its epsilon folded exactly:
gamma (x - m) / sqrt(v + e1) = gamma' (x - m) / sqrt(v' + e2) with v' = max(v + e1 - e2, 0) and
gamma' = gamma sqrt(v' + e2) / sqrt(v + e1); a batch norm without gamma (`scale=False`) takes it
in the preceding convolution's kernel instead, with the moving mean scaled alike.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["transfer", "weighted_layers", "assign_state_dict", "state_dict_shapes",
           "TensorMismatch"]


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




# --- PyTorch-layout state dicts -------------------------------------------------------------------


class TensorMismatch(ValueError):
    """A state-dict tensor that does not fit: names the tensor and both shapes."""

    def __init__(self, key: str, expected, received):
        received_text = "absent from the file" if received is None else f"shape {tuple(received)}"
        super().__init__(
            f"tensor {key!r} does not fit: expected shape {tuple(expected)}, received "
            f"{received_text}"
        )


def _flattened_map(layer):
    """(H, W, C) of the map a Dense layer reads through a Flatten, else None."""
    producer = layer.input._keras_history.operation
    if isinstance(producer, keras.layers.Flatten):
        shape = tuple(producer.input.shape[1:])
        return shape if len(shape) == 3 else None
    return None


def _torch_shape(layer, kind: str, keras_shape: tuple) -> tuple:
    """The PyTorch shape of the tensor that fills a Keras variable of `keras_shape`."""
    if kind == "kernel" and isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, channels, multiplier = keras_shape
        return (channels * multiplier, 1, kh, kw)
    if kind == "kernel" and len(keras_shape) == 4:
        kh, kw, inputs, outputs = keras_shape
        return (outputs, inputs, kh, kw)
    if kind == "kernel" and len(keras_shape) == 2:
        return (keras_shape[1], keras_shape[0])
    return keras_shape


def _kernel_value(layer, tensor: np.ndarray) -> np.ndarray:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, channels, multiplier = tuple(layer.kernel.shape)
        return tensor.transpose(2, 3, 0, 1).reshape(kh, kw, channels, multiplier)
    if tensor.ndim == 4:
        return tensor.transpose(2, 3, 1, 0)
    flat = _flattened_map(layer)
    if flat is not None:
        height, width, channels = flat
        # PyTorch flattens C, H, W; Keras H, W, C.
        return tensor.reshape(-1, channels, height, width).transpose(2, 3, 1, 0).reshape(
            height * width * channels, -1)
    return tensor.T


def _squeezed(shape) -> tuple:
    return tuple(d for d in shape if d != 1)


def _take(tensors: dict, key: str, expected: tuple, used: set) -> np.ndarray:
    tensor = tensors.get(key)
    # A linear classifier fills a 1x1 convolution classifier (and back): the same numbers.
    if tensor is None or _squeezed(tensor.shape) != _squeezed(expected) or (
        tensor.ndim == len(expected) and tuple(tensor.shape) != tuple(expected)
    ):
        raise TensorMismatch(key, expected, None if tensor is None else tensor.shape)
    used.add(key)
    return np.asarray(tensor, dtype="float32").reshape(expected)


def _assign_batch_norm(layer, prefix: str, tensors: dict, used: set, epsilon: float) -> None:
    names = [v.path.rsplit("/", 1)[-1] for v in layer.weights]
    size = (int(layer.moving_mean.shape[0]),)
    gamma = _take(tensors, f"{prefix}.weight", size, used)
    beta = _take(tensors, f"{prefix}.bias", size, used)
    mean = _take(tensors, f"{prefix}.running_mean", size, used)
    variance = _take(tensors, f"{prefix}.running_var", size, used)
    new_variance = np.maximum(variance + epsilon - layer.epsilon, 0.0)
    gamma = gamma * np.sqrt(new_variance + layer.epsilon) / np.sqrt(variance + epsilon)
    if "gamma" not in names:
        # The convolution feeding this batch norm (topologically earlier, so already filled).
        kernel_layer = layer.input._keras_history.operation
        if not hasattr(kernel_layer, "kernel"):
            raise ValueError(f"{layer.name} has no gamma and follows no convolution to take it")
        values = kernel_layer.get_weights()
        values[0] = values[0] * gamma  # the output channel is the kernel's last axis
        kernel_layer.set_weights(values)
        mean = mean * gamma
    values = {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": new_variance}
    layer.set_weights([values[n] for n in names])


def state_dict_shapes(model: keras.Model, prefixes: dict) -> dict:
    """`{key: PyTorch shape}` of the state dict that fills `model`: what `assign_state_dict`
    reads, without reading it (the plan its tests compare with the source's own models).

    Raises:
        ValueError: For a weighted layer without a prefix.
    """
    shapes = {}
    for layer in weighted_layers(model):
        if layer.name not in prefixes:
            raise ValueError(f"no state-dict name is known for the layer {layer.name!r}")
        prefix = prefixes[layer.name]
        if isinstance(layer, keras.layers.BatchNormalization):
            size = (int(layer.moving_mean.shape[0]),)
            shapes.update({f"{prefix}.{kind}": size
                           for kind in ("weight", "bias", "running_mean", "running_var")})
            continue
        for variable in layer.weights:
            kind = variable.path.rsplit("/", 1)[-1]
            shapes[f"{prefix}.{'weight' if kind == 'kernel' else kind}"] = _torch_shape(
                layer, kind, tuple(variable.shape))
    return shapes


def assign_state_dict(model: keras.Model, prefixes: dict, tensors: dict, *, bn_epsilon: float,
                      ignore=lambda key: False) -> None:
    """Fills the weighted layers of `model` from a PyTorch-layout state dict.

    Args:
        model: The Keras model.
        prefixes: `{keras layer name: state-dict prefix}` for every weighted layer
            (`{"conv1_conv": "conv1"}`: the layer takes `conv1.weight` and `conv1.bias`).
        tensors: `{key: numpy array}`, the state dict.
        bn_epsilon: The epsilon of the source's batch norms (not stored in state dicts).
        ignore: Predicate for keys the model need not take (a classifier left out, auxiliary
            heads, `num_batches_tracked`).

    Raises:
        ValueError: Naming the first tensor that differs (name, expected and received shape), a
            weighted layer without a prefix, or the first tensor of the file the model has no
            place for.
    """
    used: set = set()
    for layer in weighted_layers(model):
        if layer.name not in prefixes:
            raise ValueError(f"no state-dict name is known for the layer {layer.name!r}")
        prefix = prefixes[layer.name]
        if isinstance(layer, keras.layers.BatchNormalization):
            _assign_batch_norm(layer, prefix, tensors, used, bn_epsilon)
            continue
        values = []
        for variable in layer.weights:
            kind = variable.path.rsplit("/", 1)[-1]
            key = f"{prefix}.{'weight' if kind == 'kernel' else kind}"
            tensor = _take(tensors, key, _torch_shape(layer, kind, tuple(variable.shape)), used)
            values.append(_kernel_value(layer, tensor) if kind == "kernel" else tensor)
        layer.set_weights(values)
    unused = [key for key in tensors if key not in used and not ignore(key)]
    if unused:
        raise ValueError(
            f"tensor {unused[0]!r} (shape {tuple(tensors[unused[0]].shape)}) has no place in "
            f"{model.name!r}: the file holds another architecture or variant "
            f"({len(unused)} tensors left over)"
        )
