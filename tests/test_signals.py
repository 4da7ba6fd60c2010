"""SIGTERM and SIGINT stop a run with a checkpoint, mid-epoch if need be, and exit 143/130 within
seconds; running the same command (or call) again resumes and ends with the same epochs; a second
signal stops at once."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.training import backup, signals

SMALL = {"batch_size": 8, "verbose": 0, "report": False}


def _net():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1_conv")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv2_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(x),
                       name="tiny")


def _arrays(n=64):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


def _epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


class _Signal(keras.callbacks.Callback):
    """Sends `signum` to this process `times` times at the end of batch `batch` of `epoch`."""

    def __init__(self, signum, epoch, batch, times=1):
        super().__init__()
        self.signum, self.epoch, self.batch, self.times = signum, epoch, batch, times
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (self.epoch, self.batch):
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


def test_sigint_through_the_api_checkpoints_mid_epoch_and_the_same_call_resumes(tmp_path):
    run_dir = str(tmp_path / "run")
    options = dict(recipe="lenet", epochs=3, augmentation=None, run_dir=run_dir, **SMALL)
    with pytest.raises(signals.RunInterrupted) as stopped:
        kerascnn.train(_net(), _arrays(), callbacks=[_Signal(signal.SIGINT, 1, 2)], **options)
    assert stopped.value.exit_status == 130
    # The handler acts at the next step's end: batch 4 of epoch 2 (1-based) was the last one.
    assert str(stopped.value) == (f"stopped by SIGINT at epoch 2, batch 4; checkpointed in "
                                  f"{run_dir}: run the same command again to resume")
    state = backup.newest_state(os.path.join(run_dir, "backup"))
    assert (state["epoch"], state["batches_done"]) == (1, 4)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Restored.

    result = kerascnn.train(_net(), _arrays(), **options)
    assert result.config["resumed_from_epoch"] == 1
    assert _epochs(run_dir) == [0, 1, 2]
    assert result.config["status"] == "finished"


def test_a_second_signal_stops_at_once_keeping_the_last_complete_backup(tmp_path):
    run_dir = str(tmp_path / "run")
    with pytest.raises(signals.RunInterrupted, match="before a new checkpoint was complete") as \
            stopped:
        kerascnn.fine_tune(_net(), _arrays(), head_epochs=1, epochs=2, run_dir=run_dir,
                           callbacks=[_Signal(signal.SIGTERM, 2, 1, times=2)], **SMALL)
    assert stopped.value.exit_status == 143
    state = backup.newest_state(os.path.join(run_dir, "backup"))
    assert (state["epoch"], state["batches_done"], state["phase"]) == (2, 0, "fine_tune")
    kerascnn.fine_tune(_net(), _arrays(), head_epochs=1, epochs=2, run_dir=run_dir, **SMALL)
    assert _epochs(run_dir) == [0, 1, 2]


def test_a_signal_before_training_stops_at_once():
    state = signals.SignalState("runs/x")
    with pytest.raises(signals.RunInterrupted, match="before training started") as stopped:
        state.handle(signal.SIGTERM, None)
    assert stopped.value.exit_status == 143


@pytest.mark.slow
def test_sigterm_mid_epoch_then_the_same_command_resumes(tmp_path):
    run_dir = str(tmp_path / "run")
    command = [sys.executable, "-m", "kerascnn.cli", "train", "lenet5", "--data", "digits",
               "--input-shape", "16,16,1", "--epochs", "3", "--batch-size", "32",
               "--augmentation", "none", "--no-report", "--run-dir", run_dir, "--verbose", "2"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in first.stdout:  # --verbose 2 prints "Epoch 2/3" as the epoch begins.
        seen.append(line)
        if line.startswith("Epoch 2/3"):
            break
    else:
        pytest.fail("the run ended before epoch 2:\n" + "".join(seen) + first.stderr.read())
    signalled = time.monotonic()
    first.send_signal(signal.SIGTERM)
    _, errors = first.communicate(timeout=120)
    assert first.returncode == 143, errors[-3000:]
    assert time.monotonic() - signalled < 30  # Seconds, not the rest of the run.
    assert "Traceback" not in errors
    last = errors.strip().splitlines()[-1]
    assert last.startswith("kerascnn: stopped by SIGTERM at epoch 2") or \
        last.startswith("kerascnn: stopped by SIGTERM after epoch 2"), errors[-3000:]
    assert last.endswith(f"checkpointed in {run_dir}: run the same command again to resume")

    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"resuming {run_dir} at epoch " in second.stdout and "Epoch 1/3" not in second.stdout
    assert _epochs(run_dir) == [0, 1, 2]
    with open(os.path.join(run_dir, "config.json")) as handle:
        assert json.load(handle)["status"] == "finished"
    assert not os.path.exists(os.path.join(run_dir, "backup"))


@pytest.mark.slow
def test_a_signal_to_one_worker_checkpoints_every_worker_at_the_same_step(tmp_path):
    from test_lost_workers import _free_ports, _worker

    run_dir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    options = ("--input-shape", "16,16,1", "--verbose", "2")
    # Epochs of a fraction of a second: the signal at the start of epoch 2 must leave the
    # workers more time than agreeing on a step takes (a run that ends first stops nothing).
    workers = [_worker(cluster, i, run_dir, epochs=4, options=options, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE) for i in range(2)]
    try:
        for line in workers[1].stdout:
            if line.startswith("Epoch 2/4"):
                break
        signalled = time.monotonic()
        workers[1].send_signal(signal.SIGTERM)
        errors = [worker.communicate(timeout=120)[1] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [worker.returncode for worker in workers] == [143, 143], errors[0][-2000:]
    assert time.monotonic() - signalled < 60
    for text in errors:
        assert "Traceback" not in text
        # gRPC's own log may still report the lost peer after kerascnn's last line.
        ours = [line for line in text.splitlines() if line.startswith("kerascnn: ")]
        assert ours and ours[-1].endswith(
            f"every worker checkpointed in {run_dir}: start every worker again with the same "
            "command to resume"), text[-2000:]
    stopped_at = re.search(r"SIGTERM on another worker at epoch (\d)", errors[0])
    assert stopped_at and int(stopped_at.group(1)) >= 2, errors[0][-2000:]
    # Both at the same step of that epoch, so that restarting them resumes them together.
    states = [backup.newest_state(os.path.join(directory, "backup"))
              for directory in (run_dir, run_dir / "worker-1")]
    assert states[0]["epoch"] == states[1]["epoch"] == int(stopped_at.group(1)) - 1
    assert states[0]["batches_done"] == states[1]["batches_done"] > 0
