"""Executing a `TrainPlan`: `Run(plan).execute()` is `start()`, one `fit_phase` per phase, and
`finish()`.

- `start` loads the data, builds (or adapts) the model, finds the epoch a resumed run continues
  from, says what the run will do and writes `config.json` with status "running".
- `fit_phase` freezes, compiles and fits one phase: Keras's `model.fit` over the phase's epochs of
  the run, under the plan's strategy, with `callbacks(phase)`.
- `finish` keeps the last good weights after a divergence, exports, records the outcome in
  `config.json` and writes the run report.

The epochs of every phase are epochs of one run directory (see `rundir.py`): one history.csv,
best/last checkpoints, TensorBoard logs and one backup to resume from, which records its phase.

`execute` holds the run directory's lock (`locks.py`) from `start` to `finish` and handles
SIGTERM and SIGINT (`signals.py`: a checkpoint after the current step, then `RunInterrupted`);
`resume` reads a resumed run's state back, setting aside what is damaged (`damage.py`,
`backup.py`), and a run stopped in the middle of an epoch trains the rest of that epoch first.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import shutil
import sys
import tempfile
import time

import keras
import tensorflow as tf

from kerascnn.data.counting import batches_per_pass
from kerascnn.training import backup, compiling, damage, locks, multiworker, optim, rundir, signals
from kerascnn.training import callbacks as run_callbacks
from kerascnn.training.building import build_model, inference_model, shard_by_data
from kerascnn.training.compiling import MAIN_OUTPUT
from kerascnn.training.plan import Phase, TrainPlan

__all__ = ["Run", "RunOutcome", "build_model", "inference_model"]  # re-exported

_STAMP = "%Y-%m-%dT%H:%M:%S"
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG)


@dataclasses.dataclass
class RunOutcome:
    """What `Run.finish` returns: the trained model (all outputs), the whole run's history, the
    last epoch's logs, the final config, the export path, and whether and why it diverged."""

    model: keras.Model
    history: dict
    run_dir: str | None
    metrics: dict
    config: dict
    export_path: str | None = None
    diverged: bool = False
    message: str = ""


class Run:
    """One execution of a `TrainPlan`.

    Attributes:
        plan: The plan.
        write_dir: Where this process writes (the run directory; a worker's own on non-chiefs).
        model, bundle: The model and the loaded data, once started.
        config: The run's `config.json` content.
        resumed_from: The epoch a resumed run continues from (0 for a new run).
        guard: The `DivergenceGuard` shared by every phase.
    """

    def __init__(self, plan: TrainPlan):
        self.plan = plan
        self.write_dir = plan.write_dir
        self.model = self.bundle = self.config = self.guard = None
        self.resumed_from = self._resumed_batches = 0
        self._backup_phase = None
        self._damaged = ()
        self.signals = signals.SignalState(plan.run_dir or "the run")
        self._started = time.time()
        self._outputs = [MAIN_OUTPUT]
        self._steps_per_epoch = self._steps_per_call = 1
        self._jit = False

    # --- paths ------------------------------------------------------------------------------

    def path(self, name: str) -> str:
        return os.path.join(self.write_dir, name)

    @property
    def _endless(self) -> bool:  # A call of several steps does not stop at an epoch's end.
        return self._steps_per_epoch % self._steps_per_call == 0

    @property
    def quiet(self) -> bool:
        return self.plan.verbose == 0

    # --- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Loads the data, builds the model, resolves the resume point, writes config.json."""
        plan = self.plan
        if plan.temporary:
            self.write_dir = tempfile.mkdtemp(prefix=f"kerascnn-{plan.task}-")
        keras.utils.set_random_seed(plan.seed)
        image_transform = compiling.image_transform(plan.recipe, plan.seed)
        self.bundle = plan.data.load(
            input_shape=plan.model.input_shape, batch_size=plan.batch_size,
            # Progress bars of its own (scanning a folder) only where fit draws them too.
            augmentation=plan.augmentation, verbose=1 if plan.verbose == 1 else 0,
            image_transform=image_transform)
        self.model = build_model(plan.model, self.bundle.num_classes, plan.strategy)
        per_pass = batches_per_pass(self.bundle.train_examples, plan.batch_size)
        self._steps_per_epoch = per_pass * plan.passes_per_epoch
        from kerascnn.training.execution import resolve_steps_per_execution
        from kerascnn.training.xla import resolve_jit_compile

        self._jit = resolve_jit_compile(plan.jit_compile, self.model, plan.strategy,
                                        plan.model.family, plan.epochs * self._steps_per_epoch)
        self._steps_per_call = resolve_steps_per_execution(
            plan.steps_per_execution, plan.strategy, plan.model.family, self._steps_per_epoch)
        if plan.recipe.optimizer != "adamw":  # AdamW decays weights itself, decoupled.
            optim.apply_weight_decay(self.model, plan.recipe.weight_decay,
                                     plan.recipe.decay_norm_and_bias)
        self.guard = run_callbacks.DivergenceGuard(self.path("last.keras"))
        self.config = self._start_config()
        if plan.resume:
            self.resume()
        self._announce()
        rundir.write_config(self.write_dir, self.config)

    def _start_config(self) -> dict:
        plan, bundle = self.plan, self.bundle
        advice = None
        from kerascnn.training.advice import NO_VALIDATION, data_advice

        if plan.task == "train":
            advice = data_advice(plan.model.name, bundle.train_examples, bundle.num_classes,
                                 sum(math.prod(v.shape) for v in self.model.trainable_weights))
        if bundle.validation is None:
            advice = f"{advice} {NO_VALIDATION}" if advice else NO_VALIDATION
        earlier = dict(plan.earlier or {})
        return {
            **plan.config(), "advice": advice, "class_names": list(bundle.class_names),
            "num_classes": bundle.num_classes, "train_examples": bundle.train_examples,
            "validation_examples": bundle.validation_examples, "xla": self._jit,
            "steps_per_execution": self._steps_per_call, "status": "running",
            "run_dir": None if plan.temporary else os.path.abspath(plan.run_dir),
            "started": earlier.get("started") or time.strftime(_STAMP),
            "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        }

    def resume(self) -> int:
        """Finds the newest intact backup state, drops later rows of history.csv (which a killed
        run may have logged without backing up) and sets damaged files aside, saying so in one
        line each; returns the epoch the run resumes from."""
        notes = [damage.config_damaged(self.write_dir)]
        state = backup.newest_state(self.path("backup"), notes) or {}
        self.resumed_from = int(state.get("epoch", 0))
        self._resumed_batches = int(state.get("batches_done", 0))
        self._backup_phase = state.get("phase")
        notes.append(run_callbacks.trim_history(self.path("history.csv"), self.resumed_from))
        lines, self._damaged = damage.set_aside_damaged_checkpoints(self.write_dir)
        for note in filter(None, notes + lines):
            print(f"kerascnn: warning: {note}", file=sys.stderr, flush=True)
        self.config["resumed_from_epoch"] = self.resumed_from
        return self.resumed_from

    def _announce(self) -> None:
        if self.quiet:
            return
        plan, bundle = self.plan, self.bundle
        batch = f", batch {self._resumed_batches + 1}" if self._resumed_batches else ""
        where = (f"resuming {plan.run_dir} at epoch {self.resumed_from + 1}{batch}" if plan.resume
                 else "no run directory kept" if plan.temporary
                 else f"run directory {plan.run_dir}")
        passes = plan.passes_per_epoch
        if plan.task == "train":
            what = (f"training {plan.model.name} on {bundle.train_examples} images "
                    f"({bundle.validation_examples} held out), recipe {plan.recipe.name}, "
                    f"{plan.epochs} epochs{f' of {passes} passes' if passes > 1 else ''}")
        else:
            phases = ", then ".join(f"{p.epochs} epochs of {p.name}" for p in plan.phases)
            what = (f"fine-tuning {plan.model.name} on {bundle.train_examples} images "
                    f"({bundle.validation_examples} held out): {phases or 'no epochs'}")
        rate = plan.phases[0].learning_rate if plan.phases else 0.0
        print(f"kerascnn: {what}, batch {plan.batch_size}, learning rate {rate:g}, "
              f"{self.config['strategy']['replicas']} replica(s), "
              f"XLA {'on' if self._jit else 'off'}; {where}", flush=True)
        if self.config.get("advice"):
            print(f"kerascnn: note: {self.config['advice']}", flush=True)

    # --- phases -----------------------------------------------------------------------------

    def phase_range(self, phase: Phase) -> tuple[int, int]:
        """The run's epochs `[first, end)` that `phase` trains."""
        first = 0
        for other in self.plan.phases:
            if other is phase:
                return first, first + phase.epochs
            first += other.epochs
        raise ValueError(f"The phase is not in the plan. Received: phase={phase.name!r}")

    def _skip(self, phase: Phase) -> bool:
        """A phase a resumed run has finished, unless its backup holds the weights to restore."""
        end = self.phase_range(phase)[1]
        return end <= self.resumed_from and self._backup_phase not in (None, phase.name)

    def compile_phase(self, phase: Phase) -> None:
        """Freezes the phase's groups and compiles the model with the phase's optimizer."""
        plan, model = self.plan, self.model
        if phase.prepare is not None:
            phase.prepare(model)
        schedule = optim.make_schedule(plan.recipe, phase.learning_rate, plan.epochs,
                                       self._steps_per_epoch)
        with plan.strategy.scope():
            optimizer = optim.make_optimizer(plan.recipe, schedule)
            if phase.multipliers:
                from kerascnn.group_learning_rates import GroupLearningRates

                optimizer = GroupLearningRates(optimizer, dict(phase.multipliers),
                                               default_multiplier=0.0)
            self._outputs = compiling.compile_model(model, plan.recipe, optimizer,
                                                    self.bundle.num_classes, self._jit,
                                                    self._steps_per_call)

    def callbacks(self, phase: Phase, data_callbacks=(), batch_offset: int = 0) -> list:
        """The phase's callbacks, in order: divergence guard, replica sync, logs, backup,
        checkpoints, the signal checkpoint, TensorBoard, the caller's, and the progress display.
        `batch_offset`: batches of the first epoch trained before (a resumed epoch's rest)."""
        plan = self.plan
        monitor = "val_accuracy" if self.bundle.validation is not None else "accuracy"
        history_path = self.path("history.csv")
        saver = backup.ResumableBackup(self.path("backup"), self.guard, phase=phase.name)
        # A best checkpoint set aside as damaged is written again at the next epoch.
        best = None if "best.keras" in self._damaged else run_callbacks.best_so_far(
            history_path, monitor)
        listed = [self.guard, multiworker.SyncReplicaVariables(plan.strategy)]
        if len(self._outputs) > 1:
            listed.append(run_callbacks.MainOutputLogs(MAIN_OUTPUT))
        listed += optim.plateau_callbacks(plan.recipe, phase.learning_rate, monitor,
                                          self._steps_per_epoch)
        listed += list(data_callbacks)
        return listed + [
            run_callbacks.LearningRateLogger(),
            keras.callbacks.CSVLogger(history_path, append=True),
            saver,
            # After the backup, which must hold the raw weights, and before the checkpoints,
            # which then hold the averaged ones (as does the model when fit ends).
            *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if plan.recipe.ema_decay
              else []),
            run_callbacks.AtomicCheckpoint(
                self.path("best.keras"), self.guard, monitor, best=True, initial_best=best),
            run_callbacks.AtomicCheckpoint(self.path("last.keras"), self.guard),
            *self._signal_callbacks(saver, batch_offset),
            keras.callbacks.TensorBoard(self.path("logs"), write_graph=False, profile_batch=0),
            *plan.callbacks,
            *([run_callbacks.RunProgress(plan.epochs)] if plan.verbose else []),
        ]

    def _signal_callbacks(self, saver, batch_offset: int) -> list:
        plan = self.plan
        checkpoint = signals.SignalCheckpoint(self.signals, saver,
                                              None if plan.temporary else plan.run_dir,
                                              bool(plan.cluster), batch_offset)
        if not plan.cluster:
            return [checkpoint]
        from kerascnn.training.preemption import CoordinatedStop

        return [CoordinatedStop(plan.strategy, self.signals, saver, checkpoint.interrupted,
                                # Non-chiefs' handlers write beside it: all in preemption/.
                                os.path.join(self.path("preemption"), "handler"), batch_offset),
                checkpoint]

    def _pipelines(self, phase: Phase):
        plan, bundle = self.plan, self.bundle
        transform, data_callbacks = compiling.batch_transform(
            plan.recipe, bundle.num_classes, plan.seed, plan.epochs)
        one_hot = bundle.num_classes if plan.recipe.soft_labels else None
        if self._endless:
            # Read `steps_per_epoch` batches at a time, Keras keeps one iterator for the whole
            # fit, where a finite dataset costs two new ones per epoch (each instantiates the
            # augmentation's functions again: most of a tiny epoch's time).
            train = bundle.train.repeat()
        else:  # Over a finite dataset, each call stops at the epoch's end.
            passes = plan.passes_per_epoch
            train = bundle.train.repeat(passes) if passes > 1 else bundle.train
        if transform is not None:
            train = transform(train)
        return (shard_by_data(compiling.for_outputs(train, self._outputs, one_hot)),
                shard_by_data(compiling.for_outputs(bundle.validation, self._outputs, one_hot)),
                data_callbacks)

    def fit_phase(self, phase: Phase) -> None:
        """Trains one phase (a no-op for one a resumed run has finished, or after divergence)."""
        if self.guard.diverged or not phase.epochs or self._skip(phase):
            return
        first, end = self.phase_range(phase)
        self.compile_phase(phase)
        train, validation, data_callbacks = self._pipelines(phase)
        fits = [(first, end, None, 0)]
        done = self._resumed_batches
        if done and first <= self.resumed_from < end and self._backup_phase in (None, phase.name):
            # Stopped in the middle of an epoch: the rest of that epoch first, then the others.
            rest = max(1, self._steps_per_epoch - done)
            fits = [(self.resumed_from, self.resumed_from + 1, rest, done), (first, end, None, 0)]
            self._resumed_batches = 0
        every_epoch = self._steps_per_epoch if self._endless else None  # None: the dataset's.
        try:
            for start, stop, steps, offset in fits:
                # The backup sets where a phase resumes; a value left by an earlier fit must not.
                self.model._initial_epoch = None
                # The pipeline shuffles; Keras's own shuffle does not apply to datasets.
                self.model.fit(train, validation_data=validation, initial_epoch=start,
                               epochs=stop, steps_per_epoch=steps or every_epoch,
                               callbacks=self.callbacks(phase, data_callbacks, offset),
                               verbose=self.plan.verbose, shuffle=False)
        except tf.errors.OpError as error:
            cluster = dict(self.plan.cluster) if self.plan.cluster else None
            lost = multiworker.lost_worker_message(error, cluster)
            if lost is None:
                raise
            raise multiworker.LostWorkerError(lost) from None
        except OSError as error:  # history.csv or TensorBoard's logs on a full disk: name where.
            if isinstance(error, backup.CheckpointWriteError) or error.errno not in _WRITE_ERRORS:
                raise
            raise backup.write_failed(error.filename or self.write_dir, error) from None

    # --- finish -----------------------------------------------------------------------------

    def finish(self) -> RunOutcome:
        """Records the outcome; exports and reports on the chief; returns a `RunOutcome`."""
        plan, guard = self.plan, self.guard
        last = self.path("last.keras")
        if guard.diverged and os.path.exists(last):
            self.model.set_weights(keras.saving.load_model(last, compile=False).get_weights())
        for state in ("backup", "preemption"):
            shutil.rmtree(self.path(state), ignore_errors=True)
        history = rundir.read_history(self.path("history.csv"))
        metrics = {k: v[-1] for k, v in history.items() if v and k != "epoch"}
        export_path = None
        if plan.export_dir and not guard.diverged and plan.is_chief:
            export_path = rundir.export_model(inference_model(self.model), plan.export_dir,
                                              self.bundle.class_names, plan.data.normalization)
        self.config.update(status="diverged" if guard.diverged else "finished",
                           finished=time.strftime(_STAMP), final_metrics=metrics,
                           export_path=export_path, message=guard.message,
                           duration_s=round(time.time() - self._started, 1))
        if plan.task != "train" and not plan.temporary:
            self._write_phase_files(history)
        rundir.write_config(self.write_dir, self.config)
        if export_path and not self.quiet:
            print(f"kerascnn: exported to {export_path}", flush=True)
        if plan.report and plan.is_chief and not plan.temporary:
            rundir.write_report(plan.run_dir, self.bundle.validation, self.quiet, plan.data)
        return RunOutcome(self.model, history, plan.run_dir, metrics, self.config, export_path,
                          bool(guard.diverged), guard.message)

    def _write_phase_files(self, history: dict) -> None:
        """`model.keras` (the final model) and `history.json` (the history split by phase)."""
        self.model.save(self.path("model.keras"))
        epochs = [int(e) for e in history.get("epoch", [])]
        phases = {}
        for phase in self.plan.phases:
            first, end = self.phase_range(phase)
            rows = [i for i, e in enumerate(epochs) if first <= e < end]
            if rows:
                phases[phase.name] = {k: [v[i] for i in rows] for k, v in history.items()
                                      if k != "epoch"}
        with open(self.path("history.json"), "w") as handle:
            json.dump(phases, handle, indent=2)

    def execute(self) -> RunOutcome:
        """`start`, every phase, `finish`, holding the run directory's lock and handling
        SIGTERM and SIGINT; a temporary run directory is removed even when the run is
        interrupted.

        Raises:
            locks.RunDirectoryLocked: If a live process holds the run directory.
            signals.RunInterrupted: After SIGTERM or SIGINT (the message says how to resume).
        """
        try:
            with locks.holding(None if self.plan.temporary else self.write_dir), \
                    signals.handling_signals(self.signals):
                self.start()
                self.signals.stage = "between"
                for phase in self.plan.phases:
                    self.fit_phase(phase)
                self.signals.stage = "finishing"
                outcome = self.finish()
                if self.signals.signum is not None:  # It came while the run was finishing.
                    raise self.signals.stop_now(self.signals.signum,
                                                "after the run finished: nothing to resume")
                return outcome
        finally:
            if self.plan.temporary and self.write_dir:
                shutil.rmtree(self.write_dir, ignore_errors=True)
