"""The `kerascnn train` and `kerascnn evaluate` commands."""

from __future__ import annotations

import argparse
import os

from kerascnn.arguments import parse_shape, parse_validation_split, parse_verbosity

__all__ = ["add_commands", "print_summary"]


def _run_train(args: argparse.Namespace) -> int:
    from kerascnn.registry import get_entry

    get_entry(args.model)  # Fail on an unknown name before TensorFlow starts.
    from kerascnn.training.fit import train

    build_kwargs = {}
    if args.input_shape:
        build_kwargs["input_shape"] = args.input_shape
    if args.num_classes:
        build_kwargs["num_classes"] = args.num_classes
    options = {}
    if args.augmentation is not None:
        options["augmentation"] = None if args.augmentation == "none" else args.augmentation
    result = train(
        args.model, args.data, recipe=args.recipe, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, run_dir=args.run_dir, export=args.export,
        strategy=args.strategy, cpu_replicas=args.cpu_replicas,
        worker_timeout=args.worker_timeout, mixed_precision=args.mixed_precision,
        jit_compile=args.xla, steps_per_execution=args.steps_per_execution,
        validation_split=args.validation_split, seed=args.seed, verbose=args.verbose,
        split=args.split, data_dir=args.data_dir, report=not args.no_report, **options,
        **build_kwargs,
    )
    print_summary(result.run_dir, result.metrics, report=not args.no_report)
    return 1 if result.diverged else 0


def print_summary(run_dir: str, metrics: dict, report: bool = True) -> None:
    """The lines a run's command ends with: the run directory and its accuracies, then the
    run report's page when there is one."""
    shown = {k: v for k, v in metrics.items() if "accuracy" in k}
    accuracies = "  ".join(f"{k} {v:.4f}" for k, v in sorted(shown.items()))
    print(f"kerascnn: run directory {run_dir}  {accuracies}")
    page = os.path.join(run_dir, "report", "report.html")
    if report and os.path.isfile(page):
        print(f"kerascnn: run report {page}")


def _run_evaluate(args: argparse.Namespace) -> int:
    from kerascnn.training.evaluation import evaluate

    result = evaluate(args.model, args.data, crops=args.crops, batch_size=args.batch_size,
                      split=args.split, validation_split=args.validation_split, seed=args.seed,
                      normalization=args.normalization, data_dir=args.data_dir,
                      verbose=0 if args.verbose == 0 else 1)
    crop = "center crop" if result["crops"] == "center" else "10-crop average"
    print(f"top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  loss {result['loss']:.4f}  "
          f"({result['examples']} images, {result['scored']}, {crop})")
    return 0


def _xla(text: str):
    choices = {"auto": "auto", "on": True, "off": False}
    if text not in choices:
        raise argparse.ArgumentTypeError(f"--xla must be auto, on or off. Received: {text!r}")
    return choices[text]


def _steps_per_call(text: str):
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"--steps-per-execution must be auto or an integer >= 1. Received: {text!r}")
    return int(text)


def _add_data_arguments(parser: argparse.ArgumentParser, for_evaluation: bool = False) -> None:
    parser.add_argument("--data", required=True,
                        help="'digits', a tensorflow-datasets name, or an image folder")
    parser.add_argument("--split", help="tensorflow-datasets split syntax, e.g. 'train[:80%%]'")
    parser.add_argument("--data-dir", help="tensorflow-datasets data directory")
    if for_evaluation:  # Unset, the run's own data is scored on its hold-out and other data whole.
        parser.add_argument("--validation-split", type=float,
                            help="score this share held out of the data (default: a separate "
                            "folder or dataset whole, the run's own data on its hold-out)")
        parser.add_argument("--seed", type=int, help="seed of that share (default: the run's)")
    else:
        parser.add_argument("--validation-split", type=parse_validation_split, default="auto",
                            help="share held out when the data has no validation split "
                            "(auto: 0.1, none below 100 images per class)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the split and the run (0)")
    parser.add_argument("--verbose", type=parse_verbosity, default="auto",
                        help="auto, 0, 1 (progress bar) or 2 (a line per epoch)")


def add_commands(commands) -> None:
    """Adds `train` and `evaluate` to the `kerascnn` sub-command parser."""
    training = commands.add_parser("train", help="train a model with its paper's recipe")
    training.add_argument("model", metavar="MODEL", help="a registered model name")
    _add_data_arguments(training)
    from kerascnn.training.recipes import RECIPE_CHOICES, list_recipes

    training.add_argument(
        "--recipe", default="auto", choices=list(RECIPE_CHOICES) + list_recipes(),
        help="'auto' (default: 'small_data' for small training sets, else the family's paper "
             "recipe), 'paper', 'modern', 'small_data' or a paper's recipe by name")
    training.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    training.add_argument("--batch-size", type=int, help="global batch size (the recipe's)")
    training.add_argument("--learning-rate", type=float,
                          help="initial rate (default: the recipe's, scaled to the batch size)")
    training.add_argument("--augmentation", help="policy name, or 'none' (default: the recipe's)")
    training.add_argument("--run-dir", help="run directory (default runs/MODEL-TIMESTAMP, or "
                          "the unfinished run of the same command, which is resumed)")
    training.add_argument("--export", nargs="?", const=True, metavar="DIR",
                          help="export the trained model (default dir saved_models/MODEL)")
    training.add_argument("--strategy", default="auto",
                          choices=["auto", "default", "mirrored", "multi_worker", "tpu"])
    training.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                          help="how long a worker of a multi-worker cluster waits for the others "
                               "(default $KERASCNN_WORKER_TIMEOUT, else 600)")
    training.add_argument("--cpu-replicas", type=int,
                          help="split the CPU into N logical devices and mirror over them")
    training.add_argument("--mixed-precision", action="store_true", help="mixed precision")
    training.add_argument("--no-report", action="store_true",
                          help="skip the run report at the end (see `kerascnn report`)")
    training.add_argument("--xla", type=_xla, default="auto", help="auto (default), on or off")
    training.add_argument("--steps-per-execution", type=_steps_per_call, default="auto",
                          help="training steps per compiled call: auto (default) or N")
    training.add_argument("--input-shape", type=parse_shape, help="H,W,C (default: the paper's)")
    training.add_argument("--num-classes", type=int, help="classes (default: the data's)")
    training.set_defaults(run=_run_train)

    evaluating = commands.add_parser("evaluate", help="top-1/top-5 accuracy of a trained model")
    evaluating.add_argument("model", metavar="MODEL",
                            help="a .keras file, a run directory or an export directory")
    _add_data_arguments(evaluating, for_evaluation=True)
    evaluating.add_argument("--crops", default="center", choices=["center", "ten"])
    evaluating.add_argument("--batch-size", type=int, default=32)
    evaluating.add_argument("--normalization", choices=["unit", "caffe", "torch", "tf"],
                            help="default: what the run or export recorded")
    evaluating.set_defaults(run=_run_evaluate)
