"""What a resumed run finds damaged in its run directory, and how it carries on.

A run killed while a file was being written, a full disk, or a file overwritten by hand can leave
`last.keras`, `best.keras`, `config.json`, `history.csv` or the backup cut short. The backup and
the history are checked where they are read (`backup.py`, `callbacks.trim_history`); this module
checks the checkpoints, which a resumed run otherwise only reads at its end. Whatever is damaged
is set aside as `NAME.damaged` (never deleted: it may be all that is left of a long run) and
reported in one line; the run resumes from the newest intact state and writes the file again.
"""

from __future__ import annotations

import os
import zipfile

__all__ = ["intact_keras_file", "set_aside_damaged_checkpoints", "config_damaged"]

_KERAS_MEMBERS = ("config.json", "model.weights.h5")


def intact_keras_file(path: str) -> bool:
    """Whether a `.keras` file is a whole zip archive (every member's checksum right) with a
    model's configuration and weights in it."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None and all(
                name in archive.namelist() for name in _KERAS_MEMBERS)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False


def set_aside_damaged_checkpoints(run_dir: str, names=("last.keras", "best.keras")) -> tuple:
    """Renames damaged checkpoints of `run_dir` to `NAME.damaged`; returns `(lines, names)`: a
    line per file, and the names set aside."""
    notes, damaged = [], []
    for name in names:
        path = os.path.join(run_dir, name)
        if os.path.exists(path) and not intact_keras_file(path):
            os.replace(path, path + ".damaged")
            notes.append(f"{path} is damaged (kept as {name}.damaged); it is written again at "
                         "the next epoch")
            damaged.append(name)
    return notes, damaged


def config_damaged(run_dir: str) -> str | None:
    """A line when `run_dir/config.json` exists but does not read as a configuration."""
    from kerascnn.training.rundir import CONFIG_FILE, read_config

    path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.exists(path) and read_config(run_dir) is None:
        return f"{path} is damaged; resuming from the backup and writing it again"
    return None
