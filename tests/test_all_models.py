"""Every registered model: builds small, saves to .keras, reloads with safe_mode=True, and computes
the same outputs; its layers carry block-prefixed names and its groups end with the head."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.registry import get_entry


def _small_shape(name):
    entry = get_entry(name)
    if not entry.spatial:
        return entry.default_input_shape
    height, width = kerascnn.minimum_input_size(name)
    return (height, width, entry.default_input_shape[-1])


@pytest.mark.parametrize("name", kerascnn.list_models())
def test_build_save_reload(name, tmp_path):
    shape = _small_shape(name)
    model = kerascnn.build(name, num_classes=3, input_shape=shape)
    assert model.output_shape[-1] == 3
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")
    expected = model.predict(x, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
    groups = kerascnn.group_names(model)
    assert groups[0] == "input" and groups[-1] == "head"
    assert all(layer.name.islower() for layer in model.layers)
