"""Choosing the `tf.distribute` strategy a run trains under.

`"auto"` picks, in order: MultiWorkerMirroredStrategy when `TF_CONFIG` names a cluster of more
than one task; TPUStrategy when a TPU is attached; MirroredStrategy over `cpu_replicas` logical CPU
devices when asked (multi-replica runs on a CPU-only machine, for testing); MirroredStrategy over
the local GPUs when there are several; otherwise TensorFlow's default single-device strategy.
"""

from __future__ import annotations

import glob
import os

import tensorflow as tf

from kerascnn import validation
from kerascnn.training import multiworker, rendezvous

__all__ = ["STRATEGIES", "resolve_strategy", "describe", "split_cpu"]

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
_CACHE: dict = {}


def split_cpu(replicas: int) -> list[str]:
    """Splits the CPU into `replicas` logical devices and returns their names.

    Raises:
        ValueError: If TensorFlow already initialized its devices with another split (the split
            must happen before the first TensorFlow operation of the process).
    """
    validation.check_positive_int(replicas, "cpu_replicas")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * replicas
        )
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != replicas:
            raise ValueError(
                "cpu_replicas must be chosen before TensorFlow runs its first operation in this "
                f"process (it already has {have} logical CPU devices); start a new process. "
                f"Received: cpu_replicas={replicas}"
            ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def _tpu_resolver():
    """A TPU cluster resolver when a TPU is attached (named by TPU_NAME or a local /dev/accel*)."""
    if not (os.environ.get("TPU_NAME") or glob.glob("/dev/accel*")):
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", "local")
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError):
        return None
    return resolver


def _multi_worker(worker_timeout: float | None):
    # TensorFlow's own wait for the other workers ignores signals and never ends: meet them first.
    rendezvous.wait_for_workers(multiworker.cluster_from_environment(), worker_timeout)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise ValueError(
            "MultiWorkerMirroredStrategy must be created before TensorFlow runs its first "
            f"operation in this process; call kerascnn.train first. ({error})"
        ) from None
    multiworker.install()
    return strategy


def _create(strategy: str, cpu_replicas: int | None, worker_timeout: float | None):
    if strategy == "auto":
        if multiworker.cluster_from_environment():
            return _multi_worker(worker_timeout)
        resolver = _tpu_resolver()
        if resolver is not None:
            return tf.distribute.TPUStrategy(resolver)
        strategy = "mirrored" if cpu_replicas or len(tf.config.list_physical_devices("GPU")) > 1 \
            else "default"
    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "multi_worker":
        if not multiworker.cluster_from_environment():
            raise ValueError(
                "strategy='multi_worker' needs TF_CONFIG naming a cluster of two or more tasks. "
                f"Received: TF_CONFIG={os.environ.get('TF_CONFIG')!r}"
            )
        return _multi_worker(worker_timeout)
    if strategy == "tpu":
        resolver = _tpu_resolver()
        if resolver is None:
            raise ValueError("strategy='tpu' but no TPU is attached. Received: strategy='tpu'")
        return tf.distribute.TPUStrategy(resolver)
    if cpu_replicas:
        return tf.distribute.MirroredStrategy(split_cpu(cpu_replicas))
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    return tf.distribute.MirroredStrategy(gpus or None)


def resolve_strategy(strategy="auto", cpu_replicas: int | None = None,
                     worker_timeout: float | None = None):
    """Returns the `tf.distribute.Strategy` a run uses (one instance per choice and process).

    Args:
        strategy: "auto" (see the module docstring), "default" (one device), "mirrored" (all local
            GPUs, or `cpu_replicas` CPU devices), "multi_worker", "tpu", or a
            `tf.distribute.Strategy` instance, returned as is.
        cpu_replicas: int or None; split the CPU into this many logical devices and mirror over
            them. Must be chosen before TensorFlow's first operation in the process.
        worker_timeout: Seconds a worker of a multi-worker cluster waits for the others before
            giving up (default `$KERASCNN_WORKER_TIMEOUT`, else 600; see
            `kerascnn.training.rendezvous`).

    Raises:
        ValueError: For an unknown strategy name, a strategy the machine cannot provide, or a CPU
            split requested too late.
    """
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    validation.check_choice(strategy, "strategy", STRATEGIES)
    if cpu_replicas is not None:
        validation.check_positive_int(cpu_replicas, "cpu_replicas")
        if strategy not in ("auto", "mirrored"):
            raise ValueError(
                "cpu_replicas only applies to strategy='auto' or 'mirrored'. "
                f"Received: strategy={strategy!r}, cpu_replicas={cpu_replicas}"
            )
    key = (strategy, cpu_replicas)
    if key not in _CACHE:
        _CACHE[key] = _create(strategy, cpu_replicas, worker_timeout)
    return _CACHE[key]


def describe(strategy) -> dict:
    """The strategy's class, replica count and worker count, for the run's config."""
    workers, kind = 1, type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        kind = "MultiWorkerMirroredStrategy"  # Its class is CollectiveAllReduceStrategy.
    if multiworker.is_multi_worker(strategy):
        config = multiworker.cluster_from_environment() or {}
        workers = sum(len(tasks) for tasks in config.get("cluster", {}).values())
    return {
        "kind": kind,
        "replicas": int(strategy.num_replicas_in_sync),
        "workers": workers,
    }
