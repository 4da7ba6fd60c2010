"""Hyper-parameter search: the families' real knobs, each tuner interrupted and resumed, results and
the best model in the run directory, and `kerascnn tune`."""

import csv
import inspect
import json

import numpy as np
import pytest

import kerascnn
from kerascnn import cli
from kerascnn.registry import _REGISTRY, list_models
from kerascnn.tuning import COMMON, FAMILY_SPACES, space_for
from kerascnn.tuning import search as search_lib
from kerascnn.tuning.spaces import builder_options

_SPACE = {"depth": 1, "width": [16, 32], "activation": "relu", "augmentation_strength": 0.0,
          "learning_rate": {"min": 0.01, "max": 0.1}}


def test_every_knob_is_a_real_builder_option():
    list_models()
    families = {}
    for entry in _REGISTRY.values():
        families.setdefault(entry.family, set()).update(inspect.signature(entry.builder).parameters)
    for family, knobs in FAMILY_SPACES.items():
        if family not in families:
            continue  # A family whose builder is not in this checkout.
        options = families[family]
        for knob, spec in knobs.items():
            if knob == "variant":
                assert all(_REGISTRY[v].family == family for v in spec[1]), family
            elif family == "mlp" and knob in ("depth", "width"):
                assert "hidden_units" in options
            else:
                assert knob in options, (family, knob)
    assert set(COMMON) == {"learning_rate", "weight_decay", "augmentation_strength"}
    # A knob the starting builder lacks is left out of its search.
    assert "activation" in space_for("lenet", builder=_REGISTRY["lenet5"].builder)
    assert "activation" not in space_for("lenet", builder=_REGISTRY["lenet5_1998"].builder)


def test_overrides_and_builder_options():
    space = space_for("mlp", _SPACE)
    assert space["width"] == ("choice", (16, 32)) and space["depth"] == ("fixed", 1)
    assert space["learning_rate"] == ("float", 0.01, 0.1, "log")
    assert space["weight_decay"] == COMMON["weight_decay"]
    assert builder_options("mlp", {"depth": 2, "width": 64, "learning_rate": 0.1}) == {
        "hidden_units": (64, 64)}
    assert builder_options("vgg", {"variant": "vgg16", "batch_norm": True}) == {"batch_norm": True}
    assert search_lib.augmentation_for(0.0) is None
    with pytest.raises(ValueError, match="search_space"):
        space_for("mlp", [1, 2])


def _interrupt_at(monkeypatch, call_number):
    """Makes the `call_number`-th trial raise KeyboardInterrupt, like Ctrl-C during a search."""
    real_fit = search_lib.FamilyHyperModel.fit
    calls = []

    def fit(self, hp, model, *args, **kwargs):
        calls.append(hp.values)
        if len(calls) == call_number:
            raise KeyboardInterrupt
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(search_lib.FamilyHyperModel, "fit", fit)
    return calls


def _check_run_dir(run_dir, trials):
    with open(run_dir / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == trials
    assert all(r["status"] == "COMPLETED" for r in rows)
    best = json.load(open(run_dir / "best_hyperparameters.json"))
    assert best["width"] in (16, 32) and best["depth"] == 1
    assert json.load(open(run_dir / "tune.json"))["status"] == "finished"
    model = kerascnn.load(run_dir / "best.keras")
    assert model.get_layer("fc1_dense").units == best["width"]  # Rebuilt from the best knobs.
    for row in rows:  # Each trial is a full kerascnn run.
        assert (run_dir / "search" / f"trial_{row['trial_id']}" / "run" / "history.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["hyperband", "bayesian"])
def test_search_interrupted_and_resumed(tuner, tmp_path, monkeypatch):
    run_dir = tmp_path / tuner
    kwargs = dict(tuner=tuner, max_trials=1, epochs=1, input_shape=(8, 8, 1), run_dir=run_dir,
                  search_space=_SPACE, batch_size=64)
    calls = _interrupt_at(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        kerascnn.tune("mlp", "digits", **kwargs)
    assert json.load(open(run_dir / "tune.json"))["status"] == "running"
    monkeypatch.undo()
    calls = _interrupt_at(monkeypatch, 0)  # Count the trials the resumed search runs.
    result = kerascnn.tune("mlp", "digits", **kwargs)
    assert len(calls) == 1  # Only the interrupted trial ran again.
    _check_run_dir(run_dir, 1)
    x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(kerascnn.load(run_dir / "best.keras")(x), result.model(x), atol=1e-6)
    with pytest.raises(ValueError, match="another configuration"):
        kerascnn.tune("mlp", "digits", **{**kwargs, "epochs": 2})


@pytest.mark.slow
def test_cli_random_search_interrupted_and_resumed(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "random"
    command = ["tune", "mlp", "--data", "digits", "--tuner", "random", "--max-trials", "2",
               "--epochs", "1", "--input-shape", "8,8,1", "--batch-size", "64",
               "--search-space", json.dumps(_SPACE), "--run-dir", str(run_dir), "--verbose", "0"]
    calls = _interrupt_at(monkeypatch, 2)
    assert cli.main(command) == 130  # Ctrl-C: one line, the shell's status for SIGINT.
    assert "kerascnn: interrupted" in capsys.readouterr().err
    first = (run_dir / "search" / "trial_0" / "run" / "history.csv").read_text()
    monkeypatch.undo()
    calls = _interrupt_at(monkeypatch, 0)
    assert cli.main(command) == 0
    assert len(calls) == 1  # Trial 0 was kept, trial 1 ran again.
    assert (run_dir / "search" / "trial_0" / "run" / "history.csv").read_text() == first
    best, path = capsys.readouterr().out.strip().splitlines()[-2:]
    assert json.loads(best)["width"] in (16, 32) and path == str(run_dir / "best.keras")
    _check_run_dir(run_dir, 2)
    assert cli.main(["tune", "mlp", "--data", "digits", "--search-space", "{depth: 1}"]) == 2
    assert "--search-space must be a JSON object" in capsys.readouterr().err


def test_a_trial_recreated_with_other_values_starts_afresh(tmp_path, capsys):
    # A search stopped before keras-tuner recorded trial 0 creates it again under the same id,
    # with new values: the earlier attempt's unfinished run must not be resumed (nor refused).
    from kerascnn.tuning.trial_runs import claim_run_dir

    run_dir = tmp_path / "trial_0" / "run"
    claim_run_dir(str(run_dir), {"learning_rate": 0.1})
    (run_dir / "config.json").write_text('{"status": "running"}')
    claim_run_dir(str(run_dir), {"learning_rate": 0.1})
    assert (run_dir / "config.json").exists()  # The same trial: its run resumes.
    claim_run_dir(str(run_dir), {"learning_rate": 0.02})
    assert not (run_dir / "config.json").exists()
    assert json.loads((run_dir / "hyperparameters.json").read_text()) == {"learning_rate": 0.02}
    assert "other hyperparameters" in capsys.readouterr().out
