"""A fine-tuning run is a run like `kerascnn train`'s: both phases are epochs of one run directory
(history.csv, best/last checkpoints, TensorBoard logs, the report), an interrupted run resumes,
and `kerascnn finetune` prints one line per epoch and ends with train's summary line."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from kerascnn import cli


def _net():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(4, 3, name="conv1_conv")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv2_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")


def _arrays(n=40, classes=3):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (n, 8, 8, 1)).astype("float32"), rng.integers(0, classes, n)


def _epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


class _Interrupt(keras.callbacks.Callback):
    """Stops the run after epoch `epoch` (0-based) is logged and backed up, like Ctrl-C."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_both_phases_write_one_run_directory(tmp_path):
    run_dir = str(tmp_path / "run")
    tuned = kerascnn.fine_tune(_net(), _arrays(), freeze_until=1, head_epochs=1, epochs=2,
                               batch_size=8, verbose=0, run_dir=run_dir)
    for name in ("config.json", "history.csv", "best.keras", "last.keras", "model.keras",
                 "history.json", "report/report.html"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert os.listdir(os.path.join(run_dir, "logs"))  # TensorBoard event files.
    assert not os.path.exists(os.path.join(run_dir, "backup"))
    assert _epochs(run_dir) == [0, 1, 2]  # Head epoch, then the two fine-tuning epochs.
    with open(os.path.join(run_dir, "history.csv")) as handle:
        assert {"val_accuracy", "learning_rate"} <= set(handle.readline().strip().split(","))
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    assert config["status"] == "finished" and config["task"] == "fine_tune"
    assert config["frozen_groups"] == ["conv1"] and config["class_names"] == ["0", "1", "2"]
    by_phase = json.load(open(os.path.join(run_dir, "history.json")))
    assert {k: len(v["loss"]) for k, v in by_phase.items()} == {"head": 1, "fine_tune": 2}
    assert tuned.output_shape == (None, 3)
    with pytest.raises(FileExistsError, match="finished run"):
        kerascnn.fine_tune(_net(), _arrays(), head_epochs=1, epochs=2, batch_size=8, verbose=0,
                           run_dir=run_dir)


@pytest.mark.parametrize("stop_after", [0, 1], ids=["at_the_phase_boundary", "in_phase_two"])
def test_an_interrupted_fine_tuning_run_resumes(tmp_path, capsys, stop_after):
    run_dir = str(tmp_path / "run")
    common = dict(freeze_until=1, head_epochs=1, epochs=3, batch_size=8, verbose=2,
                  run_dir=run_dir, report=False)
    with pytest.raises(KeyboardInterrupt):
        kerascnn.fine_tune(_net(), _arrays(), callbacks=[_Interrupt(stop_after)], **common)
    with open(os.path.join(run_dir, "config.json")) as handle:
        assert json.load(handle)["status"] == "running"
    capsys.readouterr()
    tuned = kerascnn.fine_tune(_net(), _arrays(), **common)
    out = capsys.readouterr().out
    assert f"resuming {run_dir} at epoch {stop_after + 2}" in out
    assert "Epoch 1/4" not in out and f"Epoch {stop_after + 2}/4" in out
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    assert config["status"] == "finished" and config["resumed_from_epoch"] == stop_after + 1
    assert _epochs(run_dir) == [0, 1, 2, 3]  # Every epoch logged once across the two runs.
    # Phase 2's optimizer, restored or not: the run ends in the fine-tuning phase.
    assert isinstance(tuned.optimizer, kerascnn.transfer.GroupLearningRates)
    assert not os.path.exists(os.path.join(run_dir, "backup"))


def _image_folder(root, classes=("cat", "dog"), per_class=10):
    rng = np.random.default_rng(4)
    for index, name in enumerate(classes):
        os.makedirs(root / name)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (12, 12, 3)).astype(np.uint8) + 120 * index
            tf.io.write_file(str(root / name / f"{i}.png"), tf.io.encode_png(pixels))


def test_cli_finetune_prints_epochs_and_the_summary_line(tmp_path, capsys, monkeypatch):
    _image_folder(tmp_path / "pets")
    monkeypatch.chdir(tmp_path)
    command = ["finetune", "lenet5", "--input-shape", "16,16,1", "--data", "pets",
               "--freeze-until", "fc4", "--head-epochs", "1", "--epochs", "1",
               "--batch-size", "4"]
    held_out = ["--validation-split", "0.1"]  # The default holds nothing out of 20 images.
    assert cli.main(command + held_out) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    (run_dir,) = [os.path.join("runs", d) for d in os.listdir("runs")]
    assert os.path.basename(run_dir).startswith("finetune-lenet5-")
    # Not a terminal: one line per epoch, no progress-bar escape codes, with validation metrics.
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "\r" not in out and "\x1b" not in out
    epoch_lines = [line for line in out.splitlines() if " - val_accuracy: " in line]
    assert len(epoch_lines) == 2
    summary, page = out.strip().splitlines()[-2:]
    assert summary.startswith(f"kerascnn: run directory {run_dir}  accuracy ")
    assert "val_accuracy" in summary
    assert page == f"kerascnn: run report {os.path.join(run_dir, 'report', 'report.html')}"
    for name in ("history.csv", "best.keras", "last.keras", "model.keras"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    # The same command again starts a new run: the first one finished.
    assert cli.main(command + held_out + ["--no-report", "--verbose", "0"]) == 0
    assert len(os.listdir("runs")) == 2
    # Below 100 images per class nothing is held out by default, and the run says so.
    assert cli.main(command + ["--no-report", "--verbose", "2"]) == 0
    assert "kerascnn: note: No images are held out for validation" in capsys.readouterr().out


@pytest.mark.parametrize("option, value, message", [
    ("--verbose", "loud", "--verbose must be auto, 0, 1 or 2. Received: 'loud'"),
    ("--validation-split", "half", "--validation-split must be auto or a number. Received: 'half'"),
])
def test_cli_finetune_names_a_bad_option_value(capsys, option, value, message):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["finetune", "lenet5", "--data", "pets", option, value])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_then_the_same_finetune_command_resumes(tmp_path):
    import glob
    import signal
    import subprocess
    import sys
    import time

    _image_folder(tmp_path / "pets")
    command = [sys.executable, "-m", "kerascnn.cli", "finetune", "lenet5", "--input-shape",
               "16,16,1", "--data", "pets", "--freeze-until", "fc4", "--head-epochs", "2",
               "--epochs", "6", "--batch-size", "4", "--verbose", "2", "--no-report"]
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline, backed_up = time.time() + 300, 0
    while time.time() < deadline and first.poll() is None:
        for path in glob.glob(str(tmp_path / "runs" / "*" / "backup" / "training_metadata.json")):
            try:
                with open(path) as handle:
                    backed_up = json.load(handle)["epoch"]
            except (OSError, ValueError, KeyError):
                pass
        if backed_up >= 1:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be killed:\n" + first.stdout.read()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    (run_dir,) = glob.glob(str(tmp_path / "runs" / "finetune-lenet5-*"))  # The same directory.
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    resumed = config["resumed_from_epoch"]
    assert resumed >= backed_up >= 1 and config["status"] == "finished"
    relative = os.path.relpath(run_dir, tmp_path)
    assert f"resuming {relative} at epoch {resumed + 1}" in second.stdout
    assert f"Epoch {resumed + 1}/8" in second.stdout and "Epoch 1/8" not in second.stdout
    assert _epochs(run_dir) == list(range(8))  # Every epoch logged once across both processes.
    assert second.stdout.strip().splitlines()[-1].startswith(f"kerascnn: run directory {relative}")
