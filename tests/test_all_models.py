"""Registered models build at their computed minimum input size, run, carry block-prefixed names,
save to .keras, reload with safe_mode=True, and compute identical outputs.

Keras spends a few milliseconds per layer on every build and reload, so building the 1,000-layer
variants here would cost minutes. A variant that differs from a checked model only in depth, width
or group count runs the same builder code with the same layer types; it is listed in
DEPTH_OR_WIDTH_SIBLINGS with that model, and its full-size parameter count is asserted in its
family's tests. test_every_model_is_covered keeps a new name from slipping through unchecked.
"""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.registry import get_entry

DEPTH_OR_WIDTH_SIBLINGS = {
    "resnet": "resnet50",
    "resnet34": "resnet18",
    "resnet101": "resnet50",
    "resnet152": "resnet50",
    "resnet101v2": "resnet50v2",
    "resnet152v2": "resnet50v2",
    "resnext101_32x8d": "resnext50_32x4d",
    "resnet32": "resnet20",
    "resnet44": "resnet20",
    "resnet56": "resnet20",
    "resnet110": "resnet20",
    "resnet1202": "resnet20",
    "plain32": "plain20",
    "plain44": "plain20",
    "plain56": "plain20",
    "plain110": "plain20",
    "preact_resnet1001": "preact_resnet164",
    "wrn28_10": "wrn16_8",
    "wide_resnet101_2": "wide_resnet50_2",
    "densenet161": "densenet121",
    "densenet169": "densenet121",
    "densenet201": "densenet121",
    "densenet264": "densenet121",
    "shufflenet_g2": "shufflenet_g3",
    "shufflenet_g4": "shufflenet_g3",
    "shufflenet_g8": "shufflenet_g3",
    "shufflenet_v2_x1_0": "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_5": "shufflenet_v2_x0_5",
    "shufflenet_v2_x2_0": "shufflenet_v2_x0_5",
    "vgg13": "vgg11",
    "vgg16": "vgg11",
    "vgg19": "vgg11",
    "vgg13_bn": "vgg11_bn",
    "vgg16_bn": "vgg11_bn",
    "vgg19_bn": "vgg11_bn",
}
CHECKED = [name for name in kerascnn.list_models() if name not in DEPTH_OR_WIDTH_SIBLINGS]


def _small_shape(name):
    entry = get_entry(name)
    if not entry.spatial:
        return entry.default_input_shape
    height, width = kerascnn.minimum_input_size(name)
    return (height, width, entry.default_input_shape[-1])


def _outputs(model, x):
    # A direct call runs eagerly: tracing predict's function costs more than one small batch.
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("name", CHECKED)
def test_build_run_save_reload(name, tmp_path):
    shape = _small_shape(name)
    model = kerascnn.build(name, num_classes=3, input_shape=shape)
    assert model.output_shape == (None, 3)
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")
    expected = _outputs(model, x)
    assert expected.shape == (2, 3) and np.isfinite(expected).all()

    groups = kerascnn.group_names(model)
    assert groups[0] == "input" and groups[-1] == "head"
    assert all(layer.name.islower() for layer in model.layers)
    assert len({layer.name for layer in model.layers}) == len(model.layers)
    # Each layer draws its own initial weights: Keras 3 initializers fix their seed when created,
    # so an initializer instance shared by layers would give them equal kernels.
    kernels = [keras.ops.convert_to_numpy(layer.kernel).tobytes() for layer in model.layers
               if isinstance(getattr(layer, "kernel", None), keras.Variable)
               and np.prod(layer.kernel.shape) > 1]
    assert len(set(kernels)) == len(kernels), "two layers start with the same kernel"

    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(_outputs(reloaded, x), expected)


def test_every_model_is_covered():
    names = set(kerascnn.list_models())
    assert set(DEPTH_OR_WIDTH_SIBLINGS) <= names, "a sibling entry names an unregistered model"
    for variant, checked in DEPTH_OR_WIDTH_SIBLINGS.items():
        assert checked in CHECKED, f"{variant}'s sibling {checked} is not checked"
        assert get_entry(variant).builder is get_entry(checked).builder, variant
