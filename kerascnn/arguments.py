"""Command-line argument types shared by the `kerascnn` commands (`cli.py` and the command
modules it gathers), kept apart so that no command module imports the entry point."""

from __future__ import annotations

import argparse
import os

__all__ = ["parse_shape", "parse_class_names", "parse_verbosity", "parse_validation_split"]


def parse_shape(text: str) -> tuple[int, ...]:
    """Parses "32,32,3" (or "32x32x3") into a shape tuple."""
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"input shape must look like 224,224,3. Received: {text!r}"
        ) from None


def parse_class_names(text: str | None) -> list[str] | None:
    """`--class-names`: a file with one name per line, or names separated by commas."""
    if text is None:
        return None
    if os.path.isfile(text):
        with open(text) as f:
            return [line.strip() for line in f if line.strip()]
    return [name.strip() for name in text.split(",")]


def parse_verbosity(text: str):
    """`--verbose`: auto, or a Keras verbosity level."""
    return _auto_or(text, int, "--verbose must be auto, 0, 1 or 2")


def parse_validation_split(text: str):
    """`--validation-split`: auto, or the share of the data held out."""
    return _auto_or(text, float, "--validation-split must be auto or a number")


def _auto_or(text: str, convert, requirement: str):
    if text == "auto":
        return text
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{requirement}. Received: {text!r}") from None
