"""`kerascnn.tune`: keras-tuner searches over a family's knobs, every trial a `kerascnn.train` run.

The search lives in a run directory:

    RUN_DIR/tune.json               the configuration (and its fingerprint) and status
    RUN_DIR/search/                 keras-tuner's oracle and trials; each trial's kerascnn run
                                    (config.json, history.csv, best.keras ...) in trial_*/run/
    RUN_DIR/trials.csv              one row per trial: id, status, score, knob values
    RUN_DIR/best_hyperparameters.json
    RUN_DIR/best.keras              the best model, rebuilt from its knobs with its trial's weights

Running the same search again (same run directory, or the newest unfinished one of the same
configuration under `runs/`) resumes it: keras-tuner reloads its oracle, finished trials are kept,
and the interrupted trial runs again, itself resuming from its last epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import json
import os
import time

import keras
import keras_tuner as kt

from kerascnn import validation
from kerascnn.tuning import distributed, trial_runs
from kerascnn.tuning.spaces import builder_options, space_for

__all__ = ["TuneResult", "FamilyHyperModel", "tune", "TUNERS", "augmentation_for"]

TUNERS = ("random", "hyperband", "bayesian")
_CONFIG = "tune.json"


def augmentation_for(strength: float):
    """The notes' label-preserving transforms at `strength` in [0, 1] (None at 0).

    At full strength: translation by up to 15% of the size, rotation and shear up to 20 and 15
    degrees, stretch by up to 15%; flips are left out (they change what a digit or letter is).
    """
    if strength <= 0:
        return None
    return [
        ("translation", {"height_factor": 0.15 * strength, "width_factor": 0.15 * strength,
                         "fill_mode": "constant"}),
        ("rotation", {"degrees": 20.0 * strength, "fill_mode": "constant"}),
        ("shear", {"degrees": 15.0 * strength, "fill_mode": "constant"}),
        ("stretch", {"factor": 0.15 * strength, "fill_mode": "constant"}),
    ]


def _declare(hp, knob: str, spec, default=None):
    kind = spec[0]
    if kind == "int":
        return hp.Int(knob, spec[1], spec[2])
    if kind == "float":
        return hp.Float(knob, spec[1], spec[2], sampling=spec[3])
    if kind == "choice":
        values = list(spec[1])
        return hp.Choice(knob, values, default=default if default in values else None)
    if kind == "bool":
        return hp.Boolean(knob)
    return hp.Fixed(knob, spec[1])


class FamilyHyperModel(kt.HyperModel):
    """A keras-tuner HyperModel for one model family, trained by `kerascnn.train`.

    Args:
        name: The registered model the search starts from (its family sets the knobs).
        num_classes: Classes of the data.
        input_shape: The model's input shape.
        space: `{knob: spec}` (see `kerascnn.tuning.spaces`).
        data: What `kerascnn.train` takes as `data`.
        epochs: Epochs per trial (keras-tuner's Hyperband passes its own).
        train_kwargs: More `kerascnn.train` arguments (batch_size, seed, verbose ...).
    """

    def __init__(self, name, num_classes, input_shape, space, data, epochs, train_kwargs):
        super().__init__(name=f"{name}_hypermodel")
        from kerascnn.registry import get_entry

        self.model_name = name
        self.family = get_entry(name).family
        self.num_classes = num_classes
        self.input_shape = tuple(input_shape)
        self.space = space
        self.data = data
        self.epochs = epochs
        self.train_kwargs = dict(train_kwargs)

    def build(self, hp) -> keras.Model:
        from kerascnn.registry import build

        # The model the search was asked about is the variants' default (keras-tuner's first trial).
        values = {knob: _declare(hp, knob, spec, self.model_name if knob == "variant" else None)
                  for knob, spec in self.space.items()}
        name = values.get("variant") or self.model_name
        return build(name, num_classes=self.num_classes, input_shape=self.input_shape,
                     **builder_options(self.family, values))

    def fit(self, hp, model, *args, run_dir=None, callbacks=None, epochs=None, initial_epoch=0,
            **kwargs):
        import kerascnn
        from kerascnn.registry import get_entry
        from kerascnn.training.recipes import recipe_for

        values = hp.values
        recipe = recipe_for(get_entry(values.get("variant") or self.model_name).family,
                            self.input_shape)
        recipe = dataclasses.replace(recipe, weight_decay=float(values["weight_decay"]))
        total = (epochs or self.epochs) - (initial_epoch or 0)
        done = trial_runs.finished_run(run_dir)
        if done is not None:  # Trained already: its worker was lost before it reported.
            return done
        trial_runs.claim_run_dir(run_dir, values)
        result = kerascnn.train(
            model, self.data, recipe=recipe, epochs=max(1, total),
            learning_rate=float(values["learning_rate"]),
            augmentation=augmentation_for(float(values["augmentation_strength"])),
            run_dir=run_dir, callbacks=list(callbacks or []), **self.train_kwargs,
        )
        return trial_runs.best(result.history)


def _with_trial_run_dirs(base):
    class Tuner(base):
        """Gives each trial's `kerascnn.train` run a directory inside keras-tuner's trial; in a
        distributed search, serves the chief (`distributed.serve`) or keeps a worker's heartbeat."""

        cluster = None  # A `distributed.Cluster` in a distributed search.
        heartbeat = None

        def search(self, *args, **kwargs):
            if self.cluster is not None and self.cluster.is_chief:
                self.oracle.verbose = kwargs.get("verbose", 1)
                self.save()
                distributed.serve(self.oracle, self.cluster)
                return
            super().search(*args, **kwargs)

        def on_search_begin(self):
            if self.cluster is not None:
                self.heartbeat = distributed.Heartbeat(self.cluster).start()
                self.ran = []
            super().on_search_begin()

        def on_search_end(self):
            if self.heartbeat is not None:
                self.heartbeat.stop()
            super().on_search_end()

        def on_trial_begin(self, trial):
            if self.heartbeat is not None:
                self.heartbeat.trial_id = trial.trial_id
                print(f"kerascnn: worker {self.cluster.tuner_id} runs trial {trial.trial_id}",
                      flush=True)
            super().on_trial_begin(trial)

        def on_trial_end(self, trial):
            if self.heartbeat is not None:
                self.heartbeat.trial_id = None
                if trial.trial_id in self.heartbeat.lost:
                    print(f"kerascnn: trial {trial.trial_id} went to another worker while this "
                          "one was cut off from the chief; its result here is dropped", flush=True)
                    return
                self.ran.append(trial.trial_id)
            super().on_trial_end(trial)

        def run_trial(self, trial, *args, **kwargs):
            kwargs["run_dir"] = os.path.join(self.get_trial_dir(trial.trial_id), "run")
            if self.heartbeat is not None:
                kwargs["callbacks"] = [*kwargs.get("callbacks", []),
                                       self.heartbeat.callback(trial.trial_id)]
            return super().run_trial(trial, *args, **kwargs)

    Tuner.__name__ = base.__name__
    return Tuner


_TUNER_CLASSES = {
    "random": _with_trial_run_dirs(kt.RandomSearch),
    "hyperband": _with_trial_run_dirs(kt.Hyperband),
    "bayesian": _with_trial_run_dirs(kt.BayesianOptimization),
}


@dataclasses.dataclass
class TuneResult:
    """What a search produced.

    Attributes:
        model: The best model (rebuilt from its knobs, its trial's best weights loaded).
        hyperparameters: The best knob values.
        trials: One dict per trial: `trial_id`, `status`, `score`, and the knob values.
        run_dir: The search's run directory.
    """

    model: keras.Model
    hyperparameters: dict
    trials: list
    run_dir: str


def _resolve_run_dir(run_dir, name, config) -> str:
    from kerascnn.training.rundir import fingerprint

    wanted = fingerprint(config)
    if run_dir is None:
        for candidate in sorted(glob.glob(os.path.join("runs", f"tune-{name}-*")), reverse=True):
            old = _read(candidate)
            if old and old.get("status") == "running" and old.get("fingerprint") == wanted:
                return candidate
        return os.path.join("runs", f"tune-{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    old = _read(run_dir)
    if old and old.get("fingerprint") != wanted:
        raise ValueError(
            "run_dir holds a search with another configuration, which cannot be resumed; choose "
            f"another directory. Received: run_dir={os.fspath(run_dir)!r}"
        )
    return os.fspath(run_dir)


def _read(run_dir):
    try:
        with open(os.path.join(run_dir, _CONFIG)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write(run_dir, config):
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, _CONFIG)
    with open(path + ".partial", "w") as f:
        json.dump(config, f, indent=2, default=repr)
    os.replace(path + ".partial", path)


def _make_tuner(kind, hypermodel, objective, max_trials, epochs, seed, run_dir):
    common = {"objective": kt.Objective(objective, "min" if "loss" in objective else "max"),
              "seed": seed, "directory": run_dir, "project_name": "search", "overwrite": False,
              "max_consecutive_failed_trials": 1}
    if kind == "hyperband":
        return _TUNER_CLASSES[kind](hypermodel, max_epochs=epochs, factor=3,
                                    hyperband_iterations=1, **common)
    return _TUNER_CLASSES[kind](hypermodel, max_trials=max_trials, **common)


def _write_results(tuner, run_dir) -> list:
    rows = []
    workers = distributed.read_assignments(tuner.project_dir)
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id):
        score = None if trial.score is None else float(trial.score)
        ran_by = {"worker": workers.get(trial.trial_id)} if workers else {}
        rows.append({"trial_id": trial.trial_id, "status": trial.status, "score": score,
                     **ran_by, **trial.hyperparameters.values})
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(os.path.join(run_dir, "trials.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def tune(name: str, data, *, tuner: str = "random", max_trials: int = 10, epochs: int = 5,
         objective: str = "val_accuracy", search_space: dict | None = None, input_shape=None,
         run_dir=None, batch_size=None, seed: int = 0, jit_compile=False, verbose=0,
         chief: str | None = None, worker_id=None, worker_timeout=None) -> TuneResult:
    """Searches a model family's knobs with keras-tuner; every trial is a `kerascnn.train` run.

    Args:
        name: A registered model name; its family decides the knobs (`kerascnn.tuning.spaces`).
        data: What `kerascnn.train` takes (an image folder, "digits", a tfds name, arrays ...).
        tuner: "random", "hyperband" or "bayesian" (default "random").
        max_trials: Trials for random and Bayesian search (Hyperband sizes its own brackets).
        epochs: Epochs per trial (Hyperband's maximum).
        objective: Metric to optimize (default "val_accuracy"; names with "loss" are minimized).
        search_space: `{knob: value}` overrides: a list is a choice, a `(low, high)` pair a range,
            anything else a fixed value (`{"variant": ["resnet20", "resnet32"]}`).
        input_shape: The models' input shape (default the registry's).
        run_dir: The search directory (default: `runs/tune-NAME-TIME`, or the newest unfinished
            search of the same configuration there, which is then resumed).
        batch_size, seed, jit_compile, verbose: Passed to each trial's `kerascnn.train`.
        chief: "HOST:PORT" of a distributed search's chief (keras-tuner's chief/worker mode,
            `kerascnn.tuning.distributed`). Alone, this process is the chief: it serves the search
            there and writes the results; with `worker_id`, it is a worker that trains the trials
            the chief hands out. Default: keras-tuner's `KERASTUNER_*` variables if set, else a
            search on this process alone.
        worker_id: A worker's id (a number or a name); a worker restarted with the same id resumes
            its unfinished trial. Every process uses the same `run_dir` (a shared path).
        worker_timeout: On the chief: seconds a worker may be silent before its trial goes to the
            next worker that asks (default 60).

    Returns:
        A `TuneResult`; `RUN_DIR/best.keras` holds the best model. A worker's result has no model:
        `trials` lists the trials it ran, `hyperparameters` is empty.

    Raises:
        ValueError: For invalid arguments, or a run directory holding another search.
    """
    from kerascnn.data import load
    from kerascnn.registry import get_entry

    entry = get_entry(name)
    cluster = distributed.plan_cluster(chief, worker_id, worker_timeout)
    if cluster is not None and not cluster.is_chief and run_dir is None:
        raise ValueError("A worker of a distributed search needs the chief's run directory "
                         f"(--run-dir, a shared path). Received: run_dir=None, chief={chief!r}")
    validation.check_choice(tuner, "tuner", TUNERS)
    validation.check_positive_int(max_trials, "max_trials")
    validation.check_positive_int(epochs, "epochs")
    space = space_for(entry.family, search_space, entry.builder)
    variants = space.get("variant")
    if variants and variants[0] == "choice" and name not in variants[1] and \
            "variant" not in (search_space or {}):
        space["variant"] = ("choice", (name, *variants[1]))  # Never search around the asked model.
    input_shape = tuple(input_shape or entry.default_input_shape)
    if len(input_shape) != 3:  # Flat-input families (MLP) train on images they flatten.
        from kerascnn.training.plan import flat_as_image

        input_shape = flat_as_image(input_shape)
    bundle = load(data, input_shape=input_shape, verbose=0, seed=seed)
    config = {"model": name, "family": entry.family, "tuner": tuner, "max_trials": max_trials,
              "epochs": epochs, "objective": objective, "input_shape": list(input_shape),
              "search_space": {k: list(v) for k, v in space.items()}, "batch_size": batch_size,
              "seed": seed, "data": data if isinstance(data, str) else type(data).__name__,
              "class_names": bundle.class_names}
    run_dir = _resolve_run_dir(run_dir, name, config)
    from kerascnn.training.rundir import fingerprint

    worker = cluster is not None and not cluster.is_chief
    if not worker:  # The chief alone owns tune.json and the results.
        _write(run_dir, {**config, "fingerprint": fingerprint(config), "status": "running"})
    # No per-trial report (matplotlib figures): it would cost more than a short trial trains.
    train_kwargs = {"seed": seed, "jit_compile": jit_compile, "verbose": verbose, "report": False}
    if batch_size is not None:
        train_kwargs["batch_size"] = batch_size
    hypermodel = FamilyHyperModel(name, bundle.num_classes, input_shape, space, data, epochs,
                                  train_kwargs)
    with distributed.environment(cluster):  # keras-tuner reads its variables as it builds.
        search = _make_tuner(tuner, hypermodel, objective, max_trials, epochs, seed, run_dir)
        search.cluster = cluster
        search.search(verbose=verbose)
    if worker:
        return TuneResult(None, {}, [{"trial_id": t} for t in search.ran], run_dir)
    trials = _write_results(search, run_dir)
    best_hp = search.get_best_hyperparameters(1)[0]
    model = search.get_best_models(1)[0]
    model.save(os.path.join(run_dir, "best.keras"))
    best = {k: v for k, v in best_hp.values.items() if not k.startswith("tuner/")}
    with open(os.path.join(run_dir, "best_hyperparameters.json"), "w") as f:
        json.dump(best, f, indent=2)
    _write(run_dir, {**config, "fingerprint": fingerprint(config), "status": "finished",
                     "best_hyperparameters": best})
    return TuneResult(model, best, trials, run_dir)
