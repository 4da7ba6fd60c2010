"""A search on several processes or machines: keras-tuner's chief/worker mode, surviving lost workers.

keras-tuner distributes a search when three environment variables are set: `KERASTUNER_TUNER_ID`
("chief" on the chief, a distinct name on each worker), `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` (where the chief serves its oracle over gRPC). The chief trains nothing: it
hands trials out (`create_trial`), records their results (`update_trial`, `end_trial`) and returns
once every worker that asked has been told the search is over. The workers train the trials and save
them into the run directory, which is therefore shared by all of them (the same path everywhere).

keras-tuner never notices a worker that dies: the dead worker's trial stays "ongoing" and the chief
waits for it forever. Two ways out are handled here:
- a worker restarted with the same id is handed its ongoing trial again (keras-tuner's
  `Oracle.create_trial`), and the trial's kerascnn run resumes from its last checkpoint;
- each worker sends the chief a heartbeat every few seconds (an extra gRPC method on the oracle's
  port); the trial of a worker silent for `worker_timeout` seconds goes back to the oracle's retry
  queue, as keras-tuner does for trials a restarted chief finds ongoing, and the next worker to ask
  runs it. A worker that was merely cut off learns at its next heartbeat that the trial is no longer
  its own, abandons it and reports nothing for it. So that someone is left to run such a trial, a
  worker told that no trial is left stays (keras-tuner's "IDLE" answer, asked again every
  moment) while other workers' trials are still running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import threading
import time

import keras
from keras_tuner.src.engine.oracle import synchronized

__all__ = ["Cluster", "plan_cluster", "environment", "serve", "Heartbeat", "TrialLost",
           "DEFAULT_WORKER_TIMEOUT"]

DEFAULT_WORKER_TIMEOUT = 60.0
_VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
_HEARTBEAT = "/kerascnn.tuning.Search/Heartbeat"
_WORKERS_FILE = "workers.json"


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process stands in a distributed search.

    Attributes:
        tuner_id: keras-tuner's id: "chief", or the worker's name ("tuner1" for `--worker-id 1`).
        host, port: The chief's address (it listens there; the workers call it).
        worker_timeout: Seconds a worker may stay silent before the chief gives its trial away.
    """

    tuner_id: str
    host: str
    port: int
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT

    @property
    def is_chief(self) -> bool:
        return "chief" in self.tuner_id  # keras-tuner's own test (`is_chief_oracle`).

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _address(chief: str) -> tuple[str, int]:
    host, _, port = str(chief).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--chief must be HOST:PORT (a port in 1-65535). Received: chief={chief!r}")
    return host.strip("[]"), int(port)


def _tuner_id(worker_id) -> str:
    text = str(worker_id)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text) or "chief" in text:
        raise ValueError(
            "--worker-id must be a number or a name of letters, digits, '_', '.' and '-' without "
            f"'chief' (keras-tuner takes any id containing it for the chief). Received: "
            f"worker_id={worker_id!r}"
        )
    return f"tuner{text}" if text.isdigit() else text


def plan_cluster(chief=None, worker_id=None, worker_timeout=None, environ=None) -> Cluster | None:
    """This process's part in a distributed search, or None for a search on this process alone.

    `chief` alone makes this process the chief; `chief` and `worker_id` make it a worker. Without
    `chief`, keras-tuner's own variables are read from `environ` (default `os.environ`), so a
    cluster set up as keras-tuner documents it works unchanged.

    Raises:
        ValueError: For a malformed address, id or timeout, or a worker id without a chief.
    """
    environ = os.environ if environ is None else environ
    if worker_timeout is None:
        worker_timeout = DEFAULT_WORKER_TIMEOUT
    elif isinstance(worker_timeout, bool) or not isinstance(worker_timeout, (int, float)) or \
            not worker_timeout > 0:
        raise ValueError(
            f"worker_timeout must be a positive number of seconds. Received: "
            f"worker_timeout={worker_timeout!r}"
        )
    if chief is None:
        if worker_id is not None:
            raise ValueError(
                f"A worker needs the chief's address (--chief HOST:PORT). Received: "
                f"worker_id={worker_id!r}, chief=None"
            )
        if "KERASTUNER_ORACLE_IP" not in environ:
            return None
        missing = [name for name in _VARIABLES if not environ.get(name)]
        if missing:
            raise ValueError(f"KERASTUNER_ORACLE_IP is set but {', '.join(missing)} is not. "
                             f"Received: KERASTUNER_ORACLE_IP={environ['KERASTUNER_ORACLE_IP']!r}")
        host, port = _address(f"{environ['KERASTUNER_ORACLE_IP']}:"
                              f"{environ['KERASTUNER_ORACLE_PORT']}")
        return Cluster(environ["KERASTUNER_TUNER_ID"], host, port, float(worker_timeout))
    host, port = _address(chief)
    tuner_id = "chief" if worker_id is None else _tuner_id(worker_id)
    return Cluster(tuner_id, host, port, float(worker_timeout))


@contextlib.contextmanager
def environment(cluster: Cluster | None):
    """Sets keras-tuner's variables for `cluster` while the tuner is built and searches."""
    saved = {name: os.environ.get(name) for name in _VARIABLES}
    if cluster is not None:
        os.environ.update({"KERASTUNER_TUNER_ID": cluster.tuner_id,
                           "KERASTUNER_ORACLE_IP": cluster.host,
                           "KERASTUNER_ORACLE_PORT": str(cluster.port)})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _encode(value) -> bytes:
    return json.dumps(value).encode()


def _decode(data: bytes):
    return json.loads(data.decode())


class _Chief:
    """The chief's bookkeeping beyond keras-tuner's oracle: when each worker was last heard from,
    and which worker ran each trial (`search/workers.json`, the `worker` column of trials.csv)."""

    def __init__(self, oracle, cluster: Cluster):
        self.oracle = oracle
        self.cluster = cluster
        self.lock = threading.Lock()
        self.last_seen = {}
        self.failure = None  # keras-tuner's error once too many trials failed.
        self.path = os.path.join(oracle._project_dir, _WORKERS_FILE)
        self.assigned = read_assignments(os.path.dirname(self.path))

    def seen(self, tuner_id):
        with self.lock:
            self.last_seen[tuner_id] = time.monotonic()

    def assign(self, tuner_id, trial_id):
        with self.lock:
            self.assigned[trial_id] = tuner_id
            with open(self.path + ".partial", "w") as f:
                json.dump(self.assigned, f, indent=2)
            os.replace(self.path + ".partial", self.path)

    def heartbeat(self, request: bytes, context) -> bytes:
        message = _decode(request)
        tuner_id, trial_id = message.get("tuner_id"), message.get("trial_id")
        self.seen(tuner_id)
        ongoing = self.oracle.ongoing_trials.get(tuner_id)
        owned = trial_id is None or (ongoing is not None and ongoing.trial_id == trial_id)
        return _encode({"owned": owned, "interval": _interval(self.cluster.worker_timeout)})

    def silent(self) -> list:
        """Workers keras-tuner still waits for that have not been heard from in time."""
        now, known = time.monotonic(), set(self.oracle.tuner_ids) | set(self.oracle.ongoing_trials)
        with self.lock:
            for tuner_id in known:
                self.last_seen.setdefault(tuner_id, now)
            return [t for t in known if now - self.last_seen[t] > self.cluster.worker_timeout]


def _interval(worker_timeout: float) -> float:
    return max(0.2, min(10.0, worker_timeout / 5))


def read_assignments(search_dir) -> dict:
    """`{trial_id: worker}` as the chief recorded it (empty for a search on one process)."""
    try:
        with open(os.path.join(search_dir, _WORKERS_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


@synchronized
def _release(oracle, tuner_id):
    """Forgets a lost worker; its ongoing trial goes to the retry queue (as `Oracle.reload` does)."""
    trial = oracle.ongoing_trials.pop(tuner_id, None)
    oracle.tuner_ids.discard(tuner_id)
    if trial is not None:
        oracle._retry_queue.append(trial.trial_id)
        oracle.save()
    return trial


def _end_failed(oracle, trial_id):
    """Finishes what `Oracle.end_trial` left undone when it raised for too many failed trials.

    keras-tuner's `synchronized` does not release the oracle's lock when the method raises: it is
    released here, or every later call (the chief's own exit check too) would wait forever.
    """
    from keras_tuner.src.engine import oracle as oracle_module

    if oracle_module.THREADS[oracle] == threading.current_thread().name:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()
    _finish_failed(oracle, trial_id)


@synchronized
def _finish_failed(oracle, trial_id):
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        if trial.trial_id == trial_id:
            oracle.ongoing_trials.pop(tuner_id)
    oracle._save_trial(oracle.trials[trial_id])
    oracle.save()


@synchronized
def _forget_ended(oracle):
    """Takes trials that ended off the retry queue: a worker still running a trial while the chief
    restarted (which queues every ongoing trial again) reports it to the new chief."""
    oracle._retry_queue[:] = [t for t in oracle._retry_queue
                              if oracle.trials[t].status not in ("COMPLETED", "FAILED")]


def _done(oracle) -> bool:
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    return exit_chief(oracle)


def serve(oracle, cluster: Cluster, poll: float = 0.5) -> None:
    """Serves `oracle` to the workers until the search is over (keras-tuner's `start_server`, plus
    the heartbeat method, lost-worker handling and an exit checked every `poll` seconds, not 20).

    Raises:
        ValueError: When the chief's address cannot be listened on.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine import trial as trial_module

    chief = _Chief(oracle, cluster)

    class Servicer(OracleServicer):
        def CreateTrial(self, request, context):  # noqa: N802 (gRPC's name)
            chief.seen(request.tuner_id)
            if chief.failure:  # The search failed: every worker that asks is told to stop.
                self.stop_triggered = True
                oracle.tuner_ids.discard(request.tuner_id)
                stopped = trial_module.Trial(oracle.get_space(), status="STOPPED")
                return protos.get_service().CreateTrialResponse(trial=stopped.to_proto())
            _forget_ended(oracle)
            response = super().CreateTrial(request, context)
            if trial_module.Trial.from_proto(response.trial).status == "STOPPED" and any(
                    t != request.tuner_id for t in oracle.ongoing_trials):
                # Not yet: another worker's trial may still be lost and need this one. keras-tuner
                # took the worker off its list; it stays on it, and asks again in a moment.
                oracle.tuner_ids.add(request.tuner_id)
                time.sleep(poll)
                idle = trial_module.Trial(oracle.get_space(), status="IDLE")
                return type(response)(trial=idle.to_proto())
            ongoing = oracle.ongoing_trials.get(request.tuner_id)
            if ongoing is not None and ongoing.trial_id == response.trial.trial_id:
                chief.assign(request.tuner_id, ongoing.trial_id)
            return response

        def EndTrial(self, request, context):  # noqa: N802 (gRPC's name)
            try:
                return super().EndTrial(request, context)
            except RuntimeError as error:  # keras-tuner's limit of consecutive failed trials.
                chief.failure = str(error)
                _end_failed(oracle, request.trial.trial_id)
                return protos.get_service().EndTrialResponse()

    servicer = Servicer(oracle)
    # Idle workers hold a thread a moment each (see CreateTrial): room for them and heartbeats.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        _HEARTBEAT.split("/")[1], {"Heartbeat": grpc.unary_unary_rpc_method_handler(
            chief.heartbeat)}),))
    try:
        bound = server.add_insecure_port(cluster.address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise ValueError(f"The chief cannot listen on {cluster.address} (in use, or not an address "
                         f"of this machine). Received: chief={cluster.address!r}")
    server.start()
    reach = cluster.address if cluster.host not in ("0.0.0.0", "::") else f"HOST:{cluster.port}"
    print(f"kerascnn: search chief serving at {cluster.address}; start workers with "
          f"--chief {reach} --worker-id N", flush=True)
    try:
        while not (servicer.stop_triggered and _done(oracle)):
            time.sleep(poll)
            for tuner_id in chief.silent():
                trial = _release(oracle, tuner_id)
                what = f"; trial {trial.trial_id} goes to the next worker" if trial else ""
                print(f"kerascnn: lost worker {tuner_id} (silent for more than "
                      f"{cluster.worker_timeout:g} s){what}", flush=True)
    finally:
        server.stop(grace=1)
    if chief.failure:  # As `Tuner.search` raises it on one process.
        raise RuntimeError(chief.failure)


class TrialLost(Exception):
    """The chief gave this worker's trial to another worker: the trial stops here."""


class Heartbeat:
    """A worker's thread telling the chief it is alive, and learning when its trial was given away.

    Args:
        cluster: The worker's `Cluster`.
    """

    def __init__(self, cluster: Cluster):
        import grpc

        self.cluster = cluster
        self.trial_id = None
        self.lost = set()
        self._channel = grpc.insecure_channel(cluster.address)
        self._call = self._channel.unary_unary(_HEARTBEAT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="kerascnn-heartbeat", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._channel.close()

    def _beat(self):
        import grpc

        interval = 1.0
        while not self._stop.is_set():
            trial_id = self.trial_id
            try:
                reply = _decode(self._call(_encode({"tuner_id": self.cluster.tuner_id,
                                                    "trial_id": trial_id}), timeout=10))
                interval = float(reply.get("interval", interval))
                if trial_id is not None and not reply.get("owned", True):
                    self.lost.add(trial_id)
            except (grpc.RpcError, ValueError):
                pass  # The chief is busy or restarting; keras-tuner's own calls wait for it.
            self._stop.wait(interval)

    def callback(self, trial_id) -> keras.callbacks.Callback:
        """Stops the trial's training at the next batch once the chief gave the trial away."""
        heartbeat = self

        class StopLostTrial(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if trial_id in heartbeat.lost:
                    raise TrialLost(f"trial {trial_id} was given to another worker")

        return StopLostTrial()
