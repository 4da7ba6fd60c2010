"""Classifying image files with any export: a SavedModel version (or base) directory, a `.tflite`
file or an `.onnx` file (or the version directory holding one).

The SavedModel resizes raw images inside its signature; the fixed-size LiteRT and ONNX models get
the pixels `kerascnn.exporting.serving.prepare_images` makes, the function that signature runs,
rounded to `uint8`. The class names come from the `kerascnn.json` beside the file.
"""

from __future__ import annotations

import json
import os

import numpy as np

from kerascnn import validation
from kerascnn.safe_loading import METADATA_FILE

__all__ = ["predict_files", "resolve_export"]

_SUFFIXES = (".tflite", ".onnx")


def _metadata(directory: str) -> dict:
    try:
        with open(os.path.join(directory, METADATA_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def resolve_export(path) -> tuple[str, dict]:
    """`(SavedModel directory or model file, its kerascnn.json)` for what `predict` is given.

    Raises:
        FileNotFoundError: If `path` holds no export.
    """
    path = os.path.normpath(os.fspath(path))
    if os.path.isfile(path):
        if not path.endswith(_SUFFIXES):
            raise FileNotFoundError(
                f"export_path must be an export directory, a .tflite or an .onnx file. "
                f"Received: export_path={path!r}"
            )
        return path, _metadata(os.path.dirname(path) or ".")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such export. Received: export_path={path!r}")
    candidates = [path] + [
        os.path.join(path, d)
        for d in sorted((d for d in os.listdir(path) if d.isdigit()), key=int, reverse=True)
    ]
    for directory in candidates[:2]:  # The directory itself, else its newest version.
        if os.path.isfile(os.path.join(directory, "saved_model.pb")):
            return directory, _metadata(directory)
        files = sorted(f for f in os.listdir(directory) if f.endswith(_SUFFIXES))
        meta = _metadata(directory)
        if meta.get("file") in files:
            return os.path.join(directory, meta["file"]), meta
        if files:
            return os.path.join(directory, files[0]), meta
    raise FileNotFoundError(f"export_path holds no SavedModel, .tflite or .onnx export. "
                            f"Received: export_path={path!r}")


def _read(image_path: str):
    import tensorflow as tf

    if not os.path.isfile(image_path):
        raise FileNotFoundError(f"No such image file. Received: image_paths=[..., {image_path!r}]")
    return tf.io.decode_image(tf.io.read_file(image_path), expand_animations=False)


def _ranked(probabilities: np.ndarray, names: list[str], top_k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [(names[i], float(probabilities[i])) for i in order]


def predict_files(export_path, image_paths, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Classifies image files with an export in its own runtime.

    A SavedModel runs with `tf.saved_model.load`, a `.tflite` file with the LiteRT interpreter,
    an `.onnx` file with ONNX Runtime.

    Args:
        export_path: A version directory, a base directory (the newest version is used), or a
            `.tflite` / `.onnx` file.
        image_paths: Image files TensorFlow decodes (PNG, JPEG, BMP, GIF).
        top_k: How many classes to return per image.

    Returns:
        One list per image of `(class name, probability)`, most probable first.

    Raises:
        FileNotFoundError: If there is no export or no such image.
        ImportError: If a `.tflite`/`.onnx` file's runtime is not installed.
    """
    import tensorflow as tf

    validation.check_positive_int(top_k, "top_k")
    target, meta = resolve_export(export_path)
    if os.path.isdir(target):
        serve = tf.saved_model.load(target).signatures["serving_default"]
        results = []
        for image_path in image_paths:
            out = serve(images=tf.cast(_read(image_path)[tf.newaxis], tf.uint8))
            classes = out["classes"].numpy()[0][:top_k]
            scores = out["scores"].numpy()[0][:top_k]
            results.append([(c.decode(), float(s)) for c, s in zip(classes, scores)])
        return results

    from kerascnn.exporting.runtimes import open_runner
    from kerascnn.exporting.serving import prepare_images

    runner = open_runner(target)
    shape = tuple(meta.get("input_shape") or runner.input_shape)
    results = []
    for image_path in image_paths:
        pixels = prepare_images(_read(image_path)[tf.newaxis], shape)
        pixels = np.clip(np.round(pixels.numpy()), 0, 255).astype(np.uint8)
        probabilities = runner(pixels)[0]
        names = meta.get("class_names") or [str(i) for i in range(len(probabilities))]
        results.append(_ranked(probabilities, names, top_k))
    return results
