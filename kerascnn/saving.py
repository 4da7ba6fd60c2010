"""Export for serving, and safe loading (`kerascnn.export`, `kerascnn.load`).

`export(model)` writes a TensorFlow SavedModel in the versioned layout TensorFlow Serving reads
(`saved_models/NAME/1/`), through `keras.export.ExportArchive`, the machinery behind
`model.export`. Its `serving_default` signature takes raw `uint8` images of any size with 1 to 4
channels, converts channels, resizes to the model's input size (covering it, aspect kept, center
crop: as `kerascnn.data` prepares evaluation images) and normalizes inside the graph, and returns
class probabilities plus the classes sorted by score (so the first k columns are the top k). The
version directory also holds the `.keras` file and a small `kerascnn.json` (class names,
normalization, input shape). A served export needs TensorFlow only, not kerascnn.

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
from kerascnn.data.transforms import resize_cover
from kerascnn.safe_loading import METADATA_FILE, load, load_source

__all__ = ["export", "load", "load_source", "predict_files", "DEFAULT_EXPORT_DIR", "NORMALIZATIONS"]

DEFAULT_EXPORT_DIR = "saved_models"
_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma, as the data pipeline converts.


def _version_dir(model_name: str, path) -> str:
    """The version directory: `path` itself when it ends in a number, else `path/1`."""
    if path is None:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name) or "model"
        path = os.path.join(DEFAULT_EXPORT_DIR, safe)
    path = os.fspath(path)
    if os.path.basename(os.path.normpath(path)).isdigit():
        return os.path.normpath(path)
    return os.path.join(os.path.normpath(path), "1")


def _output_is_probability(model: keras.Model) -> bool:
    layer = model.get_layer(model.outputs[0]._keras_history.operation.name)
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    names = ("softmax", "sigmoid")
    return getattr(activation, "__name__", str(activation)) in names


def _check_class_names(class_names, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"class_names must have one name per output unit ({num_classes}). "
            f"Received: class_names={list(class_names)!r}"
        )
    return names


def _serving_functions(model: keras.Model, class_names: list[str], normalization: str):
    """The raw-image endpoint and the endpoint taking already prepared inputs."""
    import tensorflow as tf

    input_shape = tuple(model.inputs[0].shape[1:])
    probabilities_out = _output_is_probability(model)
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
    height, width, channels = input_shape

    def raw(images):
        x = tf.cast(images, tf.float32)
        count = tf.shape(x)[-1]
        # Alpha carries no class information: drop it (RGBA -> RGB, gray+alpha -> gray).
        x = tf.cond(tf.equal(count % 2, 0), lambda: x[..., : count - 1], lambda: x)
        if channels == 3:
            x = tf.cond(tf.equal(tf.shape(x)[-1], 1), lambda: tf.tile(x, [1, 1, 1, 3]), lambda: x)
        else:
            gray = tf.constant(_GRAY_WEIGHTS)
            x = tf.cond(
                tf.equal(tf.shape(x)[-1], 3),
                lambda: tf.reduce_sum(x * gray, axis=-1, keepdims=True),
                lambda: x,
            )
        x = tf.ensure_shape(x, [None, None, None, channels])
        if height is not None and width is not None:
            # As the data pipeline prepares evaluation images: cover the size, keep the aspect.
            x = tf.map_fn(
                lambda image: resize_cover(image, (height, width)),
                x,
                fn_output_signature=tf.TensorSpec((height, width, channels), tf.float32),
            )
        return prepared(normalize(x, normalization))

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
    class_names=None,
    normalization: str = "unit",
    overwrite: bool = False,
) -> str:
    """Exports a model for serving: a versioned SavedModel plus its `.keras` file.

    The layout is TensorFlow Serving's (`BASE/VERSION/saved_model.pb`); point a server's
    `model_base_path` at `BASE`. The signature `serving_default` takes `images`, a `uint8` tensor
    `(batch, height, width, channels)` of any size with 1, 3 or 4 channels, and returns
    `probabilities` (class order), and `scores`, `class_ids` and `classes` (names), all sorted by
    decreasing probability. A model whose output is not a softmax or sigmoid (logits) gets a
    softmax.
    `serve_prepared` takes inputs already resized and normalized, exactly as the model does.

    Writing is atomic: everything goes to a temporary directory beside the target, which is then
    renamed, so a failed export leaves no half-written version and never touches an existing one.

    Args:
        model: A built Keras model (any functional model, kerascnn's or not).
        path: The model's base directory (`saved_models/NAME`, version 1 is written) or a version
            directory ending in a number (`exports/mnist/3`). Default: `saved_models/{model.name}`.
        class_names: One name per output unit; default "0", "1", ...
        normalization: How raw pixels in [0, 255] become model inputs: "unit" ([0, 1]), "tf"
            ([-1, 1]), "torch" (ImageNet mean/std) or "caffe" (BGR, ImageNet mean subtracted).
        overwrite: Replace an existing version directory (default False).

    Returns:
        The version directory written (`saved_models/NAME/1`).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If the version directory exists and `overwrite` is False.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model. Received: model={model!r}")
    validation.check_choice(normalization, "normalization", NORMALIZATIONS)
    names = _check_class_names(class_names, int(model.outputs[0].shape[-1]))
    target = _version_dir(model.name, path)
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
        _write_savedmodel(model, staging, names, normalization)
        model.save(os.path.join(staging, f"{_keras_stem(model.name)}.keras"))
        metadata = {
            "model": model.name,
            "class_names": names,
            "normalization": normalization,
            "input_shape": list(model.inputs[0].shape[1:]),
            "keras_file": f"{_keras_stem(model.name)}.keras",
        }
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


def predict_files(export_path, image_paths, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Classifies image files with an export, using only `tf.saved_model.load`.

    Args:
        export_path: A version directory, or a base directory (the newest version is used).
        image_paths: Image files TensorFlow decodes (PNG, JPEG, BMP, GIF).
        top_k: How many classes to return per image.

    Returns:
        One list per image of `(class name, probability)`, most probable first.
    """
    import tensorflow as tf

    validation.check_positive_int(top_k, "top_k")
    export_path = os.fspath(export_path)
    if not os.path.isfile(os.path.join(export_path, "saved_model.pb")):
        versions = [] if not os.path.isdir(export_path) else [
            d for d in os.listdir(export_path) if d.isdigit()
        ]
        if not versions:
            raise FileNotFoundError(f"No SavedModel in {export_path}")
        export_path = os.path.join(export_path, max(versions, key=int))
    serve = tf.saved_model.load(export_path).signatures["serving_default"]
    results = []
    for image_path in image_paths:
        if not os.path.isfile(image_path):
            raise FileNotFoundError(f"No such image file: {image_path}")
        image = tf.io.decode_image(tf.io.read_file(image_path), expand_animations=False)
        out = serve(images=tf.cast(image[tf.newaxis], tf.uint8))
        classes = out["classes"].numpy()[0][:top_k]
        scores = out["scores"].numpy()[0][:top_k]
        results.append([(c.decode(), float(s)) for c, s in zip(classes, scores)])
    return results
