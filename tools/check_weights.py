"""Checks that every keras.applications weights file kerascnn knows loads and computes alike.

For each model in `kerascnn.weights.APPLICATIONS`, the keras.applications model is built with
`weights=None` and random values in every variable (biases and moving statistics included, so that
layout conversions are exercised), its weights are saved with `save_weights`, and
`kerascnn.build(name, weights=path)` must compute the same logits on random inputs (the largest
absolute difference is printed; the criterion is 1e-4). Offline, no downloads. The test suite runs
the cheaper of these (ResNet-50, ResNet-50 v2, MobileNet); this covers all of them.

    .venv/bin/python tools/check_weights.py [--models resnet50,densenet121] [--size 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import sys

import numpy as np

# One definition of the random weights, shared with the test suite.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from weight_values import randomize_weights  # noqa: E402


def main() -> int:
    import keras

    import kerascnn
    from kerascnn import weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(weights.APPLICATIONS))
    parser.add_argument("--size", type=int, default=32, help="input size (at least 75 is used "
                        "for inception_resnet_v2)")
    args = parser.parse_args()
    worst = 0.0
    for name in args.models.split(","):
        application = weights.APPLICATIONS[name]
        size = max(args.size, 75) if name == "inception_resnet_v2" else args.size
        start = time.time()
        reference = getattr(keras.applications, application)(
            weights=None, input_shape=(size, size, 3), classifier_activation=None)
        randomize_weights(reference, seed=0)
        path = os.path.join(tempfile.mkdtemp(), f"{name}.weights.h5")
        reference.save_weights(path)
        model = kerascnn.build(name, weights=path, input_shape=(size, size, 3),
                               classifier_activation=None)
        x = np.random.default_rng(1).uniform(0, 1, (2, size, size, 3)).astype("float32")
        difference = float(np.max(np.abs(keras.ops.convert_to_numpy(model(x))
                                          - keras.ops.convert_to_numpy(reference(x)))))
        worst = max(worst, difference)
        print(f"{name:22s} {application:18s} max |difference| {difference:.2e}  "
              f"({time.time() - start:.0f} s)", flush=True)
        keras.backend.clear_session()
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
