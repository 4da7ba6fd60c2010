"""Running a `.tflite` or `.onnx` export in the runtime a deployment uses: the LiteRT interpreter
(`ai-edge-litert`) and ONNX Runtime. Both are optional (`pip install 'kerascnn[deploy]'`).
"""

from __future__ import annotations

import abc
import os

import numpy as np

__all__ = ["Runner", "open_runner", "require"]

_HINT = "pip install 'kerascnn[deploy]'"


def require(module: str, purpose: str):
    """Imports an optional dependency, or raises ImportError saying what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{purpose} needs the package providing {module!r}: {_HINT}") from error


class Runner(abc.ABC):
    """`runner(uint8 images) -> float32 probabilities` for one exported file."""

    def __init__(self, path: str, threads: int | None = None):
        self.path = os.fspath(path)
        self.threads = threads

    @abc.abstractmethod
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The export's `probabilities` for a batch of `uint8` images of its input size."""


class LiteRTRunner(Runner):
    """The LiteRT interpreter (XNNPACK on CPUs), through the file's `serving_default` signature."""

    def __init__(self, path: str, threads: int | None = None):
        super().__init__(path, threads)
        interpreter = require("ai_edge_litert.interpreter", "Running a .tflite export")
        self.interpreter = interpreter.Interpreter(model_path=self.path, num_threads=threads)
        self.runner = self.interpreter.get_signature_runner()
        details = self.runner.get_output_details()["probabilities"]
        self.output_scale, self.output_zero = details["quantization"]
        self.output_dtype = details["dtype"]
        self.input_shape = tuple(self.runner.get_input_details()["images"]["shape_signature"][1:])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = self.runner(images=np.ascontiguousarray(images, np.uint8))["probabilities"]
        if self.output_scale:  # Full-integer export: dequantize.
            return (out.astype(np.float32) - self.output_zero) * self.output_scale
        return out.astype(np.float32)


class ONNXRunner(Runner):
    """An ONNX Runtime session on the CPU execution provider."""

    def __init__(self, path: str, threads: int | None = None):
        super().__init__(path, threads)
        ort = require("onnxruntime", "Running an .onnx export")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.path, options,
                                            providers=["CPUExecutionProvider"])
        self.input_shape = tuple(self.session.get_inputs()[0].shape[1:])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        (out,) = self.session.run(["probabilities"], {"images": np.asarray(images, np.uint8)})
        return out.astype(np.float32)


def open_runner(path, threads: int | None = None) -> Runner:
    """The runner for a `.tflite` or `.onnx` file.

    Raises:
        ValueError: For any other file name.
        ImportError: If the runtime is not installed (with the command that installs it).
    """
    path = os.fspath(path)
    if path.endswith(".tflite"):
        return LiteRTRunner(path, threads)
    if path.endswith(".onnx"):
        return ONNXRunner(path, threads)
    raise ValueError(f"path must name a .tflite or .onnx file. Received: path={path!r}")
