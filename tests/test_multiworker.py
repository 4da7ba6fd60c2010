"""Multi-replica training: CPU replicas in one process, and two worker processes on loopback.

Both run in subprocesses: logical CPU devices and multi-worker collectives must be configured
before TensorFlow's first operation, which the test process has long passed.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kerascnn.training import multiworker

# A tiny classifier with batch normalization, whose moving statistics are the variables Keras 3
# leaves unsynchronized across replicas.
TINY_MODEL = """
import keras
def tiny_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(4, 3, name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")
"""
TRAIN_ARGS = "epochs=2, batch_size=64, verbose=2, augmentation=None, report=False"


def _run_script(path, source, env=None, timeout=240):
    with open(path, "w") as handle:
        handle.write(source)
    return subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _finish(process, timeout=240):
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def test_cpu_replicas_mirror_and_synchronize_batchnorm(tmp_path):
    script = TINY_MODEL + textwrap.dedent(f"""
        import json, numpy as np, kerascnn
        from kerascnn.data import load
        from kerascnn.training.strategy import resolve_strategy

        strategy = resolve_strategy("auto", cpu_replicas=2)

        def mirrors_equal(model):
            return all(
                all(np.array_equal(values[0].numpy(), other.numpy()) for other in values[1:])
                for values in (strategy.experimental_local_results(v.value)
                               for v in model.non_trainable_variables))

        # Plain Keras under the same strategy: each replica keeps its own BN statistics.
        bundle = load("digits", input_shape=(12, 12, 1), batch_size=64, verbose=0)
        with strategy.scope():
            plain = keras.models.clone_model(tiny_model())
            plain.compile("sgd", "sparse_categorical_crossentropy")
        plain.fit(bundle.train, epochs=1, verbose=0)
        result = kerascnn.train(tiny_model(), "digits", cpu_replicas=2,
                                run_dir={str(tmp_path / "run")!r}, {TRAIN_ARGS})
        print("RESULT", json.dumps({{
            "replicas": strategy.num_replicas_in_sync,
            "config": result.config["strategy"],
            "plain_mirrors_equal": mirrors_equal(plain),
            "kerascnn_mirrors_equal": mirrors_equal(result.model),
            "val_accuracy": result.metrics["val_accuracy"]}}))
    """)
    code, output = _finish(_run_script(str(tmp_path / "replicas.py"), script))
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert code == 0 and lines, output[-3000:]
    result = json.loads(lines[0][len("RESULT "):])
    assert result["replicas"] == 2
    assert result["config"] == {"kind": "MirroredStrategy", "replicas": 2, "workers": 1}
    assert not result["plain_mirrors_equal"]  # The Keras 3 behaviour the fix addresses...
    assert result["kerascnn_mirrors_equal"]  # ...and the fix.
    assert 0.0 <= result["val_accuracy"] <= 1.0


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _weights(path):
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


@pytest.mark.slow
def test_two_workers_on_loopback_end_with_identical_weights(tmp_path):
    run_dir = str(tmp_path / "run")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    script = TINY_MODEL + textwrap.dedent(f"""
        import kerascnn
        from kerascnn.training.strategy import resolve_strategy

        # The strategy first: collectives must be set up before TensorFlow's first operation.
        strategy = resolve_strategy("auto")
        # Today's recipe features in the distributed step: mixup and cutmix, TrivialAugment,
        # random erasing, label smoothing, warm-up into cosine decay and the weight EMA.
        from kerascnn.training.recipes import RECIPES
        modern = RECIPES["modern"].replace(
            warmup_epochs=1, ema_decay=0.9, learning_rate=0.4)
        result = kerascnn.train(tiny_model(), "digits", run_dir={run_dir!r}, recipe=modern,
                                {TRAIN_ARGS})
        print("RESULT", result.config["strategy"], result.metrics["val_accuracy"])
        recipe = result.config["recipe"]
        print("RECIPE", recipe["mixup_alpha"], recipe["cutmix_alpha"], recipe["auto_augment"],
              recipe["ema_decay"])
    """)
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(_run_script(str(tmp_path / f"worker{index}.py"), script, env))
    outcomes = [_finish(worker) for worker in workers]
    for code, output in outcomes:
        assert code == 0, output[-4000:]
        assert "'kind': 'MultiWorkerMirroredStrategy', 'replicas': 2, 'workers': 2" in output
        assert "RECIPE 0.2 1.0 trivialaugment 0.9" in output
    # Worker 0 is the chief and writes the run directory; worker 1 writes beside it.
    chief = os.path.join(run_dir, "last.keras")
    other = os.path.join(multiworker.worker_dir(run_dir, {
        "cluster": cluster, "task": {"type": "worker", "index": 1}}), "last.keras")
    assert other != chief
    chief_weights, other_weights = _weights(chief), _weights(other)
    # Conv kernel and bias; BN gamma, beta, moving mean and variance; Dense kernel and bias.
    assert len(chief_weights) == 8
    for a, b in zip(chief_weights, other_weights):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(run_dir, "history.csv")) as handle:
        assert len(handle.read().strip().splitlines()) == 3  # Header and two epochs.


def test_cluster_configuration_is_read_from_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert multiworker.cluster_from_environment() is None and multiworker.is_chief()
    single = {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(single))
    assert multiworker.cluster_from_environment() is None  # One task is no cluster.
    two = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(two))
    assert multiworker.cluster_from_environment() == two and not multiworker.is_chief()
    assert multiworker.worker_dir("runs/x") == os.path.join("runs/x", "worker-1")
    # With a chief task, the chief writes and every worker does not (TensorFlow's rule).
    chief = {"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "chief"}}
    assert multiworker.is_chief(chief) and multiworker.worker_dir("r", chief) == "r"
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        multiworker.cluster_from_environment()
