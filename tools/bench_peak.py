"""Benchmark (b): achieved training FLOP/s as a fraction of the machine's measured matmul peak.

The peak is the float32 dense matmul rate (2 n^3 FLOPs per n x n product) with numpy and with
`tf.linalg.matmul` on the same threads, timed alternately with the training steps (so both see
the same load on a shared machine), median of `--repeats`. A training step costs about 3 x the forward pass
(forward, gradient with respect to activations, gradient with respect to weights), and a MAC is
2 FLOPs, so achieved FLOP/s = images/s x MACs per image (kerascnn.analysis) x 2 x 3.
Target: ResNet-50 at >= 50% of the measured peak.

    .venv/bin/python tools/bench_peak.py [--quick] [--models resnet50,resnet20]
"""

from __future__ import annotations

import time

import bench_common as common

TARGET = 0.50
# Products per measurement: long enough that one scheduler hiccup does not decide the peak.
PRODUCTS = 4


def numpy_matmul(n: int, threads: int):
    """A function that times float32 numpy n x n matmuls and returns its FLOP/s."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)

    def measure():
        with threadpool_limits(limits=threads):
            start = time.perf_counter()
            for _ in range(PRODUCTS):
                a @ b
            return PRODUCTS * 2 * n**3 / (time.perf_counter() - start)
    measure()  # warm-up: thread pool start, page faults
    return measure


def tf_matmul(n: int):
    """A function that times float32 `tf.linalg.matmul`s (in a tf.function) in FLOP/s."""
    import tensorflow as tf

    a = tf.random.normal((n, n), seed=0)
    b = tf.random.normal((n, n), seed=1)
    product = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))

    def measure():
        start = time.perf_counter()
        for _ in range(PRODUCTS):
            product().numpy()
        return PRODUCTS * 2 * n**3 / (time.perf_counter() - start)
    measure()
    return measure


def model_step(name: str, shape: tuple, batch: int, args):
    """(a function timing `args.steps` training steps in FLOP/s, facts about the model)."""
    import kerascnn
    from kerascnn.analysis import analyze

    model = kerascnn.build(name, input_shape=shape, classifier_activation=None)
    macs = analyze(model).total_macs
    x, y = common.synthetic_batch(batch, shape, model.outputs[0].shape[-1])
    step = common.keras_step(model, x, y, args)
    for _ in range(args.warmup):
        step()
    facts = {"model": name, "input": list(shape), "batch": batch, "macs_per_image": macs}
    return (lambda: common.images_per_second(step, batch, args.steps) * macs * 2 * 3), facts


def main(argv=None) -> dict:
    p = common.parser(__doc__.splitlines()[0], size=112, batch=16, steps=3)
    p.add_argument("--models", default="resnet50,resnet20",
                   help="comma-separated kerascnn names (CIFAR models run at 32x32)")
    p.add_argument("--cifar-batch", type=int, default=128, help="batch of the 32x32 models")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.repeats = 64, 4, 2, 1, 3
        args.cifar_batch = 32
    common.configure_threads(args.threads)
    import kerascnn

    n = 1024 if args.quick else args.matmul_size
    # One BLAS thread can beat several on a loaded machine (barriers wait for descheduled
    # threads), so the peak is the best of both.
    contenders = {"numpy": numpy_matmul(n, args.threads), "numpy_1": numpy_matmul(n, 1),
                  "tf": tf_matmul(n)}
    facts = {}
    for name in args.models.split(","):
        if name not in kerascnn.list_models():
            print(f"  {name}: not registered in kerascnn yet; skipped")
            continue
        default = kerascnn.registry.get_entry(name).default_input_shape
        small = default[0] <= 32  # CIFAR models run at their own size and batch
        shape = tuple(default) if small else (args.size, args.size, default[2])
        contenders[name], facts[name] = model_step(name, shape, args.cifar_batch if small else
                                                   args.batch, args)
    rates = common.alternate(contenders, args.repeats)
    peaks = {"numpy_threads": rates.pop("numpy"), "numpy_1_thread": rates.pop("numpy_1"),
             "tf": rates.pop("tf"), "matmul_size": n}
    peaks["numpy"] = max(peaks["numpy_threads"], peaks["numpy_1_thread"])
    models = []
    for name, flops in rates.items():
        m = facts[name]
        m["train_flops_per_second"] = flops
        m["images_per_second"] = flops / (m["macs_per_image"] * 6)
        peak = "numpy" if peaks["numpy_threads"] >= peaks["numpy_1_thread"] else "numpy_1"
        m["fraction_of_numpy_peak"] = common.paired_ratio(name, peak)
        m["fraction_of_tf_peak"] = common.paired_ratio(name, "tf")
        models.append(m)
    rows = [("matmul peak", f"numpy {n}x{n}, {args.threads} threads",
             f"{peaks['numpy_threads'] / 1e9:.1f}", "", ""),
            ("matmul peak", f"numpy {n}x{n}, 1 thread", f"{peaks['numpy_1_thread'] / 1e9:.1f}", "", ""),
            ("matmul peak", f"tf.linalg.matmul {n}x{n}", f"{peaks['tf'] / 1e9:.1f}", "", "")]
    for m in models:
        flops, fraction = m["train_flops_per_second"], m["fraction_of_numpy_peak"]
        rows.append((m["model"], f"{m['input'][0]}px b{m['batch']}, {m['images_per_second']:.2f} img/s",
                     f"{flops / 1e9:.1f}",
                     f"{100 * fraction:.0f}% / {100 * m['fraction_of_tf_peak']:.0f}%",
                     common.verdict(fraction, TARGET) if m["model"] == "resnet50" else "-"))
    common.print_table(f"(b) training GFLOP/s against the float32 matmul peak, {args.threads} threads",
                       ("what", "how", "GFLOP/s", "of numpy / tf peak", "target 50%"), rows)
    results = {"peaks_flops_per_second": peaks, "models": models}
    common.write_json(args.json, "matmul_peak", args, results)
    return results


if __name__ == "__main__":
    main()
