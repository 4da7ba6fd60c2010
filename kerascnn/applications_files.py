"""keras.applications' weight files: loading them into kerascnn's models, with checks.

A file of a keras.applications model, downloaded or written by
`keras.applications.X(...).save_weights(path)`, is loaded into that model built with
`weights=None`, and its variables are then copied into the kerascnn model layer by layer (matched
by name, or in order when the names differ), converting where the layouts differ
(`kerascnn.conversion`): a convolution bias that the paper-faithful model does not have is folded
into the moving mean of the batch norm that follows (BN(Wx + b) with mean m is BN(Wx) with mean
m - b, exactly), and a different batch-norm epsilon into the moving variance. The loaded model must
then compute what keras.applications computes on a random input, or loading fails.
"""

from __future__ import annotations

import re
import tempfile
import warnings

import h5py
import keras
import numpy as np

from kerascnn.conversion import transfer, weighted_layers
from kerascnn.weight_sources import APPLICATIONS, MOBILENET_ROWS

__all__ = ["model_options", "load_keras_file", "brief", "check_outputs"]


def model_options(model: keras.Model, common: dict) -> dict:
    """The properties a variant-specific file must match (MobileNet's width, depth, rows)."""
    options = {}
    layers = {layer.name: layer for layer in model.layers}
    if "conv1_conv" in layers and any(
        isinstance(layer, keras.layers.DepthwiseConv2D) for layer in model.layers
    ):
        options["alpha"] = layers["conv1_conv"].filters / 32
        options["depth_multiplier"] = next(
            layer.depth_multiplier for layer in model.layers
            if isinstance(layer, keras.layers.DepthwiseConv2D)
        )
        rows, cols = common["input_shape"][:2]
        # keras.applications falls back to the 224 file for other sizes, as here.
        options["rows"] = rows if rows == cols and rows in MOBILENET_ROWS else 224
    return options


def _is_new_format(path: str) -> bool:
    with h5py.File(path, "r") as f:
        return "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f


def _keras_readable(path: str, scratch: str) -> str:
    """`path`, or a link to it with the suffix Keras dispatches on (`.weights.h5` vs `.h5`)."""
    if path.endswith(".weights.h5") or not path.endswith((".h5", ".hdf5")):
        return path
    if not _is_new_format(path):
        return path
    link = os.path.join(scratch, "file.weights.h5")
    os.symlink(os.path.abspath(path), link)
    return link


def _file_classes(path: str) -> int | None:
    """Width of the classifier a keras.applications weights file holds (its last layer)."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in group.attrs:
            for layer in reversed([n.decode() if isinstance(n, bytes) else n
                                   for n in group.attrs["layer_names"]]):
                names = group[layer].attrs.get("weight_names", [])
                if len(names):
                    last = names[-1].decode() if isinstance(names[-1], bytes) else names[-1]
                    return int(group[layer][last].shape[-1])
            return None
        layers = f.get("layers", {})
        # Keras names the entries by class and creation count: the classifier is the last Dense
        # (`dense`, `dense_1` ...) or, in MobileNet, the last convolution.
        for kind in ("dense", "conv2d"):
            found = [re.fullmatch(kind + r"(?:_(\d+))?", key) for key in layers]
            found = [(int(m.group(1) or 0), m.group(0)) for m in found if m]
            if found:
                return int(layers[max(found)[1]]["vars"]["1"].shape[-1])
    return None


def _application(application: str, model: keras.Model, common: dict, *, include_top: bool,
                 classes: int):
    shape = tuple(model.input_shape[1:])
    kwargs = dict(weights=None, include_top=include_top, input_shape=shape, classes=classes,
                  pooling=None if include_top else common["pooling"],
                  classifier_activation=common["classifier_activation"] if include_top else None)
    options = model_options(model, common)
    if application == "MobileNet":
        kwargs.update(alpha=options["alpha"], depth_multiplier=options["depth_multiplier"])
    return getattr(keras.applications, application)(**kwargs)


def _quiet_load(target: keras.Model, path: str) -> None:
    # Keras warns once per container it cannot match; a failed attempt is reported as one error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target.load_weights(path)


def _reference(application: str, path: str, model: keras.Model, common: dict):
    """The keras.applications model with the file loaded, with the same head as `model`."""
    include_top = common["include_top"]
    reference = _application(application, model, common, include_top=include_top,
                             classes=common["num_classes"])
    try:
        _quiet_load(reference, path)
        return reference
    except Exception as error:  # noqa: BLE001  (Keras raises several types for a misfit)
        classes = None if include_top else _file_classes(path)
        if not classes:
            raise error
    # A file with a classifier, for features only: load it whole, keep the backbone.
    full = _application(application, model, common, include_top=True, classes=classes)
    _quiet_load(full, path)
    for target, source in zip(weighted_layers(reference), weighted_layers(full)):
        target.set_weights(source.get_weights())
    return reference


def load_keras_file(model: keras.Model, entry, path: str, common: dict, *,
                    published: bool) -> None:
    """Loads a `.keras`, `.weights.h5` or legacy `.h5` file into `model` (see the module doc)."""
    if path.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False)
        try:
            model.set_weights(source.get_weights())
        except ValueError:
            # Another layout of the same network (a saved keras.applications model).
            transfer(source, model)
            if (source.input_shape, source.output_shape) == (model.input_shape,
                                                              model.output_shape):
                check_outputs(source, model, source.name)
        return
    application = APPLICATIONS.get(entry.name)
    with tempfile.TemporaryDirectory() as scratch:
        readable = _keras_readable(path, scratch)
        if application is None:
            _quiet_load(model, readable)
            return
        try:
            reference = _reference(application, readable, model, common)
        except Exception as error:  # noqa: BLE001  (Keras raises several types for a misfit)
            if published:
                raise ValueError(
                    f"as a keras.applications.{application} file: {brief(error)}"
                ) from error
            # Not a keras.applications file: perhaps one kerascnn wrote for this model.
            try:
                _quiet_load(model, readable)
            except Exception as own_error:  # noqa: BLE001
                raise ValueError(
                    f"as a keras.applications.{application} file: {brief(error)}; as a file "
                    f"of this model: {brief(own_error)}"
                ) from own_error
            return
        transfer(reference, model)
        check_outputs(reference, model, f"keras.applications.{application}")


def brief(error: Exception) -> str:
    """The first lines of an error's message, at most 400 characters."""
    # Keras' loading errors can print whole variables; the first lines say what went wrong.
    lines = [line for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[:2])
    return text if len(text) <= 400 else text[:400] + " ..."


def check_outputs(reference: keras.Model, model: keras.Model, reference_name: str) -> None:
    """Both models must compute the same function on a random input: the largest difference at
    most 1e-4 of the largest output (and of 1), else the model was built with other options."""
    shape = tuple(d if d is not None else 96 for d in model.input_shape[1:])
    x = np.random.default_rng(0).uniform(0.0, 1.0, size=(1, *shape)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    actual = keras.ops.convert_to_numpy(model(x, training=False))
    if expected.shape != actual.shape:
        raise ValueError(f"outputs of shape {actual.shape}, {reference_name}'s {expected.shape}")
    difference = float(np.max(np.abs(expected - actual)))
    if difference > 1e-4 * max(1.0, float(np.max(np.abs(expected)))):
        raise ValueError(
            f"with the weights loaded, the model computes other outputs than {reference_name} "
            f"(max abs difference {difference:.3g}): the model was built with options its "
            f"layout does not share"
        )
