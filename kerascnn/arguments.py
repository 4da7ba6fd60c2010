"""Command-line argument types shared by the `kerascnn` commands (`cli.py` and the command
modules it gathers), kept apart so that no command module imports the entry point."""

from __future__ import annotations

import argparse

__all__ = ["parse_shape"]


def parse_shape(text: str) -> tuple[int, ...]:
    """Parses "32,32,3" (or "32x32x3") into a shape tuple."""
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"input shape must look like 224,224,3. Received: {text!r}"
        ) from None
