"""kerascnn: the canon of convolutional networks as Keras 3 models you build by name, analyse
layer by layer, train with the papers' recipes, fine-tune on your own images, and export."""

import importlib as _importlib
import os as _os
import sys as _sys

from kerascnn import console as _console  # standard library only

# The `kerascnn` command keeps TensorFlow's C++ start-up lines off stderr: set up before
# TensorFlow loads, which is below (kerascnn/console.py).
_console.quiet_if_command()

# Keras 3 with the TensorFlow backend is the only supported stack.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Keep C++ start-up chatter out of user output.
# TensorFlow enables its oneDNN CPU kernels by default only on CPUs with AVX-512 VNNI/BF16 or AMX.
# Elsewhere (AVX2) it runs Eigen kernels whose convolution gradients are slow on small feature maps:
# a ResNet-50 step 1.6x and a ResNet-20 step 1.7x slower on 2 AVX2 cores (tools/README.md). Takes
# effect only when kerascnn is imported before TensorFlow; a value the user set wins. GPUs ignore it.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# Keras maps functional graphs recursively, one frame per layer on the longest path: the 1202-layer
# CIFAR ResNet and the 1001-layer pre-activation ResNet have over 3,000 layers in a row.
_sys.setrecursionlimit(max(_sys.getrecursionlimit(), 20_000))

from kerascnn import layers  # noqa: E402,F401  (registers the serializable layers)
from kerascnn.analysis import summary  # noqa: E402
from kerascnn.groups import block_groups, group_names  # noqa: E402
from kerascnn.registry import build, list_models, minimum_input_size  # noqa: E402

__version__ = "0.1.0"

# The rest of the public API lives in heavier modules, imported on first use.
_LAZY = {
    "train": "kerascnn.training",
    "evaluate": "kerascnn.training",
    "report": "kerascnn.training",
    "fine_tune": "kerascnn.transfer",
    "features": "kerascnn.transfer",
    "advise": "kerascnn.transfer",
    "grow": "kerascnn.transfer",
    "tune": "kerascnn.tuning",
    "export": "kerascnn.saving",  # Not kerascnn/export.py: a submodule would shadow the function.
    "load": "kerascnn.saving",
    "data": "kerascnn.data",
}


def __getattr__(name):
    if name in _LAZY:
        module = _importlib.import_module(_LAZY[name])
        return module if name == "data" else getattr(module, name)
    raise AttributeError(f"module 'kerascnn' has no attribute {name!r}")


__all__ = [
    "build",
    "list_models",
    "minimum_input_size",
    "summary",
    "block_groups",
    "group_names",
    *_LAZY,
]
