"""Augmentation policies: ordered lists of ops, as data, run inside the tf.data training pipeline.

A policy is a list of `(op_name, params)` pairs (see `POLICIES` and `kerascnn.data.ops`), plus an
optional `("resize", {"scale": s})` entry that says at what size images are stored before
random crops are taken: `s` times the model's input, e.g. 256/224 for AlexNet's 224 crops of
256x256 images. Validation images are stored the same way and center-cropped, as in the papers.
"""

from __future__ import annotations

import copy
import inspect

import tensorflow as tf

from kerascnn.data import ops as ops_lib

__all__ = ["Policy", "POLICIES", "OPS", "get_policy"]

_IMAGENET_SCALE = 256 / 224  # Shorter side 256 for 224 crops.

POLICIES = {
    "none": [],
    "flip": [("flip", {})],
    # He et al. 2016, section 4.2: 4-pixel padding, 32x32 random crops, horizontal flips.
    "cifar": [("pad_crop", {"padding": 4}), ("flip", {})],
    # DeVries & Taylor 2017: the CIFAR-10 policy plus one 16x16 cutout square.
    "cutout": [("pad_crop", {"padding": 4}), ("flip", {}), ("cutout", {"length": 16})],
    # Krizhevsky et al. 2012, section 4.1: 224 crops of 256x256 images, flips, fancy PCA.
    "alexnet": [("resize", {"scale": _IMAGENET_SCALE}), ("random_crop", {}), ("flip", {}),
                ("pca_lighting", {"stddev": 0.1})],
    # Simonyan & Zisserman 2015, section 3.1: multi-scale training, S in [256, 512].
    "vgg": [("resize", {"scale": _IMAGENET_SCALE}),
            ("scale_jitter", {"min_scale": 256 / 224, "max_scale": 512 / 224}),
            ("random_crop", {}), ("flip", {})],
    # He et al. 2016, section 3.4: shorter side in [256, 480], 224 crops, flips, AlexNet colour.
    "resnet": [("resize", {"scale": _IMAGENET_SCALE}),
               ("scale_jitter", {"min_scale": 256 / 224, "max_scale": 480 / 224}),
               ("random_crop", {}), ("flip", {}), ("pca_lighting", {"stddev": 0.1})],
    # Szegedy et al. 2015, section 6: crops of 8%-100% of the area, aspect ratio in [3/4, 4/3].
    "inception": [("resize", {"scale": _IMAGENET_SCALE}), ("random_resized_crop", {}),
                  ("flip", {})],
    # The lecture notes' label-preserving transforms: translation, rotation, shear, stretch.
    "geometric": [("translation", {"height_factor": 0.1, "width_factor": 0.1}),
                  ("rotation", {"degrees": 15.0}), ("shear", {"degrees": 10.0}),
                  ("stretch", {"factor": 0.1}), ("flip", {})],
}
POLICIES["scale_jitter"] = POLICIES["vgg"]

OPS = {**ops_lib.IMAGE_OPS, **ops_lib.AFFINE_OPS, "resize": None}
_AFFINE_EXTRAS = ("fill_mode", "fill_value")
_FILL_MODES = ("reflect", "constant", "nearest", "wrap")


def _op_parameters(name: str) -> list[str]:
    if name == "resize":
        return ["scale"]
    skip = 3  # (image, seed, size) or (seed, height, width)
    names = list(inspect.signature(OPS[name]).parameters)[skip:]
    return names + list(_AFFINE_EXTRAS) if name in ops_lib.AFFINE_OPS else names


def _normalize_op(entry) -> tuple[str, dict]:
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, dict) and "op" in entry:
        params = dict(entry)
        name = params.pop("op")
    elif isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[1], dict):
        name, params = entry[0], dict(entry[1])
    else:
        raise ValueError(
            "augmentation ops must be a name, a (name, params) pair, or a dict with an 'op' key. "
            f"Received: {entry!r}"
        )
    if name not in OPS:
        raise ValueError(f"augmentation op must be one of {sorted(OPS)}. Received: op={name!r}")
    allowed = _op_parameters(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"augmentation op {name!r} takes parameters {allowed}. Received: {unknown[0]}="
            f"{params[unknown[0]]!r}"
        )
    if name == "resize" and not (isinstance(params.get("scale"), (int, float))
                                 and params["scale"] >= 1):
        raise ValueError(f"resize needs a scale >= 1. Received: scale={params.get('scale')!r}")
    if params.get("fill_mode", "reflect") not in _FILL_MODES:
        raise ValueError(f"fill_mode must be one of {list(_FILL_MODES)}. "
                         f"Received: fill_mode={params['fill_mode']!r}")
    return name, params


class Policy:
    """An augmentation policy: ops applied in order to each training image.

    Args:
        ops: Ops as names, `(name, params)` pairs or `{"op": name, **params}` dicts.
        name: A label for reports.

    Raises:
        ValueError: For unknown ops or parameters.
    """

    def __init__(self, ops=(), name: str | None = None):
        self.ops = [_normalize_op(entry) for entry in ops]
        self.name = name

    @property
    def resize_scale(self) -> float:
        """Stored image size relative to the model's input (validation is center-cropped)."""
        scales = [params["scale"] for op, params in self.ops if op == "resize"]
        return float(scales[-1]) if scales else 1.0

    @property
    def train_resize_scale(self) -> float:
        """Stored size of training images: large enough that scale jitter only shrinks them."""
        jitter = [params.get("max_scale", 512 / 224) for op, params in self.ops
                  if op == "scale_jitter"]
        return max([self.resize_scale, *jitter])

    @property
    def is_random(self) -> bool:
        return any(op != "resize" for op, _ in self.ops)

    @property
    def needs_fit(self) -> bool:
        return any(op == "pca_lighting" and params.get("eigenvalues") is None
                   for op, params in self.ops)

    def fit(self, dataset: tf.data.Dataset, verbose: int = 0, max_images: int = 1000) -> Policy:
        """Returns a copy with training-set statistics filled in (PCA lighting's eigenpairs).

        Args:
            dataset: Unbatched training (image, label) pairs with pixel values in [0, 255].
            verbose: Unused; kept for a uniform signature with the other preparation steps.
            max_images: Images used for the statistics (the first ones; sources shuffle).
        """
        if not self.needs_fit:
            return self
        statistics = ops_lib.fit_pca(dataset, max_images)
        fitted = copy.deepcopy(self)
        for op, params in fitted.ops:
            if op == "pca_lighting" and params.get("eigenvalues") is None:
                params.update(statistics)
        return fitted

    def _steps(self):
        """Ops grouped so consecutive geometric ops share one resampling."""
        steps = []
        for op, params in self.ops:
            if op == "resize":
                continue
            if op in ops_lib.AFFINE_OPS and steps and steps[-1][0] == "affine":
                steps[-1][1].append((op, params))
            elif op in ops_lib.AFFINE_OPS:
                steps.append(("affine", [(op, params)]))
            else:
                steps.append((op, params))
        return steps

    def apply(self, image: tf.Tensor, seed: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
        """Augments one float32 (H, W, C) image in [0, 255]; returns (size..., C) in [0, 255].

        Args:
            image: The stored training image.
            seed: A (2,) integer stateless seed; the same seed gives the same result.
            size: The model's (height, width).
        """
        steps = self._steps()
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), len(steps) + 1)
        for index, (op, params) in enumerate(steps):
            if op == "affine":
                image = self._affine(image, seeds[index], params)
            else:
                image = OPS[op](image, seeds[index], tuple(size), **params)
        image = ops_lib.fit_to_size(image, tuple(size))
        return tf.clip_by_value(image, 0.0, 255.0)

    @staticmethod
    def _affine(image, seed, group):
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        seeds = tf.random.experimental.stateless_split(seed, len(group))
        matrix = tf.eye(3)
        fill = {"fill_mode": "reflect", "fill_value": 0.0}
        for index, (op, params) in enumerate(group):
            params = dict(params)
            fill.update({k: params.pop(k) for k in _AFFINE_EXTRAS if k in params})
            matrix = matrix @ OPS[op](seeds[index], shape[0], shape[1], **params)
        return ops_lib.apply_affine(image, matrix, **fill)

    def get_config(self) -> dict:
        """A JSON-serializable description; `Policy.from_config` rebuilds the same policy."""
        return {"name": self.name, "ops": [[op, dict(params)] for op, params in self.ops]}

    @classmethod
    def from_config(cls, config: dict) -> Policy:
        return cls(config["ops"], name=config.get("name"))

    def __repr__(self) -> str:
        return f"Policy(name={self.name!r}, ops={[op for op, _ in self.ops]})"


def get_policy(augmentation) -> Policy:
    """A `Policy` from None, a policy name, a list of ops, a config dict or a `Policy`.

    Raises:
        ValueError: Naming `augmentation` and what was received.
    """
    if augmentation is None or augmentation is False:
        return Policy([], name="none")
    if isinstance(augmentation, Policy):
        return augmentation
    if isinstance(augmentation, str):
        if augmentation not in POLICIES:
            raise ValueError(
                f"augmentation must be None, a Policy, a list of ops, or one of "
                f"{sorted(POLICIES)}. Received: augmentation={augmentation!r}"
            )
        return Policy(POLICIES[augmentation], name=augmentation)
    if isinstance(augmentation, dict) and "ops" in augmentation:
        return Policy.from_config(augmentation)
    if isinstance(augmentation, (list, tuple)):
        return Policy(augmentation, name="custom")
    raise ValueError(
        f"augmentation must be None, a policy name ({', '.join(sorted(POLICIES))}), a list of ops, "
        f"or a Policy. Received: augmentation={augmentation!r}"
    )
