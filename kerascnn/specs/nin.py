"""Network in Network as data: Lin, Chen and Yan, "Network In Network", ICLR 2014.

An mlpconv block is a spatial convolution followed by two 1x1 convolutions (the paper's
"cascaded cross channel parametric pooling"), each with a ReLU; the last block's last 1x1
convolution has one map per class, and global average pooling turns the maps into class scores.

The paper describes its networks in words; the layers here are those its authors released:
- CIFAR-10: the Caffe model zoo's "Network in Network CIFAR10 Model" (gist e56253735ef32c3c296d,
  89.6% accuracy), the same layers as the cuda-convnet definition of the paper
  (mavenlin/cuda-convnet, NIN/): 192 5x5 -> 160 -> 96, max pool 3x3/2, dropout; 192 5x5 ->
  192 -> 192, average pool 3x3/2, dropout; 192 3x3 -> 192 -> 10, global average pool 8x8.
- ImageNet: the Caffe model zoo's "Network in Network Imagenet Model" (gist d802a5849de39225bcc6,
  train_val.prototxt "nin_imagenet", 59.36% top-1; as read by ethereon/caffe-tensorflow,
  examples/imagenet/models/nin.py): 96 11x11/4 -> 96 -> 96, max pool 3x3/2; 256 5x5 (pad 2) ->
  256 -> 256, max pool; 384 3x3 (pad 1) -> 384 -> 384, max pool, dropout; 1024 3x3 (pad 1) ->
  1024 -> 1000, global average pool 6x6. Both pool with Caffe's rounding up.
"""

from typing import NamedTuple

from kerascnn.specs.variant import variant


class MlpConv(NamedTuple):
    """One mlpconv block: `filters` `kernel`x`kernel`/`strides` convolution, then 1x1 `cccp`."""

    filters: int
    kernel: int
    strides: int
    padding: str  # "same" (Caffe's pad = kernel // 2) or "valid"
    cccp: tuple  # widths of the 1x1 convolutions; None stands for the number of classes
    pool: str | None  # "max" or "avg" 3x3/2 pooling after the block, or None
    dropout: bool  # dropout 0.5 after the pooling


CIFAR = (
    MlpConv(192, 5, 1, "same", (160, 96), "max", True),  # 32 -> pool 16
    MlpConv(192, 5, 1, "same", (192, 192), "avg", True),  # 16 -> pool 8
    MlpConv(192, 3, 1, "same", (192, None), None, False),  # 8 -> global average
)
IMAGENET = (
    MlpConv(96, 11, 4, "valid", (96, 96), "max", False),  # 224 -> 54 -> pool 27
    MlpConv(256, 5, 1, "same", (256, 256), "max", False),  # 27 -> pool 13
    MlpConv(384, 3, 1, "same", (384, 384), "max", True),  # 13 -> pool 6
    MlpConv(1024, 3, 1, "same", (1024, None), None, False),  # 6 -> global average
)
LAYOUTS = {"cifar": CIFAR, "imagenet": IMAGENET}

_PAPER = "Lin, Chen & Yan 2014, Network In Network"
VARIANTS = {
    "nin_cifar": variant(f"Network in Network for CIFAR-10: three mlpconv blocks, global average "
                         f"pooling; the authors' released definition ({_PAPER})",
                         input_shape=(32, 32, 3), layout="cifar", num_classes=10),
    "nin_imagenet": variant(f"Network in Network for ImageNet: four mlpconv blocks, the authors' "
                            f"Caffe model zoo definition ({_PAPER})", layout="imagenet"),
}

POOL_SIZE = 3
POOL_STRIDES = 2
DROPOUT_RATE = 0.5
