"""Exports beyond the SavedModel: LiteRT (`.tflite`, optionally quantized) and ONNX, through
Keras's and TensorFlow's own converters, and the runtimes that check and run them.

`kerascnn.export(model, format=...)` is the entry point (`kerascnn.saving`); the modules here are
its parts: `serving` (the uint8-in, probabilities-out model every format traces), `litert`,
`onnx`, `quantization` (calibration and validation images), `runtimes` (the LiteRT interpreter
and ONNX Runtime), `predict` (raw image files through any export) and `plan` (validation and
execution). The converters and runtimes are optional: `pip install 'kerascnn[deploy]'`.
"""
