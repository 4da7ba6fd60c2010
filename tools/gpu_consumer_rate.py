"""How fast a GPU consumes training images, and how many CPU cores of the folder pipeline feed it.

The JPEG-folder benchmark (`bench_jpeg_folder.py`) measures kerascnn's input pipeline in images
per second per core. Whether that pipeline keeps up depends on the consumer; on a CPU it always
does, on a GPU it may not. This script times torchvision's ResNet-50 and AlexNet training steps
on one CUDA device the way GPU users train them (channels-last, bfloat16 autocast, SGD with
momentum, synthetic data already on the device, so that only the consumer is timed), eager and
under `torch.compile`, alternating rounds, median of `--repeats`; then, given the pipeline's
JSON, the cores that feed each at twice its rate (the margin the pipeline benchmark targets).

Needs only PyTorch and torchvision with a CUDA device: it runs where TensorFlow is not installed.

    python tools/gpu_consumer_rate.py --json tools/results/gpu-consumer-H200.json
    python tools/gpu_consumer_rate.py --from-json tools/results/gpu-consumer-H200.json \
        --pipeline tools/results/jpeg-folder-224-b32-2cpu-avx2-2026-11-29.json
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time

import bench_common as common  # alternating rounds and their medians, as every benchmark here

MODELS = ("resnet50", "alexnet")
CONTENDERS = ("eager_fp32", "eager_bf16", "compile_bf16")
MARGIN = 2.0  # the pipeline benchmark's target: input at twice the consumer's rate


def train_step(name: str, contender: str, batch: int, size: int):
    """A closure running one training step of torchvision's `name` on the GPU."""
    import torch
    import torchvision

    model = getattr(torchvision.models, name)(num_classes=1000).cuda()
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(batch, 3, size, size, device="cuda", generator=generator)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device="cuda", generator=generator)
    forward = torch.compile(model) if contender.startswith("compile") else model
    dtype = torch.bfloat16 if contender.endswith("bf16") else torch.float32

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is torch.bfloat16):
            loss = loss_fn(forward(x), y)
        loss.backward()
        optimizer.step()

    return step


def images_per_second(step, batch: int, steps: int) -> float:
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def measure(args) -> dict:
    """Images per second of every contender on every model: median of alternating rounds."""
    import torch

    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32; bf16 is the fast contender
    torch.backends.cudnn.allow_tf32 = False
    results = {}
    for name in args.models:
        steps = {c: train_step(name, c, args.batch, args.size) for c in args.contenders}
        for step in steps.values():
            for _ in range(args.warmup):
                step()
        medians = common.alternate({c: functools.partial(images_per_second, step, args.batch,
                                                         args.steps)
                                    for c, step in steps.items()}, args.repeats, tag=f"{name}/")
        results[name] = {c: {"images_per_second": medians[c],
                             "samples": common.SAMPLES[f"{name}/{c}"]} for c in steps}
        for contender, row in results[name].items():
            print(f"{name:10s} {contender:13s} {row['images_per_second']:9.0f} img/s")
        del steps
        torch.cuda.empty_cache()
    return {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "platform": platform.platform(), "arguments": vars(args), "results": results}


def cores_needed(consumer: dict, pipeline: dict) -> list[dict]:
    """For each pipeline row and model: cores that feed the fastest contender at MARGIN x."""
    rows = []
    for name, contenders in consumer["results"].items():
        rate = max(row["images_per_second"] for row in contenders.values())
        for entry in pipeline["results"]:
            rows.append({"model": name, "consumer_images_per_second": rate,
                         "policy": entry["policy"], "cache": entry["cache"],
                         "per_core": entry["per_core"],
                         "cores": MARGIN * rate / entry["per_core"]})
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=15,
                   help="untimed steps (compilation happens here)")
    p.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="write the measurements here")
    p.add_argument("--from-json", help="read earlier measurements instead of measuring")
    p.add_argument("--pipeline", help="a bench_jpeg_folder.py JSON: print the cores that feed "
                                      "each consumer at twice its rate")
    args = p.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as handle:
            consumer = json.load(handle)
    else:
        consumer = measure(args)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(consumer, handle, indent=2)
            print(f"wrote {args.json}")
    if args.pipeline:
        with open(args.pipeline) as handle:
            pipeline = json.load(handle)
        print(f"\ncores of the folder pipeline that feed {consumer['device']} at {MARGIN:g}x:")
        for row in cores_needed(consumer, pipeline):
            print(f"{row['model']:10s} {row['consumer_images_per_second']:7.0f} img/s  "
                  f"policy {row['policy']:9s} {row['cache']:7s} {row['per_core']:7.0f}/core  "
                  f"{row['cores']:6.1f} cores")


if __name__ == "__main__":
    main()
