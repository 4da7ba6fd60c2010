"""The PyTorch side of benchmark (d): reference models, their training steps, and peak memory.

Two references: `twins` (torch_models.py, layer-for-layer copies of kerascnn's graphs) and
`torchvision` (torchvision's own definitions, each against the kerascnn model of the same layout).
Every PyTorch model trains as three contenders: eager in the default NCHW layout, eager in
channels-last, and `torch.compile` (inductor) of the channels-last model.

Peak memory is measured per contender in its own short process (`peak_memory`), so that neither
framework's libraries, allocator caches or compiled code count against the other. Run as a script,
this module is that process:

    python tools/torch_contenders.py CONTENDER MODEL REFERENCE SIZE BATCH WARMUP STEPS THREADS

Import order: torch and torchvision must be imported before TensorFlow in any process that needs
both (importing tensorflow, then torch, then torchvision segfaults); the caller does that.
"""

from __future__ import annotations

import json
import os
import sys
import time

import bench_common as common  # sets the thread and oneDNN environment before any framework loads

# Registered kerascnn name and build options against each torchvision constructor.
TORCHVISION = {
    "resnet50": ("resnet50", {"stride_at": "3x3"}, "resnet50"),  # torchvision's "v1.5" layout
    "vgg11": ("vgg11", {}, "vgg11"),
    "densenet121": ("densenet121", {}, "densenet121"),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, "shufflenet_v2_x1_0"),
    "resnext50_32x4d": ("resnext50_32x4d", {}, "resnext50_32x4d"),
    "alexnet": ("alexnet_torchvision", {}, "alexnet"),
}
REFERENCES = ("twins", "torchvision")
TORCH_CONTENDERS = ("torch", "torch_channels_last", "torch_compile")


def default_models(reference: str) -> str:
    return ",".join(TORCHVISION) if reference == "torchvision" else "resnet50,resnet20"


def kerascnn_spec(name: str, reference: str) -> tuple[str, dict]:
    """The registered kerascnn name and build options to set against `name` of `reference`."""
    if reference == "torchvision":
        if name not in TORCHVISION:
            raise ValueError(f"--reference torchvision covers {', '.join(TORCHVISION)}. "
                             f"Received: {name!r}")
        return TORCHVISION[name][0], dict(TORCHVISION[name][1])
    return name, {}


def build_kerascnn(name: str, reference: str, shape: tuple):
    import kerascnn

    registered, options = kerascnn_spec(name, reference)
    return kerascnn.build(registered, input_shape=shape, classifier_activation=None, **options)


def build_torch(name: str, reference: str, classes: int, shape: tuple):
    """The PyTorch model set against kerascnn's `name`, in NCHW, for `shape` (H, W, C) inputs."""
    if reference == "twins":
        import torch_models

        return torch_models.MODELS[name](classes)
    import torchvision

    return _fit_head(getattr(torchvision.models, TORCHVISION[name][2])(num_classes=classes), shape)


def _fit_head(model, shape: tuple):
    """Gives VGG and AlexNet the classifier input of their feature map at this input size.

    torchvision pools their last maps to a fixed 7x7 (6x6) whatever the input, so below 224x224
    its first fully connected layer keeps its 224x224 size while kerascnn's, like the papers',
    reads the actual map. At 224x224 the pooling is the identity and the model is unchanged.
    """
    import torch
    from torch import nn

    pool = getattr(model, "avgpool", None)
    if not isinstance(pool, nn.AdaptiveAvgPool2d) or not hasattr(model, "features"):
        return model
    with torch.no_grad():
        features = model.features(torch.zeros(1, shape[2], shape[0], shape[1]))
    target = pool.output_size if isinstance(pool.output_size, tuple) else (pool.output_size,) * 2
    if tuple(features.shape[-2:]) == tuple(target):
        return model
    model.avgpool = nn.Identity()
    index = next(i for i, layer in enumerate(model.classifier) if isinstance(layer, nn.Linear))
    model.classifier[index] = nn.Linear(features[0].numel(), model.classifier[index].out_features)
    return model


def trainable_parameters(model) -> int:
    """Trainable parameter count of a keras.Model or a torch.nn.Module."""
    if hasattr(model, "trainable_weights"):
        return sum(int(w.numpy().size) for w in model.trainable_weights)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def torch_steps(name: str, reference: str, x, y, classes: int, contenders) -> dict:
    """Training-step functions of the chosen `TORCH_CONTENDERS` on numpy NHWC images `x`."""
    import torch

    import torch_models

    nchw = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(y).long()
    channels_last = nchw.contiguous(memory_format=torch.channels_last)
    steps = {}
    for label in contenders:
        model = build_torch(name, reference, classes, x.shape[1:])
        if label == "torch":
            steps[label] = torch_models.train_step(model, nchw, labels)
            continue
        model = model.to(memory_format=torch.channels_last)
        if label == "torch_compile":
            # What a user writes: compile the model (inductor, default mode; forward and backward
            # through AOTAutograd); the loss and SGD's update stay eager, about 1% of a step.
            model = torch.compile(model, backend="inductor")
        steps[label] = torch_models.train_step(model, channels_last, labels)
    return steps


def peak_memory(contender: str, name: str, reference: str, shape: tuple, args) -> dict:
    """Runs `contender`'s step on `name` in a fresh process and returns its resident memory.

    Returns bytes: `step_peak`, the high-water mark of resident memory (VmHWM) over `args.steps`
    steps after `args.warmup` warm-up steps (the mark is reset after warm-up through
    /proc/self/clear_refs, so tracing and inductor's compilation do not count); `process_peak`,
    the mark over the whole process (imports, build, compilation, steps); `before_steps`,
    resident memory once the model is built. Each framework is counted alone: the child imports
    only its own. Compiler worker processes, if any, are not counted.

    Not `getrusage(RUSAGE_SELF).ru_maxrss`: after fork and exec it keeps the high-water mark of
    the forked copy of this process (TensorFlow, PyTorch and their models), which every child
    then reported as its own peak (1.94 GB for a 0.8 GB ShuffleNet step).
    """
    command = [sys.executable, os.path.abspath(__file__), contender, name, reference,
               str(shape[0]), str(args.batch), str(args.warmup), str(args.steps), str(args.threads)]
    result = common.json_child(command)
    if "error" in result:
        print(f"  {name} {contender}: memory process failed ({result['error']}):\n"
              f"{result.pop('stderr')}")
    return result


def _resident(field: str) -> int | None:
    """A Vm* field of /proc/self/status, in bytes."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current resident size (Linux >= 4.0)
        return True
    except OSError:
        return False


def _child(argv: list[str]) -> None:
    contender, name, reference = argv[:3]
    size, batch, warmup, steps, threads = (int(a) for a in argv[3:8])
    shape = (32, 32, 3) if name.startswith("resnet20") else (size, size, 3)
    if contender.startswith("kerascnn"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        model = build_kerascnn(name, reference, shape)
        classes = model.outputs[0].shape[-1]
        x, y = common.synthetic_batch(batch, shape, classes)
        # "kerascnn_xla": the same step compiled by XLA (its own buffer assignment).
        step = common.keras_step(model, x, y, jit_compile=contender == "kerascnn_xla")
    else:
        import torch

        if reference == "torchvision":
            import torchvision  # noqa: F401

        torch.set_num_threads(threads)
        classes = 10 if name.startswith("resnet20") else 1000
        x, y = common.synthetic_batch(batch, shape, classes)
        step = torch_steps(name, reference, x, y, classes, [contender])[contender]
    before = _resident("VmRSS")
    for _ in range(max(1, warmup)):
        step()
    warmup_peak = _resident("VmHWM")
    reset = _reset_peak()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    step_peak = _resident("VmHWM")
    print(json.dumps({
        "step_peak": step_peak if reset else None,
        "process_peak": max(warmup_peak, step_peak) if warmup_peak and step_peak else None,
        "before_steps": before, "images_per_second_alone": batch / seconds}))


if __name__ == "__main__":
    _child(sys.argv[1:])
