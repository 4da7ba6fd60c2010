"""Multi-worker `model.fit` for Keras 3 on TensorFlow: the fixes it needs, all in this module.

Keras 3 (checked with 3.15.1 and TensorFlow 2.21) cannot run `model.fit` under a
`tf.distribute.MultiWorkerMirroredStrategy` that spans several workers:

1. `TensorFlowTrainer._maybe_symbolic_build` (keras/src/backend/tensorflow/trainer.py) takes the
   first distributed batch and calls `strategy.reduce("MEAN", batch, axis=None)` on it eagerly, only
   to learn the batch's shapes. Eager cross-worker reduction of a `PerReplica` value is not
   supported, and `fit` fails before the first step with
   `ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported type`
   (keras-team/keras#20585). Fix: build from the first local replica's batch; only its shapes and
   dtypes are used, so no cross-worker traffic is needed at all.
2. `reduce_per_replica` (same file) reduces every step's logs across workers with
   `strategy.reduce("MEAN", value, axis=0)`. Metric results are scalars, which have no axis 0, and
   tracing fails with `ValueError: Invalid reduction dimension 0 for input with 0 dimensions`
   (tensorflow/tensorflow#72388). Fix: reduce with `axis=None`, the element-wise mean over all
   replicas, which is what `reduce_per_replica` computes on a single worker
   (`tf.reduce_mean(local_results, axis=0)`).

Both replacements wrap the original functions and change nothing unless the strategy really is
multi-worker, so single-device and single-worker mirrored training run Keras's own code.

A third problem concerns every multi-replica strategy: Keras 3 creates BatchNormalization's moving
mean and variance with `aggregation="none"`, so each replica updates its own copy from its own
batches (Keras 2 averaged them). On one worker the saved model silently keeps the first
replica's statistics; across workers the workers end with different weights. `SyncReplicaVariables`
averages such variables over all replicas before every validation pass and checkpoint. Moving
averages are linear in their updates, so averaging the replicas' averages at the end of an epoch
equals averaging the replicas' batch statistics at every step.

Workers all run the same collective operations, so every worker saves its checkpoints; only the
chief writes to the run directory, the others to `worker_dir(run_dir)` (the pattern of
TensorFlow's multi-worker guide).
"""

from __future__ import annotations

import json
import os
import re

import keras
import tensorflow as tf

__all__ = [
    "install",
    "is_multi_worker",
    "is_chief",
    "worker_dir",
    "cluster_from_environment",
    "SyncReplicaVariables",
    "LostWorkerError",
    "lost_worker_message",
]

_INSTALLED = False


def is_multi_worker(strategy) -> bool:
    """True for a MultiWorkerMirroredStrategy whose cluster has more than one worker."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()
    )


def _first_local_replica(strategy, batch):
    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return tf.nest.map_structure(local, batch)


def install() -> None:
    """Wraps Keras's two multi-worker code paths with the fixes above (idempotent).

    Raises:
        RuntimeError: If this Keras no longer has the functions being fixed, so the fix needs a
            look (a newer Keras may have fixed the bug itself).
    """
    global _INSTALLED
    if _INSTALLED:
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    trainer_class = tf_trainer.TensorFlowTrainer
    if not hasattr(trainer_class, "_maybe_symbolic_build") or not hasattr(
        tf_trainer, "reduce_per_replica"
    ):
        raise RuntimeError(
            f"keras {keras.__version__} changed the multi-worker code paths that "
            "kerascnn.training.multiworker fixes; check whether multi-worker fit now works as is."
        )
    original_build = trainer_class._maybe_symbolic_build
    original_reduce = tf_trainer.reduce_per_replica

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and strategy is not None and is_multi_worker(strategy):
            for _, _, batches in iterator:
                data_batch = _first_local_replica(strategy, next(batches))
                break
            iterator = None
        return original_build(self, iterator=iterator, data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and not tf_trainer._is_tpu_strategy(strategy):
            reduction = "mean"
        if reduction == "mean" and is_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values
            )
        return original_reduce(values, strategy, reduction)

    trainer_class._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _INSTALLED = True


def cluster_from_environment() -> dict | None:
    """The parsed `TF_CONFIG` when it names a cluster of more than one task, else None.

    Raises:
        ValueError: If `TF_CONFIG` is set but is not the JSON TensorFlow expects.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster = config.get("cluster", {})
        size = sum(len(tasks) for tasks in cluster.values())
    except (ValueError, AttributeError, TypeError):
        raise ValueError(
            'TF_CONFIG must be JSON like {"cluster": {"worker": ["host:port", ...]}, '
            f'"task": {{"type": "worker", "index": 0}}}}. Received: TF_CONFIG={text!r}'
        ) from None
    return config if size > 1 else None


def is_chief(config: dict | None = None) -> bool:
    """True on the chief: the `chief` task, or worker 0 of a cluster without one (TF's rule)."""
    config = cluster_from_environment() if config is None else config
    if not config:
        return True
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def worker_dir(run_dir: str, config: dict | None = None) -> str:
    """Where this worker writes: `run_dir` on the chief, `run_dir/worker-N` on the others."""
    config = cluster_from_environment() if config is None else config
    if is_chief(config):
        return run_dir
    task = config.get("task", {})
    return os.path.join(run_dir, f"{task.get('type', 'worker')}-{task.get('index', 0)}")


class SyncReplicaVariables(keras.callbacks.Callback):
    """Averages the replicas' unsynchronized variables (BatchNorm moving statistics) over them.

    Runs before each validation pass, at each epoch's end and when training ends; place it before
    any checkpointing callback. A no-op outside a multi-replica strategy.
    """

    def __init__(self, strategy):
        super().__init__()
        self._strategy = strategy
        self._sync = None

    def _variables(self):
        return [
            v for v in self.model.non_trainable_variables
            if getattr(v, "aggregation", "none") == "none" and "float" in str(v.dtype)
        ]

    def _build(self):
        tf_variables = [v.value for v in self._variables()]
        strategy = self._strategy

        def replica_fn():
            context = tf.distribute.get_replica_context()
            means = context.all_reduce("MEAN", [v.read_value() for v in tf_variables])
            for variable, mean in zip(tf_variables, means):
                variable.assign(mean)

        @tf.function
        def sync():
            strategy.run(replica_fn)

        return sync if tf_variables else (lambda: None)

    def synchronize(self) -> None:
        """Averages the variables now."""
        if self._strategy.num_replicas_in_sync < 2:
            return
        if self._sync is None:
            self._sync = self._build()
        self._sync()

    def on_test_begin(self, logs=None):
        self.synchronize()

    def on_epoch_end(self, epoch, logs=None):
        self.synchronize()

    def on_train_end(self, logs=None):
        self.synchronize()


# "/job:worker/replica:0/task:1" in TensorFlow's coordination-service errors.
_TASK = re.compile(r"/job:(\w+)(?:/replica:\d+)?/task:(\d+)")
_LOST_TASK_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError,
                     tf.errors.DeadlineExceededError, tf.errors.CancelledError)


class LostWorkerError(ConnectionError):
    """A worker of the cluster died during training; the message names it and how to resume."""


def lost_worker_message(error: BaseException, config: dict | None = None) -> str | None:
    """One line for a collective that failed because a worker died, or None for other errors.

    TensorFlow's coordination service notices a worker that stopped sending heartbeats within
    seconds and aborts every collective on the others with a many-line `UnavailableError`; this
    names the lost workers and their addresses and says how to resume.
    """
    if not isinstance(error, _LOST_TASK_ERRORS):
        return None
    text = str(error)
    if not any(sign in text for sign in ("heartbeat", "unhealthy", "Collective ops is aborted")):
        return None
    config = config or cluster_from_environment() or {}
    own = config.get("task", {})
    lost = []
    for kind, index in dict.fromkeys(_TASK.findall(text)):
        if (kind, int(index)) == (own.get("type"), own.get("index")):
            continue
        addresses = config.get("cluster", {}).get(kind, [])
        where = f" at {addresses[int(index)]}" if int(index) < len(addresses) else ""
        lost.append(f"{kind} {index}{where}")
    who = ", ".join(lost) or "another worker"
    return (f"Lost {who}: it stopped answering during training. The run directory keeps the "
            f"last checkpoint: start every worker again with the same command to resume.")
