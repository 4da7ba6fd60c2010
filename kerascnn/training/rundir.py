"""Run directories: where a run writes, and whether running the same command again resumes it.

A run directory holds `config.json` (the resolved configuration, with a `fingerprint` of everything
that determines the run and a `status`: "running", "finished" or "diverged"), `history.csv`,
`logs/` (TensorBoard), `best.keras`, `last.keras` and, while the run is unfinished, `backup/`
(Keras's `BackupAndRestore`, with the phase its epoch belongs to). A fine-tuning run, whose two
phases are epochs of one run, adds `model.keras` (the final model) and `history.json` (the
history by phase). While a run is alive it holds `run.lock` (its pid, host and command; see
`locks.py`). The backup keeps its previous state until a new one is complete (`backup.py`); a
resumed run sets damaged files aside as `NAME.damaged` (`damage.py`).

Without an explicit directory a run goes to `runs/<model>-<timestamp>/`, unless an unfinished run
of the same configuration is already there: then that run is resumed, which is what makes a killed
`kerascnn train ...` continue when the same command is run again.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time

__all__ = ["CONFIG_FILE", "fingerprint", "read_config", "write_config", "resolve_run_dir",
           "read_history", "write_report", "export_target", "export_model"]

CONFIG_FILE = "config.json"
DEFAULT_ROOT = "runs"
# Config keys that do not change what a run computes, so they are left out of its fingerprint.
_VOLATILE = ("run_dir", "fingerprint", "status", "started", "finished", "final_metrics",
             "export_path", "message", "versions", "duration_s", "resumed_from_epoch",
             # Derived from the data and the machine once the run starts:
             "class_names", "num_classes", "train_examples", "validation_examples", "xla",
             "advice")


def fingerprint(config: dict) -> str:
    """A short hash of the configuration keys that determine the run."""
    stable = {k: v for k, v in config.items() if k not in _VOLATILE}
    text = json.dumps(stable, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_config(run_dir: str) -> dict | None:
    """The run's `config.json`, or None when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(run_dir, CONFIG_FILE)) as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def write_config(run_dir: str, config: dict) -> None:
    """Writes `config.json` atomically (a failed write keeps the previous one and raises
    `backup.CheckpointWriteError` naming the path)."""
    path = os.path.join(run_dir, CONFIG_FILE)
    try:
        os.makedirs(run_dir, exist_ok=True)
        with open(path + ".partial", "w") as handle:
            json.dump(config, handle, indent=2, sort_keys=True, default=repr)
        os.replace(path + ".partial", path)
    except BaseException as error:  # A full disk, or a second Ctrl-C: no partial file left.
        if os.path.exists(path + ".partial"):
            os.remove(path + ".partial")
        if not isinstance(error, OSError):
            raise
        from kerascnn.training.backup import write_failed

        raise write_failed(path, error) from None


def _differences(old: dict, new: dict) -> list[str]:
    keys = sorted(k for k in set(old) | set(new) if k not in _VOLATILE and old.get(k) != new.get(k))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys]


def _check_existing(run_dir: str, config: dict) -> bool:
    """True when `run_dir` holds an unfinished run of `config` to resume; raises on a conflict."""
    old = read_config(run_dir)
    if old is None:
        if not os.path.exists(os.path.join(run_dir, CONFIG_FILE)):
            return False
        # A damaged config.json: an unfinished run resumes from its backup (`Run.resume` says
        # so); without one it may be a finished run, whose results a new run would overwrite.
        if os.path.isdir(os.path.join(run_dir, "backup")):
            return True
        if any(os.path.exists(os.path.join(run_dir, name))
               for name in ("history.csv", "last.keras", "best.keras")):
            raise FileExistsError(
                f"run_dir's {CONFIG_FILE} is damaged and it holds no backup to resume from (a "
                f"finished run?); choose another directory. Received: run_dir={run_dir!r}")
        return True
    if old.get("status") != "running":
        raise FileExistsError(
            f"run_dir holds a {old.get('status', 'finished')} run; choose another directory or "
            f"delete it. Received: run_dir={run_dir!r}"
        )
    if old.get("fingerprint") != fingerprint(config):
        changed = "; ".join(_differences(old, config)[:3])
        raise ValueError(
            "run_dir holds an unfinished run with another configuration, which cannot be "
            f"resumed ({changed}); choose another directory. Received: run_dir={run_dir!r}"
        )
    return True


def resolve_run_dir(run_dir: str | None, model_name: str, config: dict) -> tuple[str, bool]:
    """Returns `(run_dir, resume)` for a run of `config`.

    Args:
        run_dir: An explicit directory, or None for `runs/<model>-<timestamp>/` (or the newest
            unfinished run there with the same configuration).
        model_name: Used in the default directory's name.
        config: The resolved configuration (its fingerprint decides whether a run resumes).

    Raises:
        FileExistsError: If `run_dir` holds a finished run.
        ValueError: If `run_dir` holds an unfinished run of another configuration.
    """
    if run_dir is not None:
        run_dir = os.fspath(run_dir)
        return run_dir, _check_existing(run_dir, config)
    wanted = fingerprint(config)
    candidates = sorted(glob.glob(os.path.join(DEFAULT_ROOT, f"{model_name}-*")), reverse=True)
    for candidate in candidates:
        old = read_config(candidate)
        if old and old.get("status") == "running" and old.get("fingerprint") == wanted:
            return candidate, True
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(DEFAULT_ROOT, f"{model_name}-{stamp}")
    suffix = 1
    while os.path.exists(path):
        suffix += 1
        path = os.path.join(DEFAULT_ROOT, f"{model_name}-{stamp}-{suffix}")
    return path, False


def read_history(path: str) -> dict:
    """`history.csv` as {column: list of floats} ({} when there is none)."""
    from kerascnn.training.report import read_history

    if not os.path.isfile(path):
        return {}
    return {k: [float(x) for x in v] for k, v in read_history(path).items()}


def write_report(run_dir: str, validation_data, quiet: bool, data_spec=None) -> str | None:
    """Writes the run report; returns its page (`run_dir/report/report.html`), or None after
    saying why there is nothing to draw. Without validation data the report judges the model on
    the run's training images (`data_spec`, the run's data), unaugmented."""
    from kerascnn.training.report import report

    try:
        return report(run_dir, data=validation_data, data_spec=data_spec).html
    except ValueError as error:
        if not quiet:
            print(f"kerascnn: no run report: {str(error).splitlines()[0]}", flush=True)
        return None


def export_target(export, name: str) -> str | None:
    """The version directory an export goes to: `export` itself when it ends in a version number,
    else its next free version (`saved_models/<name>/` for True), so that running a command again
    never clobbers an earlier export.

    Raises:
        FileExistsError: If `export` names a version directory that exists.
    """
    if not export:
        return None
    from kerascnn.saving import DEFAULT_EXPORT_DIR

    base = os.path.join(DEFAULT_EXPORT_DIR, name) if export is True else os.fspath(export)
    if os.path.basename(os.path.normpath(base)).isdigit():
        if os.path.exists(base):
            raise FileExistsError(f"The export version directory exists. Received: export={base!r}")
        return base
    versions = [int(d) for d in os.listdir(base) if d.isdigit()] if os.path.isdir(base) else []
    return os.path.join(base, str(max(versions, default=0) + 1))


def export_model(model, target: str, class_names, normalization: str) -> str:
    """Exports `model` for serving to the version directory `target` (see `kerascnn.export`)."""
    from kerascnn.saving import export as save_for_serving

    try:
        return save_for_serving(model, target, class_names=class_names,
                                normalization=normalization)
    except FileExistsError:
        raise
    except OSError as error:  # The export stages and renames: earlier versions are untouched.
        from kerascnn.training.backup import write_failed

        raise write_failed(target, error) from None
