"""Benchmark (c): input-pipeline throughput of every augmentation policy against the model's rate.

For each policy in `kerascnn.data.POLICIES`, `kerascnn.data.load` builds the training pipeline on
synthetic uint8 images (cached after the first pass, as a real run caches) and the benchmark
times batches drawn from it. The consumer is the fastest model of the policy's kind at the same
input size, trained on synthetic batches: CIFAR ResNet-20 at 32x32 for the small-image policies,
AlexNet for the ImageNet-style ones (the strictest consumers). Target: pipeline >= 2x the model.
The two are timed apart; during training they share the cores, so the margin is what keeps the
model from waiting.

    .venv/bin/python tools/bench_pipeline.py [--quick] [--policies cifar,alexnet]
"""

from __future__ import annotations

import bench_common as common

TARGET = 2.0
# Policies that crop ImageNet-sized images; the rest run on 32x32 images.
IMAGENET_POLICIES = ("alexnet", "vgg", "resnet", "inception", "scale_jitter")
CONSUMERS = {"small": "resnet20", "imagenet": "alexnet"}


def pipeline_rate(policy: str, shape: tuple, args) -> float:
    """Images per second drawn from the augmented training pipeline (median of repeats)."""
    import numpy as np

    import kerascnn

    rng = np.random.default_rng(0)
    scale = kerascnn.data.get_policy(policy).resize_scale
    stored = (round(shape[0] * scale), round(shape[1] * scale), shape[2])
    x = rng.integers(0, 256, size=(args.images, *stored), dtype=np.uint8)
    y = rng.integers(0, 10, size=(args.images,)).astype("int32")
    bundle = kerascnn.data.load((x, y), input_shape=shape, batch_size=args.pipeline_batch,
                                augmentation=policy, validation_split=0.0, verbose=0)
    return dataset_rate(bundle.train, args.images // args.pipeline_batch, args.pipeline_batch,
                        args.repeats, policy)


def dataset_rate(dataset, batches: int, batch_size: int, repeats: int, label: str) -> float:
    """Images per second drawn from `batches` batches of `dataset` (median of `repeats`), after
    a first pass that fills its cache, as a run's first epoch does."""
    import time

    for _ in dataset.take(batches):
        pass

    def one_pass():
        start = time.perf_counter()
        for _ in dataset.take(batches):
            pass
        return batches * batch_size / (time.perf_counter() - start)

    return common.alternate({label: one_pass}, repeats, tag="pipeline ")[label]


def model_rate(name: str, shape: tuple, batch: int, args) -> float:
    import keras

    import kerascnn

    model = kerascnn.build(name, input_shape=shape, classifier_activation=None)
    x, y = common.synthetic_batch(batch, shape, model.outputs[0].shape[-1])
    step = common.keras_step(model, x, y, args)
    for _ in range(args.warmup):
        step()
    rate = common.alternate({name: lambda: common.images_per_second(step, batch, args.steps)},
                            args.repeats, tag="model ")[name]
    keras.backend.clear_session()
    return rate


def main(argv=None) -> list[dict]:
    p = common.parser(__doc__.splitlines()[0], size=224, batch=32, steps=3)
    p.add_argument("--policies", help="comma-separated policy names (default: all)")
    p.add_argument("--images", type=int, default=512, help="synthetic images per pass")
    p.add_argument("--pipeline-batch", type=int, default=64)
    p.add_argument("--cifar-batch", type=int, default=128, help="batch of the 32x32 consumer")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.repeats = 112, 16, 2, 1, 3
        args.images, args.pipeline_batch, args.cifar_batch = 256, 32, 32
    common.configure_threads(args.threads)
    import kerascnn

    policies = args.policies.split(",") if args.policies else list(kerascnn.data.POLICIES)
    consumers = {}
    results = []
    for policy in policies:
        kind = "imagenet" if policy in IMAGENET_POLICIES else "small"
        shape = (args.size, args.size, 3) if kind == "imagenet" else (32, 32, 3)
        if kind not in consumers:
            batch = args.batch if kind == "imagenet" else args.cifar_batch
            consumers[kind] = model_rate(CONSUMERS[kind], shape, batch, args)
        rate = pipeline_rate(policy, shape, args)
        results.append({"policy": policy, "input": list(shape), "pipeline_images_per_second": rate,
                        "consumer": CONSUMERS[kind], "consumer_images_per_second": consumers[kind],
                        "ratio": rate / consumers[kind]})
    rows = [(r["policy"], f"{r['input'][0]}px", f"{r['pipeline_images_per_second']:.0f}",
             f"{r['consumer']} {r['consumer_images_per_second']:.1f}", f"{r['ratio']:.1f}x",
             common.verdict(r["ratio"], TARGET)) for r in results]
    common.print_table(f"(c) augmented pipeline img/s against the model's training img/s, "
                       f"{args.threads} threads, median of {args.repeats}",
                       ("policy", "input", "pipeline", "model", "ratio", "target 2x"), rows)
    common.write_json(args.json, "pipeline", args, results)
    return results


if __name__ == "__main__":
    main()
