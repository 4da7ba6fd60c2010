"""Every worker of a multi-worker run checkpoints at the same step and stops when any one of them
is signalled: TensorFlow's `PreemptionCheckpointHandler`, driven from a Keras callback.

The handler's `run` wraps a custom loop's step function, which Keras 3's `model.fit` does not
expose; its other entry point, `save_checkpoint_if_preempted`, is called here at the end of every
training step (once per compiled call, as many times on every worker). The run's own signal
handlers (`signals.py`) set a flag that the handler polls through `termination_watcher_fn` (so it
installs no SIGTERM handler of its own, and Ctrl-C counts too); the signalled worker then agrees on
a step with the others over TensorFlow's coordination service, every worker saves its backup
(`save_fn`: `backup.ResumableBackup.save` with the batches done) at that step and stops
(`exit_fn`: `signals.RunInterrupted`). Restarting every worker resumes from that step.

The handler asks the Google Compute Engine metadata server whether it runs there when it is
created; on a GCE machine without GPUs it disables itself, and a signalled worker then stops alone
and its peers with the lost-worker error (`multiworker.LostWorkerError`), as everywhere else before.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

__all__ = ["CoordinatedStop"]


class CoordinatedStop(keras.callbacks.Callback):
    """Checkpoints every worker at the same step once any worker has seen a signal.

    Args:
        strategy: The run's `MultiWorkerMirroredStrategy`.
        state: The run's `signals.SignalState`.
        saver: The phase's `ResumableBackup`.
        stop: A function `(epochs_done, batches_done, saved) -> RunInterrupted`.
        checkpoint_dir: A directory of this worker's for the handler's own (empty) checkpoint.
        batch_offset: Batches of the first epoch done before this `fit` (a resumed epoch's rest).
    """

    _DISABLED_ON = ("GCE_CPU", "GCE_TPU")  # Where the handler does nothing.

    def __init__(self, strategy, state, saver, stop, checkpoint_dir: str, batch_offset: int = 0):
        super().__init__()
        self.strategy = strategy
        self.state = state
        self.saver = saver
        self.stop = stop
        self.checkpoint_dir = checkpoint_dir
        self.handler = None
        self.batch_offset = batch_offset
        self._epoch = self._batches = 0

    def on_train_begin(self, logs=None):
        config = tf.distribute.experimental.TerminationConfig(
            termination_watcher_fn=lambda: self.state.signum is not None,
            exit_fn=self._exit, grace_period=0, save_fn=self._save)
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        self.handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            self.strategy.cluster_resolver, tf.train.Checkpoint(),
            checkpoint_dir=self.checkpoint_dir, termination_config=config)
        self.alone = self.handler._platform_device.name in self._DISABLED_ON

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._batches = self.batch_offset + batch + 1
        if self.alone and self.state.signum is not None:
            self._release()
            raise self.stop(self._epoch, self._batches, False)
        self.handler.save_checkpoint_if_preempted()

    def on_train_end(self, logs=None):
        self._release()

    def _release(self):
        handler, self.handler = self.handler, None
        if handler is not None:  # Its watcher threads end when it is deleted.
            del handler

    def _save(self, *args, **kwargs):
        self.saver.save(self._epoch, self._batches)

    def _exit(self):
        self._release()
        raise self.stop(self._epoch, self._batches, True)
