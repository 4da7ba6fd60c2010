"""Is a faster training step the same computation? Weights after a few steps, saved and compared.

`--save FILE` trains a kerascnn model for `--steps` SGD steps from a fixed seed on a fixed
synthetic batch and saves every variable (weights and batch-norm statistics). Run it under two
settings (for example `TF_ENABLE_ONEDNN_OPTS=0` and `=1`, or with `--keras-bn`) and `--compare A B`
prints the largest absolute and relative differences; 0.0 means bit-identical.

`--keras-bn` swaps kerascnn's BatchNormalization (`kerascnn.layers.BatchNormalization`, trained
with TensorFlow's fused kernel) for Keras's own, unfused layer with the same configuration and
weights, and `--time` measures the step both ways, alternating: what the fused kernel saves.

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python tools/step_numerics.py resnet20 --save /tmp/off.npz
    TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python tools/step_numerics.py resnet20 --save /tmp/on.npz
    .venv/bin/python tools/step_numerics.py --compare /tmp/off.npz /tmp/on.npz
    .venv/bin/python tools/step_numerics.py resnet20 --keras-bn --save /tmp/keras_bn.npz
    .venv/bin/python tools/step_numerics.py --compare /tmp/keras_bn.npz /tmp/on.npz
    .venv/bin/python tools/step_numerics.py resnet20 --time
"""

from __future__ import annotations

import bench_common as common


def with_keras_batch_norm(model):
    """A copy of `model` (same weights) whose batch norms are plain `keras.layers.BatchNormalization`
    instead of kerascnn's fused-kernel subclass: the graph Keras alone would build."""
    import keras

    from kerascnn.layers import BatchNormalization

    def clone(layer):
        cls = keras.layers.BatchNormalization if type(layer) is BatchNormalization else type(layer)
        return cls.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def build(name: str, args, fused: bool):
    """A registered model from a fixed seed; with Keras's unfused batch norm unless `fused`."""
    import keras

    import kerascnn

    keras.utils.set_random_seed(0)
    default = kerascnn.registry.get_entry(name).default_input_shape
    shape = tuple(default) if default[0] <= 32 else (args.size, args.size, default[2])
    model = kerascnn.build(name, input_shape=shape, classifier_activation=None)
    return (model if fused else with_keras_batch_norm(model)), shape


def main(argv=None):
    p = common.parser(__doc__.splitlines()[0], size=64, batch=32, steps=3)
    p.add_argument("model", nargs="?", help="a registered kerascnn model")
    p.add_argument("--save", help="train --steps steps and save the variables to this .npz")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two saved .npz files")
    p.add_argument("--keras-bn", action="store_true",
                   help="use Keras's unfused BatchNormalization instead of kerascnn's")
    p.add_argument("--time", action="store_true", help="time unfused against fused batch norm")
    args = p.parse_args(argv)
    import numpy as np

    if args.compare:
        a, b = (np.load(path) for path in args.compare)
        rows, worst = [], (0.0, 0.0)
        for key in a.files:
            diff = np.abs(a[key] - b[key])
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
        model, shape = build(args.model, args, not args.keras_bn)
        x, y = common.synthetic_batch(args.batch, shape, model.outputs[0].shape[-1])
        step = common.keras_step(model, x, y, args)
        for _ in range(args.steps):
            step()
        np.savez(args.save, **{f"{i:03d}_{v.path}": np.asarray(v) for i, v in
                               enumerate(model.variables)})
        print(f"wrote {args.save}")
    if args.time:
        steps = {}
        for fused in (False, True):
            model, shape = build(args.model, args, fused)
            x, y = common.synthetic_batch(args.batch, shape, model.outputs[0].shape[-1])
            steps["fused" if fused else "keras"] = step = common.keras_step(model, x, y, args)
            for _ in range(args.warmup):
                step()
        rates = common.alternate({k: (lambda s=s: common.images_per_second(s, args.batch, args.steps))
                                  for k, s in steps.items()}, args.repeats)
        common.print_table(f"{args.model} batch {args.batch}: img/s, Keras batch norm against the "
                           f"fused kernel, TF_ENABLE_ONEDNN_OPTS="
                           f"{common.machine()['TF_ENABLE_ONEDNN_OPTS']}",
                           ("batch norm", "img/s", "speed-up"),
                           [(k, f"{v:.2f}", f"{v / rates['keras']:.2f}x") for k, v in rates.items()])
        return rates


if __name__ == "__main__":
    main()
