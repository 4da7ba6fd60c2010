"""Benchmark (a): kerascnn's models against keras.applications' same architectures, training.

Both sides are built with the same input size, 1,000 classes and logits, compiled the same way
(SGD with momentum, sparse cross-entropy from logits) and timed with Keras's own train function
in the same process, alternating, median of `--repeats`. Target: kerascnn >= 1.00x.

    .venv/bin/python tools/bench_keras_apps.py [--quick] [--models resnet50,vgg16,densenet121]
"""

from __future__ import annotations

import bench_common as common

# kerascnn name -> keras.applications constructor name.
PAIRS = {"resnet50": "ResNet50", "vgg16": "VGG16", "densenet121": "DenseNet121"}
TARGET = 1.00


def build_pair(name: str, shape: tuple, classes: int):
    """(kerascnn model or None if not registered, keras.applications model)."""
    import keras

    import kerascnn

    application = getattr(keras.applications, PAIRS[name])(
        weights=None, input_shape=shape, classes=classes, classifier_activation=None)
    if name not in kerascnn.list_models():
        return None, application
    ours = kerascnn.build(name, input_shape=shape, num_classes=classes, classifier_activation=None)
    return ours, application


def measure_pair(name: str, args) -> dict:
    """Images per second of both models, alternating; plus their sizes, to show they match."""
    import keras

    from kerascnn.analysis import analyze

    shape = (args.size, args.size, 3)
    ours, application = build_pair(name, shape, 1000)
    models = {"keras.applications": application}
    if args.self_check:  # A/A: keras.applications against a second copy of itself
        ours = build_pair(name, shape, 1000)[1]
    if ours is None:
        print(f"  {name}: not registered in kerascnn yet; timing keras.applications alone")
    else:
        models["kerascnn"] = ours
    x, y = common.synthetic_batch(args.batch, shape, 1000)
    contenders, sizes = {}, {}
    for label, model in models.items():
        step = common.keras_step(model, x, y, args)
        for _ in range(args.warmup):
            step()
        contenders[label] = (lambda s=step: common.images_per_second(s, args.batch, args.steps))
        summary = analyze(model)
        sizes[label] = {"params": model.count_params(), "macs_per_image": summary.total_macs}
    rates = common.alternate(contenders, args.repeats, tag=f"{name} ")
    keras.backend.clear_session()
    result = {"model": name, "input": list(shape), "batch": args.batch,
              "images_per_second": rates, "sizes": sizes}
    if "kerascnn" in rates:
        result["ratio"] = common.paired_ratio(f"{name} kerascnn", f"{name} keras.applications")
    return result


def main(argv=None) -> list[dict]:
    p = common.parser(__doc__.splitlines()[0], size=112, batch=16, steps=3)
    p.add_argument("--models", default=",".join(PAIRS), help="comma-separated kerascnn names")
    p.add_argument("--self-check", action="store_true",
                   help="time keras.applications against itself: the method's noise floor")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.repeats = 64, 4, 2, 1, 3
    common.configure_threads(args.threads)
    results = [measure_pair(name, args) for name in args.models.split(",")]
    rows = []
    for r in results:
        rates, ratio = r["images_per_second"], r.get("ratio")
        same = (len({s["params"] for s in r["sizes"].values()}) == 1 and
                len({s["macs_per_image"] for s in r["sizes"].values()}) == 1)
        rows.append((r["model"], f"{args.size}px b{args.batch}",
                     f"{rates.get('kerascnn', float('nan')):.2f}",
                     f"{rates['keras.applications']:.2f}",
                     "missing" if ratio is None else f"{ratio:.2f}x",
                     "-" if ratio is None else common.verdict(ratio, TARGET),
                     "yes" if same else "NO (see JSON)"))
    what = "A/A self-check: keras.applications (in the kerascnn column) vs itself" if \
        args.self_check else "kerascnn vs keras.applications"
    common.print_table(f"(a) training img/s, {what}, {args.threads} threads, "
                       f"median of {args.repeats}",
                       ("model", "input", "kerascnn", "keras.app", "ratio", "target 1.00x",
                        "same params+MACs"), rows)
    common.write_json(args.json, "keras_applications", args, results)
    return results


if __name__ == "__main__":
    main()
