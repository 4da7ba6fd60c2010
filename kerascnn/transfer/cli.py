"""Sub-commands of `kerascnn` for adapting and shipping models: `finetune`, `tune`, `grow`,
`export`, `predict`. `kerascnn.cli` adds them with `add_commands`; errors surface there as one line."""

from __future__ import annotations

import argparse
import os

__all__ = ["add_commands"]


def _class_names(text: str | None):
    if text is None:
        return None
    if os.path.isfile(text):
        with open(text) as f:
            return [line.strip() for line in f if line.strip()]
    return [name.strip() for name in text.split(",")]


def _run_export(args: argparse.Namespace) -> int:
    from kerascnn.saving import export, load_source

    model, info = load_source(args.source)
    class_names = _class_names(args.class_names) or info.get("class_names")
    normalization = args.normalization or info.get("normalization") or "unit"
    path = export(model, args.out, class_names=class_names, normalization=normalization,
                  overwrite=args.overwrite)
    print(path)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from kerascnn.saving import predict_files

    for image, ranked in zip(args.images, predict_files(args.path, args.images, args.top_k)):
        print(f"{image}: " + ", ".join(f"{name} {score:.4f}" for name, score in ranked))
    return 0


def _export_commands(commands) -> None:
    exporting = commands.add_parser(
        "export", help="export a model as a versioned SavedModel (+ .keras) for serving"
    )
    exporting.add_argument("source", metavar="MODEL_OR_RUN_DIR",
                           help="a .keras file, a run or export directory, or a model name")
    exporting.add_argument("--out", help="base directory (default: saved_models/NAME); "
                           "a path ending in a number is the version directory")
    exporting.add_argument("--class-names", help="comma-separated names, or a file with one a line "
                           "(default: those recorded beside the model, else 0..N-1)")
    exporting.add_argument("--normalization", choices=["unit", "caffe", "torch", "tf"],
                           help="pixel normalization inside the signature (default: recorded, else unit)")
    exporting.add_argument("--overwrite", action="store_true", help="replace an existing version")
    exporting.set_defaults(run=_run_export)

    predicting = commands.add_parser("predict", help="classify images with an export")
    predicting.add_argument("path", metavar="PATH", help="an export (base or version directory)")
    predicting.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    predicting.add_argument("--top-k", type=int, default=5, help="classes per image (default 5)")
    predicting.set_defaults(run=_run_predict)


def add_commands(commands) -> None:
    """Adds this module's sub-commands to the `kerascnn` parser's sub-parsers."""
    _export_commands(commands)
