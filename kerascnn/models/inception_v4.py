"""Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2.

C. Szegedy, S. Ioffe, V. Vanhoucke, A. Alemi, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.conv import conv_bn_act
from kerascnn.blocks.inception import inception_resnet_block, multi_branch, pool
from kerascnn.heads import classifier_head
from kerascnn.registry import register_family
from kerascnn.specs import inception_v4 as spec

__all__ = ["inception_v4"]


def _stem(x, network, conv_options):
    for name, op in network.stem:
        prefix = f"stem_{name}"
        if getattr(op, "kind", None) == "conv":
            x = conv_bn_act(x, op.filters, op.kernel, op.strides, op.padding, name=prefix,
                            **conv_options)
        elif getattr(op, "kind", None) == "pool":
            x = pool(x, op, f"{prefix}_pool")
        else:
            x = multi_branch(x, op, name=prefix, **conv_options)
    return x


def _stage(x, stage, conv_options):
    for index in range(1, stage.repeats + 1):
        name = f"{stage.name}{index}" if stage.repeats > 1 else stage.name
        if stage.scale is None:
            x = multi_branch(x, stage.branches, name=name, **conv_options)
            continue
        linear = stage.last_linear and index == stage.repeats
        x = inception_resnet_block(
            x, stage.branches, 1.0 if linear else stage.scale, name=name,
            activation=None if linear else "relu", **conv_options,
        )
    return x


@register_family("inception_v4", spec.VARIANTS, input_shape=(299, 299, 3))
def inception_v4(
    num_classes: int = 1000,
    input_shape: tuple = (299, 299, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    variant: str = "inception_v4",
    dropout_rate: float = spec.DROPOUT_RATE,
    name: str = "inception_v4",
) -> keras.Model:
    """Inception-v4 or Inception-ResNet-v1/v2 (Szegedy et al. 2017), from `specs.inception_v4`.

    A stem, then Inception(-ResNet)-A modules on a 35x35 grid, Reduction-A (figure 7, with
    Table 1's k, l, m, n), -B modules on 17x17, Reduction-B, -C modules on 8x8, global average
    pooling, dropout (keep 0.8) and the classifier. Convolutions have batch normalization and
    ReLU; Inception-ResNet blocks add their linear 1x1 projection scaled by 0.17, 0.1 or 0.2
    (`ScaledResidual`) to their input.

    - `inception_v4` (figure 9): 4 x A, 7 x B, 3 x C, 1536 features; 42,679,816 trainable
      parameters, as timm's inception_v4 (batch normalization with learned gamma and beta).
    - `inception_resnet_v1` (figure 15): stem of figure 14, 5 x A, 10 x B, 5 x C, 1792 features.
      Batch normalization without gamma (a ReLU follows), as the authors' code.
    - `inception_resnet_v2`: the network keras.applications' InceptionResNetV2 builds, with the
      same variables in the same order (55,873,736 from `count_params()`), so its weights load.
      Deviations from the paper (which are the authors' released code's): the stem is
      Inception-v3's plus a 35x35 module of 320 maps instead of figure 3's 384, so the blocks are
      320, 1088 and 2080 wide (figures 16-19 say 384, 1154 and 2048); 10 x A, 20 x B and 10 x C
      blocks (figure 15 says 5, 10 and 5); the last C block is linear (scale 1, no ReLU) and a
      1x1 convolution to 1536 maps precedes the pooling. Batch normalization has no gamma.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (299, 299, 3); at least the computed minimum (75x75).
        include_top: Whether to add the classifier.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions`.
        variant: "inception_v4", "inception_resnet_v1" or "inception_resnet_v2".
        dropout_rate: Dropout before the classifier (default 0.2, the paper's keep 0.8).
        name: Model name.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: For an unknown `variant` or a `dropout_rate` outside [0, 1).
    """
    validation.check_choice(variant, "variant", tuple(spec.NETWORKS))
    validation.check_fraction(dropout_rate, "dropout_rate")
    network = spec.NETWORKS[variant]
    conv_options = {"bn_scale": network.bn_scale}
    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs, network, conv_options)
    for stage in network.stages:
        x = _stage(x, stage, conv_options)
    if network.final_conv:
        x = conv_bn_act(x, network.final_conv, 1, name="conv7b", **conv_options)
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation, dropout_rate=dropout_rate)
    return keras.Model(inputs, x, name=name)
