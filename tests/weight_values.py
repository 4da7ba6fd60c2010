"""Random values for every variable of a model: weights that expose a wrong weight conversion.

Shared by the weight tests and tools/check_weights.py, which checks every keras.applications
weights file the same way; plain numpy, so the tool runs without the test extras.
"""

import numpy as np


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
