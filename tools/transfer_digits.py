"""Transfer learning on real digits: pre-train on 0-4, fine-tune on 5-9 from a few images per class,
against the same network trained from scratch on the same few images. Also: a ResNet-32 grown
from a trained ResNet-20 starts from a lower loss than a fresh one.

    python tools/transfer_digits.py [--shots 5 10] [--seeds 3] [--recipes none small_data]
        [--hold-outs 0.1 0] [--json results.json]

Data: scikit-learn's 1,797 8x8 handwritten digits, upscaled by `kerascnn.data` to LeNet-5's
32x32. Digits 0-4 pre-train LeNet-5 (`kerascnn.train`, its recipe); for digits 5-9, `shots`
images per class are drawn (per seed) for training, and every other 5-9 image is the test set.
Fine-tuning validates on the test set, except with `--hold-outs`: then it is also given the
training images alone, with each share held out of them for its validation (what the share costs
on the test set).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerascnn  # noqa: E402
from kerascnn.transfer import linear_probe  # noqa: E402

INPUT_SHAPE = (32, 32, 1)


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images * (255.0 / 16.0)).astype("float32")[..., None], data.target


def bundle(train, test):
    """A DataBundle training on `train` and validating on `test`, both as given (no split)."""
    fit = kerascnn.data.load(train, input_shape=INPUT_SHAPE, validation_split=0.0, verbose=0)
    held_out = kerascnn.data.load(test, input_shape=INPUT_SHAPE, validation_split=0.0,
                                  shuffle=False, verbose=0)
    return dataclasses.replace(fit, validation=held_out.train,
                               validation_examples=held_out.train_examples)


def accuracy(model, data) -> float:
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    return float(model.evaluate(data.validation, verbose=0)[1])


def pretrain(x, y, workdir):
    source = (x[y < 5], y[y < 5])
    result = kerascnn.train("lenet5", source, epochs=20, run_dir=os.path.join(workdir, "pretrain"),
                            jit_compile=False, verbose=0, report=False, num_classes=5)
    return result.model, result.metrics.get("val_accuracy")


def few_shot_split(x, y, shots, seed):
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), shots, replace=False)
                            for c in range(5, 10)])
    test = np.setdiff1d(np.flatnonzero(y >= 5), train)
    return (x[train], y[train] - 5), (x[test], y[test] - 5)


def scratch(data, epochs, learning_rate, seed):
    """The same network from fresh weights, same optimizer, rate and number of epochs."""
    keras.utils.set_random_seed(seed)
    model = kerascnn.build("lenet5", num_classes=5)
    model.compile(keras.optimizers.SGD(learning_rate, momentum=0.9),
                  "sparse_categorical_crossentropy", jit_compile=False,
                  metrics=["accuracy"])
    model.fit(data.train, epochs=epochs, verbose=0)
    return accuracy(model, data)


def pixels_baseline(data) -> float:
    """Logistic regression on the raw (upscaled) pixels: what the features must beat."""
    from sklearn.linear_model import LogisticRegression

    from kerascnn.transfer.probe import _arrays

    x_train, y_train = _arrays(data.train)
    x_test, y_test = _arrays(data.validation)
    classifier = LogisticRegression(max_iter=5000).fit(x_train.reshape(len(x_train), -1), y_train)
    return float(classifier.score(x_test.reshape(len(x_test), -1), y_test))


def transfer_experiment(shots_list, seeds, head_epochs, epochs, learning_rate, recipes=("none",),
                        hold_outs=()):
    x, y = digits()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        pretrained, source_accuracy = pretrain(x, y, workdir)
        print(f"pre-trained lenet5 on digits 0-4: held-out accuracy {source_accuracy:.3f}")
        for shots in shots_list:
            for seed in range(seeds):
                train, test = few_shot_split(x, y, shots, seed)
                data = bundle(train, test)
                row = {"shots": shots, "seed": seed, "test_images": len(test[1])}
                probes = linear_probe(pretrained, data)
                row.update({f"linear_{group}": value for group, value in probes.items()})
                for recipe in recipes:
                    tuned = kerascnn.fine_tune(pretrained, data, freeze_until="fc3",
                                               head_epochs=head_epochs, epochs=epochs,
                                               learning_rate=learning_rate, seed=seed, verbose=0,
                                               recipe=None if recipe == "none" else recipe)
                    key = "fine_tune" if recipe == "none" else f"fine_tune_{recipe}"
                    row[key] = accuracy(tuned, data)
                for share in hold_outs:
                    tuned = kerascnn.fine_tune(pretrained, train, freeze_until="fc3",
                                               head_epochs=head_epochs, epochs=epochs,
                                               learning_rate=learning_rate, seed=seed, verbose=0,
                                               validation_split=share)
                    row[f"fine_tune_hold_out_{share:g}"] = accuracy(tuned, data)
                row["scratch"] = scratch(data, head_epochs + epochs, learning_rate, seed)
                row["pixels"] = pixels_baseline(data)
                print(json.dumps(row), flush=True)
                rows.append(row)
    return {"source_accuracy": source_accuracy, "rows": rows}


def grow_experiment(seeds):
    x, y = digits()
    x = x / 255.0
    r20 = kerascnn.build("resnet20", num_classes=10, input_shape=(8, 8, 1))
    r20.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy",
                jit_compile=False)
    r20.fit(x[:1500], y[:1500], epochs=3, batch_size=64, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy()
    held_x, held_y = x[1500:], y[1500:]
    rows = []
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        grown = kerascnn.grow(r20, "resnet32", verbose=0)
        fresh = kerascnn.build("resnet32", num_classes=10, input_shape=(8, 8, 1))
        rows.append({"seed": seed,
                     "resnet20": float(loss(held_y, r20(held_x, training=True))),
                     "grown_resnet32": float(loss(held_y, grown(held_x, training=True))),
                     "fresh_resnet32": float(loss(held_y, fresh(held_x, training=True)))})
        print(json.dumps(rows[-1]), flush=True)
    return rows


COLUMNS = {
    "fine_tune": "fine-tuned (head, then fc3+fc4 at 1/10)",
    "fine_tune_small_data": "fine-tuned with recipe=\"small_data\"",
    "scratch": "from scratch",
    "linear_fc4": "linear on fc4 (top)",
    "linear_fc3": "linear on fc3",
    "linear_conv2": "linear on conv2",
    "linear_conv1": "linear on conv1",
    "pixels": "linear on pixels",
}


def summarize(transfer):
    first = transfer["rows"][0]
    columns = {**{k: v for k, v in COLUMNS.items() if k in first},
               **{k: k for k in first if k.startswith("fine_tune_hold_out")}}
    print("\n| images per class | " + " | ".join(columns.values()) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for shots in sorted({r["shots"] for r in transfer["rows"]}):
        rows = [r for r in transfer["rows"] if r["shots"] == shots]
        cells = []
        for key in columns:
            values = np.array([r[key] for r in rows])
            cells.append(f"{values.mean():.3f} ± {values.std():.3f}")
        print(f"| {shots} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--head-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--recipes", nargs="+", default=["none"],
                        help="fine_tune's recipe= for each fine-tuning: none, small_data ...")
    parser.add_argument("--hold-outs", type=float, nargs="*", default=[],
                        help="also fine-tune on the training images alone, holding out each share")
    parser.add_argument("--no-grow", dest="grow", action="store_false",
                        help="skip the ResNet-32 growing experiment")
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args(argv)
    started = time.time()
    transfer = transfer_experiment(args.shots, args.seeds, args.head_epochs, args.epochs,
                                   args.learning_rate, args.recipes, args.hold_outs)
    grown = grow_experiment(args.seeds) if args.grow else []
    summarize(transfer)
    if grown:
        losses = {k: np.mean([r[k] for r in grown]) for k in grown[0] if k != "seed"}
        print("\nstarting loss on held-out digits (batch statistics): " +
              ", ".join(f"{k} {v:.3f}" for k, v in losses.items()))
    print(f"({time.time() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"transfer": transfer, "grow": grown}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
