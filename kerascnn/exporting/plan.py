"""The plan of an export (format, quantization, the data it needs: validated before any work) and
the executor that writes a LiteRT or ONNX file and checks it on validation images.

`kerascnn.saving.export` owns the version directory and the SavedModel; it hands the other
formats to `write_file`.
"""

from __future__ import annotations

import dataclasses
import os

import keras

from kerascnn import validation
from kerascnn.exporting.litert import QUANTIZATIONS

__all__ = ["FORMATS", "SUFFIXES", "ExportPlan", "make_plan", "write_file", "check"]

FORMATS = ("saved_model", "litert", "onnx")
SUFFIXES = {"litert": ".tflite", "onnx": ".onnx"}
VALIDATION_IMAGES = 10_000  # Enough for top-1 to 1%; an export should not turn into a long run.


@dataclasses.dataclass(frozen=True)
class ExportPlan:
    """What an export will do, decided up front."""

    format: str
    quantization: str | None
    representative_data: object
    validation_data: object

    @property
    def suffix(self) -> str:
        """`""` for the SavedModel (a directory), else the file's extension."""
        return SUFFIXES.get(self.format, "")

    @property
    def label(self) -> str:
        """"litert", "litert_int8", "onnx" ...: the default directory's suffix."""
        return self.format + (f"_{self.quantization}" if self.quantization else "")


def make_plan(format: str = "saved_model", quantization=None, representative_data=None,
              validation_data=None) -> ExportPlan:
    """Validates the format arguments of `kerascnn.export` together.

    Raises:
        ValueError: For an unknown format or quantization, quantization outside LiteRT, "int8"
            without `representative_data`, or `representative_data` without "int8".
    """
    validation.check_choice(format, "format", FORMATS)
    validation.check_choice(quantization, "quantization", QUANTIZATIONS)
    if quantization is not None and format != "litert":
        raise ValueError(
            "quantization applies to format='litert' only. "
            f"Received: quantization={quantization!r}, format={format!r}"
        )
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "quantization='int8' calibrates activation ranges on representative images: pass "
            "representative_data (anything kerascnn.data.load accepts, a few hundred images). "
            "Received: representative_data=None"
        )
    if representative_data is not None and quantization != "int8":
        raise ValueError(
            "representative_data is read only by quantization='int8'. "
            f"Received: quantization={quantization!r}"
        )
    if type(validation_data).__name__ == "ndarray":
        raise ValueError(
            "validation_data needs labels: an (images, labels) pair, a folder, a dataset name. "
            f"Received: an array of shape {validation_data.shape}"
        )
    return ExportPlan(format, quantization, representative_data, validation_data)


def _serving(model: keras.Model, normalization: str):
    from kerascnn.exporting.serving import ServingModel, output_is_probability

    return ServingModel(model, normalization, not output_is_probability(model)).build_once()


def check(model: keras.Model, file: str | None, validation_data, normalization: str) -> dict:
    """Top-1 of the Keras model and, given a `.tflite`/`.onnx` file, of the export in its runtime.

    Both see the same `uint8` images, so `top1_agreement` measures the export alone.
    """
    import numpy as np

    from kerascnn.exporting import quantization
    from kerascnn.exporting.runtimes import open_runner

    shape = tuple(model.inputs[0].shape[1:])
    images, labels = quantization.pixels(validation_data, shape, VALIDATION_IMAGES, labels=True)
    serving = _serving(model, normalization)
    runner = open_runner(file) if file else None
    expected, received = [], []
    for start in range(0, len(images), 64):
        batch = images[start:start + 64]
        expected.append(keras.ops.convert_to_numpy(serving(batch)["probabilities"]))
        if runner is not None:
            received.append(runner(batch))
    expected = np.concatenate(expected)
    record = {"examples": int(len(images)), "top1_keras": quantization.top1(expected, labels)}
    if runner is not None:
        received = np.concatenate(received)
        record["top1_export"] = quantization.top1(received, labels)
        record["top1_agreement"] = quantization.top1_agreement(expected, received)
    return record


def write_file(model: keras.Model, directory: str, stem: str, plan: ExportPlan,
               normalization: str) -> dict:
    """Writes `directory/stem.tflite` (or `.onnx`) and returns what `kerascnn.json` records of it.

    Raises:
        ConversionError: (a ValueError) naming a layer the converter cannot take.
        ImportError: If the converter's or the runtime's package is missing.
    """
    from kerascnn.exporting import quantization as quant
    from kerascnn.exporting.runtimes import require

    file = os.path.join(directory, stem + plan.suffix)
    serving = _serving(model, normalization)
    if plan.format == "litert":
        from kerascnn.exporting.litert import write_litert

        representative = None
        if plan.quantization == "int8":
            images = quant.pixels(plan.representative_data, serving.pixel_shape,
                                  quant.REPRESENTATIVE_IMAGES)
            representative = quant.calibration(images)
        write_litert(serving, file, plan.quantization, representative)
    else:
        from kerascnn.exporting.onnx import write_onnx

        require("tf2onnx", "Exporting to ONNX")
        require("onnx", "Exporting to ONNX")
        write_onnx(serving, file)
    record = {"file": os.path.basename(file), "inputs": {"images": "uint8"},
              "outputs": ["probabilities"]}
    if plan.validation_data is not None:
        record["validation"] = check(model, file, plan.validation_data, normalization)
    return record
