"""What each framework keeps from the forward pass for the backward pass, counted exactly: the
forward tensors that kerascnn's training step hands to its gradient ops, against the tensors
PyTorch's autograd saves for torchvision's definition of the same network, grouped by the backward
ops that read them.

    python tools/saved_activations.py [--model resnet50] [--size 224] [--batch 32] [--json FILE]

This is the part of a step's peak memory that is decided by the graph, not by kernels or
allocators: it is live all at once when the backward pass starts. kerascnn's side traces the
training step as Keras's train step computes it (the forward pass, the loss and its
`GradientTape` gradients) as a `tf.function`, runs nothing, and reads the graph: a forward tensor
is kept when an op outside the loss's ancestors reads it. PyTorch's side runs one forward pass in
channels-last and walks the autograd graph's saved tensors (each node's `_saved_*` fields, shared
storage counted once). Variables and parameters are left out on both sides. Each side runs in its
own process (torch must load before TensorFlow, and neither's libraries count for the other).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import bench_common  # oneDNN and thread settings before either framework loads

# Backward ops that read a tensor only for its shape (folded away by Grappler).
SHAPE_ONLY = ("ShapeN", "Shape")


def keras_saved(model_name: str, size: int, batch: int) -> dict:
    """Bytes of forward tensors read by gradient ops in kerascnn's step, by reader types."""
    import keras
    import tensorflow as tf
    from torch_contenders import build_kerascnn

    model = build_kerascnn(model_name, "torchvision", (size, size, 3))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)

    graph = step.get_concrete_function(tf.TensorSpec((batch, size, size, 3)),
                                       tf.TensorSpec((batch,), tf.int32)).graph
    forward, stack = set(), [graph.outputs[0].op]
    while stack:
        op = stack.pop()
        if op not in forward:
            forward.add(op)
            stack.extend(t.op for t in op.inputs)
            stack.extend(op.control_inputs)
    kept = collections.Counter()
    for op in forward:
        if op.type == "ReadVariableOp":
            continue
        for tensor in op.outputs:
            readers = sorted({c.type for c in tensor.consumers()
                              if c not in forward and c.type not in SHAPE_ONLY})
            if readers and tensor.dtype != tf.resource and tensor.shape.is_fully_defined():
                kept[f"{op.type} -> {'+'.join(readers)}"] += \
                    tensor.shape.num_elements() * tensor.dtype.size
    return dict(kept)


def torch_saved(model_name: str, size: int, batch: int) -> dict:
    """Bytes of tensors PyTorch's autograd saves for torchvision's model, by reading nodes."""
    import torch

    from torch_contenders import build_torch

    torch.manual_seed(0)
    model = build_torch(model_name, "torchvision", 1000, (size, size, 3))
    model = model.to(memory_format=torch.channels_last).train()
    x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
    output = model(x)
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    readers, sizes, seen, stack = collections.defaultdict(set), {}, set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
        for field in dir(node):
            if not field.startswith("_saved_"):
                continue
            value = getattr(node, field)
            for tensor in value if isinstance(value, (tuple, list)) else [value]:
                if isinstance(tensor, torch.Tensor) and tensor.numel():
                    storage = tensor.untyped_storage()
                    key = storage.data_ptr()
                    if key not in parameters:
                        readers[key].add(f"{node.name()}.{field[len('_saved_'):]}")
                        sizes[key] = storage.nbytes()
    kept = collections.Counter()
    for key, names in readers.items():
        kept["+".join(sorted(names))] += sizes[key]
    return dict(kept)


def run_side(side: str, args) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--side", side, "--model", args.model,
               "--size", str(args.size), "--batch", str(args.batch)]
    result = bench_common.json_child(command)
    if "error" in result:
        raise SystemExit(f"the {side} side failed ({result['error']}):\n{result['stderr']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--side", choices=("keras", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write both sides' bytes here")
    args = parser.parse_args()
    if args.side:
        counter = keras_saved if args.side == "keras" else torch_saved
        print(json.dumps(counter(args.model, args.size, args.batch)))
        return
    sides = {side: run_side(side, args) for side in ("torch", "keras")}
    for side, kept in sides.items():
        print(f"\n{side}: {sum(kept.values()) / 1e9:.3f} GB kept for the backward pass")
        for group, size in sorted(kept.items(), key=lambda item: -item[1]):
            if size >= 1e6:
                print(f"  {size / 1e9:7.3f} GB  {group}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "size": args.size, "batch": args.batch,
                       "bytes": sides}, handle, indent=2)


if __name__ == "__main__":
    main()
