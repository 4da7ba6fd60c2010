"""Search spaces as data: each family's real knobs, and the knobs every family shares.

A knob is `(kind, ...)`: `("int", low, high)`, `("float", low, high, "linear" | "log")`,
`("choice", values)` or `("bool",)`. Family knobs are builder options (`dropout_rate`, `alpha`,
`width` ...), except two: `variant`, a choice among registered model names, for families whose
options only make sense together (a DenseNet's depth, growth rate and bottleneck; VGG's
configuration letter), and the MLP's `depth` x `width`, which become `hidden_units`.
"""

from __future__ import annotations

__all__ = ["COMMON", "FAMILY_SPACES", "space_for", "builder_options"]

# Every family: the optimizer's base rate, the L2 weight decay, and how strongly the notes'
# label-preserving transforms (translation, rotation, shear, stretch) distort training images.
COMMON = {
    "learning_rate": ("float", 1e-3, 0.3, "log"),
    "weight_decay": ("float", 1e-6, 1e-3, "log"),
    "augmentation_strength": ("float", 0.0, 1.0, "linear"),
}

_DROPOUT = ("float", 0.0, 0.6, "linear")
_DROP_PATH = ("float", 0.0, 0.2, "linear")

FAMILY_SPACES = {
    "perceptron": {},
    "mlp": {"depth": ("int", 1, 3), "width": ("choice", (64, 128, 256, 512)),
            "dropout_rate": _DROPOUT, "activation": ("choice", ("relu", "tanh"))},
    "lenet": {"activation": ("choice", ("relu", "tanh"))},
    "alexnet": {"variant": ("choice", ("alexnet", "alexnet_onetower")), "dropout_rate": _DROPOUT},
    "vgg": {"variant": ("choice", ("vgg11", "vgg13", "vgg16", "vgg19")),
            "batch_norm": ("bool",), "dropout_rate": _DROPOUT},
    "googlenet": {"dropout_rate": _DROPOUT},
    "inception_v4": {"variant": ("choice", ("inception_v4", "inception_resnet_v1",
                                            "inception_resnet_v2")), "dropout_rate": _DROPOUT},
    "resnet": {"variant": ("choice", ("resnet18", "resnet34", "resnet50", "resnet101")),
               "drop_path_rate": _DROP_PATH},
    "resnet_cifar": {"variant": ("choice", ("resnet20", "resnet32", "resnet44", "resnet56")),
                     "shortcut": ("choice", ("A", "B")), "drop_path_rate": _DROP_PATH},
    "plain_cifar": {"variant": ("choice", ("plain20", "plain32", "plain44", "plain56"))},
    "resnet_v2": {"variant": ("choice", ("resnet50v2", "resnet101v2")),
                  "drop_path_rate": _DROP_PATH},
    "preact_resnet": {"variant": ("choice", ("preact_resnet110", "preact_resnet164")),
                      "drop_path_rate": _DROP_PATH},
    "resnext": {"variant": ("choice", ("resnext50_32x4d", "resnext101_32x8d")),
                "drop_path_rate": _DROP_PATH},
    "wide_resnet": {"depth": ("choice", (16, 22, 28, 40)), "width": ("choice", (1, 2, 4, 8, 10)),
                    "dropout_rate": ("float", 0.0, 0.4, "linear"), "drop_path_rate": _DROP_PATH},
    "densenet": {"variant": ("choice", ("densenet40_k12", "densenet_bc100_k12")),
                 "dropout_rate": ("float", 0.0, 0.3, "linear")},
    "mobilenet": {"alpha": ("choice", (0.25, 0.5, 0.75, 1.0)), "dropout_rate": _DROPOUT},
    "shufflenet": {"variant": ("choice", ("shufflenet_g1", "shufflenet_g2", "shufflenet_g3",
                                          "shufflenet_g4", "shufflenet_g8")),
                   "scale": ("choice", (0.5, 1.0))},
    "shufflenet_v2": {"variant": ("choice", ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
                                             "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"))},
}


def _override(knob, value):
    """A user's override: a fixed value, a list of choices, a (low, high) tuple or a
    {"min": low, "max": high} dict (the JSON form) for a range."""
    if isinstance(value, dict) and set(value) == {"min", "max"}:
        value = (value["min"], value["max"])
    if isinstance(value, list):
        return ("choice", tuple(value))
    if isinstance(value, tuple) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        low, high = value
        if isinstance(low, int) and isinstance(high, int):
            return ("int", low, high)
        scale = knob[3] if knob and knob[0] == "float" else "linear"
        return ("float", float(low), float(high), scale)
    return ("fixed", value)


def _accepted(family: str, knob: str, builder) -> bool:
    if builder is None or knob == "variant":
        return True
    import inspect

    options = inspect.signature(builder).parameters
    return knob in options or (family == "mlp" and knob in ("depth", "width"))


def space_for(family: str, overrides: dict | None = None, builder=None) -> dict:
    """The knobs searched for `family`: its own, then the common ones, with `overrides` applied.

    Args:
        family: A registry family ("resnet_cifar").
        overrides: `{knob: value}`; a list is a choice, a `(low, high)` pair (or
            `{"min": low, "max": high}`) a range, anything else a fixed value. New knobs are
            passed to the builder as options.
        builder: The builder the search starts from: family knobs it does not take are left out
            (LeNet's `activation` exists for `lenet5`, not for `lenet5_1998`).

    Raises:
        ValueError: For an override that is not a dict.
    """
    own = {k: v for k, v in FAMILY_SPACES.get(family, {}).items() if _accepted(family, k, builder)}
    space = {**own, **COMMON}
    if overrides is None:
        return space
    if not isinstance(overrides, dict):
        raise ValueError(
            f"search_space must be a dict of knobs. Received: search_space={overrides!r}"
        )
    for knob, value in overrides.items():
        space[knob] = _override(space.get(knob), value)
    return space


def builder_options(family: str, values: dict) -> dict:
    """Turns knob values into `kerascnn.build` options (the MLP's depth x width -> hidden_units)."""
    options = {k: v for k, v in values.items() if k not in COMMON and k != "variant"}
    if family == "mlp" and "depth" in options and "width" in options:
        depth, width = options.pop("depth"), options.pop("width")
        options["hidden_units"] = (width,) * depth
    return options
