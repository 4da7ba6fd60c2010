"""Benchmark (e): inference of kerascnn's exports against ONNX Runtime and PyTorch eager.

For each network, the same weights are exported by `kerascnn.export` as a SavedModel, a LiteRT file
(float32, and full-integer int8 calibrated on synthetic images: its accuracy is not what is timed
here, see `--agreement`), and an ONNX file; the contenders are
    saved_model   TensorFlow running the SavedModel's `serve_prepared` signature (inputs at the
                  model's size: resizing raw images is not timed),
    litert_float  the LiteRT interpreter (ai-edge-litert, XNNPACK) on the float file,
    litert_int8   the same on the int8 file,
    onnxruntime   ONNX Runtime (CPU execution provider) on the ONNX file,
    torch         PyTorch eager (`torch.inference_mode`) on torchvision's own definition of the
                  network where torchvision has one, in its own process (tensorflow, torch and
                  torchvision in one process crash), driven over a pipe.
All get the same thread count. Batch-1 latency: median and p90 over every timed call (rounds x
`--calls`, at least 50 by default); batch-32 throughput: images per second, median of rounds.
Rounds alternate the contenders (bench_common.alternate). File sizes are the exported files (the
SavedModel's directory without its `.keras` copy).

Targets (issue 12): kerascnn's fastest export >= 1.0x ONNX Runtime on the same network (batch-1
latency); int8 LiteRT >= 2x the float SavedModel on ResNet-50 at batch 1; int8 file <= 0.3x float.

`--agreement` trains LeNet-5 and a CIFAR-sized ResNet-20 (32x32x3) a few epochs on scikit-learn's
digits and reports the top-1 agreement of their int8 LiteRT exports with the Keras models on the
held-out digits (the suite checks LeNet-5; ResNet-20's training is too slow for it).

    .venv/bin/python tools/bench_inference.py [--quick] [--models resnet50,lenet5] [--agreement]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import bench_common as common

# kerascnn name and options -> torchvision constructor (None: torchvision has no such network).
MODELS = {
    "resnet50": ("resnet50", {"stride_at": "3x3"}, "resnet50"),  # torchvision's "v1.5" layout
    "googlenet": ("googlenet_torchvision", {}, "googlenet"),
    "mobilenet": ("mobilenet", {}, None),  # torchvision has MobileNet v2 and v3, not v1
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, "shufflenet_v2_x1_0"),
    "lenet5": ("lenet5", {}, None),
}
CONTENDERS = ("saved_model", "litert_float", "litert_int8", "onnxruntime", "torch")
MB = 1e6


# ----------------------------------------------------------------------------- the torch process
def torch_worker(name: str, size: int, channels: int, threads: int) -> None:
    """Serves timing requests on stdin: `b1 N` (per-call seconds) or `bN N` (seconds per call)."""
    import torch
    import torchvision

    torch.set_num_threads(threads)
    options = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    model = getattr(torchvision.models, name)(weights=None, num_classes=1000, **options).eval()
    inputs = {}
    print("ready", flush=True)
    for line in sys.stdin:
        batch, calls = (int(v) for v in line[1:].split())
        x = inputs.setdefault(batch, torch.randn(batch, channels, size, size))
        times = []
        with torch.inference_mode():
            for _ in range(calls):
                start = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


class TorchProcess:
    """The PyTorch contender in its own process; `run(batch, calls)` -> per-call seconds."""

    def __init__(self, name: str, size: int, channels: int, threads: int):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--torch-worker", name, str(size), str(channels),
             str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the PyTorch process did not start")

    def run(self, batch: int, calls: int) -> list[float]:
        self.process.stdin.write(f"b{batch} {calls}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


# ----------------------------------------------------------------------- the kerascnn contenders
def _timed(call, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _directory_size(path: str, skip: str = ".keras") -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path)
               for f in files if not f.endswith(skip) and f != "kerascnn.json")


def export_all(model, directory: str, calibration: int) -> dict:
    """Every export of `model`: {contender: path} plus their sizes in bytes."""
    import numpy as np

    import kerascnn

    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    representative = rng.integers(0, 256, (calibration, *shape), dtype=np.uint8)
    paths, sizes = {}, {}
    for label, options in (("saved_model", {}), ("litert_float", {"format": "litert"}),
                           ("litert_int8", {"format": "litert", "quantization": "int8",
                                            "representative_data": representative}),
                           ("onnxruntime", {"format": "onnx"})):
        start = time.perf_counter()
        version = kerascnn.export(model, os.path.join(directory, label), **options)
        if label == "saved_model":
            paths[label], sizes[label] = version, _directory_size(version)
        else:
            with open(os.path.join(version, "kerascnn.json")) as f:
                paths[label] = os.path.join(version, json.load(f)["file"])
            sizes[label] = os.path.getsize(paths[label])
        print(f"    exported {label} in {time.perf_counter() - start:.0f} s "
              f"({sizes[label] / MB:.1f} MB)", flush=True)
    return {"paths": paths, "sizes": sizes}


def callers(paths: dict, shape: tuple, threads: int, batch: int):
    """{contender: zero-argument call on a batch of `batch` images} for the exported files."""
    import numpy as np
    import tensorflow as tf

    from kerascnn.exporting.runtimes import open_runner

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (batch, *shape), dtype=np.uint8)
    served = tf.saved_model.load(paths["saved_model"]).signatures["serve_prepared"]
    with open(os.path.join(paths["saved_model"], "kerascnn.json")) as f:
        normalization = json.load(f)["normalization"]
    from kerascnn.data.normalization import normalize

    prepared = tf.constant(normalize(pixels, normalization))
    calls = {"saved_model": lambda: served(inputs=prepared)["probabilities"].numpy()}
    for label in ("litert_float", "litert_int8", "onnxruntime"):
        runner = open_runner(paths[label], threads=threads)
        runner(pixels)  # allocates tensors for this batch size
        calls[label] = lambda r=runner: r(pixels)
    return calls


def measure(name: str, args, directory: str) -> dict:
    """Exports one network and times every contender at batch 1 and `args.batch`."""
    import kerascnn
    from kerascnn.registry import get_entry

    registered, options, torch_name = MODELS[name]
    entry_shape = get_entry(registered).default_input_shape
    size = min(args.size, entry_shape[0]) if name == "lenet5" else args.size
    shape = (size, size, entry_shape[-1])
    print(f"  {name} ({registered}) at {shape}", flush=True)
    model = kerascnn.build(registered, input_shape=shape, **options)
    exported = export_all(model, os.path.join(directory, name), args.calibration)
    torch = TorchProcess(torch_name, size, shape[-1], args.threads) if torch_name else None
    result = {"model": name, "kerascnn_model": registered, "torchvision": torch_name,
              "input": list(shape), "sizes_bytes": exported["sizes"], "latency_ms": {},
              "images_per_second": {}}
    try:
        for batch in (1, args.batch):
            calls = callers(exported["paths"], shape, args.threads, batch)
            per_round = args.calls if batch == 1 else args.steps
            contenders = {label: (lambda c=call: _timed(c, per_round))
                          for label, call in calls.items()}
            if torch is not None:
                contenders["torch"] = lambda b=batch: torch.run(b, per_round)
            for measure_ in contenders.values():
                measure_()  # warm-up round: allocation, graph optimisation, XNNPACK packing
            samples = {label: [] for label in contenders}
            for round_ in range(args.repeats):
                order = list(contenders.items())
                for label, measure_ in (order[::-1] if round_ % 2 else order):
                    samples[label].extend(measure_())
            common.SAMPLES.update({f"{name} b{batch} {k}": v for k, v in samples.items()})
            if batch == 1:
                result["latency_ms"] = {
                    label: {"median": 1e3 * statistics.median(t),
                            "p90": 1e3 * statistics.quantiles(t, n=10)[-1], "calls": len(t)}
                    for label, t in samples.items()}
            else:
                result["images_per_second"] = {
                    label: statistics.median(batch / s for s in t) for label, t in samples.items()}
    finally:
        if torch is not None:
            torch.close()
    return result


def ratios(result: dict) -> dict:
    """The targets' ratios: speed-ups are ONNX Runtime's (or the SavedModel's) time / ours."""
    latency = {k: v["median"] for k, v in result["latency_ms"].items()}
    ours = [k for k in ("saved_model", "litert_float", "litert_int8") if k in latency]
    fastest = min(ours, key=latency.get)
    sizes = result["sizes_bytes"]
    return {
        "fastest_export": fastest,
        "fastest_vs_onnxruntime": latency["onnxruntime"] / latency[fastest],
        "int8_vs_saved_model": latency["saved_model"] / latency["litert_int8"],
        "int8_vs_float_size": sizes["litert_int8"] / sizes["litert_float"],
        "throughput_fastest_vs_onnxruntime": (max(result["images_per_second"][k] for k in ours)
                                              / result["images_per_second"]["onnxruntime"]),
    }


def agreement(epochs: int) -> list[dict]:
    """int8 top-1 agreement of LeNet-5 and ResNet-20 trained on digits (held-out images)."""
    import keras
    import numpy as np

    import kerascnn
    from kerascnn.exporting.plan import check

    rows = []
    for name, shape in (("lenet5", (32, 32, 1)), ("resnet20", (32, 32, 3))):
        keras.utils.set_random_seed(0)
        bundle = kerascnn.data.load("digits", input_shape=shape, batch_size=64, verbose=0)
        model = kerascnn.build(name, num_classes=10, input_shape=shape)
        model.compile(optimizer=keras.optimizers.Adam(3e-3),
                      loss="sparse_categorical_crossentropy")
        start = time.perf_counter()
        model.fit(bundle.train, epochs=epochs, verbose=0)
        trained = time.perf_counter() - start
        parts = [(x.numpy(), y.numpy()) for x, y in bundle.validation]
        images = np.round(np.concatenate([x for x, _ in parts]) * 255).astype(np.uint8)
        labels = np.concatenate([y for _, y in parts])
        with tempfile.TemporaryDirectory() as directory:
            path = kerascnn.export(model, os.path.join(directory, name), format="litert",
                                   quantization="int8", representative_data="digits")
            with open(os.path.join(path, "kerascnn.json")) as f:
                file = os.path.join(path, json.load(f)["file"])
            record = check(model, file, (images, labels), "unit")
        record.update(model=name, input=list(shape), epochs=epochs, train_seconds=trained)
        rows.append(record)
        print(f"  {name}: keras {record['top1_keras']:.2%}, int8 {record['top1_export']:.2%}, "
              f"agreement {record['top1_agreement']:.2%} on {record['examples']} held-out digits",
              flush=True)
    return rows


def main() -> int:
    if sys.argv[1:2] == ["--torch-worker"]:
        name, size, channels, threads = sys.argv[2], *map(int, sys.argv[3:6])
        torch_worker(name, size, channels, threads)
        return 0
    parser = common.parser(__doc__.splitlines()[0], size=224, batch=32, steps=5)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--calls", type=int, default=20,
                        help="timed batch-1 calls per round (x repeats >= 50)")
    parser.add_argument("--calibration", type=int, default=32,
                        help="synthetic images calibrating the int8 exports")
    parser.add_argument("--agreement", action="store_true",
                        help="also: int8 agreement of LeNet-5 and ResNet-20 trained on digits")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs for --agreement")
    args = parser.parse_args()
    if args.quick:
        args.size, args.batch, args.steps, args.calls, args.repeats = 64, 8, 2, 10, 3
        args.calibration, args.epochs = 4, 1
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    results = {"networks": [], "agreement": []}
    with tempfile.TemporaryDirectory() as directory:
        for name in args.models.split(","):
            if name not in MODELS:
                parser.error(f"--models takes {', '.join(MODELS)}. Received: {name!r}")
            result = measure(name, args, directory)
            result["ratios"] = ratios(result)
            results["networks"].append(result)
    report(results["networks"], args)
    if args.agreement:
        results["agreement"] = agreement(args.epochs)
    common.write_json(args.json, "inference", args, results)
    return 0


def report(networks: list[dict], args) -> None:
    rows = []
    for result in networks:
        for label in CONTENDERS:
            if label not in result["latency_ms"]:
                continue
            latency = result["latency_ms"][label]
            size = result["sizes_bytes"].get(label)
            rows.append((result["model"], label, f"{latency['median']:.2f}",
                         f"{latency['p90']:.2f}",
                         f"{result['images_per_second'][label]:.1f}",
                         f"{size / MB:.2f}" if size else "-"))
    common.print_table(f"Inference, {args.threads} threads (batch 1 latency, batch {args.batch} "
                       "throughput)", ("model", "contender", "b1 median ms", "b1 p90 ms",
                                       f"b{args.batch} img/s", "file MB"), rows)
    rows = []
    for result in networks:
        r = result["ratios"]
        rows.append((result["model"], r["fastest_export"],
                     f"{r['fastest_vs_onnxruntime']:.2f}x "
                     f"({common.verdict(r['fastest_vs_onnxruntime'], 1.0)})",
                     f"{r['int8_vs_saved_model']:.2f}x" + (
                         f" ({common.verdict(r['int8_vs_saved_model'], 2.0)})"
                         if result["model"] == "resnet50" else ""),
                     f"{r['int8_vs_float_size']:.2f}x "
                     f"({'met' if r['int8_vs_float_size'] <= 0.3 else 'missed'})"))
    common.print_table("Targets", ("model", "fastest export", "vs ONNX Runtime (>= 1.0x)",
                                   "int8 vs SavedModel b1 (>= 2x)", "int8 / float size (<= 0.3)"),
                       rows)


if __name__ == "__main__":
    sys.exit(main())
