"""LiteRT (TensorFlow Lite) export through Keras's own `model.export(format="litert")`, which runs
TensorFlow's `tf.lite.TFLiteConverter` with the options given here.

Only LiteRT's builtin operators are allowed (no Flex/select-TF ops), so a `.tflite` file written
here runs with the plain interpreter on a phone, in a browser or on a microcontroller runtime.

Quantization (Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference"; TensorFlow's post-training quantization guide):
    None       float32 weights and arithmetic.
    "float16"  weights stored as float16 (half the file), computed in float32 on CPUs.
    "dynamic"  weights stored as int8; activations quantized on the fly ("dynamic range").
    "int8"     full integer: weights and activations int8, calibrated on representative images;
               the `uint8` pixels go in unchanged and `probabilities` come out as `uint8`
               (scale 1/256, read the output's quantization parameters).
"""

from __future__ import annotations

from collections.abc import Iterable

import keras

from kerascnn.exporting.diagnose import raise_naming_layer

__all__ = ["QUANTIZATIONS", "write_litert"]

QUANTIZATIONS = (None, "float16", "dynamic", "int8")


def converter_options(quantization: str | None, representative=None) -> dict:
    """Keyword arguments for `model.export(format="litert")` (TFLiteConverter attributes)."""
    import tensorflow as tf

    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    options = {"target_spec": {"supported_ops": [builtins]}}
    if quantization is None:
        return options
    options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantization == "int8":
        options["representative_dataset"] = representative
        options["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        options["inference_input_type"] = tf.uint8
        options["inference_output_type"] = tf.uint8
    return options


def _convert(model: keras.Model, path: str, quantization, representative, signature=None):
    model.export(path, format="litert", input_signature=signature, verbose=False,
                 **converter_options(quantization, representative))


def _random_calibration(model: keras.Model):
    """Calibration inputs for one layer converted alone (diagnosis only, not a real export)."""
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = keras.tree.map_structure(lambda t: (1, *t.shape[1:]), model.inputs)

    def batches():
        for _ in range(4):
            yield [rng.normal(size=s).astype("float32") for s in shapes]

    return batches


def write_litert(serving: keras.Model, path: str, quantization: str | None = None,
                 representative: Iterable | None = None) -> None:
    """Converts a `ServingModel` to a `.tflite` file at `path`.

    Args:
        serving: A built `kerascnn.exporting.serving.ServingModel`.
        path: The file to write (ending in `.tflite`).
        quantization: One of `QUANTIZATIONS`.
        representative: For "int8": a callable returning an iterable of `[uint8 batch]` lists.

    Raises:
        ConversionError: Naming the first layer that has no builtin LiteRT equivalent.
    """
    try:
        _convert(serving, path, quantization, representative, serving.input_signature())
    except Exception as error:  # noqa: BLE001  (converter errors have many types)

        def probe(model, probe_path):
            calibration = _random_calibration(model) if quantization == "int8" else None
            _convert(model, probe_path, quantization, calibration)

        target = "LiteRT builtin operators" + (f" ({quantization})" if quantization else "")
        raise_naming_layer(error, serving.net, target, probe, ".tflite")
