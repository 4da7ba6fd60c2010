"""Shared test set-up: quiet TensorFlow, deterministic seeds, and small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # What `import kerascnn` sets (see there).

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


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


def randomize_weights(model, seed=0, beta_scale=0.1):
    """Gives every variable a random value and returns the model.

    Moving means and biases are non-zero (keras.applications starts them at zero, which would hide
    a wrong bias fold or a misplaced statistic); gammas and moving variances lie in [0.5, 1.5];
    kernels are scaled by their fan-in so that activations stay of order one through deep networks.
    `beta_scale` is the standard deviation of batch-norm betas.
    """
    rng = np.random.default_rng(seed)
    values = []
    for variable in model.weights:
        kind, shape = variable.path.rsplit("/", 1)[-1], tuple(variable.shape)
        if kind in ("gamma", "moving_variance"):
            values.append(rng.uniform(0.5, 1.5, shape))
        elif len(shape) > 1:
            values.append(rng.normal(0, 1, shape) / np.sqrt(np.prod(shape[:-1])))
        else:
            values.append(rng.normal(0, beta_scale if kind == "beta" else 0.1, shape))
    model.set_weights(values)
    return model
