"""A run killed with SIGKILL resumes from its last finished epoch when the command runs again."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes(tmp_path):
    run_dir = str(tmp_path / "run")
    command = [sys.executable, "-m", "kerascnn.cli", "train", "lenet5", "--data", "digits",
               "--input-shape", "16,16,1", "--epochs", "8", "--batch-size", "64",
               "--augmentation", "none", "--run-dir", run_dir, "--verbose", "2", "--no-report"]
    metadata = os.path.join(run_dir, "backup", "training_metadata.json")
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    backed_up = 0
    while time.time() < deadline and first.poll() is None:
        try:
            with open(metadata) as handle:
                backed_up = json.load(handle)["epoch"]
        except (OSError, ValueError, KeyError):
            backed_up = 0
        if backed_up >= 1:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be killed:\n" + first.stdout.read()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL

    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    # The killed run may have finished more epochs after its backup was read; it resumes from
    # the last one backed up before the kill.
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    resumed = config["resumed_from_epoch"]
    assert resumed >= backed_up >= 1
    assert f"resuming {run_dir} at epoch {resumed + 1}" in second.stdout
    assert f"Epoch {resumed + 1}/8" in second.stdout and "Epoch 1/8" not in second.stdout
    assert config["status"] == "finished"
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == list(range(8))  # Every epoch logged exactly once across the two processes.
    assert not os.path.exists(os.path.join(run_dir, "backup"))


def test_a_run_without_validation_keeps_its_history_when_resumed(tmp_path):
    import kerascnn
    from kerascnn.training.callbacks import trim_history
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = [i for c in range(10) for i in (digits.target == c).nonzero()[0][:5]]
    data = ((digits.images[keep] * 16).astype("uint8")[..., None], digits.target[keep])
    # 5 images per class: nothing is held out by default.
    result = kerascnn.train("lenet5", data, epochs=2, input_shape=(16, 16, 1), verbose=0,
                            report=False, run_dir=str(tmp_path / "run"),
                            recipe=kerascnn.training.recipes.RECIPES["small_data"].replace(
                                min_steps=0))
    assert result.config["validation_examples"] == 0
    path = tmp_path / "run" / "history.csv"
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Keras's logger writes "NA" validation columns; they are not the run's metrics.
    assert [row["val_accuracy"] for row in rows] == ["NA", "NA"]
    assert "val_accuracy" not in result.metrics and "val_accuracy" not in result.history
    assert 0 <= result.metrics["accuracy"] <= 1
    # Resuming after epoch 1 keeps that epoch's row: "NA" is not damage.
    assert trim_history(str(path), 1) is None
    with open(path, newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0"]
