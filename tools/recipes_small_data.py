"""Recipes on small data: kerascnn.train's recipes against the plain-Keras tutorial baseline, on
data that is available offline, with the few-shot protocol.

Data: scikit-learn's 1,797 digits (8x8, upscaled by the pipeline) and a generated folder of
shapes (`tools/shapes.py`: JPEG files read back through the folder pipeline). Every other image is
the test set; the training set is k images per class drawn from the rest (per seed), or all of
it ("full"). Contenders, each scored on the same test images:

    paper        kerascnn.train(..., recipe="paper")
    small_data   kerascnn.train(..., recipe="small_data")
    modern       kerascnn.train(..., recipe="modern")
    auto         kerascnn.train(...) with its defaults
    tutorial     the same architecture built by kerascnn, compiled the tutorial way (Adam 1e-3,
                 batch 64, sparse cross-entropy), trained on all the training images (no
                 hold-out, no augmentation) for as many passes over the data as the "auto" run
    small_cnn    the two-convolution Keras tutorial CNN (Conv 32, pool, Conv 64, pool, dropout
                 0.5, dense), trained the tutorial way for the same passes
    -FEATURE     "small_data" with one feature removed (the ablation), e.g. -auto_augment
    RECIPE/no_holdout, RECIPE/holdout=SHARE, RECIPE/no_augmentation, RECIPE/augmentation=POLICY
                 a recipe (or an ablation) trained on all the training images
                 (`validation_split=0`) or with SHARE of them held out, without its augmentation,
                 or with another augmentation policy (a name, or ops joined by "+") in place
                 of its own, e.g.
                 paper/no_holdout: what each costs against the tutorial; changes combine, as in
                 -auto_augment/holdout=0.1
    RECIPE/FIELD=VALUE
                 a recipe with one of `RECIPE_FIELDS` changed (the value in JSON), e.g.
                 small_data/weight_decay=0.5/min_steps=3000

    python tools/recipes_small_data.py --datasets digits shapes \
        --models lenet5 resnet20 shufflenet_v2_x0_5 --ks 5 10 20 50 full --seeds 5 \
        --out tools/results/recipes_small_data.jsonl

Each result is appended to the JSON-lines file as it comes; `--table` prints the mean and spread
over seeds of what the file holds, `--markdown` and `--ablation-markdown` the README's tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from few_shot import as_folder, choose, digits_pool, shapes_pool, split_even_odd  # noqa: E402
from small_data_results import ablation_markdown, done_rows, markdown, table  # noqa: E402

# The features of "small_data" an ablation removes, with the value that turns each off.
ABLATIONS = {
    "auto_augment": {"auto_augment": None},
    "random_erasing": {"random_erasing": 0.0},
    "label_smoothing": {"label_smoothing": 0.0},
    "min_steps": {"min_steps": 0},
    "warmup": {"warmup_epochs": 0.0},
    "adamw": {"optimizer": "adam", "weight_decay": 0.0},
    "family_augmentation": {"augmentation": None},
}
# Recipe fields a contender may change, e.g. "small_data/weight_decay=0.5" (values in JSON).
RECIPE_FIELDS = ("learning_rate", "weight_decay", "min_steps", "mixup_alpha", "cutmix_alpha",
                 "label_smoothing", "random_erasing", "ema_decay", "ema_warmup", "epochs",
                 "batch_size", "min_batches", "erasing_fill")
INPUT_SHAPES = {"lenet5": (32, 32, 1), "resnet20": (32, 32, 3), "resnet18": (64, 64, 3),
                "shufflenet_v2_x0_5": (64, 64, 3)}


def test_accuracy(model, test_data, input_shape, normalization) -> float:
    from kerascnn.data import load

    bundle = load(test_data, input_shape=input_shape, batch_size=128, normalization=normalization,
                  test_set=True, verbose=0)
    correct = total = 0
    for images, labels in bundle.validation:
        predicted = np.argmax(model.predict(images, verbose=0), axis=-1)
        correct += int(np.sum(predicted == labels.numpy()))
        total += len(predicted)
    return correct / total


def small_cnn(input_shape, num_classes):
    import keras

    # keras.io, "Simple MNIST convnet".
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Dropout(0.5)(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def tutorial(model_name, train_data, test_data, input_shape, num_classes, passes, seed):
    """The tutorial way: Adam 1e-3, batch 64, all the training data, no augmentation."""
    import keras

    import kerascnn
    from kerascnn.data import load

    keras.utils.set_random_seed(seed)
    model = small_cnn(input_shape, num_classes) if model_name == "small_cnn" else \
        kerascnn.build(model_name, num_classes=num_classes, input_shape=input_shape)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # Batches of 64 as Keras makes them, the last one of each pass whatever its size
    # (kerascnn's training pipeline leaves a small one out).
    bundle = load(train_data, input_shape=input_shape, batch_size=1, validation_split=0.0,
                  seed=seed, verbose=0)
    model.fit(bundle.train.unbatch().batch(64), epochs=passes, verbose=0)
    return model, "unit"


BASELINES = ("tutorial", "small_cnn")


def _commit() -> str | None:
    """The commit of the code measured, marked "+changes" when kerascnn/ differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__)))

    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    if not head:  # Not a git checkout.
        return None
    return head + ("+changes" if git("diff", "--quiet", "HEAD", "--", "../kerascnn").returncode
                   else "")


# The code each row was measured with (rows written before this field have none).
COMMIT = _commit()


def train_arguments(contender: str) -> dict:
    """`kerascnn.train`'s recipe and options for a contender that is not a baseline: a recipe
    or an ablation, then any changes, e.g. "-auto_augment/holdout=0.1"."""
    from kerascnn.data.augmentation import POLICIES
    from kerascnn.training.recipes import RECIPES

    base, *changes = contender.split("/")
    recipe = RECIPES["small_data"].replace(**ABLATIONS[base[1:]]) if base.startswith("-") \
        else base
    options = {}
    for change in changes:
        name, _, value = change.partition("=")
        if name in RECIPE_FIELDS:
            if isinstance(recipe, str) and recipe not in RECIPES:
                raise ValueError(f"{change!r} needs a recipe by name, not {recipe!r}. "
                                 f"Received: contender={contender!r}")
            recipe = (RECIPES[recipe] if isinstance(recipe, str) else recipe).replace(
                **{name: json.loads(value)})
        elif name == "augmentation":
            # A policy's name, or ops joined by "+" (augmentation=pad_crop: the CIFAR policy
            # without its flips).
            options["augmentation"] = value if value in POLICIES else value.split("+")
        elif name in ("holdout", "no_holdout"):
            options["validation_split"] = float(value or 0)
        elif name == "no_augmentation":
            options["augmentation"] = None
        else:
            raise ValueError(f"Unknown change {change!r} in contender {contender!r}")
    return {"recipe": recipe, **options}


def resolved(contender, model_name, train_data, input_shape, seed) -> str:
    """The plan `kerascnn.train` resolves for a contender (recipe, hold-out, epochs ... every
    field), as JSON: two contenders with the same one are the same run, e.g. "auto" and
    "small_data/no_holdout" on a few hundred images."""
    from kerascnn.training.plan import plan

    decided = plan(model_name, train_data, input_shape=input_shape, seed=seed,
                   **train_arguments(contender))
    return json.dumps(decided.config(), sort_keys=True, default=str)


def run_one(contender, model_name, train_data, test_data, input_shape, num_classes, seed,
            passes_hint, workdir):
    import keras

    import kerascnn

    keras.backend.clear_session()
    started = time.time()
    if contender in BASELINES:
        model, normalization = tutorial(contender if contender == "small_cnn" else model_name,
                                        train_data, test_data, input_shape, num_classes,
                                        passes_hint, seed)
        info = {"passes": passes_hint}
    else:
        result = kerascnn.train(model_name, train_data, seed=seed, verbose=0, report=False,
                                input_shape=input_shape, run_dir=tempfile.mkdtemp(dir=workdir),
                                **train_arguments(contender))
        model, normalization = result.model, result.config["normalization"]
        info = {"recipe": result.config["recipe"]["name"], "epochs": result.config["epochs"],
                "train_examples": result.config["train_examples"],
                "validation_split": result.config["data"]["validation_split"],
                "passes": result.config["epochs"] * result.config["passes_per_epoch"],
                "val_accuracy": result.metrics.get("val_accuracy")}
    accuracy = test_accuracy(model, test_data, input_shape, normalization)
    return {"test_accuracy": accuracy, "seconds": round(time.time() - started, 1), **info,
            "commit": COMMIT}


def same_run(contender, cell, done, model_name, train_data, input_shape, seed) -> str | None:
    """A contender of `cell` already run whose resolved plan is `contender`'s, if any."""
    if contender in BASELINES:
        return None
    plan = resolved(contender, model_name, train_data, input_shape, seed)
    for (*key, other), row in done.items():
        if (tuple(key) == cell and other not in BASELINES and other != contender
                and "same_run_as" not in row
                and resolved(other, model_name, train_data, input_shape, seed) == plan):
            return other
    return None


def experiments(args, workdir):
    """(dataset, model, k, seed, train data, test data, classes) for every cell of the grid."""
    for dataset in args.datasets:
        if dataset == "digits":
            images, labels = digits_pool()
            pool, test = split_even_odd(len(labels))
            test_data = (images[test], labels[test])
            for k in args.ks:
                for seed in range(args.seeds):
                    chosen = choose(labels, pool, k, seed)
                    yield dataset, k, seed, (images[chosen], labels[chosen]), test_data, 10
        else:
            items = shapes_pool(os.path.join(args.cache, "shapes_pool"))
            labels = np.array([label for _, label in items])
            pool, test = split_even_odd(len(items))
            test_data = as_folder(items, test, os.path.join(workdir, "shapes_test"))
            for k in args.ks:
                for seed in range(args.seeds):
                    chosen = choose(labels, pool, k, seed)
                    train = as_folder(items, chosen, os.path.join(workdir, f"shapes_{k}_{seed}"))
                    yield dataset, k, seed, train, test_data, 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "shapes"])
    parser.add_argument("--models", nargs="+",
                        default=["lenet5", "resnet20", "shufflenet_v2_x0_5"])
    parser.add_argument("--ks", nargs="+", default=["5", "10", "20", "50", "full"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed-list", type=int, nargs="+",
                        help="run these seeds only (to share the grid between processes)")
    parser.add_argument("--threads", type=int, help="TensorFlow's threads per process")
    parser.add_argument("--contenders", nargs="+",
                        default=["auto", "paper", "small_data", "modern", "tutorial"])
    parser.add_argument("--ablation", action="store_true",
                        help="also run small_data with each feature removed")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "kerascnn_bench"))
    parser.add_argument("--out", default="tools/results/recipes_small_data.jsonl")
    parser.add_argument("--table", action="store_true", help="print the table of --out and stop")
    parser.add_argument("--markdown", action="store_true",
                        help="print --out as markdown tables (the README's) and stop")
    parser.add_argument("--ablation-markdown", action="store_true",
                        help="print the ablation in --out as markdown tables and stop")
    args = parser.parse_args()
    for shown, show in ((args.table, table), (args.markdown, markdown),
                        (args.ablation_markdown, ablation_markdown)):
        if shown:
            return show(args.out)
    args.ks = [k if k == "full" else int(k) for k in args.ks]
    if args.seed_list is not None:
        args.seeds = max(args.seeds, max(args.seed_list) + 1)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    contenders = args.contenders + (["-" + name for name in ABLATIONS] if args.ablation else [])
    os.makedirs(args.cache, exist_ok=True)
    workdir = tempfile.mkdtemp(dir=args.cache)
    done = done_rows(args.out)
    for dataset, k, seed, train, test, classes in experiments(args, workdir):
        if args.seed_list is not None and seed not in args.seed_list:
            continue
        for model_name in args.models:
            cell = (dataset, model_name, str(k), seed)
            passes = None
            for contender in sorted(contenders, key=lambda c: c != "auto"):
                if cell + (contender,) in done:
                    passes = passes or done[cell + (contender,)].get("passes")
                    continue
                twin = same_run(contender, cell, done, model_name, train,
                                INPUT_SHAPES[model_name], seed)
                if twin:  # The same plan and seed: the same run, not repeated.
                    row = dict(done[cell + (twin,)], same_run_as=twin)
                else:
                    if contender in BASELINES and passes is None:
                        passes = run_one("auto", model_name, train, test, INPUT_SHAPES[model_name],
                                         classes, seed, None, workdir)["passes"]
                    row = run_one(contender, model_name, train, test, INPUT_SHAPES[model_name],
                                  classes, seed, passes, workdir)
                if contender == "auto":
                    passes = row["passes"]
                row.update(dataset=dataset, model=model_name, k=k, seed=seed,
                           contender=contender)
                done[cell + (contender,)] = row
                print(json.dumps(row), flush=True)
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(row) + "\n")

if __name__ == "__main__":
    main()
