"""The backup a run resumes from: Keras's `BackupAndRestore`, made safe against kills, signals,
damaged files and full disks.

Keras writes its backup in place (`latest.weights.h5`, then `training_metadata.json`), so a run
killed between the two writes, or a disk that fills up during the first, leaves no state to resume
from. Here each state is a new weights file (`state-N.weights.h5`, written under a temporary name
and renamed) named by the metadata that points at it; the metadata is switched by one rename, and
the state before it stays on disk (`previous_metadata.json` and its weights file) until the new
one is complete. On resume, `newest_state` takes the newest state whose metadata parses and whose
weights file reads back whole, and says in one line what it skipped.

A state records its epoch (the epochs done), the run's phase, and `batches_done`: a run stopped by
a signal in the middle of an epoch (`training/signals.py`) saves the weights after that many
batches of the epoch, and the resumed run trains only the rest of it.
"""

from __future__ import annotations

import json
import os

import keras

__all__ = ["ResumableBackup", "newest_state", "resumed_epoch", "backup_phase",
           "CheckpointWriteError"]

STATE = "training_metadata.json"
PREVIOUS = "previous_metadata.json"
_LEGACY_WEIGHTS = "latest.weights.h5"  # Keras's own name, in backups of earlier versions.


class CheckpointWriteError(OSError):
    """A checkpoint, backup or export could not be written (a full disk, an unwritable
    directory); the previous one is intact. The message names the path."""


def write_failed(path: str, error: OSError) -> CheckpointWriteError:
    """The one-line error for a failed write of `path`."""
    reason = error.strerror or (str(error).splitlines() or [type(error).__name__])[0]
    return CheckpointWriteError(
        error.errno, f"Could not write {path}: {reason}; what was there before is kept. "
                     f"Free space or fix the permissions, then run the same command again")


def _intact_weights(path: str) -> bool:
    """Whether an HDF5 weights file opens and every array in it reads back (truncation and
    overwritten bytes fail here, not halfway through loading into the model)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            def read(_, item):
                if isinstance(item, h5py.Dataset):
                    item[()]
            handle.visititems(read)
        return True
    except Exception:  # h5py raises OSError, KeyError, RuntimeError ... for damaged files.
        return False


def _read_state(backup_dir: str, name: str) -> tuple[dict | None, str | None]:
    """`(state, None)` for an intact state, `(None, why)` for a damaged one, `(None, None)` for
    none."""
    path = os.path.join(backup_dir, name)
    if not os.path.exists(path):
        return None, None
    try:
        with open(path) as handle:
            state = json.load(handle)
        int(state["epoch"])
    except (OSError, ValueError, TypeError, KeyError):
        return None, f"{path} is unreadable"
    weights = os.path.join(backup_dir, state.get("weights", _LEGACY_WEIGHTS))
    if not os.path.isfile(weights) or not _intact_weights(weights):
        return None, f"{weights} is missing or damaged"
    return {**state, "weights_path": weights}, None


def newest_state(backup_dir: str, notes: list | None = None) -> dict | None:
    """The newest intact state in `backup_dir` (None: none); appends what it skipped to `notes`.

    A state is a dict: `epoch`, `batches_done`, `phase` (or none), `weights_path`.
    """
    skipped = []
    for name in (STATE, PREVIOUS):
        state, why = _read_state(backup_dir, name)
        if state is not None:
            if skipped and notes is not None:
                notes.append(f"{'; '.join(skipped)}: resuming from the previous backup "
                             f"(epoch {state['epoch']})")
            return state
        if why:
            skipped.append(why)
    if skipped and notes is not None:
        notes.append(f"{'; '.join(skipped)}: no intact backup, the run starts again from its "
                     "first epoch")
    return None


def resumed_epoch(backup_dir: str) -> int:
    """The epochs done by the newest intact backup in `backup_dir` (0 when there is none)."""
    state = newest_state(backup_dir)
    return int(state["epoch"]) if state else 0


def backup_phase(backup_dir: str) -> str | None:
    """The phase whose epoch the backup in `backup_dir` holds (None: none recorded)."""
    state = newest_state(backup_dir)
    return state.get("phase") if state else None


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` with the states described above; it stops writing once the run has
    diverged, so a killed run resumes from its last complete state and a diverged one from its
    last good one.

    The backup records the run's phase (`phase`): a phase restores only its own backup, whose
    optimizer state is its own. The run deletes the backup when it finishes.
    """

    def __init__(self, backup_dir: str, guard, phase: str | None = None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.guard = guard
        self.phase = phase

    def on_train_begin(self, logs=None):
        state = newest_state(self.backup_dir)
        if state is None or state.get("phase") not in (None, self.phase):
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(state["weights_path"])
        self.model._initial_epoch = int(state["epoch"])

    def _save_model(self):
        self.save(self._current_epoch)

    def save(self, epoch: int, batches_done: int = 0) -> None:
        """Writes a new state: `epoch` epochs done and `batches_done` batches of the next one.

        Raises:
            CheckpointWriteError: If a file cannot be written; the previous state is kept.
        """
        if self.guard.diverged:
            return
        current, _ = _read_state(self.backup_dir, STATE)
        generation = int((current or {}).get("generation", 0)) + 1
        name = f"state-{generation}.weights.h5"
        metadata = {"epoch": int(epoch), "batch": self._last_batch_seen,
                    "batches_done": int(batches_done), "weights": name, "generation": generation}
        if self.phase is not None:
            metadata["phase"] = self.phase
        state_path = os.path.join(self.backup_dir, STATE)
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
            partial = os.path.join(self.backup_dir, "partial.weights.h5")
            self.model.save_weights(partial, overwrite=True)
            os.replace(partial, os.path.join(self.backup_dir, name))
            with open(state_path + ".partial", "w") as handle:
                json.dump(metadata, handle)
            if current is not None:
                os.replace(state_path, os.path.join(self.backup_dir, PREVIOUS))
            os.replace(state_path + ".partial", state_path)
        except BaseException as error:  # A full disk, or a second Ctrl-C: no partial files.
            for leftover in (os.path.join(self.backup_dir, "partial.weights.h5"),
                             state_path + ".partial"):
                if os.path.exists(leftover):
                    os.remove(leftover)
            if not isinstance(error, OSError):
                raise
            raise write_failed(self.backup_dir, error) from None
        self._remove_unused(name, (current or {}).get("weights"))

    def _remove_unused(self, *kept) -> None:
        for entry in os.listdir(self.backup_dir):
            if entry.endswith(".weights.h5") and entry not in kept:
                try:
                    os.remove(os.path.join(self.backup_dir, entry))
                except OSError:
                    pass
