"""The callbacks every run uses: divergence guard, checkpoints, backup for resuming, logs.

Checkpoints are written to a temporary file and renamed into place, so a run killed while saving
leaves the previous checkpoint intact. Once the loss has become NaN or infinite, nothing is saved
any more: the last good checkpoint stays the last checkpoint.
"""

from __future__ import annotations

import csv
import math
import os
import sys

import keras

from kerascnn.training.backup import ResumableBackup, backup_phase, resumed_epoch, write_failed
from kerascnn.training.optim import current_learning_rate

__all__ = ["DivergenceGuard", "AtomicCheckpoint", "ResumableBackup", "LearningRateLogger",
           "MainOutputLogs", "RunProgress", "resumed_epoch", "backup_phase", "trim_history",
           "best_so_far"]


class DivergenceGuard(keras.callbacks.TerminateOnNaN):
    """Keras's `TerminateOnNaN`, which stops training at the first batch whose loss is NaN or
    infinite, with one clear message naming the last good checkpoint, and a flag that keeps the
    other callbacks from saving the diverged weights.

    Attributes:
        diverged: False, or a dict with the epoch and the batches (`first_batch` to `batch`,
            one compiled call) in which the loss diverged.
        message: The message printed when it stopped the run.
    """

    def __init__(self, last_checkpoint: str | None = None):
        super().__init__()
        self.last_checkpoint = last_checkpoint
        self.diverged = False
        self.message = ""
        self._epoch = 0
        self._last_good_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if not self.diverged:
            self._last_good_epoch = epoch + 1

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged:
            return
        loss = float(loss)
        if math.isfinite(loss):
            return
        # With several steps per compiled call, Keras reports the call's last batch.
        steps_per_call = int(getattr(self.model, "steps_per_execution", 1) or 1)
        first = max(1, batch + 2 - steps_per_call)
        where = f"batch {batch + 1}" if first == batch + 1 else f"batches {first}-{batch + 1}"
        self.diverged = {"epoch": self._epoch + 1, "batch": batch + 1, "first_batch": first,
                         "loss": loss}
        self.model.stop_training = True
        kept = "no checkpoint was written before it"
        if self.last_checkpoint and os.path.exists(self.last_checkpoint):
            kept = f"the last good checkpoint is {self.last_checkpoint}"
            if self._last_good_epoch:
                kept += f" (epoch {self._last_good_epoch})"
        self.message = (
            f"Training diverged: the loss became {loss} at epoch {self._epoch + 1}, {where}, so "
            f"the run was stopped; {kept}. Try a lower learning rate."
        )
        print(f"\n{self.message}", file=sys.stderr, flush=True)


def _atomic_save(model: keras.Model, path: str) -> None:
    """Saves under a temporary name, then renames: a failed or killed save leaves the previous
    file as it was (a failure raises `CheckpointWriteError` naming `path`)."""
    temporary = f"{path[:-len('.keras')]}.partial.keras"
    try:
        model.save(temporary)
        os.replace(temporary, path)
    except BaseException as error:  # A full disk, or a second Ctrl-C: no partial file left.
        if os.path.exists(temporary):
            os.remove(temporary)
        if not isinstance(error, OSError):
            raise
        raise write_failed(path, error) from None


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model (`.keras`) every epoch, or only when `monitor` improves (`best=True`).

    Args:
        path: str, the `.keras` file.
        guard: DivergenceGuard; nothing is saved once it has fired.
        monitor: str, the log to compare for `best` ("val_accuracy").
        best: bool, save only improvements.
        initial_best: float or None, the best value of an earlier, resumed part of the run.
    """

    def __init__(self, path: str, guard: DivergenceGuard, monitor: str = "val_accuracy",
                 best: bool = False, initial_best: float | None = None):
        super().__init__()
        self.path = path
        self.guard = guard
        self.monitor = monitor
        self.best_only = best
        self.mode_max = "accuracy" in monitor
        self.best = initial_best

    def _improved(self, value) -> bool:
        if value is None or not math.isfinite(float(value)):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode_max else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.diverged:
            return
        if self.best_only:
            value = (logs or {}).get(self.monitor)
            if not self._improved(value):
                return
            self.best = float(value)
        _atomic_save(self.model, self.path)


class RunProgress(keras.callbacks.ProgbarLogger):
    """Keras's progress display, counting epochs out of the whole run ("Epoch 3/8") when the run
    is several `fit` calls (fine-tuning's phases), not out of the current call's."""

    def __init__(self, epochs: int):
        super().__init__()
        self.run_epochs = epochs

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.run_epochs


class LearningRateLogger(keras.callbacks.Callback):
    """Adds `learning_rate` (the rate at the epoch's end) to the epoch logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "learning_rate" not in logs:
            logs["learning_rate"] = current_learning_rate(self.model.optimizer)


class MainOutputLogs(keras.callbacks.Callback):
    """For multi-output models (GoogLeNet's auxiliary classifiers), repeats the main output's
    metrics without their prefix (`predictions_accuracy` -> `accuracy`), so every run's history
    has the same columns."""

    def __init__(self, main_output: str):
        super().__init__()
        self.prefix = f"{main_output}_"

    def on_epoch_end(self, epoch, logs=None):
        for key in list(logs or {}):
            stem = key[4:] if key.startswith("val_") else key
            if stem.startswith(self.prefix) and not stem.endswith("loss"):
                alias = key.replace(self.prefix, "", 1)
                logs.setdefault(alias, logs[key])


def _complete_rows(path: str) -> tuple[list, list, bool]:
    """The header and the complete rows of `history.csv` (every cell a number, as many cells as
    the header), and whether any row was not."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return [], [], True
    if not rows or not rows[0] or rows[0][0] != "epoch":
        return [], [], bool(rows)
    header, kept = rows[0], []
    for row in rows[1:]:
        try:  # "NA": Keras's logger for a value not logged (validation, in a run without it).
            complete = len(row) == len(header) and int(row[0]) >= 0
            [float(cell) for cell in row if cell != "NA"]
        except ValueError:
            complete = False
        if complete:
            kept.append(row)
    return header, kept, len(kept) != len(rows) - 1


def trim_history(path: str, epochs_done: int) -> str | None:
    """Keeps the rows of `history.csv` for epochs before `epochs_done` (zero-based epoch column):
    later ones a killed run logged without backing up are trained and logged again. Rows a kill
    or a full disk cut short, and a file that is not a history at all, are dropped; returns a
    line saying so, or None."""
    if not os.path.isfile(path):
        return None
    header, rows, damaged = _complete_rows(path)
    kept = [r for r in rows if int(r[0]) < epochs_done]
    if not header:
        os.replace(path, path + ".damaged")
        return f"{path} is damaged (kept as {path}.damaged); the history starts again"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([header] + kept)
    return f"{path} had damaged rows, dropped" if damaged else None


def best_so_far(path: str, monitor: str) -> float | None:
    """The best value of `monitor` in an existing `history.csv` (for a resumed best checkpoint)."""
    if not os.path.isfile(path):
        return None
    header, rows, _ = _complete_rows(path)
    if monitor not in header:
        return None
    column = header.index(monitor)
    values = [float(r[column]) for r in rows
              if r[column] != "NA" and math.isfinite(float(r[column]))]
    if not values:
        return None
    return max(values) if "accuracy" in monitor else min(values)
