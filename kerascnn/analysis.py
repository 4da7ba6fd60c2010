"""Per-layer analysis of any Keras functional model: the numbers the lecture notes compute by hand.

For every layer: output shape, parameters (total, trainable, and weights without biases — the
notes' and papers' "params" columns), multiply-accumulates (MACs), connections, activation count
per image, and receptive field size and jump (Araujo et al., "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019). Multi-branch graphs (inception concatenations, residual additions) are
walked through their real connectivity, and grouped and depthwise convolutions are counted per group.

Conventions: MACs count multiplications of weights by inputs (torchvision's "GFLOPS" column counts
the same quantity); pooling, batch norm and element-wise ops count zero MACs. Activations are the
values a layer outputs per image; Flatten and Reshape only re-view their input and count zero. A custom layer can
report its own cost with a `count_macs(input_shapes, output_shape) -> int` method, and a layer
that changes spatial size without `kernel_size`/`strides` attributes reports it with
`spatial_output_length(length, axis) -> int`.

Connections are counted as LeCun et al. count them (1989: 64,660 connections and 9,760 independent
parameters; 1998: LeNet-5's 340,908 connections and 60,000 parameters): every weighted input of
every unit plus one for each bias a unit adds, whether or not the weights are shared between units.
For convolutions and dense layers that is the MACs plus one per biased output value; a custom
layer reports its own with `count_connections(input_shapes, output_shape) -> int`. Other layers
(pooling, activations, batch normalization) count none.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable

import keras

from kerascnn.geometry import conv_output_length, leaf_layers, minimum_spatial_size, parents

__all__ = [
    "LayerRow",
    "ModelSummary",
    "summary",
    "analyze",
    "minimum_spatial_size",
    "conv_output_length",
]

_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_POOL_TYPES = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
)
_GLOBAL_TYPES = (
    keras.layers.Flatten,
    keras.layers.Dense,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalMaxPooling1D,
)

# Layers that only re-view their input allocate no activations of their own.
_VIEW_TYPES = (keras.layers.Flatten, keras.layers.Reshape)


@dataclasses.dataclass
class LayerRow:
    """One row of the per-layer table. `rf_size`/`rf_jump` are None once the view is global."""

    name: str
    type: str
    output_shape: tuple
    params: int
    trainable_params: int
    weights: int
    macs: int
    activations: int
    rf_size: int | None
    rf_jump: int | None
    connections: int = 0


@dataclasses.dataclass
class ModelSummary:
    """The per-layer rows of a model and their totals."""

    name: str
    rows: list[LayerRow]

    def __getitem__(self, layer_name: str) -> LayerRow:
        for row in self.rows:
            if row.name == layer_name:
                return row
        raise KeyError(f"No layer named {layer_name!r} in {self.name!r}.")

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.rows)

    @property
    def total_weights(self) -> int:
        return sum(r.weights for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_connections(self) -> int:
        return sum(r.connections for r in self.rows)

    @property
    def total_activations(self) -> int:
        return sum(r.activations for r in self.rows)

    def select(self, prefix: str) -> list[LayerRow]:
        """Rows whose layer name starts with `prefix` (one block group, one inception module ...)."""
        return [r for r in self.rows if r.name.startswith(prefix)]

    def table(self) -> str:
        """The rows and totals as a fixed-width text table."""
        header = ("Layer (type)", "Output shape", "Params", "Trainable", "Weights", "MACs",
                  "Connections", "Activations", "RF", "Jump")
        body = [
            (
                f"{r.name} ({r.type})",
                str(tuple(r.output_shape)).replace("None", "N"),
                f"{r.params:,}",
                f"{r.trainable_params:,}",
                f"{r.weights:,}",
                f"{r.macs:,}",
                f"{r.connections:,}",
                f"{r.activations:,}",
                "-" if r.rf_size is None else str(r.rf_size),
                "-" if r.rf_jump is None else str(r.rf_jump),
            )
            for r in self.rows
        ]
        total = (
            "Total", "", f"{self.total_params:,}", f"{self.trainable_params:,}",
            f"{self.total_weights:,}", f"{self.total_macs:,}", f"{self.total_connections:,}",
            f"{self.total_activations:,}", "", "",
        )
        widths = [max(len(row[i]) for row in [header, total, *body]) for i in range(len(header))]
        fmt = lambda row: "  ".join(  # noqa: E731
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        )
        rule = "-" * len(fmt(header))
        notes = (
            f"MACs: {self.total_macs / 1e9:.3f} G   activations: {self.total_activations:,} "
            f"({self.total_activations * 4 / 2**20:.1f} MiB in float32 per image, forward only)"
        )
        return "\n".join([f'Model: "{self.name}"', rule, fmt(header), rule,
                          *map(fmt, body), rule, fmt(total), notes])

    def __str__(self) -> str:
        return self.table()


# --- graph walking ----------------------------------------------------------------------------


def _shapes(tensors) -> list[tuple]:
    if isinstance(tensors, (list, tuple)):
        return [tuple(t.shape) for t in tensors]
    return [tuple(tensors.shape)]


def _prod(values: Iterable) -> int:
    return int(math.prod(int(v) for v in values))


def _spatial(shape: tuple, data_format: str) -> tuple:
    return tuple(shape[2:]) if data_format == "channels_first" else tuple(shape[1:-1])


def _channels(shape: tuple, data_format: str) -> int:
    return int(shape[1] if data_format == "channels_first" else shape[-1])


def _layer_macs(layer, input_shapes: list[tuple], output_shape: tuple) -> int:
    if hasattr(layer, "count_macs"):
        return int(layer.count_macs(input_shapes, output_shape))
    in_shape = input_shapes[0]
    if None in in_shape[1:] or None in output_shape[1:]:
        return 0
    if isinstance(layer, _CONV_TYPES):
        fmt = layer.data_format
        per_output = _prod(layer.kernel_size) * _channels(in_shape, fmt) // layer.groups
        return _prod(_spatial(output_shape, fmt)) * layer.filters * per_output
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return _prod(output_shape[1:]) * _prod(layer.kernel_size)
    if isinstance(layer, keras.layers.SeparableConv2D):
        fmt = layer.data_format
        depthwise_channels = _channels(in_shape, fmt) * layer.depth_multiplier
        positions = _prod(_spatial(output_shape, fmt))
        return positions * depthwise_channels * (_prod(layer.kernel_size) + layer.filters)
    if isinstance(layer, keras.layers.Dense):
        return _prod(in_shape[1:]) * layer.units
    return 0


def _layer_connections(layer, input_shapes: list[tuple], output_shape: tuple, macs: int) -> int:
    """Weighted inputs plus bias inputs over all units (LeCun et al.'s "connections")."""
    if hasattr(layer, "count_connections"):
        return int(layer.count_connections(input_shapes, output_shape))
    weighted = (*_CONV_TYPES, keras.layers.Dense, keras.layers.DepthwiseConv2D,
                keras.layers.SeparableConv2D)
    if not isinstance(layer, weighted) or None in output_shape[1:]:
        return 0
    biased = _prod(output_shape[1:]) if getattr(layer, "use_bias", False) else 0
    return macs + biased


def _layer_weights(layer) -> int:
    """Trainable parameters that are not biases: the notes' and papers' "params" column."""
    return sum(
        _prod(v.shape) for v in layer.trainable_weights if not v.path.endswith(("bias", "beta"))
    )


def _receptive_field(layer, parent_fields: list[tuple]) -> tuple:
    known = [f for f in parent_fields if f[0] is not None]
    if not parent_fields:
        return (1, 1)
    if len(known) < len(parent_fields) or isinstance(layer, _GLOBAL_TYPES):
        return (None, None)
    size = max(f[0] for f in known)
    jump = max(f[1] for f in known)
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    strides = getattr(layer, "strides", None)
    if kernel is None or strides is None:
        return (size, jump)
    dilation = getattr(layer, "dilation_rate", (1,) * len(kernel))
    effective = max(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    return (size + (effective - 1) * jump, jump * max(strides))


def analyze(model: keras.Model) -> ModelSummary:
    """Returns the per-layer rows of `model` (any functional or sequential Keras model)."""
    rows, fields = [], {}
    for name, layer in leaf_layers(model):
        inputs_of = parents(layer)
        field = _receptive_field(layer, [fields.get(id(p), (None, None)) for p in inputs_of])
        fields[id(layer)] = field
        if isinstance(layer, keras.layers.InputLayer):
            input_shapes = output_shapes = _shapes(layer.output)
        else:
            input_shapes, output_shapes = _shapes(layer.input), _shapes(layer.output)
        output_shape = output_shapes[0]
        params = sum(_prod(v.shape) for v in layer.weights)
        macs = _layer_macs(layer, input_shapes, output_shape)
        rows.append(
            LayerRow(
                name=name,
                type=type(layer).__name__,
                output_shape=output_shape,
                params=params,
                trainable_params=sum(_prod(v.shape) for v in layer.trainable_weights),
                weights=_layer_weights(layer),
                macs=macs,
                activations=0 if isinstance(layer, _VIEW_TYPES) else sum(
                    _prod(s[1:]) for s in output_shapes if None not in s[1:]
                ),
                rf_size=field[0],
                rf_jump=field[1],
                connections=_layer_connections(layer, input_shapes, output_shape, macs),
            )
        )
    return ModelSummary(name=model.name, rows=rows)


def summary(
    model_or_name,
    print_fn: Callable[[str], None] | None = print,
    **build_kwargs,
) -> ModelSummary:
    """Analyses a model (or builds a registered one by name) and prints the per-layer table.

    Args:
        model_or_name: A `keras.Model`, or a registered name passed to `kerascnn.build`.
        print_fn: Where the table goes; None to print nothing.
        **build_kwargs: Arguments for `kerascnn.build` when a name is given (`input_shape` ...).

    Returns:
        A `ModelSummary`: `.rows` (one `LayerRow` per layer) and totals (`.total_params`,
        `.trainable_params`, `.total_weights`, `.total_macs`, `.total_connections`,
        `.total_activations`).
    """
    if isinstance(model_or_name, str):
        from kerascnn.registry import build

        model = build(model_or_name, **build_kwargs)
    elif isinstance(model_or_name, keras.Model):
        if build_kwargs:
            raise ValueError(
                "Build arguments are only accepted with a model name. "
                f"Received: {sorted(build_kwargs)} with a {type(model_or_name).__name__}"
            )
        model = model_or_name
    else:
        raise ValueError(
            "model_or_name must be a keras.Model or a registered model name. "
            f"Received: model_or_name={model_or_name!r}"
        )
    result = analyze(model)
    if print_fn is not None:
        print_fn(result.table())
    return result
