"""Waiting for a cluster's other workers before TensorFlow does: visibly, stoppably, with a limit.

Creating a `tf.distribute.MultiWorkerMirroredStrategy` blocks in TensorFlow's C++ runtime until
every task of `TF_CONFIG` answers, holding the interpreter: a worker whose peer was never started (a
typo in its address, a crashed machine) waits forever, prints nothing, and neither Ctrl-C nor
SIGTERM reaches Python. So each worker first meets its peers in plain Python: it listens on its
own address (the kernel completes connections without an `accept`, so no thread is needed) and
connects to every other task's address until all answer, saying periodically whom it waits for.
Only then does TensorFlow start its own servers on the same ports. Signals work throughout, and
after `timeout` seconds the wait ends with an error naming the unreachable workers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time


__all__ = ["DEFAULT_TIMEOUT", "TIMEOUT_VARIABLE", "peers", "wait_for_workers", "worker_timeout"]

# A cluster's machines are usually started by hand or by a scheduler within minutes of each other.
DEFAULT_TIMEOUT = 600.0
TIMEOUT_VARIABLE = "KERASCNN_WORKER_TIMEOUT"


def worker_timeout(value=None) -> float:
    """The wait limit in seconds: `value`, else `$KERASCNN_WORKER_TIMEOUT`, else 600.

    Raises:
        ValueError: If the limit is not a positive number of seconds.
    """
    name = "worker_timeout"
    if value is None:
        text = os.environ.get(TIMEOUT_VARIABLE)
        if not text:
            return DEFAULT_TIMEOUT
        name = TIMEOUT_VARIABLE
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds. Received: {name}={text!r}") \
                from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds. Received: {name}={value!r}")
    return float(value)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"TF_CONFIG addresses must be host:port. Received: address={address!r}")
    return host.strip("[]"), int(port)


def peers(config: dict) -> tuple[str, list[tuple[str, str]]]:
    """This task's address and the `(task name, address)` of every other task in `config`."""
    task = config.get("task", {})
    own = (task.get("type"), task.get("index"))
    others, mine = [], None
    for kind, addresses in config.get("cluster", {}).items():
        for index, address in enumerate(addresses):
            if (kind, index) == own:
                mine = address
            else:
                others.append((f"{kind} {index}", address))
    if mine is None:
        raise ValueError(f"TF_CONFIG's task is not in its cluster. Received: task={task!r}")
    return mine, others


def _answers(address: str) -> bool:
    try:
        with socket.create_connection(_split(address), timeout=1.0):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _listening(address: str):
    """Accept connections on this task's port while waiting, so that peers see it is alive."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", _split(address)[1]))
        listener.listen(64)
    except OSError:
        # Already taken (TensorFlow's server of an earlier attempt in this process): it answers.
        listener.close()
        listener = None
    try:
        yield
    finally:
        if listener is not None:
            listener.close()


@contextlib.contextmanager
def _sigterm_exits():
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # Not the main thread: signals cannot be handled here.
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_for_workers(config: dict, timeout: float | None = None, *, report_every: float = 10.0,
                     poll: float = 0.5, stream=None) -> None:
    """Returns once every other task of `config` (a parsed `TF_CONFIG`) accepts connections.

    Args:
        config: The cluster and this task, as `TF_CONFIG` gives them.
        timeout: Seconds to wait (default: `worker_timeout()`).
        report_every: Seconds between the lines naming the tasks still awaited.
        poll: Seconds between connection attempts.
        stream: Where the waiting lines go (default: standard error).

    Raises:
        ValueError: After `timeout` seconds, naming the tasks that never answered (the
            command line prints it as one line).
        SystemExit: With status 143 on SIGTERM; Ctrl-C raises KeyboardInterrupt as usual.
    """
    limit = worker_timeout(timeout)
    stream = stream or sys.stderr
    mine, others = peers(config)
    start = time.monotonic()
    next_report = start + min(report_every, 2.0)
    with _sigterm_exits(), _listening(mine):
        while True:
            missing = [(name, address) for name, address in others if not _answers(address)]
            if not missing:
                return
            now = time.monotonic()
            names = ", ".join(f"{name} at {address}" for name, address in missing)
            if now - start >= limit:
                raise ValueError(
                    f"Gave up after {limit:g} s waiting for {names} (unreachable from {mine}): "
                    f"check the addresses in TF_CONFIG and that every worker was started "
                    f"(--worker-timeout sets the wait). Received: worker_timeout={limit:g}"
                )
            if now >= next_report:
                print(f"Waiting for {len(missing)} of {len(others)} other workers: {names} "
                      f"({now - start:.0f} s of {limit:g} s; Ctrl-C stops)", file=stream,
                      flush=True)
                next_report = now + report_every
            time.sleep(poll)
