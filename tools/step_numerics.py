"""Is a faster training step the same computation? Weights after a few steps, saved and compared.

`--save FILE` trains a kerascnn model for `--steps` SGD steps from a fixed seed on a fixed
synthetic batch and saves every variable (weights and batch-norm statistics). Run it under two
settings (for example `TF_ENABLE_ONEDNN_OPTS=0` and `=1`, or with `--keras batch_norm`) and
`--compare A B` prints the largest absolute and relative differences; 0.0 means bit-identical.

`--keras LAYERS` swaps kerascnn's faster layers for Keras's own, with the same configuration and
weights: `batch_norm` (kerascnn.layers.BatchNormalization, trained with TensorFlow's fused kernel)
and `conv` (kerascnn.layers.Conv2D, grouped convolutions as one convolution per group instead of
Keras's XLA path). `--time` measures the step both ways, alternating: what kerascnn's layers save.

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python tools/step_numerics.py resnet20 --save /tmp/off.npz
    TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python tools/step_numerics.py resnet20 --save /tmp/on.npz
    .venv/bin/python tools/step_numerics.py --compare /tmp/off.npz /tmp/on.npz
    .venv/bin/python tools/step_numerics.py resnet20 --keras batch_norm --save /tmp/keras_bn.npz
    .venv/bin/python tools/step_numerics.py --compare /tmp/keras_bn.npz /tmp/on.npz
    .venv/bin/python tools/step_numerics.py resnet20 --time --keras batch_norm
    .venv/bin/python tools/step_numerics.py alexnet --time --keras conv --size 224 --batch 16
"""

from __future__ import annotations

import bench_common as common


def with_keras_layers(model, kinds):
    """A copy of `model` (same weights) in which the kerascnn layers named by `kinds`
    ("batch_norm", "conv") are replaced by Keras's own classes: the graph Keras alone would build."""
    import keras

    from kerascnn.layers import BatchNormalization, Conv2D

    replace = {}
    if "batch_norm" in kinds:
        replace[BatchNormalization] = keras.layers.BatchNormalization
    if "conv" in kinds:
        replace[Conv2D] = keras.layers.Conv2D

    def clone(layer):
        return replace.get(type(layer), type(layer)).from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def build(name: str, args, keras_layers=()):
    """A registered model from a fixed seed, with Keras's own layers for `keras_layers`."""
    import keras

    import kerascnn

    keras.utils.set_random_seed(0)
    default = kerascnn.registry.get_entry(name).default_input_shape
    shape = tuple(default) if default[0] <= 32 else (args.size, args.size, default[2])
    model = kerascnn.build(name, input_shape=shape, classifier_activation=None)
    return (with_keras_layers(model, keras_layers) if keras_layers else model), shape


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0], size=64, batch=32, steps=3)
    p.add_argument("model", nargs="?", help="a registered kerascnn model")
    p.add_argument("--save", help="train --steps steps and save the variables to this .npz")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two saved .npz files")
    p.add_argument("--keras", default="",
                   help="comma-separated kerascnn layers to replace by Keras's: batch_norm, conv")
    p.add_argument("--time", action="store_true",
                   help="time kerascnn's layers against Keras's (--keras, default both)")
    args = p.parse_args(argv)
    kinds = tuple(k for k in args.keras.split(",") if k)
    unknown = set(kinds) - {"batch_norm", "conv"}
    if unknown:
        p.error(f"--keras takes batch_norm and conv. Received: {args.keras!r}")
    import numpy as np

    if args.compare:
        a, b = (np.load(path) for path in args.compare)
        rows, worst = [], (0.0, 0.0)
        if len(a.files) != len(b.files):
            raise SystemExit(f"{args.compare[0]} has {len(a.files)} variables, "
                             f"{args.compare[1]} {len(b.files)}: not the same model")
        # Variables are stored in model order; a cloned model may name them differently.
        for key, other in zip(a.files, b.files):
            diff = np.abs(a[key] - b[other])
            relative = float(diff.max() / max(np.abs(a[key]).max(), 1e-30))
            worst = (max(worst[0], float(diff.max())), max(worst[1], relative))
            rows.append((key, f"{diff.max():.3g}", f"{relative:.3g}"))
        rows.sort(key=lambda r: -float(r[2]))
        common.print_table("largest differences", ("variable", "max abs", "max rel"), rows[:10])
        print(f"\nall {len(a.files)} variables: max abs {worst[0]:.3g}, max rel {worst[1]:.3g}"
              + ("  (bit-identical)" if worst[0] == 0 else ""))
        return worst
    common.configure_threads(args.threads)
    if args.save:
        model, shape = build(args.model, args, kinds)
        x, y = common.synthetic_batch(args.batch, shape, model.outputs[0].shape[-1])
        step = common.keras_step(model, x, y, args)
        for _ in range(args.steps):
            step()
        np.savez(args.save, **{f"{i:03d}_{v.path}": np.asarray(v) for i, v in
                               enumerate(model.variables)})
        print(f"wrote {args.save}")
    if args.time:
        swapped = kinds or ("batch_norm", "conv")
        steps = {}
        for label, keras_layers in (("keras", swapped), ("kerascnn", ())):
            model, shape = build(args.model, args, keras_layers)
            x, y = common.synthetic_batch(args.batch, shape, model.outputs[0].shape[-1])
            steps[label] = step = common.keras_step(model, x, y, args)
            for _ in range(args.warmup):
                step()
        rates = common.alternate({k: (lambda s=s: common.images_per_second(s, args.batch, args.steps))
                                  for k, s in steps.items()}, args.repeats, tag=f"{args.model} ")
        ratio = common.paired_ratio(f"{args.model} kerascnn", f"{args.model} keras")
        common.print_table(f"{args.model} batch {args.batch}: img/s with Keras's "
                           f"{' and '.join(swapped)} layers against kerascnn's, "
                           f"TF_ENABLE_ONEDNN_OPTS={common.machine()['TF_ENABLE_ONEDNN_OPTS']}",
                           ("layers", "img/s", "speed-up"),
                           [("keras", f"{rates['keras']:.2f}", "1.00x"),
                            ("kerascnn", f"{rates['kerascnn']:.2f}", f"{ratio:.2f}x")])
        return rates


if __name__ == "__main__":
    main()
