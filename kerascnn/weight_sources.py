"""Pretrained weight sources as data: one entry per published file, declared once.

`SOURCES[model][tag]` is a tuple of `WeightSource`s, one per file of that source (several where a
source publishes variants: keras.applications' files with and without the classifier, MobileNet's
per width and input size). The registry derives each model's tags from this table, `kerascnn list
--pretrained` prints it, and `kerascnn.weights` fetches and loads what it declares.

Where the figures come from:
- keras.applications: the URLs and md5 hashes of `keras/src/applications/*.py`; VGG's licence
  (CC BY 4.0, Oxford VGG) and ResNet's (MIT, K. He) as fchollet/deep-learning-models states them.
- torchvision: the `*_Weights` enums of torchvision 0.29 (`torchvision/models/*.py`): `url`, its
  file name's sha256 prefix (what `torch.hub` checks), `_file_size` (MB), `_metrics` acc@1/acc@5;
  torchvision is BSD-3-Clause.
- timm: the pretrained configurations of timm 1.0 (`timm/models/*.py`: hub id, mean/std, licence
  "apache-2.0") and top-1/top-5 at the default input size from its `results/results-imagenet.csv`.
  timm's sources publish no file hash, so none is declared (the hub's own is not in timm's code).
- BVLC: `models/bvlc_alexnet/readme.md` and `models/bvlc_googlenet/readme.md` of BVLC/caffe (URL,
  sha1, center-crop top-1/top-5, "unrestricted" licence). Loading `.caffemodel` files is
  `kerascnn.caffe`'s.

This module is data only and imports nothing from kerascnn, so the registry can read it.
"""

from __future__ import annotations

import dataclasses

__all__ = ["WeightSource", "SOURCES", "APPLICATIONS", "PREPROCESSING", "FORMATS", "tags",
           "pretrained_models", "build_options"]

# Input preparation per mode, as `keras.applications.imagenet_utils.preprocess_input` applies it
# to 0-255 RGB images: channel order, divisor, then per-channel mean and std (after division).
PREPROCESSING = {
    "caffe": {"channels": "BGR", "scale": 1.0, "mean": (103.939, 116.779, 123.68),
              "std": (1.0, 1.0, 1.0)},
    "tf": {"channels": "RGB", "scale": 127.5, "mean": (1.0, 1.0, 1.0), "std": (1.0, 1.0, 1.0)},
    "torch": {"channels": "RGB", "scale": 255.0, "mean": (0.485, 0.456, 0.406),
              "std": (0.229, 0.224, 0.225)},
}
# File formats: "keras" (HDF5 weights), "torch" (a pickled state dict, `.pth`), "safetensors"
# (a state dict read with numpy), "caffe" (a `NetParameter` protobuf, `.caffemodel`).
FORMATS = ("keras", "torch", "safetensors", "caffe")


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """One published weights file and what it can serve.

    Attributes:
        url: Download location.
        file_hash: The hash the source publishes, or None where it publishes none.
        include_top: Whether the file holds the classifier (which fixes `num_classes`).
        num_classes: Classes of the file's classifier (1000 for ImageNet).
        preprocessing: Input preparation, a key of `PREPROCESSING` ("caffe", "tf", "torch").
        application: The keras.applications constructor whose variables a "keras" file holds.
        options: `(name, value)` pairs that select among a source's files (MobileNet's `alpha`,
            `depth_multiplier` and input `rows`).
        algorithm: The hash's algorithm: "md5", "sha256", "sha256_prefix" (the leading hex digits
            of the sha256, as torchvision's file names carry them) or "sha1"; None: by length.
        size_mb: The file's size as the source publishes it, in MB (None where unpublished).
        format: One of `FORMATS`.
        origin: Who publishes the file ("keras.applications", "torchvision", "timm", "BVLC").
        top1, top5: The source's published ImageNet validation accuracy, in percent.
        citation: Where the accuracy (and the file) are documented.
        licence: The weights' licence as the source states it.
        build: `(argument, value)` pairs the model must be built with for this file (ResNet's
            `stride_at`, MobileNet's `padding`); `kerascnn.build(name, weights=tag)` applies them.
        input_size: The input size the published accuracy was measured at (square).
        cache_name: The file name in the Keras cache, where the URL's last part is not unique.
    """

    url: str
    file_hash: str | None
    include_top: bool = True
    num_classes: int = 1000
    preprocessing: str = "caffe"
    application: str | None = None
    options: tuple = ()
    algorithm: str | None = None
    size_mb: float | None = None
    format: str = "keras"
    origin: str = "keras.applications"
    top1: float | None = None
    top5: float | None = None
    citation: str = ""
    licence: str = ""
    build: tuple = ()
    input_size: int = 224
    cache_name: str | None = None

    @property
    def file_name(self) -> str:
        """The cache file name: the URL's last component unless `cache_name` says otherwise."""
        return self.cache_name or self.url.rsplit("/", 1)[-1]

    @property
    def hash_algorithm(self) -> str:
        if self.algorithm:
            return self.algorithm
        return "sha256" if self.file_hash and len(self.file_hash) == 64 else "md5"


# --- keras.applications ---------------------------------------------------------------------------

_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_KERAS_LICENCES = {"vgg16": "CC BY 4.0", "vgg19": "CC BY 4.0", "resnet50": "MIT",
                   "resnet101": "MIT", "resnet152": "MIT"}
# model name: (keras.applications constructor, URL folder, file stem, md5 of the file with the
# classifier, md5 of the file without it, preprocessing). From keras/src/applications/*.py.
_PUBLISHED = {
    "vgg16": ("VGG16", "vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b",
              "6d6bbae143d832006294945121d1f1fc", "caffe"),
    "vgg19": ("VGG19", "vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318",
              "253f8cb515780f3b799900260a226db6", "caffe"),
    "resnet50": ("ResNet50", "resnet", "resnet50", "2cb95161c43110f7111970584f804107",
                 "4d473c1dd8becc155b73f8504c6f6626", "caffe"),
    "resnet101": ("ResNet101", "resnet", "resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                  "88cf7a10940856eca736dc7b7e228a21", "caffe"),
    "resnet152": ("ResNet152", "resnet", "resnet152", "100835be76be38e30d865e96f2aaae62",
                  "ee4c566cf9a93f14d82f913c2dc6dd0c", "caffe"),
    "resnet50v2": ("ResNet50V2", "resnet", "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0",
                   "fac2f116257151a9d068a22e544a4917", "tf"),
    "resnet101v2": ("ResNet101V2", "resnet", "resnet101v2", "6343647c601c52e1368623803854d971",
                    "c0ed64b8031c3730f411d2eb4eea35b5", "tf"),
    "resnet152v2": ("ResNet152V2", "resnet", "resnet152v2", "a49b44d1979771252814e80f8ec446f9",
                    "ed17cf2e0169df9d443503ef94b23b33", "tf"),
    "densenet121": ("DenseNet121", "densenet", "densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                    "30ee3e1110167f948a6b9946edeeb738", "torch"),
    "densenet169": ("DenseNet169", "densenet", "densenet169", "d699b8f76981ab1b30698df4c175e90b",
                    "b8c4d4c20dd625c148057b9ff1c1176b", "torch"),
    "densenet201": ("DenseNet201", "densenet", "densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                    "c13680b51ded0fb44dff2d8f86ac8bb1", "torch"),
    "inception_resnet_v2": ("InceptionResNetV2", "inception_resnet_v2", "inception_resnet_v2",
                            "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4",
                            "tf"),
}
# MobileNet: one file per width multiplier and input size (keras/src/applications/mobilenet.py).
_MOBILENET_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
MOBILENET_ROWS = (128, 160, 192, 224)


# Top-1 and top-5 errors (single center crop, %) that keras-team/keras-applications' README
# publishes for the files it ships; accuracy is 100 minus the error.
_KERAS_ERRORS = {"vgg16": (28.732, 9.950), "vgg19": (28.744, 10.012),
                 "resnet50": (25.296, 7.980), "inception_resnet_v2": (19.744, 4.748),
                 "densenet121": (25.480, 8.022), "densenet169": (23.926, 6.892),
                 "densenet201": (22.936, 6.542), 0.25: (48.418, 24.208), 0.5: (35.708, 14.376),
                 0.75: (31.588, 11.758), 1.0: (29.576, 10.496)}
_KERAS_CITATION = "keras-team/keras-applications README, Performance (100 - top-k error)"


def _keras_accuracy(key) -> dict:
    if key not in _KERAS_ERRORS:
        return {}
    top1, top5 = (round(100.0 - error, 3) for error in _KERAS_ERRORS[key])
    return dict(top1=top1, top5=top5, citation=_KERAS_CITATION)


def _published(name, application, folder, stem, top_hash, notop_hash, mode):
    stem = f"{_KERAS}{folder}/{stem}_weights_tf_dim_ordering_tf_kernels"
    common = dict(preprocessing=mode, application=application,
                  licence=_KERAS_LICENCES.get(name, ""),
                  input_size=299 if name == "inception_resnet_v2" else 224,
                  **_keras_accuracy(name))
    return (
        WeightSource(f"{stem}.h5", top_hash, True, **common),
        WeightSource(f"{stem}_notop.h5", notop_hash, False, **common),
    )


def _mobilenet_files():
    files = []
    for alpha, text in _MOBILENET_ALPHAS.items():
        for rows in MOBILENET_ROWS:
            options = (("alpha", alpha), ("depth_multiplier", 1), ("rows", rows))
            for top, suffix in ((True, "tf.h5"), (False, "tf_no_top.h5")):
                url = f"{_KERAS}mobilenet/mobilenet_{text}_{rows}_{suffix}"
                # Accuracy is published for the 224x224 files, per width.
                accuracy = _keras_accuracy(alpha) if rows == 224 else {}
                files.append(WeightSource(url, None, top, preprocessing="tf",
                                          application="MobileNet", options=options,
                                          input_size=rows, **accuracy))
    return tuple(files)


# keras.applications models whose variables kerascnn's namesakes hold, for loading their files.
APPLICATIONS = {name: row[0] for name, row in _PUBLISHED.items()} | {"mobilenet": "MobileNet"}

# --- torchvision --------------------------------------------------------------------------------

_TORCHVISION = "https://download.pytorch.org/models/"
_TORCHVISION_CITATIONS = {
    "torchvision": "torchvision IMAGENET1K_V1 weights (torchvision/models/*.py _metrics)",
    "torchvision_v2": "torchvision IMAGENET1K_V2 weights (torchvision/models/*.py _metrics)",
}
# model: ((tag, file name, acc@1, acc@5, MB), ...) from the IMAGENET1K_V1 / _V2 entries of the
# `*_Weights` enums in torchvision/models/{resnet,vgg,densenet,shufflenetv2,alexnet,googlenet}.py.
_TORCHVISION_FILES = {
    "resnet18": (("torchvision", "resnet18-f37072fd.pth", 69.758, 89.078, 44.661),),
    "resnet34": (("torchvision", "resnet34-b627a593.pth", 73.314, 91.42, 83.275),),
    "resnet50": (("torchvision", "resnet50-0676ba61.pth", 76.13, 92.862, 97.781),
                 ("torchvision_v2", "resnet50-11ad3fa6.pth", 80.858, 95.434, 97.79)),
    "resnet101": (("torchvision", "resnet101-63fe2227.pth", 77.374, 93.546, 170.511),
                  ("torchvision_v2", "resnet101-cd907fc2.pth", 81.886, 95.78, 170.53)),
    "resnet152": (("torchvision", "resnet152-394f9c45.pth", 78.312, 94.046, 230.434),
                  ("torchvision_v2", "resnet152-f82ba261.pth", 82.284, 96.002, 230.474)),
    "resnext50_32x4d": (
        ("torchvision", "resnext50_32x4d-7cdf4587.pth", 77.618, 93.698, 95.789),
        ("torchvision_v2", "resnext50_32x4d-1a0047aa.pth", 81.198, 95.34, 95.833)),
    "resnext101_32x8d": (
        ("torchvision", "resnext101_32x8d-8ba56ff5.pth", 79.312, 94.526, 339.586),
        ("torchvision_v2", "resnext101_32x8d-110c445d.pth", 82.834, 96.228, 339.673)),
    "wide_resnet50_2": (
        ("torchvision", "wide_resnet50_2-95faca4d.pth", 78.468, 94.086, 131.82),
        ("torchvision_v2", "wide_resnet50_2-9ba9bcbe.pth", 81.602, 95.758, 263.124)),
    "wide_resnet101_2": (
        ("torchvision", "wide_resnet101_2-32ee1156.pth", 78.848, 94.284, 242.896),
        ("torchvision_v2", "wide_resnet101_2-d733dc28.pth", 82.51, 96.02, 484.747)),
    "vgg11": (("torchvision", "vgg11-8a719046.pth", 69.02, 88.628, 506.84),),
    "vgg13": (("torchvision", "vgg13-19584684.pth", 69.928, 89.246, 507.545),),
    "vgg16": (("torchvision", "vgg16-397923af.pth", 71.592, 90.382, 527.796),),
    "vgg19": (("torchvision", "vgg19-dcbb9e9d.pth", 72.376, 90.876, 548.051),),
    "vgg11_bn": (("torchvision", "vgg11_bn-6002323d.pth", 70.37, 89.81, 506.881),),
    "vgg13_bn": (("torchvision", "vgg13_bn-abd245e5.pth", 71.586, 90.374, 507.59),),
    "vgg16_bn": (("torchvision", "vgg16_bn-6c64b313.pth", 73.36, 91.516, 527.866),),
    "vgg19_bn": (("torchvision", "vgg19_bn-c79401a0.pth", 74.218, 91.842, 548.143),),
    "densenet121": (("torchvision", "densenet121-a639ec97.pth", 74.434, 91.972, 30.845),),
    "densenet161": (("torchvision", "densenet161-8d451a50.pth", 77.138, 93.56, 110.369),),
    "densenet169": (("torchvision", "densenet169-b2777c0a.pth", 75.6, 92.806, 54.708),),
    "densenet201": (("torchvision", "densenet201-c1103571.pth", 76.896, 93.37, 77.373),),
    "shufflenet_v2_x0_5": (
        ("torchvision", "shufflenetv2_x0.5-f707e7126e.pth", 60.552, 81.746, 5.282),),
    "shufflenet_v2_x1_0": (
        ("torchvision", "shufflenetv2_x1-5666bf0f80.pth", 69.362, 88.316, 8.791),),
    "shufflenet_v2_x1_5": (
        ("torchvision", "shufflenetv2_x1_5-3c479a10.pth", 72.996, 91.086, 13.557),),
    "shufflenet_v2_x2_0": (
        ("torchvision", "shufflenetv2_x2_0-8be3c8ee.pth", 76.23, 93.006, 28.433),),
    "alexnet_torchvision": (("torchvision", "alexnet-owt-7be5be79.pth", 56.522, 79.066, 233.087),),
    "googlenet_torchvision": (("torchvision", "googlenet-1378be20.pth", 69.778, 89.53, 49.731),),
}
# torchvision's ResNets stride in the bottleneck's 3x3 convolution ("ResNet v1.5").
_TORCHVISION_BUILD = {name: (("stride_at", "3x3"),) for name in (
    "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2",
    "wide_resnet101_2")}
# GoogLeNet's released weights expect `transform_input=True`, which turns torchvision's
# normalisation back into (x - 0.5) / 0.5: inputs in [-1, 1], keras' "tf" mode.
_TORCHVISION_MODES = {"googlenet_torchvision": "tf"}


def _torchvision(name, tag, file_name, top1, top5, size_mb):
    prefix = file_name.rsplit("-", 1)[-1].split(".")[0]
    return WeightSource(
        _TORCHVISION + file_name, prefix, algorithm="sha256_prefix", size_mb=size_mb,
        format="torch", origin="torchvision", top1=top1, top5=top5,
        preprocessing=_TORCHVISION_MODES.get(name, "torch"), licence="BSD-3-Clause",
        citation=_TORCHVISION_CITATIONS[tag],
        build=_TORCHVISION_BUILD.get(name, ()),
    )


# --- timm ---------------------------------------------------------------------------------------

_HUB = "https://huggingface.co/timm/{}/resolve/main/model.safetensors"
_TIMM_RESULTS = "timm results/results-imagenet.csv"
# model: (timm name, acc@1, acc@5 at the default input size, input size, preprocessing, build).
_TIMM_FILES = {
    "resnet50": ("resnet50.a1_in1k", 80.382, 94.598, 224, "torch", (("stride_at", "3x3"),)),
    "mobilenet": ("mobilenetv1_100.ra4_e3600_r224_in1k", 75.388, 92.310, 224, "tf",
                  (("padding", "symmetric"),)),
    "inception_resnet_v2": ("inception_resnet_v2.tf_in1k", 80.434, 95.312, 299, "tf", ()),
    "inception_v4": ("inception_v4.tf_in1k", 80.144, 94.982, 299, "tf", ()),
}


def _timm(timm_name, top1, top5, input_size, mode, build):
    return WeightSource(
        _HUB.format(timm_name), None, format="safetensors", origin="timm", top1=top1, top5=top5,
        preprocessing=mode, licence="apache-2.0", citation=_TIMM_RESULTS, build=build,
        input_size=input_size, cache_name=f"timm_{timm_name}.safetensors",
    )


# --- BVLC (Caffe) -------------------------------------------------------------------------------

_BVLC = "http://dl.caffe.berkeleyvision.org/"
# model: (file stem, sha1, top-1, top-5, input size, the build options of its deploy.prototxt).
_BVLC_FILES = {
    "alexnet": ("bvlc_alexnet", "9116a64c0fbe4459d18f4bb6b56d647b63920377", 57.1, 80.2, 227,
                (("lrn", "caffe"),)),
    "googlenet": ("bvlc_googlenet", "405fc5acd08a3bb12de8ee5e23a96bec22f08204", 68.7, 88.9, 224,
                  (("padding", "caffe"),)),
}


def _bvlc(stem, sha1, top1, top5, input_size, build):
    return WeightSource(
        f"{_BVLC}{stem}.caffemodel", sha1, algorithm="sha1", format="caffe", origin="BVLC",
        top1=top1, top5=top5, preprocessing="caffe", licence="unrestricted",
        citation=f"BVLC/caffe models/{stem}/readme.md (center crop)", input_size=input_size,
        build=build,
    )


# {model name: {tag: the files of that source}}.
SOURCES: dict[str, dict[str, tuple[WeightSource, ...]]] = {
    **{name: {"imagenet": _published(name, *row)} for name, row in _PUBLISHED.items()},
    "mobilenet": {"imagenet": _mobilenet_files()},
}
for _name, _rows in _TORCHVISION_FILES.items():
    for _row in _rows:
        SOURCES.setdefault(_name, {})[_row[0]] = (_torchvision(_name, *_row),)
for _name, (_timm_name, *_row) in _TIMM_FILES.items():
    SOURCES.setdefault(_name, {})[f"timm/{_timm_name}"] = (_timm(_timm_name, *_row),)
    SOURCES[_name].setdefault("timm", SOURCES[_name][f"timm/{_timm_name}"])
for _name, _row in _BVLC_FILES.items():
    SOURCES.setdefault(_name, {})["bvlc"] = (_bvlc(*_row),)


def tags(name: str) -> tuple[str, ...]:
    """The weight tags model `name` can load, in declaration order."""
    return tuple(SOURCES.get(name, {}))


def pretrained_models() -> list[str]:
    """The models with at least one weight source, sorted."""
    return sorted(name for name, sources in SOURCES.items() if sources)


def build_options(name: str, tag: str) -> dict:
    """The build arguments the files of `tag` require (`{"stride_at": "3x3"}`), or {}."""
    files = SOURCES.get(name, {}).get(tag, ())
    return dict(files[0].build) if files else {}
