"""The `kerascnn` command line: `kerascnn list | summary ...`.

Every command validates its arguments through the same code as the Python API; any ValueError
becomes one line on stderr ("kerascnn: error: ...") and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from kerascnn.arguments import parse_shape

__all__ = ["main"]


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a registered model name (see `kerascnn list`)")
    parser.add_argument("--input-shape", type=parse_shape, help="H,W,C (default: the paper's)")
    parser.add_argument("--num-classes", type=int, help="number of classes")
    parser.add_argument("--no-top", action="store_true", help="build without the classifier")
    parser.add_argument("--pooling", choices=["avg", "max"], help="global pooling without the top")


def _build_kwargs(args: argparse.Namespace) -> dict:
    kwargs = {}
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.no_top:
        kwargs["include_top"] = False
    if args.pooling:
        kwargs["pooling"] = args.pooling
    return kwargs


def _print_pretrained(names: list[str]) -> None:
    from kerascnn.weight_sources import SOURCES

    rows = [("model", "tag", "top-1", "source", "size", "licence")]
    for name in names:
        seen = set()
        for tag, files in SOURCES[name].items():
            if id(files) in seen:
                continue  # an alias ("timm") of a tag already listed
            seen.add(id(files))
            file = next((f for f in files if f.top1), files[0])  # MobileNet: the 224 files'
            rows.append((name, tag, f"{file.top1:.1f}%" if file.top1 else "-", file.origin,
                         f"{file.size_mb:.1f} MB" if file.size_mb else "-",
                         file.licence or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])


def _run_list(args: argparse.Namespace) -> int:
    from kerascnn.registry import get_entry, list_models

    names = list_models(args.pattern, pretrained=args.pretrained)
    if args.pretrained and names:
        _print_pretrained(names)
        return 0
    if not names:
        raise ValueError(f"No registered model matches the pattern. Received: pattern={args.pattern!r}")
    width = max(map(len, names))
    for name in names:
        entry = get_entry(name)
        shape = "x".join(map(str, entry.default_input_shape))
        print(f"{name.ljust(width)}  {entry.family:<14} {shape:<12} {entry.summary_line}")
    return 0


def _run_summary(args: argparse.Namespace) -> int:
    from kerascnn.analysis import summary
    from kerascnn.registry import get_entry

    get_entry(args.name)  # Fail on an unknown name before importing anything heavy.
    summary(args.name, **_build_kwargs(args))
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from kerascnn.training.report import report

    written = report(args.run_dir, output_dir=args.output_dir)
    for note in written.notes:
        print(f"note: {note}", file=sys.stderr)
    print(written.html)
    return 0


def _make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerascnn", description=__doc__.splitlines()[0])
    # Read by kerascnn.console before TensorFlow loads; listed here so that --help shows it.
    parser.add_argument("--verbose", dest="tensorflow_logs", action="store_true",
                        help="before the command: let TensorFlow's C++ start-up lines through "
                             "(also KERASCNN_TF_LOGS=1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list the registered models")
    listing.add_argument("pattern", nargs="?", help="glob filter, e.g. 'resnet*'")
    listing.add_argument("--pretrained", action="store_true",
                         help="only models with pretrained weights: tag, top-1, source, size")
    listing.set_defaults(run=_run_list)

    summarize = commands.add_parser("summary", help="per-layer table of a model")
    _add_build_arguments(summarize)
    summarize.set_defaults(run=_run_summary)

    from kerascnn.training.cli import add_commands as add_training_commands  # train, evaluate

    add_training_commands(commands)

    from kerascnn.transfer.cli import add_commands as add_transfer_commands  # finetune, tune, grow

    add_transfer_commands(commands)

    from kerascnn.exporting.cli import add_commands as add_export_commands  # export, predict

    add_export_commands(commands)

    reporting = commands.add_parser("report", help="write a run directory's report (PNGs + HTML)")
    reporting.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by train")
    reporting.add_argument("--output-dir", help="where to write (default: RUN_DIR/report)")
    reporting.set_defaults(run=_run_report)
    return parser


def _terminated(signum, frame):
    """SIGTERM outside a run (a run checkpoints first: training/signals.py) stops like Ctrl-C."""
    error = KeyboardInterrupt("stopped by SIGTERM")
    error.exit_status = 128 + signum
    raise error


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kerascnn` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _make_parser().parse_args(argv)
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    try:
        return args.run(args)
    except (ValueError, OSError) as error:  # OSError: missing files, a live run's lock, full disk
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"kerascnn: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:  # Ctrl-C, or a run stopped by a signal (training/signals.py)
        print(f"kerascnn: {str(error) or 'interrupted'}", file=sys.stderr, flush=True)
        return getattr(error, "exit_status", 130)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
