"""A training pass leaves out a last batch of fewer than half the batch size (its batch norm
statistics come from a few images), and the run counts its steps the same way."""

import numpy as np
import pytest

import kerascnn
from kerascnn.data import load
from kerascnn.data.counting import batches_per_pass, drops_last_batch


@pytest.mark.parametrize("examples, batch_size, dropped, steps", [
    (450, 32, True, 14),    # 14 x 32 + 2: the batch of 2 is left out.
    (466, 32, False, 15),   # 14 x 32 + 18: half a batch or more is kept.
    (464, 32, False, 15),   # 14 x 32 + 16: exactly half a batch is kept.
    (448, 32, False, 14),   # No remainder.
    (20, 32, False, 1),     # Fewer images than a batch: one batch of all of them.
    (None, 32, False, 1),   # Unknown size.
])
def test_the_rule(examples, batch_size, dropped, steps):
    assert drops_last_batch(examples, batch_size) is dropped
    assert batches_per_pass(examples, batch_size) == steps


@pytest.mark.parametrize("examples, sizes", [
    (70, [32, 32]),           # 2 x 32 + 6: the 6 are left out of this pass.
    (90, [32, 32, 26]),       # 2 x 32 + 26: kept.
    (12, [12]),
])
def test_the_training_pipeline_batches_as_the_rule_says(examples, sizes):
    images = np.zeros((examples, 8, 8, 1), "uint8")
    labels = np.arange(examples) % 2
    bundle = load((images, labels), input_shape=(8, 8, 1), batch_size=32, validation_split=0.0,
                  verbose=0)
    for _ in range(2):  # Every pass, reshuffled.
        assert [int(x.shape[0]) for x, _ in bundle.train] == sizes
    assert len(sizes) == batches_per_pass(examples, 32)


def test_a_run_steps_over_the_batches_the_pipeline_gives(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (70, 16, 16, 1), dtype=np.uint8)
    result = kerascnn.train("lenet5", (images, np.arange(70) % 2), input_shape=(16, 16, 1),
                            epochs=2, batch_size=32, recipe="paper", run_dir=str(tmp_path / "r"),
                            verbose=0, report=False)
    # Two steps an epoch (the last 6 images of each pass are left out): the optimizer's count.
    assert int(result.model.optimizer.iterations.numpy()) == 4
