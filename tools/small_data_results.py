"""The few-shot grid's results file (`tools/recipes_small_data.py`): the rows it holds, and the
README's tables made from them."""

from __future__ import annotations

import collections
import json
import os

import numpy as np


def ordered(ks) -> list[str]:
    """k values as the tables show them: by number, "full" (all the training data) last."""
    return sorted(ks, key=lambda k: (k == "full", int(k) if k.isdigit() else 0))


def _header(title: str, ks) -> str:
    """A markdown table's first two lines: `title`, then a column per k."""
    columns = " | ".join("all" if k == "full" else f"k={k}" for k in ks)
    return f"| {title} | {columns} |\n" + "|---" * (len(ks) + 1) + "|"


def done_rows(path: str) -> dict:
    """The rows already in the results file, by (dataset, model, k, seed, contender): a stopped
    grid resumes where it stopped. A row marked "superseded" (measured with code that has since
    changed what that run computes) is run again."""
    rows = {}
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                row = json.loads(line)
                if "superseded" in row:
                    continue
                rows[(row["dataset"], row["model"], str(row["k"]), row["seed"],
                      row["contender"])] = row
    return rows


def accuracies(path: str) -> dict:
    """Test accuracies by (dataset, model, k, contender), one per seed (`done_rows`). A row that
    is another contender's run (the same resolved plan and seed, `same_run_as`) counts for both."""
    cells = collections.defaultdict(list)
    for (dataset, model, k, _seed, contender), row in done_rows(path).items():
        cells[(dataset, model, k, contender)].append(row["test_accuracy"])
    return cells


def table(path: str) -> None:
    cells = accuracies(path)
    print(f"{'dataset':8} {'model':10} {'k':>5} {'contender':18}   mean    min    max seeds")
    for (dataset, model, k, contender), values in sorted(cells.items()):
        print(f"{dataset:8} {model:10} {k:>5} {contender:18} {np.mean(values):6.3f} "
              f"{np.min(values):6.3f} {np.max(values):6.3f} {len(values)}")


def markdown(path: str, protocol_seeds: int = 5) -> None:
    """One markdown table per dataset and model: contenders by k, mean test accuracy over the
    seeds (their number in parentheses where it is not the protocol's `protocol_seeds`)."""
    cells = accuracies(path)
    for dataset, model in sorted({key[:2] for key in cells}):
        keys = [key for key in cells if key[:2] == (dataset, model)]
        ks = ordered({key[2] for key in keys})
        contenders = sorted({key[3] for key in keys}, key=lambda c: (c.startswith("-"), c))
        print(f"\n{model} on {dataset}: mean over {protocol_seeds} seeds unless a number is "
              "given.\n")
        print(_header(f"{model} on {dataset}", ks))
        for contender in contenders:
            row = []
            for k in ks:
                values = cells.get((dataset, model, k, contender))
                row.append("" if not values else f"{100 * np.mean(values):.1f}%" + (
                    f" ({len(values)})" if len(values) != protocol_seeds else ""))
            print(f"| {contender} | " + " | ".join(row) + " |")


def ablation_markdown(path: str) -> None:
    """The ablation as markdown tables: for each feature and k, the change in test accuracy
    (points) when it is removed, against the whole recipe ("auto") on the same seeds (how many)."""
    seeds = collections.defaultdict(dict)
    for (dataset, model, k, seed, contender), row in done_rows(path).items():
        seeds[(dataset, model, k, contender)][seed] = 100 * row["test_accuracy"]
    ablated = {key for key in seeds if key[3].startswith("-") and "/" not in key[3]}
    for dataset, model in sorted({key[:2] for key in ablated}):
        ks = ordered({key[2] for key in ablated if key[:2] == (dataset, model)})
        whole = [seeds.get((dataset, model, k, "auto"), {}) for k in ks]
        means = [f"{np.mean(list(base.values())):.1f}% ({len(base)})" if base else ""
                 for base in whole]
        print("\n" + _header(f"{model} on {dataset}, without", ks))
        print("| nothing (auto) | " + " | ".join(means) + " |")
        for feature in sorted({key[3] for key in ablated if key[:2] == (dataset, model)}):
            changes = [[seeds[(dataset, model, k, feature)][seed] - base[seed] for seed in base
                        if seed in seeds.get((dataset, model, k, feature), {})]
                       for k, base in zip(ks, whole)]
            # Rounded first, so that -0.04 prints as +0.0.
            print(f"| {feature[1:]} | " + " | ".join(
                f"{round(np.mean(change), 1) + 0.0:+.1f} ({len(change)})" if change else ""
                for change in changes) + " |")
