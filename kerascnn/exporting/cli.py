"""The `--format` side of `kerascnn export` and `kerascnn predict`: LiteRT and ONNX exports,
quantization, and the validation top-1 the export records.

`kerascnn.cli` calls `extend_commands` after the `export` and `predict` sub-commands exist; it adds
the arguments here and runs both commands through this module.
"""

from __future__ import annotations

import argparse
import os
import sys

from kerascnn.arguments import parse_class_names

__all__ = ["extend_commands"]


def _print_validation(record: dict, quantization) -> None:
    check = record.get("validation")
    if not check:
        return
    line = f"validation top-1 on {check['examples']} images: keras {check['top1_keras']:.2%}"
    if "top1_export" in check:
        label = f"{record['format']}" + (f" {quantization}" if quantization else "")
        line += (f", {label} {check['top1_export']:.2%} "
                 f"(same top-1 as keras on {check['top1_agreement']:.2%})")
    print(line, file=sys.stderr)


def _run_export(args: argparse.Namespace) -> int:
    import json

    from kerascnn.saving import METADATA_FILE, export, load_source

    quantization = None if args.quantization == "none" else args.quantization
    model, info = load_source(args.source)
    if not os.path.exists(args.source):
        print(f"note: {args.source} is a model name: exporting it with freshly initialized weights",
              file=sys.stderr)
    class_names = parse_class_names(args.class_names) or info.get("class_names")
    normalization = args.normalization or info.get("normalization") or "unit"
    try:
        path = export(model, args.out, format=args.format, class_names=class_names,
                      normalization=normalization, quantization=quantization,
                      representative_data=args.representative_data,
                      validation_data=args.validation_data, overwrite=args.overwrite)
    except ImportError as error:  # A missing optional package: one line saying what to install.
        raise ValueError(str(error)) from None
    with open(os.path.join(path, METADATA_FILE)) as f:
        _print_validation(json.load(f), quantization)
    print(path)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from kerascnn.saving import predict_files

    try:
        results = predict_files(args.path, args.images, args.top_k)
    except ImportError as error:
        raise ValueError(str(error)) from None
    for image, ranked in zip(args.images, results):
        print(f"{image}: " + ", ".join(f"{name} {score:.4f}" for name, score in ranked))
    return 0


def extend_commands(commands) -> None:
    """Adds the format arguments to the existing `export` and `predict` sub-parsers."""
    exporting = commands.choices["export"]
    exporting.description = "Export a model: a SavedModel (+ .keras), a LiteRT or an ONNX file."
    exporting.add_argument("--format", choices=["saved_model", "litert", "onnx"],
                           default="saved_model",
                           help="saved_model (default; TF Serving layout), litert (.tflite) or "
                           "onnx (.onnx): uint8 pixels of the input size in, probabilities out")
    exporting.add_argument("--quantization", choices=["none", "float16", "dynamic", "int8"],
                           default="none",
                           help="LiteRT only: float16, dynamic (int8 weights) or int8 (full "
                           "integer; needs --representative-data); default none")
    exporting.add_argument("--representative-data", metavar="DATA",
                           help="images to calibrate int8 on: a dataset name, a folder, 'digits'")
    exporting.add_argument("--validation-data", metavar="DATA",
                           help="labelled images: prints and records top-1 of the model and of "
                           "the export")
    exporting.set_defaults(run=_run_export)

    predicting = commands.choices["predict"]
    predicting.description = ("Classify images with an export: a SavedModel directory, a .tflite "
                              "or an .onnx file (or its version directory).")
    predicting.set_defaults(run=_run_predict)
