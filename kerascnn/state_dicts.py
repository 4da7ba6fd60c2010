"""PyTorch-layout state dicts: reading `.pth` and `.safetensors` files, and the name maps that
place their tensors in kerascnn's layers.

A name map turns every weighted kerascnn layer name into the prefix of its tensors in the source's
state dict, for one family of layouts:

- torchvision / timm ResNet, ResNeXt and Wide ResNet (torchvision/models/resnet.py, timm's
  `ResNet`): `conv3_block2_1_conv` -> `layer2.1.conv1`, `_0_conv` -> `downsample.0`.
- torchvision VGG (torchvision/models/vgg.py): `features.<i>` numbered over its `nn.Sequential`
  of convolutions, batch norms, ReLUs and poolings; `classifier.0/3/6`.
- torchvision DenseNet (torchvision/models/densenet.py): `features.denseblock1.denselayer1.norm1`;
  the published files keep the older `norm.1` names, which are read too (torchvision renames them
  the same way in its `_load_state_dict`).
- torchvision ShuffleNet v2 (torchvision/models/shufflenetv2.py): `stage2.0.branch2.3`.
- torchvision AlexNet and GoogLeNet (alexnet.py, googlenet.py), timm's MobileNet v1
  (timm/models/efficientnet.py, `mobilenetv1_100`) and Inception-ResNet-v2
  (timm/models/inception_resnet_v2.py: `repeat.3.branch1.0`, `block8`, `classif`) and
  Inception-v4 (timm/models/inception_v4.py: `features.19.branch1_1a`, `last_linear`).

Reading `.safetensors` needs only the `safetensors` package and numpy; `.pth` needs PyTorch.
"""

from __future__ import annotations

import re

import keras

__all__ = ["read_state_dict", "LAYOUTS", "layout_for", "prefixes"]


def read_state_dict(path: str) -> dict:
    """The tensors of a `.pth` (torch pickle) or `.safetensors` file as `{key: numpy array}`.

    Raises:
        ValueError: If PyTorch is needed and missing, or the file cannot be read.
    """
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        try:
            return dict(load_file(path))
        except Exception as error:  # noqa: BLE001  (safetensors raises its own error types)
            raise ValueError(f"cannot read {path} as safetensors: {error}") from error
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"reading {path} (a PyTorch state dict) needs PyTorch: pip install torch "
            f"(or convert the file to .safetensors, which needs only the safetensors package)"
        ) from None
    try:
        # weights_only: tensors and containers only, no code from the file is run.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch raises many types for a damaged file)
        raise ValueError(f"cannot read {path} as a PyTorch state dict: {error}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
    return {key: value.detach().cpu().float().numpy() for key, value in state.items()
            if hasattr(value, "detach")}


def _resnet(name):
    rules = (
        (r"conv1_conv", "conv1"), (r"conv1_bn", "bn1"), (r"predictions", "fc"),
        (r"conv(\d)_block(\d+)_0_conv", "layer{s}.{b}.downsample.0"),
        (r"conv(\d)_block(\d+)_0_bn", "layer{s}.{b}.downsample.1"),
        (r"conv(\d)_block(\d+)_(\d)_conv", "layer{s}.{b}.conv{j}"),
        (r"conv(\d)_block(\d+)_(\d)_bn", "layer{s}.{b}.bn{j}"),
    )
    for pattern, template in rules:
        match = re.fullmatch(pattern, name)
        if match:
            numbers = [int(g) for g in match.groups()] + [0, 0, 0]
            return template.format(s=numbers[0] - 1, b=numbers[1] - 1, j=numbers[2])
    return None


def _densenet(name):
    match = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", name)
    if match:
        stage, block, index, kind = match.groups()
        module = {("0", "bn"): "norm1", ("1", "conv"): "conv1", ("1", "bn"): "norm2",
                  ("2", "conv"): "conv2"}[(index, kind)]
        return f"features.denseblock{int(stage) - 1}.denselayer{block}.{module}"
    match = re.fullmatch(r"pool(\d)_(conv|bn)", name)
    if match:
        stage, kind = match.groups()
        return f"features.transition{int(stage) - 1}.{'norm' if kind == 'bn' else 'conv'}"
    fixed = {"conv1_conv": "features.conv0", "conv1_bn": "features.norm0",
             "predictions": "classifier"}
    if name in fixed:
        return fixed[name]
    return "features.norm5" if re.fullmatch(r"conv\d_bn", name) else None


_SHUFFLE_MODULES = {"branch1_dw_conv": "branch1.0", "branch1_dw_bn": "branch1.1",
                    "branch1_pw_conv": "branch1.2", "branch1_pw_bn": "branch1.3",
                    "branch2_pw1_conv": "branch2.0", "branch2_pw1_bn": "branch2.1",
                    "branch2_dw_conv": "branch2.3", "branch2_dw_bn": "branch2.4",
                    "branch2_pw2_conv": "branch2.5", "branch2_pw2_bn": "branch2.6"}


def _shufflenet_v2(name):
    fixed = {"conv1_conv": "conv1.0", "conv1_bn": "conv1.1", "conv5_conv": "conv5.0",
             "conv5_bn": "conv5.1", "predictions": "fc"}
    if name in fixed:
        return fixed[name]
    match = re.fullmatch(r"stage(\d)_unit(\d+)_(\w+)", name)
    if match and match.group(3) in _SHUFFLE_MODULES:
        stage, unit, module = match.groups()
        return f"stage{stage}.{int(unit) - 1}.{_SHUFFLE_MODULES[module]}"
    return None


def _sequential(model: keras.Model, features: str, classifier: dict) -> dict:
    """Prefixes for a torchvision `features` nn.Sequential (VGG, AlexNet): one index per module
    (convolution, batch norm, ReLU, pooling) in the order the Keras layers run."""
    names, index = dict(classifier), 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Flatten) or layer.name in classifier:
            break
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.BatchNormalization)):
            names[layer.name] = f"{features}.{index}"
            index += 1
            if getattr(layer, "activation", None) is keras.activations.relu:
                index += 1  # a ReLU fused into the Keras convolution is its own module
        elif isinstance(layer, (keras.layers.ReLU, keras.layers.MaxPooling2D,
                                keras.layers.Activation)):
            index += 1
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            continue  # PyTorch pads inside the convolution
    return names


def _googlenet(name):
    fixed = {"conv1": "conv1", "conv2_reduce": "conv2", "conv2": "conv3", "predictions": "fc"}
    modules = {"1x1": "branch1", "3x3_reduce": "branch2.0", "3x3": "branch2.1",
               "5x5_reduce": "branch3.0", "5x5": "branch3.1", "pool_proj": "branch4.1"}
    if name == "predictions":
        return "fc"
    match = re.fullmatch(r"(.+)_(conv|bn)", name)
    if not match:
        return None
    unit, kind = match.groups()
    module = fixed.get(unit)
    inception = re.fullmatch(r"(inception\d[a-e])_(\w+)", unit)
    if module is None and inception and inception.group(2) in modules:
        module = f"{inception.group(1)}.{modules[inception.group(2)]}"
    return None if module is None else f"{module}.{kind}"


def _mobilenet_timm(name):
    # timm's stages hold 1, 2, 2, 6 and 2 depthwise-separable blocks (`_gen_mobilenet_v1`).
    fixed = {"conv1_conv": "conv_stem", "conv1_bn": "bn1", "predictions_conv": "classifier"}
    if name in fixed:
        return fixed[name]
    match = re.fullmatch(r"block(\d+)_(dw|pw)_(conv|bn)", name)
    if not match:
        return None
    block, part, kind = int(match.group(1)) - 1, match.group(2), match.group(3)
    stage = 0
    for stage, count in enumerate((1, 2, 2, 6, 2)):
        if block < count:
            break
        block -= count
    module = {("dw", "conv"): "conv_dw", ("dw", "bn"): "bn1", ("pw", "conv"): "conv_pw",
              ("pw", "bn"): "bn2"}[(part, match.group(3))]
    return f"blocks.{stage}.{block}.{module}"


_IRV2_STEM = {"stem_conv1": "conv2d_1a", "stem_conv2": "conv2d_2a", "stem_conv3": "conv2d_2b",
              "stem_conv4": "conv2d_3b", "stem_conv5": "conv2d_4a", "conv7b": "conv2d_7b"}
# kerascnn (keras.applications') block names -> timm's modules, and the last Inception-C block,
# which timm keeps apart as `block8` (no activation after its addition).
_IRV2_BLOCKS = {"stem_mixed5b": "mixed_5b", "reductiona": "mixed_6a", "reductionb": "mixed_7a"}
_IRV2_REPEATS = {"a": "repeat", "b": "repeat_1", "c": "repeat_2"}
_IRV2_LAST_C = 10


def _inception_resnet_v2(name):
    if name == "predictions":
        return "classif"
    match = re.fullmatch(r"(\w+?)_(conv|bn)", name)
    if match and match.group(1) in _IRV2_STEM:
        return f"{_IRV2_STEM[match.group(1)]}.{match.group(2)}"
    match = re.fullmatch(r"inceptionresnet([abc])(\d+)_up_conv", name)
    if match:
        return f"{_irv2_block(*match.groups())}.conv2d"
    match = re.fullmatch(r"(inceptionresnet([abc])(\d+)|\w+)_branch(\d)_(\d)_(conv|bn)", name)
    if not match:
        return None
    block, kind, number, branch, index, part = match.groups()
    module = _irv2_block(kind, number) if kind else _IRV2_BLOCKS.get(block)
    if module is None:
        return None
    # A branch of one convolution is that module itself, not a Sequential: no index.
    single = branch == "0" and block != "reductionb"
    return f"{module}.branch{branch}{'' if single else '.' + index}.{part}"


def _irv2_block(kind, number):
    number = int(number)
    if kind == "c" and number == _IRV2_LAST_C:
        return "block8"
    return f"{_IRV2_REPEATS[kind]}.{number - 1}"


# kerascnn's Inception-v4 modules -> the index of timm's `features` Sequential.
_IV4_FEATURES = {"stem_mixed3a": 3, "stem_mixed4a": 4, "stem_mixed5a": 5, "reductiona": 10,
                 "reductionb": 18, **{f"inceptiona{n}": 5 + n for n in range(1, 5)},
                 **{f"inceptionb{n}": 10 + n for n in range(1, 8)},
                 **{f"inceptionc{n}": 18 + n for n in range(1, 4)}}


def _inception_v4(name):
    if name == "predictions":
        return "last_linear"
    match = re.fullmatch(r"stem_conv(\d)_(conv|bn)", name)
    if match:
        return f"features.{int(match.group(1)) - 1}.{match.group(2)}"
    match = re.fullmatch(r"(\w+?)_branch(\d)_(\d[ab]?)_(conv|bn)", name)
    if not match or match.group(1) not in _IV4_FEATURES:
        return None
    block, branch, index, part = match.groups()
    module = f"features.{_IV4_FEATURES[block]}"
    if block in ("stem_mixed3a", "stem_mixed5a"):
        return f"{module}.conv.{part}"  # a convolution beside a pooling, not in a branch
    if branch == "0" and block not in ("stem_mixed4a", "reductionb"):
        return f"{module}.branch0.{part}"  # a branch of one convolution
    if block.startswith("inceptionc") and branch in ("1", "2"):
        return f"{module}.branch{branch}_{index}.{part}"  # Inception-C's forks are attributes
    return f"{module}.branch{branch}.{index}.{part}"


def _rules(function):
    return lambda model: {layer.name: function(layer.name) for layer in model.layers}


# layout: (prefixes(model) -> {layer name: prefix}, the source's batch-norm epsilon, keys a model
# need not take, keys of the classifier, a renaming of legacy keys).
LAYOUTS = {
    "resnet": (_rules(_resnet), 1e-5, (), ("fc.",), None),
    "vgg": (lambda model: _sequential(model, "features", {
        "fc1": "classifier.0", "fc2": "classifier.3", "predictions": "classifier.6"}),
        1e-5, (), ("classifier.",), None),
    "alexnet": (lambda model: _sequential(model, "features", {
        "fc6_dense": "classifier.1", "fc7_dense": "classifier.4",
        "predictions": "classifier.6"}), 1e-5, (), ("classifier.",), None),
    "densenet": (_rules(_densenet), 1e-5, (), ("classifier.",),
                 (r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                  r"running_mean|running_var))$", r"\1\2")),
    "shufflenet_v2": (_rules(_shufflenet_v2), 1e-5, (), ("fc.",), None),
    "googlenet": (_rules(_googlenet), 1e-3, ("aux1.", "aux2."), ("fc.",), None),
    "mobilenet": (_rules(_mobilenet_timm), 1e-5, ("conv_head.", "bn2."), ("classifier.",), None),
    "inception_resnet_v2": (_rules(_inception_resnet_v2), 1e-3, (), ("classif.",), None),
    "inception_v4": (_rules(_inception_v4), 1e-3, (), ("last_linear.",), None),
}
# Model family -> layout; models whose family holds several layouts are named.
_FAMILY_LAYOUTS = {"resnet": "resnet", "resnext": "resnet", "wide_resnet": "resnet",
                   "vgg": "vgg", "densenet": "densenet", "shufflenet_v2": "shufflenet_v2",
                   "mobilenet": "mobilenet"}
_MODEL_LAYOUTS = {"alexnet_torchvision": "alexnet", "googlenet_torchvision": "googlenet",
                  "inception_resnet_v2": "inception_resnet_v2", "inception_v4": "inception_v4"}


def layout_for(name: str, family: str) -> str:
    """The state-dict layout of registered model `name` of `family`.

    Raises:
        ValueError: If no PyTorch layout of the model is known.
    """
    layout = _MODEL_LAYOUTS.get(name) or _FAMILY_LAYOUTS.get(family)
    if layout is None:
        known = sorted(set(_FAMILY_LAYOUTS) | set(_MODEL_LAYOUTS))
        raise ValueError(
            f"{name!r} has no known PyTorch state-dict layout (families and models with one: "
            f"{', '.join(known)})"
        )
    return layout


def normalized(tensors: dict, layout: str) -> dict:
    """`tensors` with legacy key names renamed as the source itself renames them."""
    renaming = LAYOUTS[layout][4]
    if renaming is None:
        return tensors
    pattern = re.compile(renaming[0])
    return {pattern.sub(renaming[1], key): value for key, value in tensors.items()}


def prefixes(model: keras.Model, layout: str) -> dict:
    """`{layer name: state-dict prefix}` for the weighted layers of `model` in `layout`."""
    names = LAYOUTS[layout][0](model)
    return {name: prefix for name, prefix in names.items() if prefix is not None}


def ignored(layout: str, include_top: bool):
    """The predicate for keys a model of `layout` need not take."""
    _, _, extra, classifier, _ = LAYOUTS[layout]
    skipped = tuple(extra) + (() if include_top else tuple(classifier))
    return lambda key: key.endswith("num_batches_tracked") or key.startswith(skipped)
