"""ONNX export through Keras's own `model.export(format="onnx")`, which on the TensorFlow backend
traces the model's function and converts it with `tf2onnx` (`tf2onnx.convert.from_function`).

The graph takes `images` (`uint8`, batch dimension free) and returns `probabilities`, the names
Keras gives the inputs and the outputs of the traced function; ONNX Runtime, or any runtime with
the default opset, runs it.
"""

from __future__ import annotations

import keras

from kerascnn.exporting.diagnose import raise_naming_layer

__all__ = ["write_onnx"]


def _convert(model: keras.Model, path: str, signature=None) -> None:
    import warnings

    import onnx

    with warnings.catch_warnings():
        # Keras's tf2onnx patch probes `np.object`, which NumPy 2 warns about; nothing to act on.
        warnings.simplefilter("ignore", FutureWarning)
        model.export(path, format="onnx", input_signature=signature, verbose=False)
    # tf2onnx logs a TensorFlow op it cannot map and leaves it in the graph, where no ONNX runtime
    # can run it: the full check (every node against the opset's schemas) refuses such a file.
    onnx.checker.check_model(path, full_check=True)


def write_onnx(serving: keras.Model, path: str) -> None:
    """Converts a `ServingModel` to an `.onnx` file at `path`.

    Raises:
        ConversionError: Naming the first layer that tf2onnx cannot convert.
    """
    try:
        _convert(serving, path, serving.input_signature())
    except Exception as error:  # noqa: BLE001  (tf2onnx raises many types)
        raise_naming_layer(error, serving.net, "ONNX", _convert, ".onnx")
