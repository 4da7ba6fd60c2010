"""Benchmark (d): one training step of kerascnn's ResNet-50 and ResNet-20 against PyTorch twins.

Same process, same thread count, same batch, synthetic data, SGD with momentum on cross-entropy
from logits; PyTorch in its default (NCHW) layout and in channels_last; alternating, median of
`--repeats`. Target: kerascnn >= 1.0x PyTorch (the faster of its two layouts). PyTorch is the
optional `bench` extra (`pip install 'kerascnn[bench]'`); without it this benchmark says so and
exits cleanly.

    .venv/bin/python tools/bench_torch.py [--quick] [--models resnet50,resnet20]
"""

from __future__ import annotations

import sys

import bench_common as common

TARGET = 1.0


def VARIANTS(variant: str) -> dict:
    """Keras compile options of a `--variants` entry: plain, xla, spe<N> (steps_per_execution)."""
    if variant == "plain":
        return {}
    if variant == "xla":
        return {"jit_compile": True}
    if variant.startswith("spe") and variant[3:].isdigit():
        return {"steps_per_execution": int(variant[3:])}
    raise ValueError(f"variants are plain, xla or spe<N>. Received: variant={variant!r}")


def measure(name: str, shape: tuple, args) -> dict:
    import keras
    import torch

    import kerascnn
    import torch_models

    if name not in kerascnn.list_models():
        print(f"  {name}: not registered in kerascnn yet; skipped")
        return {"model": name, "missing": True}
    steps = {}
    for variant in args.variants.split(","):
        ours = kerascnn.build(name, input_shape=shape, classifier_activation=None)
        classes = ours.outputs[0].shape[-1]
        x, y = common.synthetic_batch(args.batch, shape, classes)
        label = "kerascnn" if variant == "plain" else f"kerascnn_{variant}"
        steps[label] = common.keras_step(ours, x, y, args, **VARIANTS(variant))
    tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    ty = torch.from_numpy(y).long()
    twin = torch_models.MODELS[name](classes)
    steps["torch"] = torch_models.train_step(twin, tx, ty)
    twin_cl = torch_models.MODELS[name](classes).to(memory_format=torch.channels_last)
    steps["torch_channels_last"] = torch_models.train_step(
        twin_cl, tx.contiguous(memory_format=torch.channels_last), ty)
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    rates = common.alternate(
        {label: (lambda s=step: common.images_per_second(s, args.batch, args.steps))
         for label, step in steps.items()}, args.repeats, tag=f"{name} ")
    result = {"model": name, "input": list(shape), "batch": args.batch, "images_per_second": rates,
              "params": {"kerascnn": ours.count_params(),
                         "torch": torch_models.parameter_count(twin)}}
    best = max(("torch", "torch_channels_last"), key=rates.get)
    result["ratio_to_best_torch"] = {label: common.paired_ratio(f"{name} {label}", f"{name} {best}")
                                     for label in rates if label.startswith("kerascnn")}
    keras.backend.clear_session()
    return result


def main(argv=None) -> list[dict]:
    p = common.parser(__doc__.splitlines()[0], size=112, batch=16, steps=3)
    p.add_argument("--models", default="resnet50,resnet20")
    p.add_argument("--cifar-batch", type=int, default=128, help="batch size of the 32x32 models")
    p.add_argument("--variants", default="plain",
                   help="kerascnn compile variants side by side: plain, xla, spe<N>")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.repeats = 64, 4, 2, 1, 3
        args.cifar_batch = 32
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: benchmark (d) skipped. "
              "Install the optional extra with: pip install 'kerascnn[bench]'")
        return []
    common.configure_threads(args.threads)
    results = []
    for name in args.models.split(","):
        cifar = name.startswith(("resnet20", "resnet32", "resnet44", "resnet56", "resnet110"))
        shape = (32, 32, 3) if cifar else (args.size, args.size, 3)
        batch = args.batch
        args.batch = args.cifar_batch if cifar else batch
        results.append(measure(name, shape, args))
        args.batch = batch
    rows = []
    for r in results:
        if r.get("missing"):
            rows.append((r["model"], "missing", "", "", "", "", "", ""))
            continue
        rates = r["images_per_second"]
        for label, ratio in r["ratio_to_best_torch"].items():
            rows.append((r["model"], f"{r['input'][0]}px b{r['batch']}", label,
                         f"{rates[label]:.2f}", f"{rates['torch']:.2f}",
                         f"{rates['torch_channels_last']:.2f}", f"{ratio:.2f}x",
                         common.verdict(ratio, TARGET)))
    common.print_table(
        f"(d) training img/s, kerascnn vs PyTorch {torch.__version__}, {args.threads} threads, "
        f"median of {args.repeats}, TF_ENABLE_ONEDNN_OPTS={common.machine()['TF_ENABLE_ONEDNN_OPTS']}",
        ("model", "input", "variant", "kerascnn", "torch NCHW", "torch NHWC", "ratio",
         "target 1.0x"), rows)
    common.write_json(args.json, "pytorch", args, results)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
