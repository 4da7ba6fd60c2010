"""The kerascnn run inside each keras-tuner trial: its best metrics, a finished one reused, and a
stale one (left by an attempt keras-tuner never recorded) discarded."""

from __future__ import annotations

import json
import os
import shutil

__all__ = ["best", "finished_run", "claim_run_dir"]


def best(history) -> dict:
    """Each metric's best value over the run (lowest loss, highest anything else)."""
    best = {}
    for metric, series in history.items():
        if len(series) and metric not in ("epoch", "learning_rate"):
            best[metric] = float((min if "loss" in metric else max)(series))
    return best


def finished_run(run_dir):
    """The best metrics of a trial whose kerascnn run already finished (in a distributed search,
    a worker may die between training and reporting), else None."""
    from kerascnn.training import rundir

    config = rundir.read_config(run_dir) if run_dir else None
    if not config or config.get("status") not in ("finished", "diverged"):
        return None
    return best(rundir.read_history(os.path.join(run_dir, "history.csv"))) or None


def claim_run_dir(run_dir, values: dict) -> None:
    """Records the trial's hyperparameters in its run directory, first discarding a run left there
    with other values: a search stopped before keras-tuner recorded the trial creates it again,
    under the same id, with new values, and that earlier run can neither resume nor count."""
    if not run_dir:
        return
    path = os.path.join(run_dir, "hyperparameters.json")
    recorded = None
    if os.path.exists(path):
        try:
            with open(path) as f:
                recorded = json.load(f)
        except (OSError, ValueError):
            recorded = None
    wanted = json.loads(json.dumps(values, default=repr))
    if os.path.isdir(run_dir) and os.listdir(run_dir) and recorded != wanted:
        print(f"kerascnn: {run_dir} holds an earlier attempt at this trial with other "
              "hyperparameters; starting the trial afresh", flush=True)
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(wanted, f, indent=2)
