"""A search shared by a chief and two workers (keras-tuner's chief/worker mode, real `kerascnn tune`
processes on 127.0.0.1); a worker killed with -9 mid-trial, then restarted with the same id or
replaced by another worker, does not lose the search."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time

import pytest

import kerascnn
from kerascnn.tuning import distributed

_SPACE = {"depth": 1, "width": [16, 32], "activation": "relu", "augmentation_strength": 0.0}

# A worker whose trial number $HANG_AT (1 for its first) stops after one batch, writing
# $HANG_MARKER: killed there, it dies in the middle of training, as a crashed machine would.
_HANGING_WORKER = """
import os, sys, time
import keras
from kerascnn import cli
from kerascnn.tuning import search

real_fit = search.FamilyHyperModel.fit
calls = []

class Hang(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        open(os.environ["HANG_MARKER"], "w").close()
        time.sleep(3600)

def fit(self, hp, model, *args, callbacks=None, **kwargs):
    calls.append(1)
    if len(calls) == int(os.environ["HANG_AT"]):
        callbacks = [*(callbacks or []), Hang()]
    return real_fit(self, hp, model, *args, callbacks=callbacks, **kwargs)

search.FamilyHyperModel.fit = fit
sys.exit(cli.main(sys.argv[1:]))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Search:
    """`kerascnn tune mlp --data digits` processes of one distributed search, logging to files."""

    def __init__(self, tmp_path, max_trials, worker_timeout):
        self.tmp_path, self.run_dir = tmp_path, tmp_path / "run"
        self.marker = tmp_path / "hanging"
        self.args = ["tune", "mlp", "--data", "digits", "--max-trials", str(max_trials),
                     "--epochs", "1", "--input-shape", "8,8,1", "--batch-size", "64",
                     "--search-space", json.dumps(_SPACE), "--run-dir", str(self.run_dir),
                     "--verbose", "0", "--chief", f"127.0.0.1:{_free_port()}"]
        self.timeout = ["--worker-timeout", str(worker_timeout)]
        self.processes = []

    def start(self, name, *options, hang_at=0):
        log = self.tmp_path / f"{name}.log"
        code = ["-c", _HANGING_WORKER] if hang_at else ["-m", "kerascnn.cli"]
        env = dict(os.environ, HANG_MARKER=str(self.marker), HANG_AT=str(hang_at))
        process = subprocess.Popen([sys.executable, *code, *self.args, *options],
                                   stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
        process.log = log
        self.processes.append(process)
        return process

    def wait_for(self, condition, process, limit=240.0):
        deadline = time.monotonic() + limit
        while not condition():
            assert process.poll() is None, process.log.read_text()[-3000:]
            assert time.monotonic() < deadline, process.log.read_text()[-3000:]
            time.sleep(0.2)

    def finish(self, *processes, limit=300):
        for process in processes:
            assert process.wait(timeout=limit) == 0, process.log.read_text()[-3000:]

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def trials(self):
        with open(self.run_dir / "trials.csv") as f:
            return {row["trial_id"]: row for row in csv.DictReader(f)}


def _hung_trial(search, hang_at):
    """Starts the chief and worker 2, which hangs in its trial number `hang_at`; kills it (-9)
    there. Returns the chief and the hung trial's id."""
    chief = search.start("chief", *search.timeout)
    hanging = search.start("worker2", "--worker-id", "2", hang_at=hang_at)
    search.wait_for(search.marker.exists, hanging)
    hanging.kill()
    hanging.wait()
    assigned = distributed.read_assignments(search.run_dir / "search")
    assert len(assigned) == hang_at and set(assigned.values()) == {"tuner2"}
    return chief, max(assigned)


def _check_results(search, trials):
    rows = search.trials()
    assert len(rows) == trials and all(r["status"] == "COMPLETED" for r in rows.values()), rows
    for trial_id in rows:  # Every trial's kerascnn run is in the chief's run directory.
        assert (search.run_dir / "search" / f"trial_{trial_id}" / "run" / "history.csv").is_file()
    assert json.loads((search.run_dir / "tune.json").read_text())["status"] == "finished"
    best = json.loads((search.run_dir / "best_hyperparameters.json").read_text())
    model = kerascnn.load(search.run_dir / "best.keras")
    assert model.get_layer("fc1_dense").units == best["width"]
    return rows


@pytest.mark.slow
def test_trials_spread_over_two_workers_and_a_lost_workers_trial_runs_again(tmp_path):
    # Worker 2 alone runs trial 0, then is killed in trial 1; worker 1 joins and runs the rest,
    # trial 1 too once the chief has heard nothing from worker 2 for 3 s.
    search = _Search(tmp_path, max_trials=3, worker_timeout=3)
    try:
        chief, hung = _hung_trial(search, hang_at=2)
        worker1 = search.start("worker1", "--worker-id", "1")
        search.finish(worker1, chief)
        assert f"lost worker tuner2 (silent for more than 3 s); trial {hung} goes to the next " \
               "worker" in chief.log.read_text()
        rows = _check_results(search, 3)
        assert [r["worker"] for _, r in sorted(rows.items())] == ["tuner2", "tuner1", "tuner1"]
        ran = worker1.log.read_text().split("trials run here: ")[1].split(";")[0]
        assert sorted(ran.split(", ")) == ["1", "2"]
        assert "best.keras" in chief.log.read_text().splitlines()[-1]
    finally:
        search.stop()


@pytest.mark.slow
def test_killed_worker_restarted_with_its_id_resumes_its_trial(tmp_path):
    search = _Search(tmp_path, max_trials=1, worker_timeout=300)
    try:
        chief, hung = _hung_trial(search, hang_at=1)
        again = search.start("worker2-again", "--worker-id", "2")
        search.finish(again, chief)
        assert f"runs trial {hung}\n" in again.log.read_text()  # Its ongoing trial waited for it.
        assert _check_results(search, 1)[hung]["worker"] == "tuner2"
    finally:
        search.stop()


def test_cluster_options_are_validated(monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.plan_cluster() is None
    assert distributed.plan_cluster("10.0.0.1:8000").is_chief
    worker = distributed.plan_cluster("10.0.0.1:8000", 3, worker_timeout=5)
    assert (worker.tuner_id, worker.address, worker.worker_timeout) == ("tuner3", "10.0.0.1:8000", 5)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "10.0.0.2")  # keras-tuner's own variables.
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8001")
    with pytest.raises(ValueError, match="KERASTUNER_TUNER_ID"):
        distributed.plan_cluster()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner7")
    assert distributed.plan_cluster().address == "10.0.0.2:8001"
    with pytest.raises(ValueError, match=r"--chief must be HOST:PORT .* Received: chief='x'"):
        distributed.plan_cluster("x")
    with pytest.raises(ValueError, match="without 'chief'.*Received: worker_id='chief2'"):
        distributed.plan_cluster("h:1", "chief2")
    with pytest.raises(ValueError, match="Received: worker_id='1', chief=None"):
        distributed.plan_cluster(None, "1")
    with pytest.raises(ValueError, match="Received: worker_timeout=0"):
        distributed.plan_cluster("h:1", worker_timeout=0)
    with pytest.raises(ValueError, match="run directory"):
        kerascnn.tune("mlp", "digits", chief="127.0.0.1:1", worker_id=1)


def test_a_trial_trained_before_its_worker_was_lost_is_not_trained_again(tmp_path):
    from kerascnn.tuning import trial_runs

    (tmp_path / "config.json").write_text(json.dumps({"status": "running"}))
    (tmp_path / "history.csv").write_text("epoch,loss,val_accuracy\n0,0.9,0.5\n1,0.7,0.75\n")
    assert trial_runs.finished_run(str(tmp_path)) is None  # Interrupted: it resumes instead.
    (tmp_path / "config.json").write_text(json.dumps({"status": "finished"}))
    assert trial_runs.finished_run(str(tmp_path)) == {"loss": 0.7, "val_accuracy": 0.75}
