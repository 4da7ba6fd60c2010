"""Stopping a run on SIGTERM or Ctrl-C with a checkpoint to resume from.

A cluster scheduler stopping a job sends SIGTERM, then kills it; Ctrl-C sends SIGINT. Python's
default turns either into the loss of the epoch in progress. While a run executes (in the main
thread, the only one where Python can handle signals), `handling_signals` replaces both handlers:
the first signal only sets a flag, and `SignalCheckpoint`, a callback, acts on it at the end of
the current training step (or of the validation pass, when the signal comes during one): it
writes the backup (`training/backup.py`) with the epochs done and the batches done of the
current epoch, and raises `RunInterrupted`, which ends `model.fit` at once. The command prints
its message, one line naming the run directory and saying to run the same command again, and
exits with 128 + the signal's number (143 for SIGTERM, 130 for SIGINT). The resumed run trains
the rest of the interrupted epoch, then the epochs after it.

A second signal stops at once (the backup then is the one before, which a half-written new one
never replaces). A signal before training starts (loading data, building) stops at once too:
there is nothing to save yet. One while the run finishes (exports, writes its report) waits for
that to end, since the run is then complete.

Under a multi-worker strategy a worker cannot save a state of its own in the middle of an epoch:
its peers would resume from another step. There TensorFlow's `PreemptionCheckpointHandler`
(`preemption.py`) has every worker save at the same step and stop, whichever worker was
signalled. Where that handler disables itself (Google Compute Engine machines without GPUs), the
signalled worker stops at its next step without writing (the backup of the last finished epoch
stays), and the others stop with the lost-worker error of `multiworker.py`; starting every worker
again resumes from that epoch.
"""

from __future__ import annotations

import contextlib
import signal
import sys

import keras

__all__ = ["RunInterrupted", "SignalState", "handling_signals", "SignalCheckpoint"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGTERM or SIGINT; the message says how to resume.

    A `KeyboardInterrupt`, so that code catching `Exception` (a keras-tuner search counting
    failed trials) lets it through, as it does Ctrl-C.

    Attributes:
        exit_status: 128 + the signal's number (143 for SIGTERM, 130 for SIGINT).
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_status = 128 + int(signum)


def _name(signum: int) -> str:
    return signal.Signals(signum).name


class SignalState:
    """What the handlers saw and where the run is.

    Attributes:
        where: The run directory (or "the run"), for the messages.
        signum: The first signal's number, None before one.
        stage: "starting" (before any epoch), "training" (in `fit`: a callback acts on the
            signal), "between" (between phases: the last epoch's backup is complete) or
            "finishing" (the signal waits for the run's end).
    """

    def __init__(self, where: str):
        self.where = where
        self.signum = None
        self.stage = "starting"

    def stop_now(self, signum: int, why: str) -> RunInterrupted:
        return RunInterrupted(f"stopped by {_name(signum)} {why}", signum)

    def handle(self, signum, frame) -> None:
        resume = "run the same command again to resume"
        if self.signum is not None:  # The second signal: stop at once.
            raise self.stop_now(signum, f"before a new checkpoint was complete; {self.where} "
                                        f"keeps the one before: {resume}")
        self.signum = signum
        if self.stage == "starting":
            raise self.stop_now(signum, "before training started: run the same command again")
        if self.stage == "between":
            raise self.stop_now(signum, f"between phases; checkpointed in {self.where}: {resume}")
        doing = "finishing the run" if self.stage == "finishing" else \
            "stopping after this step"
        print(f"\nkerascnn: {_name(signum)} received, {doing} (send it again to stop at once)",
              file=sys.stderr, flush=True)


@contextlib.contextmanager
def handling_signals(state: SignalState):
    """Installs `state.handle` for SIGINT and SIGTERM while the block runs (main thread only:
    elsewhere Python cannot handle signals, and the defaults stay)."""
    try:
        previous = {signum: signal.signal(signum, state.handle) for signum in _SIGNALS}
    except ValueError:  # Not the main thread.
        yield state
        return
    try:
        yield state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class SignalCheckpoint(keras.callbacks.Callback):
    """Acts on a signal `state` has seen: saves `backup` (mid-epoch: at the end of the current
    step) and raises `RunInterrupted`; place it after the backup and the checkpoints.

    Args:
        state: The run's `SignalState`.
        backup: The phase's `ResumableBackup`.
        run_dir: Named in the message.
        multi_worker: Whether the run spans several workers: then `preemption.CoordinatedStop`
            stops every worker at one step, and this callback acts only once training ends.
        batch_offset: Batches of the epoch done before this `fit` (a resumed epoch's rest).
    """

    def __init__(self, state: SignalState, backup, run_dir: str | None, multi_worker: bool,
                 batch_offset: int = 0):
        super().__init__()
        self.batch_offset = batch_offset
        self.state = state
        self.backup = backup
        self.run_dir = run_dir
        self.multi_worker = multi_worker
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.state.stage = "training"

    def on_train_end(self, logs=None):
        self.state.stage = "between"
        if self.state.signum is not None:  # After this callback's last epoch end.
            self._stop(self._epoch + 1, 0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def interrupted(self, epochs_done: int, batches_done: int, saved: bool) -> RunInterrupted:
        """The error of a multi-worker run stopped at a step: `saved` by every worker together
        (`preemption.py`), or by none (the signalled worker stops alone)."""
        signum = self.state.signum or signal.SIGTERM  # Another worker was signalled.
        who = "" if self.state.signum else "on another worker "
        if saved:
            return self.state.stop_now(
                signum, f"{who}at epoch {epochs_done + 1}, batch {batches_done}; every worker "
                        f"checkpointed in {self.run_dir}: start every worker again with the "
                        "same command to resume")
        return self.state.stop_now(
            signum, f"at epoch {epochs_done + 1}; {self.run_dir} keeps the backup of the last "
                    "finished epoch: start every worker again with the same command")

    def _stop(self, epochs_done: int, batches_done: int):
        signum = self.state.signum
        if self.run_dir is None:
            raise self.state.stop_now(signum, "(a run without a run directory keeps nothing)")
        if batches_done:
            self.backup.save(epochs_done, batches_done)
        where = (f"at epoch {epochs_done + 1}, batch {batches_done}" if batches_done
                 else f"after epoch {epochs_done}")
        raise self.state.stop_now(
            signum, f"{where}; checkpointed in {self.run_dir}: run the same command again to "
                    "resume")

    def on_train_batch_end(self, batch, logs=None):
        if self.multi_worker:  # `preemption.CoordinatedStop` stops every worker at one step.
            return
        steps = (self.params or {}).get("steps")
        # After the epoch's last batch, the validation pass and the epoch's backup come first.
        if self.state.signum is not None and (steps is None or batch + 1 < steps):
            self._stop(self._epoch, self.batch_offset + batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.state.signum is not None and not self.multi_worker:
            self._stop(epoch + 1, 0)
