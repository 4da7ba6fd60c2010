"""The few-shot benchmark's protocol and contender names (`tools/recipes_small_data.py`)."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tools"))

import few_shot  # noqa: E402
import recipes_small_data  # noqa: E402
import small_data_results  # noqa: E402

from kerascnn.training.recipes import RECIPES  # noqa: E402


def test_k_per_class_drawn_from_the_training_half_by_seed():
    labels = np.repeat(np.arange(3), 20)
    pool, test = few_shot.split_even_odd(len(labels))
    chosen = few_shot.choose(labels, pool, 5, seed=1)
    assert np.bincount(labels[chosen]).tolist() == [5, 5, 5]
    assert set(chosen) <= set(pool) and not set(chosen) & set(test)
    assert chosen.tolist() == few_shot.choose(labels, pool, 5, seed=1).tolist()
    assert chosen.tolist() != few_shot.choose(labels, pool, 5, seed=2).tolist()
    assert few_shot.choose(labels, pool, "full", seed=0) is pool


def test_contender_changes_recipe_fields_and_options():
    arguments = recipes_small_data.train_arguments("small_data/weight_decay=0.5/min_steps=3000")
    assert arguments["recipe"] == RECIPES["small_data"].replace(weight_decay=0.5, min_steps=3000)
    arguments = recipes_small_data.train_arguments("-auto_augment/mixup_alpha=0.2/holdout=0.1")
    assert arguments["recipe"].auto_augment is None
    assert arguments["recipe"].mixup_alpha == 0.2
    assert arguments["validation_split"] == 0.1
    assert recipes_small_data.train_arguments("paper/no_holdout") == {
        "recipe": "paper", "validation_split": 0.0}


def test_contender_field_change_needs_a_named_recipe():
    with pytest.raises(ValueError, match="needs a recipe by name.*'paper/min_steps=10'"):
        recipes_small_data.train_arguments("paper/min_steps=10")
    with pytest.raises(ValueError, match="Unknown change 'momentum=0.5'"):
        recipes_small_data.train_arguments("small_data/momentum=0.5")


def _results_file(tmp_path, dataset, runs) -> str:
    """A results file of LeNet-5 runs at k = 5: (contender, seed, test accuracy) each."""
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps({
        "dataset": dataset, "model": "lenet5", "k": 5, "seed": seed, "contender": contender,
        "test_accuracy": accuracy}) + "\n" for contender, seed, accuracy in runs))
    return str(path)


def test_ablation_table_pairs_each_removal_with_the_whole_recipe_by_seed(tmp_path, capsys):
    rows = [("auto", 0, 0.90), ("auto", 1, 0.80), ("auto", 2, 0.70),
            ("-min_steps", 0, 0.85), ("-min_steps", 1, 0.70),  # -5 and -10 points: -7.5
            ("-warmup", 2, 0.75),  # +5 points on the one seed it ran
            ("-adamw", 0, 0.8996),  # -0.04 points, printed as +0.0
            ("-warmup/holdout=0.1", 0, 0.10)]  # A combined change is no ablation row.
    small_data_results.ablation_markdown(_results_file(tmp_path, "digits", rows))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == ["| lenet5 on digits, without | k=5 |", "|---|---|",
                     "| nothing (auto) | 80.0% (3) |", "| adamw | +0.0 (1) |",
                     "| min_steps | -7.5 (2) |",
                     "| warmup | +5.0 (1) |"]


def test_markdown_gives_the_count_of_seeds_unless_it_is_the_protocols(tmp_path, capsys):
    runs = [("auto", seed, 0.5 + seed / 100) for seed in range(10)]  # Mean 54.5%.
    runs += [("tutorial", seed, 0.4) for seed in range(5)]
    runs += [("paper", seed, 0.3) for seed in range(3)]
    small_data_results.markdown(_results_file(tmp_path, "shapes", runs))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-3:] == ["| auto | 54.5% (10) |", "| paper | 30.0% (3) |", "| tutorial | 40.0% |"]
