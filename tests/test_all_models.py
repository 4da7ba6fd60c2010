"""Every registered model builds at its computed minimum input size, runs, and carries
block-prefixed names; one model per family and structural option is saved to .keras, reloaded with
safe_mode=True, and must compute identical outputs."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.registry import get_entry

# Variants that differ from one of these only in depth, width or group counts reuse the same
# builder code and layer types, so one save/reload per structural option covers them. A new family
# or option must add its representative here (test_every_family_is_round_tripped checks families).
ROUND_TRIP = [
    "alexnet", "alexnet_onetower",
    "densenet121", "densenet40_k12", "densenet_bc100_k12",
    "googlenet",
    "inception_v4", "inception_resnet_v1", "inception_resnet_v2",
    "lenet5", "lenet5_1998",
    "mlp", "perceptron", "single_layer",
    "mobilenet",
    "notes_resnet20",
    "plain20",
    "preact_resnet110", "preact_resnet164",
    "resnet18", "resnet50",
    "resnet20",
    "resnet50v2",
    "resnext50_32x4d",
    "shufflenet_g1", "shufflenet_g3", "shufflenet_v2_x0_5",
    "vgg11", "vgg11_bn", "vgg11_lrn", "vgg16_c",
    "wide_resnet50_2", "wrn16_8",
]


def _small_shape(name):
    entry = get_entry(name)
    if not entry.spatial:
        return entry.default_input_shape
    height, width = kerascnn.minimum_input_size(name)
    return (height, width, entry.default_input_shape[-1])


def _build_small(name):
    shape = _small_shape(name)
    model = kerascnn.build(name, num_classes=3, input_shape=shape)
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")
    return model, x


def _outputs(model, x):
    # A direct call runs eagerly: tracing predict's function costs more than one small batch.
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("name", kerascnn.list_models())
def test_builds_small_and_runs(name):
    model, x = _build_small(name)
    assert model.output_shape == (None, 3)
    outputs = _outputs(model, x)
    assert outputs.shape == (2, 3) and np.isfinite(outputs).all()
    groups = kerascnn.group_names(model)
    assert groups[0] == "input" and groups[-1] == "head"
    assert all(layer.name.islower() for layer in model.layers)
    assert len({layer.name for layer in model.layers}) == len(model.layers)


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_save_and_reload_in_safe_mode(name, tmp_path):
    model, x = _build_small(name)
    expected = _outputs(model, x)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(_outputs(reloaded, x), expected)


def test_every_family_is_round_tripped():
    families = {get_entry(name).family for name in kerascnn.list_models()}
    covered = {get_entry(name).family for name in ROUND_TRIP}
    assert families <= covered, f"families without a save/reload check: {families - covered}"
