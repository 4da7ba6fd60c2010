"""Export for serving, and safe loading (`kerascnn.export`, `kerascnn.load`).

`export(model)` writes a TensorFlow SavedModel in the versioned layout TensorFlow Serving reads
(`saved_models/NAME/1/`), through `keras.export.ExportArchive`, the machinery behind
`model.export`. Its `serving_default` signature takes raw `uint8` images of any size with 1 to 4
channels, converts channels, resizes to the model's input size (covering it, aspect kept, center
crop: as `kerascnn.data` prepares evaluation images) and normalizes inside the graph, and returns
class probabilities plus the classes sorted by score (so the first k columns are the top k). The
version directory also holds the `.keras` file and a small `kerascnn.json` (class names,
normalization, input shape). A served export needs TensorFlow only, not kerascnn.

`export(model, format="litert" | "onnx")` writes a `.tflite` or `.onnx` file instead, through
Keras's and TensorFlow's own converters (`kerascnn.exporting`): a fixed-size model that takes
`uint8` pixels and returns `probabilities`, optionally quantized for LiteRT. `predict_files` runs
any of the three, resizing raw images with the same function as the SavedModel.

`load` and `load_source` (reading `.keras` files safely) live in `kerascnn.safe_loading`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import keras

from kerascnn import validation
from kerascnn.data.normalization import NORMALIZATIONS, normalize
from kerascnn.exporting import plan as export_plan
from kerascnn.exporting.predict import predict_files
from kerascnn.exporting.serving import output_is_probability, prepare_images
from kerascnn.safe_loading import METADATA_FILE, load, load_source

__all__ = ["export", "load", "load_source", "predict_files", "DEFAULT_EXPORT_DIR", "NORMALIZATIONS",
           "FORMATS"]

DEFAULT_EXPORT_DIR = "saved_models"
FORMATS = export_plan.FORMATS


def _version_dir(model_name: str, path) -> str:
    """The version directory: `path` itself when it ends in a number, else `path/1`."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a directory path. Received: path={path!r}")
    if path is None:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name) or "model"
        path = os.path.join(DEFAULT_EXPORT_DIR, safe)
    path = os.fspath(path)
    if os.path.basename(os.path.normpath(path)).isdigit():
        return os.path.normpath(path)
    return os.path.join(os.path.normpath(path), "1")


def _check_class_names(class_names, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple)) or \
            not all(isinstance(n, str) and n for n in class_names):
        raise ValueError("class_names must be a list of non-empty strings. "
                         f"Received: class_names={class_names!r}")
    if len(class_names) != num_classes:
        raise ValueError(
            f"class_names must have one name per output unit ({num_classes}). "
            f"Received: class_names={list(class_names)!r}"
        )
    repeated = sorted({n for n in class_names if class_names.count(n) > 1})
    if repeated:
        raise ValueError(f"class_names must be distinct. Received: class_names={list(class_names)!r} "
                         f"(repeated: {', '.join(repeated)})")
    return list(class_names)


def _serving_functions(model: keras.Model, class_names: list[str], normalization: str):
    """The raw-image endpoint and the endpoint taking already prepared inputs."""
    import tensorflow as tf

    input_shape = tuple(model.inputs[0].shape[1:])
    probabilities_out = output_is_probability(model)
    names = tf.constant(class_names)

    def outputs(values):
        values = tf.cast(values, tf.float32)
        probabilities = values if probabilities_out else tf.nn.softmax(values, axis=-1)
        scores, ids = tf.math.top_k(probabilities, k=len(class_names))
        return {
            "probabilities": probabilities,
            "scores": scores,
            "class_ids": ids,
            "classes": tf.gather(names, ids),
        }

    def prepared(inputs):
        return outputs(model(inputs, training=False))

    if len(input_shape) != 3:
        return None, prepared, input_shape

    def raw(images):
        return prepared(normalize(prepare_images(images, input_shape), normalization))

    return raw, prepared, input_shape


def _write_savedmodel(model, directory, class_names, normalization) -> None:
    import tensorflow as tf

    raw, prepared, input_shape = _serving_functions(model, class_names, normalization)
    archive = keras.export.ExportArchive()
    archive.track(model)
    # The first endpoint becomes `serving_default`, the one TensorFlow Serving calls.
    if raw is not None:
        archive.add_endpoint(
            "serve", raw,
            input_signature=[tf.TensorSpec((None, None, None, None), tf.uint8, "images")],
        )
    archive.add_endpoint(
        "serve_prepared",
        prepared,
        input_signature=[tf.TensorSpec((None, *input_shape), tf.float32, "inputs")],
    )
    archive.write_out(directory, verbose=False)


def export(
    model: keras.Model,
    path=None,
    *,
    format: str = "saved_model",
    class_names=None,
    normalization: str = "unit",
    quantization: str | None = None,
    representative_data=None,
    validation_data=None,
    overwrite: bool = False,
) -> str:
    """Exports a model for serving: a versioned SavedModel plus its `.keras` file, or a LiteRT or
    ONNX file.

    The layout is TensorFlow Serving's (`BASE/VERSION/saved_model.pb`); point a server's
    `model_base_path` at `BASE`. The signature `serving_default` takes `images`, a `uint8` tensor
    `(batch, height, width, channels)` of any size with 1, 3 or 4 channels, and returns
    `probabilities` (class order), and `scores`, `class_ids` and `classes` (names), all sorted by
    decreasing probability. A model whose output is not a softmax or sigmoid (logits) gets a
    softmax.
    `serve_prepared` takes inputs already resized and normalized, exactly as the model does.

    `format="litert"` writes `NAME.tflite` (LiteRT builtin operators only) and `format="onnx"`
    writes `NAME.onnx`, through `model.export` (TFLiteConverter, tf2onnx): fixed-size models
    whose one input `images` takes `uint8` pixels of the model's input shape (batch dimension
    free), normalize inside and return `probabilities`. Resize raw images first as
    `kerascnn.exporting.serving.prepare_images` does (`predict_files` does). Every file sits in
    its version directory beside `kerascnn.json`.

    Writing is atomic: everything goes to a temporary directory beside the target, which is then
    renamed, so a failed export leaves no half-written version and never touches an existing one.

    Args:
        model: A built Keras model (any functional model, kerascnn's or not).
        path: The model's base directory (`saved_models/NAME`, version 1 is written) or a version
            directory ending in a number (`exports/mnist/3`). Default: `saved_models/{model.name}`
            for the SavedModel, `saved_models/{model.name}_{format}[_{quantization}]` otherwise.
        format: "saved_model" (default), "litert" or "onnx".
        class_names: One name per output unit; default "0", "1", ...
        normalization: How raw pixels in [0, 255] become model inputs: "unit" ([0, 1]), "tf"
            ([-1, 1]), "torch" (ImageNet mean/std) or "caffe" (BGR, ImageNet mean subtracted).
        quantization: LiteRT only: None (float32), "float16", "dynamic" (int8 weights) or "int8"
            (full integer, `uint8` in and out; needs `representative_data`).
        representative_data: For "int8": images to calibrate activation ranges on, anything
            `kerascnn.data.load` accepts (its first 300 images are used) or a `uint8` array.
        validation_data: Labelled images (anything `kerascnn.data.load` accepts, read whole as
            a test set, up to 10,000): top-1 of the Keras model and of the export, run in its
            runtime, go into `kerascnn.json` under "validation".
        overwrite: Replace an existing version directory (default False).

    Returns:
        The version directory written (`saved_models/NAME/1`).

    Raises:
        ValueError: For an invalid argument, or a layer the format cannot express (named).
        FileExistsError: If the version directory exists and `overwrite` is False.
        ImportError: For LiteRT or ONNX without their packages (`pip install 'kerascnn[deploy]'`).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model. Received: model={model!r}")
    plan = export_plan.make_plan(format, quantization, representative_data, validation_data)
    validation.check_choice(normalization, "normalization", NORMALIZATIONS)
    validation.check_bool(overwrite, "overwrite")
    names = _check_class_names(class_names, int(model.outputs[0].shape[-1]))
    default_name = model.name if format == "saved_model" else f"{model.name}_{plan.label}"
    target = _version_dir(default_name, path)
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(
            f"Export target already exists: {target}. Pass overwrite=True (--overwrite) to replace "
            f"it. Received: path={os.fspath(path) if path is not None else None!r}"
        )
    parent = os.path.dirname(target) or "."
    os.makedirs(parent, exist_ok=True)
    # Same directory as the target, so the final rename stays on one filesystem (atomic);
    # TensorFlow Serving ignores non-numeric entries, so a leftover never gets served.
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    try:
        metadata = {
            "model": model.name,
            "class_names": names,
            "normalization": normalization,
            "input_shape": list(model.inputs[0].shape[1:]),
            "format": plan.format,
            "quantization": plan.quantization,
        }
        if plan.format == "saved_model":
            _write_savedmodel(model, staging, names, normalization)
            model.save(os.path.join(staging, f"{_keras_stem(model.name)}.keras"))
            metadata["keras_file"] = f"{_keras_stem(model.name)}.keras"
            if validation_data is not None:
                metadata["validation"] = export_plan.check(model, None, validation_data,
                                                           normalization)
        else:
            metadata.update(export_plan.write_file(model, staging, _keras_stem(model.name), plan,
                                                   normalization))
        with open(os.path.join(staging, METADATA_FILE), "w") as f:
            json.dump(metadata, f, indent=2)
        _replace(staging, target, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _keras_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "model"


def _replace(staging: str, target: str, overwrite: bool) -> None:
    if not os.path.exists(target):
        os.rename(staging, target)  # Fails rather than merging if a racing writer got there first.
        return
    if not overwrite:
        raise FileExistsError(f"Export target already exists: {target}.")
    retired = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-",
                               dir=os.path.dirname(target))
    os.rmdir(retired)
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(retired, target)  # Put the previous export back.
        raise
    shutil.rmtree(retired, ignore_errors=True)
