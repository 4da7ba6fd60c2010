"""What holds the training step's peak memory: kerascnn's step against PyTorch's, each in its own
process, and kerascnn's again under settings that would each release memory if they held it.

    python tools/memory_variants.py [--model resnet50] [--size 224] [--batch 32] [--threads 1]

Rows (peak resident memory over two steps after one warm-up, `torch_contenders.peak_memory`):

    torch channels-last    torchvision's model, eager PyTorch, channels-last (the reference)
    kerascnn               the same layout built by kerascnn, Keras's compiled train step
    MALLOC_ARENA_MAX=1     glibc with one arena: fragmentation across threads' arenas
    MALLOC_TRIM_...        glibc returning freed memory at once (trim threshold 0, mmap 64 KiB)
    oneDNN off             TensorFlow's Eigen kernels: oneDNN's blocked layouts and scratchpads
    XLA                    the step compiled by XLA, which plans every buffer's lifetime

Each row is one process; the memory rows need no quiet machine, the seconds do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import bench_common

HERE = os.path.dirname(os.path.abspath(__file__))

VARIANTS = (
    ("torch channels-last", "torch_channels_last", {}),
    ("kerascnn", "kerascnn", {}),
    ("MALLOC_ARENA_MAX=1", "kerascnn", {"MALLOC_ARENA_MAX": "1"}),
    ("MALLOC_TRIM_THRESHOLD_=0", "kerascnn",
     {"MALLOC_TRIM_THRESHOLD_": "0", "MALLOC_MMAP_THRESHOLD_": "65536"}),
    ("oneDNN off", "kerascnn", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    ("XLA", "kerascnn_xla", {}),
)


def measure(contender: str, env: dict, args) -> dict:
    command = [sys.executable, os.path.join(HERE, "torch_contenders.py"), contender, args.model,
               "torchvision", str(args.size), str(args.batch), "1", "2", str(args.threads)]
    return bench_common.json_child(command, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    rows, reference = [], None
    for label, contender, env in VARIANTS:
        result = measure(contender, env, args)
        if "error" in result:
            print(f"{label}: failed ({result['error']})\n{result['stderr']}")
            continue
        peak = result["step_peak"] or result["process_peak"]
        if contender == "torch_channels_last":
            reference = peak
        rows.append({"variant": label, **result})
        ratio = f"{peak / reference:4.2f}x torch" if reference else "(no torch peak)"
        print(f"{label:<26} peak {peak / 1e9:5.2f} GB  {ratio}  "
              f"{result['images_per_second_alone']:6.2f} img/s", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "size": args.size, "batch": args.batch,
                       "threads": args.threads, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
