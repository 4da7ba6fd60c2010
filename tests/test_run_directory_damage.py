"""Shared and damaged run directories: a live run's lock refuses a second run, a dead run's lock
is taken over; damaged checkpoints, backups, config.json and history.csv are reported in one line
and the run resumes from the newest intact state; a failed write keeps what was there."""

import csv
import errno
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.training import backup, callbacks, damage, locks, rundir

SMALL = {"epochs": 3, "batch_size": 8, "verbose": 0, "report": False, "augmentation": None,
         "recipe": "lenet"}


def _net():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1_conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(x),
                       name="tiny")


def _arrays(n=48):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


def _epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


class _KillAfter(keras.callbacks.Callback):
    """Ends the process's run after epoch `epoch` (0-based) is logged and backed up."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("killed")


# --- locks --------------------------------------------------------------------------------------

def _write_lock(run_dir, pid, host=None):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, locks.LOCK_FILE), "w") as handle:
        json.dump({"pid": pid, "host": host or socket.gethostname(), "command": "kerascnn train x",
                   "since": "2026-01-01T00:00:00"}, handle)


def test_a_live_runs_lock_refuses_a_second_run_and_a_dead_runs_is_taken_over(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        _write_lock(tmp_path / "live", live.pid)
        with pytest.raises(locks.RunDirectoryLocked,
                           match=rf"in use by process {live.pid} on {socket.gethostname()} "
                                 r"\(kerascnn train x"):
            # Through train: refused before any data is read or any file written.
            kerascnn.train(_net(), _arrays(), run_dir=str(tmp_path / "live"), **SMALL)
        assert sorted(os.listdir(tmp_path / "live")) == [locks.LOCK_FILE]

        _write_lock(tmp_path / "dead", dead.pid)
        with locks.holding(str(tmp_path / "dead")):
            assert locks.holder(str(tmp_path / "dead"))["pid"] == os.getpid()
        assert locks.holder(str(tmp_path / "dead")) is None  # Released at the end.

        # Another host's lock cannot be checked from here: refused, saying what to delete.
        _write_lock(tmp_path / "far", dead.pid, host="elsewhere.example")
        with pytest.raises(locks.RunDirectoryLocked, match="if that process is gone, delete"):
            with locks.holding(str(tmp_path / "far")):
                pass
        # A lock its writer died writing (empty) is taken over.
        (tmp_path / "torn").mkdir()
        (tmp_path / "torn" / locks.LOCK_FILE).write_text("")
        with locks.holding(str(tmp_path / "torn")):
            pass
    finally:
        live.kill()
        live.wait()


# --- damaged files on resume --------------------------------------------------------------------

def test_damaged_files_are_reported_and_the_run_resumes_from_the_newest_intact_state(
        tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    with pytest.raises(RuntimeError, match="killed"):
        kerascnn.train(_net(), _arrays(), run_dir=run_dir, callbacks=[_KillAfter(1)], **SMALL)
    state = json.loads((tmp_path / "run" / "backup" / backup.STATE).read_text())
    assert state["epoch"] == 2
    # The newest backup's weights cut short, the checkpoints truncated and overwritten, a torn
    # row at the end of the history, config.json cut short.
    newest = os.path.join(run_dir, "backup", state["weights"])
    with open(newest, "r+b") as handle:
        handle.truncate(os.path.getsize(newest) // 2)
    with open(os.path.join(run_dir, "last.keras"), "r+b") as handle:
        handle.truncate(100)
    with open(os.path.join(run_dir, "best.keras"), "wb") as handle:
        handle.write(b"\0" * 1000)
    with open(os.path.join(run_dir, "history.csv"), "a") as handle:
        handle.write("2,0.5,0.0")
    config = (tmp_path / "run" / "config.json").read_text()
    (tmp_path / "run" / "config.json").write_text(config[:len(config) // 2])
    capsys.readouterr()

    result = kerascnn.train(_net(), _arrays(), run_dir=run_dir, **SMALL)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert any(f"{newest} is missing or damaged: resuming from the previous backup (epoch 1)"
               in line for line in warnings), warnings
    for name in ("last.keras", "best.keras", "config.json", "history.csv"):
        assert sum(name in line for line in warnings) == 1, (name, warnings)
    assert result.config["resumed_from_epoch"] == 1 and result.config["status"] == "finished"
    assert _epochs(run_dir) == [0, 1, 2]  # The torn row and the lost epoch trained again.
    for name in ("last.keras", "best.keras"):  # Written again, the damaged ones kept aside.
        assert damage.intact_keras_file(os.path.join(run_dir, name))
        assert os.path.exists(os.path.join(run_dir, name + ".damaged"))
    assert rundir.read_config(run_dir)["status"] == "finished"


def test_history_and_backup_damage_is_read_without_a_traceback(tmp_path):
    history = tmp_path / "history.csv"
    history.write_bytes(b"\x00\xff garbage\n\x00")
    assert "is damaged" in callbacks.trim_history(str(history), 2)
    assert not history.exists() and (tmp_path / "history.csv.damaged").exists()
    assert callbacks.best_so_far(str(history), "val_accuracy") is None

    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / backup.STATE).write_text('{"epoch": ')
    notes = []
    assert backup.newest_state(str(tmp_path / "backup"), notes) is None
    assert notes and "no intact backup, the run starts again from its first epoch" in notes[0]
    assert backup.resumed_epoch(str(tmp_path / "backup")) == 0


# --- failed writes ------------------------------------------------------------------------------

def _disk_full(*args, **kwargs):
    path = args[-1] if args and isinstance(args[-1], str) else kwargs.get("filepath", "")
    if path:
        with open(path, "wb") as handle:
            handle.write(b"half")  # What a write cut off by a full disk leaves.
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_keeps_the_previous_checkpoint_and_names_the_path(tmp_path, monkeypatch):
    model = _net()
    model.compile("sgd", "sparse_categorical_crossentropy")
    last = str(tmp_path / "last.keras")
    model.save(last)
    before = open(last, "rb").read()
    guard = callbacks.DivergenceGuard()
    saver = backup.ResumableBackup(str(tmp_path / "backup"), guard, phase="train")
    saver.set_model(model)
    saver.save(1)
    state = backup.newest_state(str(tmp_path / "backup"))

    monkeypatch.setattr(keras.Model, "save", lambda self, path, **kw: _disk_full(path))
    monkeypatch.setattr(keras.Model, "save_weights", lambda self, path, **kw: _disk_full(path))
    checkpoint = callbacks.AtomicCheckpoint(last, guard)
    checkpoint.set_model(model)
    with pytest.raises(backup.CheckpointWriteError, match=f"Could not write {last}: No space"):
        checkpoint.on_epoch_end(0, {})
    assert open(last, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["backup", "last.keras"]  # No partial file left.
    with pytest.raises(backup.CheckpointWriteError, match="backup: No space left") as failed:
        saver.save(2, batches_done=3)
    assert failed.value.errno == errno.ENOSPC
    assert backup.newest_state(str(tmp_path / "backup")) == state

    monkeypatch.setattr(json, "dump", lambda *a, **k: _disk_full())
    with pytest.raises(backup.CheckpointWriteError, match="config.json: No space left"):
        rundir.write_config(str(tmp_path), {"status": "running"})
    assert not os.path.exists(tmp_path / "config.json.partial")


def test_a_failed_export_leaves_the_earlier_version_intact(tmp_path, monkeypatch):
    from kerascnn import saving

    model = _net()
    first = rundir.export_model(model, str(tmp_path / "export" / "1"), None, "unit")
    listing = sorted(os.listdir(first))
    monkeypatch.setattr(saving, "_write_savedmodel", lambda *args: _disk_full())
    with pytest.raises(backup.CheckpointWriteError, match=r"export/2: No space left"):
        rundir.export_model(model, str(tmp_path / "export" / "2"), None, "unit")
    assert os.listdir(tmp_path / "export") == ["1"]  # No second version, no staging left.
    assert sorted(os.listdir(first)) == listing


def test_a_full_disk_during_training_names_the_run_directory(tmp_path, monkeypatch):
    def full(self, epoch, logs=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", full)
    run_dir = str(tmp_path / "run")
    with pytest.raises(backup.CheckpointWriteError,
                       match=f"Could not write {run_dir}: No space left on device"):
        kerascnn.train(_net(), _arrays(), run_dir=run_dir, **{**SMALL, "epochs": 1})
    assert rundir.read_config(run_dir)["status"] == "running"  # The same command resumes it.


def test_a_damaged_config_without_a_backup_is_refused_not_overwritten(tmp_path):
    (tmp_path / "config.json").write_text('{"status": "fini')
    (tmp_path / "history.csv").write_text("epoch,accuracy\n0,0.5\n")
    with pytest.raises(FileExistsError, match="config.json is damaged and it holds no backup"):
        rundir.resolve_run_dir(str(tmp_path), "tiny", {})
    (tmp_path / "backup").mkdir()
    assert rundir.resolve_run_dir(str(tmp_path), "tiny", {}) == (str(tmp_path), True)
