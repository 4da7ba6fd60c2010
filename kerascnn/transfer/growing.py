"""Growing a deeper network from a trained shallower one, as VGG was trained.

Simonyan & Zisserman (2015), section 3.1: "we began with training the configuration A, shallow
enough to be trained with random initialisation. Then, when training deeper architectures, we
initialised the first four convolutional layers and the last three fully-connected layers with the
layers of net A (the intermediate layers were initialised randomly)."

kerascnn's deterministic names make "the same layer" a name lookup: `block3_conv2` of VGG-A and
of VGG-D play the same role, as do `conv3_block2_*` of ResNet-20 and ResNet-32. `grow` copies every
layer whose name, type and weight shapes match, and leaves the rest as the family initializes them.
By default that copies more than the paper did (every matching convolution, not just the first
four); `layers=` restricts it, e.g. to the paper's choice.
"""

from __future__ import annotations

import dataclasses
import fnmatch

import keras

__all__ = ["GrowReport", "grow"]


@dataclasses.dataclass
class GrowReport:
    """What `grow` did, layer by layer (only layers with weights are listed).

    Attributes:
        copied: Layers initialized from the trained model.
        initialized: Layers with no counterpart, initialized as the family does.
        mismatched: `(layer, reason)` for layers named alike whose type or shapes differ.
        excluded: Layers with a counterpart that `layers=` left out.
    """

    copied: list
    initialized: list
    mismatched: list
    excluded: list

    def __str__(self) -> str:
        lines = [f"copied {len(self.copied)} layers: {', '.join(self.copied) or '-'}",
                 f"initialized {len(self.initialized)} layers: "
                 f"{', '.join(self.initialized) or '-'}"]
        if self.mismatched:
            lines.append("not copied (shapes differ): " + ", ".join(
                f"{name} ({why})" for name, why in self.mismatched))
        if self.excluded:
            lines.append(f"left out by layers=: {', '.join(self.excluded)}")
        return "\n".join(lines)


def _target_model(trained: keras.Model, target, build_kwargs: dict) -> keras.Model:
    if isinstance(target, keras.Model):
        return target
    if not isinstance(target, str):
        raise ValueError(
            f"target must be a registered model name or a keras.Model. Received: target={target!r}"
        )
    from kerascnn.registry import build

    kwargs = {"num_classes": int(trained.outputs[0].shape[-1]),
              "input_shape": tuple(trained.inputs[0].shape[1:]), **build_kwargs}
    return build(target, **kwargs)


def grow(trained_model: keras.Model, target, *, layers=None, verbose: int = 1,
         return_report: bool = False, **build_kwargs):
    """Builds `target` and initializes each of its layers that matches one of `trained_model`'s.

    Args:
        trained_model: The trained, shallower network (`vgg11`, `resnet20` ...).
        target: A registered model name (`"vgg16"`, `"resnet32"`; built with the trained model's
            `num_classes` and `input_shape` unless `build_kwargs` says otherwise) or a built model.
        layers: Optional names or glob patterns of the layers that may be copied (default: all).
            The paper's VGG initialization: `["block1_conv1", "block2_conv1", "block3_conv1",
            "block3_conv2", "fc*", "predictions"]` (A's first four convolutions, last three FC).
        verbose: 1 prints the report.
        return_report: Also return the `GrowReport`.
        **build_kwargs: More `kerascnn.build` arguments for `target`.

    Returns:
        The grown `keras.Model`, or `(model, GrowReport)` with `return_report=True`.

    Raises:
        ValueError: For an invalid target or `layers`.
    """
    if not isinstance(trained_model, keras.Model):
        raise ValueError(f"trained_model must be a keras.Model. Received: {trained_model!r}")
    if layers is not None and (isinstance(layers, str)
                               or not all(isinstance(p, str) for p in layers)):
        raise ValueError(
            f"layers must be a list of layer names or patterns. Received: layers={layers!r}"
        )
    model = _target_model(trained_model, target, build_kwargs)
    source = {layer.name: layer for layer in trained_model.layers}
    report = GrowReport([], [], [], [])
    for layer in model.layers:
        if not layer.weights:
            continue
        match = source.get(layer.name)
        if match is None:
            report.initialized.append(layer.name)
            continue
        shapes = [tuple(w.shape) for w in layer.weights]
        theirs = [tuple(w.shape) for w in match.weights]
        if type(match) is not type(layer) or shapes != theirs:
            why = f"{type(match).__name__} {theirs} vs {type(layer).__name__} {shapes}"
            report.mismatched.append((layer.name, why))
            report.initialized.append(layer.name)
            continue
        if layers is not None and not any(fnmatch.fnmatchcase(layer.name, p) for p in layers):
            report.excluded.append(layer.name)
            report.initialized.append(layer.name)
            continue
        layer.set_weights(match.get_weights())
        report.copied.append(layer.name)
    if verbose:
        print(f"grow {trained_model.name} -> {model.name}:\n{report}")
    return (model, report) if return_report else model
