"""The callbacks every run uses: divergence guard, checkpoints, backup for resuming, logs.

Checkpoints are written to a temporary file and renamed into place, so a run killed while saving
leaves the previous checkpoint intact. Once the loss has become NaN or infinite, nothing is saved
any more: the last good checkpoint stays the last checkpoint.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys

import keras

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
    temporary = f"{path[:-len('.keras')]}.partial.keras"
    model.save(temporary)
    os.replace(temporary, path)


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


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that writes atomically and stops writing once the run has diverged, so a
    killed run resumes from its last complete epoch and a diverged one from its last good one.

    The backup records the run's phase (`phase`): a phase restores only its own backup, whose
    optimizer state is its own. The run deletes the backup when it finishes.
    """

    def __init__(self, backup_dir: str, guard: DivergenceGuard, phase: str | None = None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.guard = guard
        self.phase = phase

    def _load_model(self):
        if backup_phase(self.backup_dir) not in (None, self.phase):
            return
        super()._load_model()

    def _save_model(self):
        if self.guard.diverged:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        temporary = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(temporary, overwrite=True)
        os.replace(temporary, self._weights_path)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        if self.phase is not None:
            metadata["phase"] = self.phase
        with open(self._training_metadata_path + ".partial", "w") as handle:
            json.dump(metadata, handle)
        os.replace(self._training_metadata_path + ".partial", self._training_metadata_path)


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


def _metadata(backup_dir: str) -> dict:
    try:
        with open(os.path.join(backup_dir, "training_metadata.json")) as handle:
            metadata = json.load(handle)
    except (OSError, ValueError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def resumed_epoch(backup_dir: str) -> int:
    """The epoch a backup in `backup_dir` resumes from (0 when there is none)."""
    try:
        return int(_metadata(backup_dir).get("epoch", 0))
    except (TypeError, ValueError):
        return 0


def backup_phase(backup_dir: str) -> str | None:
    """The phase whose epoch the backup in `backup_dir` holds (None: none recorded)."""
    return _metadata(backup_dir).get("phase")


def trim_history(path: str, epochs_done: int) -> None:
    """Drops rows of `history.csv` for epochs at or after `epochs_done` (zero-based epoch column),
    which a killed run may have logged without backing up; they are trained and logged again."""
    if not os.path.isfile(path):
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < epochs_done]
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)


def best_so_far(path: str, monitor: str) -> float | None:
    """The best value of `monitor` in an existing `history.csv` (for a resumed best checkpoint)."""
    if not os.path.isfile(path):
        return None
    with open(path, newline="") as handle:
        values = []
        for row in csv.DictReader(handle):
            try:
                values.append(float(row.get(monitor, "nan")))
            except ValueError:
                continue
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return max(values) if "accuracy" in monitor else min(values)
