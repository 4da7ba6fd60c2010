"""Benchmark (d): kerascnn's training step against PyTorch eager and `torch.compile`.

Two references: `--reference twins` (default) sets kerascnn's ResNet-50 and ResNet-20 against
layer-for-layer PyTorch copies (torch_models.py); `--reference torchvision` sets ResNet-50 (v1.5
layout), VGG-11, DenseNet-121, ShuffleNet v2 x1.0, ResNeXt-50 32x4d and AlexNet (torchvision's
one-tower layout) against torchvision's own definitions, and checks that the trainable parameter
counts agree. Each PyTorch model trains as three contenders: eager NCHW, eager channels-last, and
`torch.compile` (inductor) of the channels-last model.

Same process, same thread count, same batch, synthetic data, SGD with momentum on cross-entropy
from logits; alternating rounds, median of `--repeats`. Targets: kerascnn >= 1.3x eager
channels-last and >= 1.0x `torch.compile`. Afterwards each contender's step runs again in its own
process for its peak resident memory (`--no-memory` skips that). PyTorch is the optional `bench`
extra (`pip install 'kerascnn[bench]'`); without it this benchmark says so and exits cleanly.

    .venv/bin/python tools/bench_torch.py [--quick] [--reference torchvision] [--models resnet50]
"""

from __future__ import annotations

import sys

import bench_common as common
import torch_contenders as contenders

TARGETS = {"torch_channels_last": 1.3, "torch_compile": 1.0}
GB = 1e9


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
    """Times every contender on `name`, alternating, then (unless `--no-memory`) its memory."""
    import keras

    import kerascnn

    registered, _ = contenders.kerascnn_spec(name, args.reference)
    if registered not in kerascnn.list_models():
        print(f"  {registered}: not registered in kerascnn yet; skipped")
        return {"model": name, "missing": True}
    steps = {}
    for variant in args.variants.split(","):
        ours = contenders.build_kerascnn(name, args.reference, shape)
        classes = ours.outputs[0].shape[-1]
        x, y = common.synthetic_batch(args.batch, shape, classes)
        label = "kerascnn" if variant == "plain" else f"kerascnn_{variant}"
        steps[label] = common.keras_step(ours, x, y, args, **VARIANTS(variant))
    params = {"kerascnn": contenders.trainable_parameters(ours), "torch":
              contenders.trainable_parameters(contenders.build_torch(name, args.reference,
                                                                     classes, shape))}
    print(f"  {name}: trainable parameters kerascnn {params['kerascnn']:,}, "
          f"{args.reference} {params['torch']:,}"
          f"{'' if params['kerascnn'] == params['torch'] else '  DIFFER'}")
    torch_labels = args.torch.split(",")
    steps.update(contenders.torch_steps(name, args.reference, x, y, classes, torch_labels))
    for label, step in steps.items():
        for _ in range(args.warmup):  # tracing, graph optimisation and inductor's compilation
            step()
    rates = common.alternate(
        {label: (lambda s=step: common.images_per_second(s, args.batch, args.steps))
         for label, step in steps.items()}, args.repeats, tag=f"{name} ")
    result = {"model": name, "kerascnn_model": registered, "reference": args.reference,
              "input": list(shape), "batch": args.batch, "images_per_second": rates,
              "trainable_params": params, "params_agree": params["kerascnn"] == params["torch"]}
    ours_labels = [label for label in rates if label.startswith("kerascnn")]
    result["ratios"] = {label: {other: common.paired_ratio(f"{name} {label}", f"{name} {other}")
                                for other in torch_labels} for label in ours_labels}
    eager = [label for label in ("torch", "torch_channels_last") if label in rates]
    if eager:
        best = max(eager, key=rates.get)
        result["ratio_to_best_torch"] = {label: result["ratios"][label][best]
                                         for label in ours_labels}
    keras.backend.clear_session()
    del steps, ours
    if args.memory:
        result["memory"] = {label: contenders.peak_memory(label, name, args.reference, shape, args)
                            for label in ("kerascnn", *torch_labels)}
    return result


def _rows(results: list[dict]) -> tuple[list, list]:
    """The speed table's and the memory table's rows."""
    speed, memory = [], []
    for r in results:
        if r.get("missing"):
            speed.append((r["model"], "missing") + ("",) * 10)
            continue
        rates, where = r["images_per_second"], f"{r['input'][0]}px b{r['batch']}"
        params = r["trainable_params"]
        for label, ratios in r["ratios"].items():
            cells = [r["model"], where, label, f"{rates[label]:.2f}"]
            cells += [f"{rates[t]:.2f}" if t in rates else "-" for t in contenders.TORCH_CONTENDERS]
            for other, target in TARGETS.items():
                cells += ([f"{ratios[other]:.2f}x", common.verdict(ratios[other], target)]
                          if other in ratios else ["-", "-"])
            cells.append("yes" if r["params_agree"] else
                         f"NO {params['kerascnn']:,}/{params['torch']:,}")
            speed.append(tuple(cells))
        peaks = r.get("memory", {})
        if peaks:
            ours = peaks.get("kerascnn", {}).get("step_peak")
            cells = [r["model"], where]
            for label in ("kerascnn", *contenders.TORCH_CONTENDERS):
                peak = peaks.get(label, {})
                cells.append(f"{peak['step_peak'] / GB:.2f} ({peak['process_peak'] / GB:.2f})"
                             if peak.get("step_peak") else "-")
            theirs = peaks.get("torch_channels_last", {}).get("step_peak")
            ratio = ours / theirs if ours and theirs else None
            cells += [f"{ratio:.2f}x" if ratio else "-",
                      ("met" if ratio <= 1.0 else f"over by {100 * (ratio - 1):.0f}%")
                      if ratio else "-"]
            memory.append(tuple(cells))
            r["memory_ratio_to_channels_last"] = ratio
    return speed, memory


def main(argv=None) -> list[dict]:
    p = common.parser(__doc__.splitlines()[0], size=112, batch=16, steps=3)
    p.add_argument("--reference", choices=contenders.REFERENCES, default="twins",
                   help="PyTorch models: kerascnn's twins (torch_models.py) or torchvision's")
    p.add_argument("--models", help="comma-separated; default: every model of the reference")
    p.add_argument("--cifar-batch", type=int, default=128, help="batch size of the 32x32 models")
    p.add_argument("--variants", default="plain",
                   help="kerascnn compile variants side by side: plain, xla, spe<N>")
    p.add_argument("--torch", default=",".join(contenders.TORCH_CONTENDERS),
                   help="PyTorch contenders: torch (eager NCHW), torch_channels_last, "
                        "torch_compile")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the peak-memory processes")
    p.add_argument("--note", help="a remark kept in the JSON file (the machine's load ...)")
    args = p.parse_args(argv)
    args.models = args.models or contenders.default_models(args.reference)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.repeats = 64, 4, 2, 1, 3
        args.cifar_batch = 32
    unknown = set(args.torch.split(",")) - set(contenders.TORCH_CONTENDERS)
    if unknown:
        p.error(f"--torch takes {', '.join(contenders.TORCH_CONTENDERS)}. Received: {unknown}")
    try:
        # Before TensorFlow: tensorflow, then torch, then torchvision in one process segfaults.
        import torch
        if args.reference == "torchvision":
            import torchvision  # noqa: F401
    except ImportError:
        print("PyTorch or torchvision is not installed: benchmark (d) skipped. "
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
    speed, memory = _rows(results)
    print("\nratio: median over rounds of kerascnn / contender, both timed back to back")
    common.print_table(
        f"(d) training img/s, kerascnn vs PyTorch {torch.__version__} ({args.reference}), "
        f"{args.threads} threads, median of {args.repeats}, "
        f"TF_ENABLE_ONEDNN_OPTS={common.machine()['TF_ENABLE_ONEDNN_OPTS']}",
        ("model", "input", "variant", "kerascnn", "torch NCHW", "torch NHWC", "compile",
         "/NHWC", "target 1.3x", "/compile", "target 1.0x", "same params"), speed)
    if memory:
        common.print_table(
            "(d) peak resident GB over the timed steps (over the whole process), each contender "
            "alone in its own process",
            ("model", "input", "kerascnn", "torch NCHW", "torch NHWC", "compile",
             "kerascnn/NHWC", "target <= 1.0x"), memory)
    common.write_json(args.json, "pytorch", args, results)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
