"""Sub-commands of `kerascnn` for adapting models: `finetune`, `tune`, `grow`. `kerascnn.cli` adds
them with `add_commands`; errors surface there as one line."""

from __future__ import annotations

import argparse
import os

from kerascnn.arguments import parse_shape, parse_validation_split, parse_verbosity

__all__ = ["add_commands"]


def _freeze_until(text: str):
    return int(text) if text.isdigit() else text


def _starting_point(source: str):
    """A `.keras` file or export/run directory is loaded; anything else is a model name."""
    if os.path.exists(source):
        from kerascnn.saving import load_source

        return load_source(source)[0]
    return source


def _run_finetune(args: argparse.Namespace) -> int:
    from kerascnn.training.cli import print_summary
    from kerascnn.transfer.finetune import execute, plan_fine_tune

    build_kwargs = {"input_shape": args.input_shape} if args.input_shape else None
    stem = os.path.splitext(os.path.basename(os.path.normpath(args.model)))[0]
    run_plan = plan_fine_tune(
        _starting_point(args.model), args.data, weights=args.weights,
        freeze_until=_freeze_until(args.freeze_until), head_epochs=args.head_epochs,
        epochs=args.epochs, learning_rate=args.learning_rate, optimizer=args.optimizer,
        head_factor=args.head_factor, batch_size=args.batch_size,
        validation_split=args.validation_split, augmentation=args.augmentation,
        recipe=args.recipe, run_dir=args.run_dir, verbose=args.verbose, build_kwargs=build_kwargs,
        report=not args.no_report, export=args.export, run_name=f"finetune-{stem}",
        seed=args.seed,
    )
    outcome = execute(run_plan)
    if outcome.export_path and run_plan.verbose == 0:
        print(f"kerascnn: exported to {outcome.export_path}")
    print_summary(outcome.run_dir, outcome.metrics, report=not args.no_report)
    return 1 if outcome.diverged else 0


def _finetune_command(commands) -> None:

    tuning = commands.add_parser(
        "finetune", help="adapt a trained model to new classes: new head, then the later groups"
    )
    tuning.add_argument("model", metavar="MODEL",
                        help="a .keras file, a run or export directory, or a model name "
                        "(with --weights)")
    tuning.add_argument("--data", required=True, help="image folder, 'digits', or a tfds name")
    tuning.add_argument("--weights", help="with a model name: weight source or file")
    tuning.add_argument("--input-shape", type=parse_shape, help="H,W,C for a model name")
    tuning.add_argument("--freeze-until", default="1",
                        help="group name (it and later groups train) or number of groups from the "
                        "top that train after the head (default 1; 0 = linear classifier)")
    tuning.add_argument("--head-epochs", type=int, default=5, help="phase 1 epochs (default 5)")
    tuning.add_argument("--epochs", type=int, default=5, help="phase 2 epochs (default 5)")
    tuning.add_argument("--learning-rate", type=float, default=0.01,
                        help="base rate (default 0.01)")
    tuning.add_argument("--head-factor", type=float, default=0.1,
                        help="phase 2 head rate as a factor of the base rate (default 0.1)")
    tuning.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    tuning.add_argument("--batch-size", type=int, default=32)
    tuning.add_argument("--validation-split", type=parse_validation_split, default="auto",
                        help="share held out when the data has no validation split "
                        "(auto: 0.1, none below 100 images per class)")
    tuning.add_argument("--augmentation", help="a kerascnn.data policy name (default none)")
    from kerascnn.training.recipes import list_recipes

    tuning.add_argument("--recipe", choices=list_recipes(),
                        help="add this recipe's regularizers: label smoothing, mixup/cutmix, "
                             "RandAugment, random erasing, clipping (e.g. small_data)")
    tuning.add_argument("--run-dir", help="run directory (default runs/finetune-MODEL-TIMESTAMP, "
                        "or the unfinished run of the same command, which is resumed)")
    tuning.add_argument("--seed", type=int, default=0, help="seed of the split and the run (0)")
    tuning.add_argument("--export", help="also export for serving to this directory")
    tuning.add_argument("--verbose", type=parse_verbosity, default="auto",
                        help="auto, 0, 1 (progress bar) or 2 (a line per epoch)")
    tuning.add_argument("--no-report", action="store_true",
                        help="skip the run report at the end (see `kerascnn report`)")
    tuning.set_defaults(run=_run_finetune)


def _run_grow(args: argparse.Namespace) -> int:
    from kerascnn.saving import load_source
    from kerascnn.transfer.growing import grow

    if os.path.exists(args.out):
        raise FileExistsError(f"Refusing to overwrite {args.out}. Received: --out {args.out}")
    trained = load_source(args.trained)[0]
    layers = args.layers.split(",") if args.layers else None
    model = grow(trained, args.target, layers=layers, verbose=1)
    model.save(args.out)
    print(args.out)
    return 0


def _grow_command(commands) -> None:
    growing = commands.add_parser(
        "grow", help="initialize a deeper network from a trained shallower one (VGG A -> D)"
    )
    growing.add_argument("trained", metavar="TRAINED", help="a .keras file or run directory")
    growing.add_argument("target", metavar="TARGET", help="registered model name, e.g. vgg16")
    growing.add_argument("--out", required=True, help="where to write the grown .keras model")
    growing.add_argument("--layers", help="comma-separated names or patterns that may be copied "
                         "(default: every layer whose name and shapes match)")
    growing.set_defaults(run=_run_grow)


def _run_tune(args: argparse.Namespace) -> int:
    import json

    from kerascnn.tuning import tune

    try:
        space = json.loads(args.search_space) if args.search_space else None
    except ValueError:
        raise ValueError(
            f"--search-space must be a JSON object. Received: {args.search_space!r}"
        ) from None
    result = tune(args.name, args.data, tuner=args.tuner, max_trials=args.max_trials,
                  epochs=args.epochs, objective=args.objective, search_space=space,
                  input_shape=args.input_shape, run_dir=args.run_dir,
                  batch_size=args.batch_size, seed=args.seed, verbose=args.verbose,
                  chief=args.chief, worker_id=args.worker_id, worker_timeout=args.worker_timeout)
    if result.model is None:  # A worker of a distributed search: the chief has the results.
        ran = ", ".join(trial["trial_id"] for trial in result.trials) or "none"
        print(f"kerascnn: search over; trials run here: {ran}; results in {result.run_dir}")
        return 0
    print(json.dumps(result.hyperparameters))
    print(os.path.join(result.run_dir, "best.keras"))
    return 0


def _tune_command(commands) -> None:

    searching = commands.add_parser("tune", help="search a family's knobs with keras-tuner")
    searching.add_argument("name", metavar="NAME",
                           help="registered model name (its family's knobs)")
    searching.add_argument("--data", required=True, help="image folder, 'digits', or a tfds name")
    searching.add_argument("--tuner", choices=["random", "hyperband", "bayesian"], default="random")
    searching.add_argument("--max-trials", type=int, default=10)
    searching.add_argument("--epochs", type=int, default=5, help="per trial (Hyperband's maximum)")
    searching.add_argument("--objective", default="val_accuracy")
    searching.add_argument("--search-space", help='JSON overrides, e.g. \'{"depth": [20, 32], '
                           '"learning_rate": {"min": 0.01, "max": 0.1}, "dropout_rate": 0}\'')
    searching.add_argument("--input-shape", type=parse_shape, help="H,W,C")
    searching.add_argument("--batch-size", type=int)
    searching.add_argument("--run-dir", help="search directory (default: runs/tune-NAME-TIME, or "
                           "the unfinished search of the same configuration, resumed)")
    searching.add_argument("--seed", type=int, default=0)
    searching.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    distributing = searching.add_argument_group(
        "distributed search", "keras-tuner's chief/worker mode: one chief serves the search, "
        "workers train its trials; every process gets the same --run-dir (a shared path)")
    distributing.add_argument("--chief", metavar="HOST:PORT",
                              help="the chief's address; alone: this process is the chief and "
                              "serves there (0.0.0.0:PORT listens on every interface)")
    distributing.add_argument("--worker-id", metavar="ID",
                              help="with --chief: this process is a worker with this id (a number "
                              "or name); restarted with the same id, it resumes its trial")
    distributing.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                              help="chief: a worker silent this long is lost and its trial goes to "
                              "the next worker (default 60)")
    searching.set_defaults(run=_run_tune)


def add_commands(commands) -> None:
    """Adds this module's sub-commands to the `kerascnn` parser's sub-parsers."""
    _finetune_command(commands)
    _grow_command(commands)
    _tune_command(commands)
