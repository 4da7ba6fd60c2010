"""A lone worker of a two-worker cluster: it says whom it waits for, stops on Ctrl-C and SIGTERM,
and gives up after the worker timeout with a one-line error (real `kerascnn` processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from kerascnn.training import rendezvous

pytestmark = pytest.mark.slow


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _worker(cluster, index, run_dir, epochs=1, options=(), env=None, **popen):
    """`kerascnn train lenet5 --data digits` as worker `index` of `cluster`."""
    env = dict(env or os.environ, TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    command = [sys.executable, "-m", "kerascnn.cli", "train", "lenet5", "--data", "digits",
               "--epochs", str(epochs), "--strategy", "multi_worker", "--no-report",
               # Small and few steps: the collectives, not the arithmetic, are under test.
               "--input-shape", "16,16,1", "--batch-size", "64",
               "--run-dir", str(run_dir), *options]
    return subprocess.Popen(command, text=True, env=env, **popen)


def _lone_worker(tmp_path, name, timeout):
    """Starts worker 0 of a two-worker cluster whose worker 1 never starts."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    # The limit through the option once, through the environment variable otherwise.
    env = dict(os.environ, **{rendezvous.TIMEOUT_VARIABLE: str(timeout)})
    options = ("--worker-timeout", str(timeout)) if timeout < 60 else ()
    if options:
        env.pop(rendezvous.TIMEOUT_VARIABLE)
    process = _worker(cluster, 0, tmp_path / name, options=options, env=env,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, cluster["worker"][1]


def _wait_for_line(process, text, limit=240.0):
    """Reads stderr until a line contains `text`; returns the lines read."""
    lines, deadline = [], time.monotonic() + limit
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no line with {text!r} in:\n{''.join(lines)[-3000:]}")


def test_lone_worker_reports_stops_on_signals_and_times_out(tmp_path):
    timing_out, missing = _lone_worker(tmp_path, "timeout", 8)
    interrupted, missing_2 = _lone_worker(tmp_path, "sigint", 600)
    terminated, missing_3 = _lone_worker(tmp_path, "sigterm", 600)
    try:
        for process, address in ((interrupted, missing_2), (terminated, missing_3)):
            lines = _wait_for_line(process, "Waiting for 1 of 1 other workers")
            assert f"worker 1 at {address}" in lines[-1]
        stopped_at = time.monotonic()
        interrupted.send_signal(signal.SIGINT)
        terminated.send_signal(signal.SIGTERM)
        assert interrupted.wait(timeout=30) in (130, -signal.SIGINT)
        assert terminated.wait(timeout=30) == 143
        # Seconds, not the 600 s wait.
        assert time.monotonic() - stopped_at < 30

        _, errors = timing_out.communicate(timeout=300)
        assert timing_out.returncode != 0
        assert f"Waiting for 1 of 1 other workers: worker 1 at {missing}" in errors
        final = [line for line in errors.splitlines() if line.strip()][-1]
        assert "Gave up after 8 s waiting for worker 1 at " + missing in final
        assert "Traceback" not in errors
    finally:
        for process in (timing_out, interrupted, terminated):
            if process.poll() is None:
                process.kill()


def test_worker_timeout_is_validated(monkeypatch):
    monkeypatch.setenv(rendezvous.TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ValueError, match="KERASCNN_WORKER_TIMEOUT must be a number of seconds"):
        rendezvous.worker_timeout()
    with pytest.raises(ValueError, match=r"Received: worker_timeout=0"):
        rendezvous.worker_timeout(0)
    monkeypatch.delenv(rendezvous.TIMEOUT_VARIABLE)
    assert rendezvous.worker_timeout() == rendezvous.DEFAULT_TIMEOUT


def test_workers_that_answer_are_not_awaited():
    # A peer listening on its port counts as present: the wait returns at once.
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(1)
    own_port = _free_ports(1)[0]
    config = {"cluster": {"worker": [f"127.0.0.1:{own_port}",
                                     f"127.0.0.1:{peer.getsockname()[1]}"]},
              "task": {"type": "worker", "index": 0}}
    try:
        started = time.monotonic()
        rendezvous.wait_for_workers(config, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        peer.close()


def _weights(path):
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def test_worker_killed_mid_run_stops_the_other_and_both_resume(tmp_path):
    import numpy as np

    from kerascnn.training import multiworker

    run_dir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [_worker(cluster, i, run_dir, epochs=2, stdout=open(logs[i], "w"),
                       stderr=subprocess.STDOUT) for i in range(2)]
    try:
        deadline = time.monotonic() + 300
        while "Epoch 2/2" not in logs[1].read_text() and time.monotonic() < deadline:
            assert workers[1].poll() is None, logs[1].read_text()[-3000:]
            time.sleep(0.5)
        workers[1].kill()
        killed_at = time.monotonic()
        code = workers[0].wait(timeout=120)
        # TensorFlow's coordination service misses the heartbeats within seconds.
        assert time.monotonic() - killed_at < 120
        output = logs[0].read_text()
        assert code != 0
        assert f"kerascnn: error: Lost worker 1 at {cluster['worker'][1]}" in output
        assert "Traceback" not in output
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    restarted = [_worker(cluster, i, run_dir, epochs=2, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT) for i in range(2)]
    outputs = [worker.communicate(timeout=400)[0] for worker in restarted]
    for worker, output in zip(restarted, outputs):
        assert worker.returncode == 0, output[-3000:]
        assert "Epoch 2/2" in output and "Epoch 1/2" not in output  # Resumed, not restarted.
    with open(run_dir / "history.csv") as handle:
        assert len(handle.read().strip().splitlines()) == 3  # Header and two epochs.
    other = multiworker.worker_dir(str(run_dir), {"cluster": cluster,
                                                 "task": {"type": "worker", "index": 1}})
    for a, b in zip(_weights(run_dir / "last.keras"), _weights(os.path.join(other, "last.keras"))):
        np.testing.assert_array_equal(a, b)
