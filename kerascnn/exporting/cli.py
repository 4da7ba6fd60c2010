"""`kerascnn export` and `kerascnn predict`: a SavedModel, a LiteRT or an ONNX file, quantization,
the validation top-1 the export records, and top-k predictions from any of them. `kerascnn.cli`
adds both with `add_commands`.
"""

from __future__ import annotations

import argparse
import os
import sys

from kerascnn.arguments import parse_class_names

__all__ = ["add_commands"]


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


def add_commands(commands) -> None:
    """Adds `export` and `predict` to the `kerascnn` parser's sub-parsers."""
    exporting = commands.add_parser(
        "export", help="export a model: a SavedModel (+ .keras) for serving, a LiteRT or ONNX file",
        description="Export a model: a SavedModel (+ .keras), a LiteRT or an ONNX file.")
    exporting.add_argument("source", metavar="MODEL_OR_RUN_DIR",
                           help="a .keras file, a run or export directory, or a model name")
    exporting.add_argument("--out", help="base directory (default: saved_models/NAME); "
                           "a path ending in a number is the version directory")
    exporting.add_argument("--class-names", help="comma-separated names, or a file with one a line "
                           "(default: those recorded beside the model, else 0..N-1)")
    exporting.add_argument("--normalization", choices=["unit", "caffe", "torch", "tf"],
                           help="pixel normalization inside the signature "
                           "(default: recorded, else unit)")
    exporting.add_argument("--overwrite", action="store_true", help="replace an existing version")
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

    predicting = commands.add_parser(
        "predict", help="classify images with an export",
        description="Classify images with an export: a SavedModel directory, a .tflite or an "
                    ".onnx file (or its version directory).")
    predicting.add_argument("path", metavar="PATH",
                            help="an export (base or version directory, .tflite or .onnx file)")
    predicting.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    predicting.add_argument("--top-k", type=int, default=5, help="classes per image (default 5)")
    predicting.set_defaults(run=_run_predict)
