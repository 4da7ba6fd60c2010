"""Shared test set-up: quiet TensorFlow, deterministic seeds, and small helpers."""

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # What `import kerascnn` sets (see there).

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A shell starts background jobs with SIGINT ignored, and Python then installs no handler:
    # the suite's Ctrl-C checks (in this process and in the processes it starts) need the
    # handler an interactive start gives.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


def trainable_count(model) -> int:
    """Trainable parameters, as papers and torchvision count them."""
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def build_shapes(name, **kwargs):
    """Builds a registered model whose variables have shapes but no values (never initialized):
    parameter counts, MACs and output shapes of full-size networks without the cost of filling
    hundreds of millions of weights. Such a model cannot be run."""
    import kerascnn

    with keras.StatelessScope(initialize_variables=False):
        return kerascnn.build(name, **kwargs)
