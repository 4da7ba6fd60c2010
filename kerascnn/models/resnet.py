"""ResNet v1 on ImageNet (He et al. 2015) and its bottleneck descendants, from one stage table.

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385). ResNeXt (Xie et al. 2017) and the ImageNet Wide ResNets (Zagoruyko &
Komodakis 2016) are registrations of the same builder: they differ only in the groups and inner
width of the bottleneck's 3x3 convolution (`specs.resnet.RESNEXT_VARIANTS`,
`WIDE_IMAGENET_VARIANTS`).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.residual import basic_block, bottleneck_block, conv_bn
from kerascnn.heads import classifier_head
from kerascnn.layers.stochastic_depth import linear_drop_rates
from kerascnn.registry import register_family
from kerascnn.specs import resnet as spec

__all__ = ["resnet"]

_IMAGENET = (224, 224, 3)


@register_family("resnet", spec.IMAGENET_VARIANTS, input_shape=_IMAGENET)
@register_family("resnext", spec.RESNEXT_VARIANTS, input_shape=_IMAGENET)
@register_family("wide_resnet", spec.WIDE_IMAGENET_VARIANTS, input_shape=_IMAGENET)
def resnet(
    num_classes: int = 1000,
    input_shape: tuple = _IMAGENET,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "resnet50",
    depth: int = 50,
    shortcut: str = "B",
    stride_at: str = "1x1",
    groups: int = 1,
    width_per_group: int = 64,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """ResNet v1 for ImageNet (He et al. 2015, Table 1): basic blocks for 18/34, bottlenecks beyond.

    conv1 (7x7/2, 64) and 3x3/2 max pooling, then four stages (conv2_x ... conv5_x, 64 to 512
    filters) whose first block halves the map (except conv2_x), global average pooling and the
    classifier. Batch norm follows every convolution, so convolutions have no bias; ReLU follows
    every addition. `resnet18` ... `resnet152` are this builder with `depth` set (trainable
    parameters 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808, as torchvision).

    Like the paper's released model and keras.applications, a bottleneck block strides in its
    first 1x1 convolution (3.8 G multiply-adds for ResNet-50, the paper's figure);
    `stride_at="3x3"` gives torchvision's "v1.5" layout (4.09 G). keras.applications' ResNet
    weights load into this graph (`weights="imagenet"` or a file path): their convolution biases
    fold exactly into the following batch norm (see `kerascnn.weights`).

    ResNeXt (Xie et al. 2017, Table 1; figure 3(c)) is this network with `groups` C and
    `width_per_group` d in every bottleneck's 3x3 convolution: `resnext50_32x4d` (25,028,904
    trainable parameters) and `resnext101_32x8d` (88,791,336), as torchvision names and counts
    them. The ImageNet Wide ResNets (Zagoruyko & Komodakis 2016, section 4) double the bottleneck's
    inner width (`width_per_group=128`): `wide_resnet50_2` (68,883,240) and `wide_resnet101_2`
    (126,886,696), torchvision's. Both stride in the 3x3 convolution, as the papers' code and
    torchvision.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 18, 34, 50, 101 or 152 (Table 1).
        shortcut: "B" (default, the paper's ImageNet choice: projections where the shape changes),
            "A" (zero-padded identities, no parameters) or "C" (projections everywhere).
        stride_at: "1x1" (default) or "3x3": where a bottleneck block strides.
        groups: Groups of the bottleneck 3x3 convolution (default 1; ResNeXt uses 32).
        width_per_group: Channels per group of that convolution at the first stage (default 64;
            wide_resnet50_2 uses 128, ResNeXt 4 or 8).
        drop_path_rate: Stochastic-depth drop rate of the last block, decaying linearly to the
            first (Huang et al. 2016; default 0: no `StochasticDepth` layers).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: For an unknown depth, shortcut or `stride_at`, groups on basic blocks, or a
            drop rate outside [0, 1).
    """
    validation.check_choice(depth, "depth", tuple(spec.IMAGENET_STAGES))
    validation.check_choice(shortcut, "shortcut", ("A", "B", "C"))
    validation.check_choice(stride_at, "stride_at", ("1x1", "3x3"))
    validation.check_positive_int(groups, "groups")
    validation.check_positive_int(width_per_group, "width_per_group")
    validation.check_fraction(drop_path_rate, "drop_path_rate")
    block_type, counts = spec.IMAGENET_STAGES[depth]
    if block_type == "basic" and (groups != 1 or width_per_group != spec.BASE_WIDTH):
        raise ValueError(
            f"ResNet-{depth} uses basic blocks, which have no groups or inner width; use a "
            f"bottleneck depth (50, 101, 152). Received: groups={groups!r}, "
            f"width_per_group={width_per_group!r}, depth={depth!r}"
        )
    rates = iter(linear_drop_rates(drop_path_rate, sum(counts)))

    inputs = keras.Input(shape=input_shape, name="input")
    stem_filters, stem_kernel = spec.IMAGENET_STEM
    x = conv_bn(inputs, stem_filters, stem_kernel, 2, name="conv1")  # 112x112 at 224
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)  # 56x56
    for stage, (filters, count) in enumerate(zip(spec.IMAGENET_WIDTHS, counts), start=2):
        for index in range(1, count + 1):
            strides = 2 if index == 1 and stage > 2 else 1
            block_name = f"conv{stage}_block{index}"
            if block_type == "basic":
                x = basic_block(x, filters, strides, shortcut_option=shortcut,
                                drop_rate=next(rates), name=block_name)
            else:
                width = filters * width_per_group // spec.BASE_WIDTH * groups
                x = bottleneck_block(x, filters, strides, shortcut_option=shortcut,
                                     groups=groups, width=width, stride_at=stride_at,
                                     expansion=spec.BOTTLENECK_EXPANSION,
                                     drop_rate=next(rates), name=block_name)
        # conv2: 56x56, conv3: 28x28, conv4: 14x14, conv5: 7x7 at 224.
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
