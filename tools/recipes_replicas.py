"""Today's recipes under several CPU replicas: LeNet-5 and ResNet-20 trained on scikit-learn's
digits with "small_data" and "modern" under `tf.distribute.MirroredStrategy` over logical CPU
devices (`cpu_replicas`), a few epochs each, with the run's resolved recipe read back from its
`config.json`.

It checks that each recipe's features (TrivialAugment and random erasing in the pipeline, AdamW
without decay on norms and biases, label smoothing with sparse labels, warm-up into cosine decay,
mixup / cutmix and the weight average of "modern") train under replicas, not what they score: the
step floor of "small_data" and the length of "modern" are left out to keep it short.

    python tools/recipes_replicas.py --replicas 2 --epochs 3 --json replicas.json
    python tools/recipes_replicas.py --models lenet5 --recipes modern --epochs 15 --without-ema
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["lenet5", "resnet20"])
    parser.add_argument("--recipes", nargs="+", default=["small_data", "modern"])
    parser.add_argument("--without-ema", action="store_true",
                        help="validate the trained weights, not their average (ema_decay=0)")
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args(argv)

    import kerascnn
    from kerascnn.training.recipes import RECIPES

    rows = []
    workdir = tempfile.mkdtemp(prefix="recipes_replicas_")
    for model_name in args.models:
        for recipe_name in args.recipes:
            recipe = RECIPES[recipe_name]
            # A check of the features under replicas, not of their scores: no step floor and at
            # most one warm-up epoch.
            recipe = recipe.replace(min_steps=0, warmup_epochs=min(recipe.warmup_epochs, 1))
            if args.without_ema:
                recipe = recipe.replace(ema_decay=0.0)
            run_dir = os.path.join(workdir, f"{model_name}-{recipe_name}")
            started = time.time()
            result = kerascnn.train(model_name, "digits", recipe=recipe, epochs=args.epochs,
                                    batch_size=64, cpu_replicas=args.replicas, run_dir=run_dir,
                                    validation_split=0.1, verbose=0, report=False)
            with open(os.path.join(run_dir, "config.json")) as handle:
                recorded = json.load(handle)["recipe"]
            rows.append({
                "model": model_name, "recipe": recipe_name + (" less EMA" * args.without_ema),
                "replicas": result.config["strategy"]["replicas"],
                "recorded_as_resolved": recorded == recipe.to_dict(),
                "loss": round(float(result.metrics["loss"]), 4),
                "val_accuracy": round(float(result.metrics["val_accuracy"]), 4),
                "seconds": round(time.time() - started, 1)})
            print(json.dumps(rows[-1]), flush=True)
    print("| model | recipe | replicas | config.json = resolved recipe | loss | val accuracy |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['recipe']} | {row['replicas']} | "
              f"{row['recorded_as_resolved']} | {row['loss']} | {row['val_accuracy']:.1%} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0 if all(row["replicas"] == args.replicas and row["recorded_as_resolved"]
                    for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
