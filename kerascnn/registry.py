"""The model registry: every architecture is built by name.

`register_family` registers a family's variants from its spec table (name, default arguments,
input shape, a one-line description of its own) on the family's builder; `build(name, **kwargs)` validates the common arguments in one place, refuses inputs below the
architecture's computed minimum size, and calls the builder. Several names may share one builder —
variants differ in data (`resnet18`, `resnet50` -> one ResNet builder), not in copied code.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import os
import random
from typing import Any, Callable, Mapping

import keras

from kerascnn import geometry, validation, weight_sources
from kerascnn.specs.variant import Variant, variant

__all__ = ["ModelEntry", "register_family", "register_model", "build", "list_models", "get_entry",
           "minimum_input_size"]


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model name.

    Attributes:
        name: The registered name (`"resnet50"`).
        builder: The family builder, `builder(**kwargs) -> keras.Model`.
        family: Family name (`"resnet"`), shared by every variant of one builder.
        defaults: This variant's default keyword arguments (`{"depth": 50}`).
        default_input_shape: The paper's input shape, `(H, W, C)` or `(D,)` for flat inputs.
        description: The variant's own line for `kerascnn list`.
    """

    name: str
    builder: Callable[..., Any]
    family: str
    defaults: dict
    default_input_shape: tuple
    description: str = ""

    @property
    def weights(self) -> tuple:
        """The pretrained weight tags this variant can load, from `kerascnn.weight_sources`."""
        return weight_sources.tags(self.name)

    @property
    def spatial(self) -> bool:
        """True for image models (rank-3 inputs), False for flat-input models (perceptron, MLP)."""
        return len(self.default_input_shape) == 3

    @property
    def summary_line(self) -> str:
        """The variant's description, else the first line of the builder's docstring."""
        if self.description:
            return self.description
        doc = (self.builder.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


_REGISTRY: dict[str, ModelEntry] = {}
_MINIMUM_SIZE_CACHE: dict[tuple, tuple[int, int]] = {}


def register_family(
    family: str,
    variants: Mapping[str, Variant],
    *,
    input_shape: tuple | None = None,
    **shared: Any,
) -> Callable:
    """Registers every variant of a family's spec table on the decorated builder.

    Decorators stack, so one builder can serve several families (`resnet`, `resnext`,
    `wide_resnet` are registrations on the ImageNet ResNet builder).

    Args:
        family: Family name shared by these variants.
        variants: `{name: Variant}`, the family's table in `kerascnn.specs`.
        input_shape: The variants' default (paper) input shape, unless a variant names its own.
        **shared: Default arguments common to these variants; a variant's options override them.

    Raises:
        ValueError: If a name is already registered, or a variant has no input shape.
    """

    def decorator(builder: Callable) -> Callable:
        for name, row in variants.items():
            shape = row.input_shape or input_shape
            if shape is None:
                raise ValueError(f"Variant {name!r} of family {family!r} needs an input_shape. "
                                 f"Received: input_shape=None")
            _add(ModelEntry(name=name, builder=builder, family=family,
                            defaults={**shared, **row.options},
                            default_input_shape=tuple(shape), description=row.description))
        return builder

    return decorator


def register_model(name: str, *, family: str, input_shape: tuple, description: str = "",
                   **defaults: Any) -> Callable:
    """Registers one name on the decorated builder: `register_family` with a one-row table.

    For models defined outside kerascnn; the package's own families declare tables.
    """
    return register_family(family, {name: variant(description, **defaults)},
                           input_shape=input_shape)


def _add(entry: ModelEntry) -> None:
    if entry.name in _REGISTRY:
        previous = _REGISTRY[entry.name].builder
        raise ValueError(
            f"A model named '{entry.name}' is already registered "
            f"(by {previous.__module__}.{previous.__name__}). Received: name={entry.name!r}"
        )
    _REGISTRY[entry.name] = entry


def _ensure_models_imported() -> None:
    # Importing kerascnn.models runs every family module's register_model decorators.
    import kerascnn.models  # noqa: F401


def list_models(pattern: str | None = None, *, pretrained: bool = False) -> list[str]:
    """Returns the sorted registered model names, optionally filtered by a glob (`"resnet*"`).

    With `pretrained=True`, only the models with at least one pretrained weight source
    (`kerascnn.weight_sources.SOURCES`).
    """
    _ensure_models_imported()
    names = sorted(_REGISTRY)
    if pretrained:
        names = [n for n in names if weight_sources.tags(n)]
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def get_entry(name: str) -> ModelEntry:
    """Returns the registry entry for `name`.

    Raises:
        ValueError: If `name` is not registered; the message lists the closest registered names.
    """
    _ensure_models_imported()
    if not isinstance(name, str):
        raise ValueError(f"name must be a registered model name (a string). Received: name={name!r}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    lowered = name.lower().replace("-", "_")
    if lowered in _REGISTRY:
        return _REGISTRY[lowered]
    close = _closest_names(lowered)
    hint = f" Did you mean: {', '.join(close)}?" if close else " See kerascnn.list_models()."
    raise ValueError(f"Unknown model name. Received: name={name!r}.{hint}")


def _closest_names(name: str, count: int = 5) -> list[str]:
    """Registered names most like `name`: those sharing the longest prefix first, then by similarity."""
    candidates = set(difflib.get_close_matches(name, list(_REGISTRY), n=2 * count, cutoff=0.5))
    candidates |= {n for n in _REGISTRY if n.startswith(name)}

    def rank(candidate: str) -> tuple:
        shared = len(os.path.commonprefix([name, candidate]))
        return (-shared, -difflib.SequenceMatcher(None, name, candidate).ratio(), candidate)

    return sorted(candidates, key=rank)[:count]


def _family_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in validation.COMMON_ARGUMENTS}


def minimum_input_size(name: str, /, **kwargs: Any) -> tuple[int, int]:
    """Returns the smallest `(height, width)` the architecture accepts, computed from its layers.

    The model is built once without its head on an input of unknown size, and the strides,
    kernel sizes and paddings of its layers are propagated through the graph
    (`kerascnn.geometry.minimum_spatial_size`). Results are cached per name and family options.

    Args:
        name: A registered model name.
        **kwargs: Family options that change the graph (`depth=50`, `aux_logits=True` ...).
    """
    entry = get_entry(name)
    if not entry.spatial:
        raise ValueError(f"Model {name!r} takes flat inputs and has no minimum spatial size.")
    # The model's name changes no layer, so it is not part of the cache key.
    options = _family_kwargs({**entry.defaults, **kwargs})
    options.pop("name", None)
    channels = (kwargs.get("input_shape") or entry.default_input_shape)[-1]
    key = (name, channels, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _MINIMUM_SIZE_CACHE:
        # Initializers draw their seeds from Python's generator as layers are created. Restoring
        # it keeps a seeded build's weights independent of whether this cache was warm.
        random_state = random.getstate()
        try:
            # Shapes are all the probe needs: its variables are never filled with values.
            with keras.StatelessScope(initialize_variables=False):
                probe = entry.builder(
                    **options,
                    num_classes=1,
                    input_shape=(None, None, channels),
                    include_top=False,
                    pooling=None,
                    classifier_activation=None,
                )
        finally:
            random.setstate(random_state)
        _MINIMUM_SIZE_CACHE[key] = geometry.minimum_spatial_size(probe)
    return _MINIMUM_SIZE_CACHE[key]


def _source_build_options(entry: ModelEntry, kwargs: dict) -> dict:
    """The build arguments a weight tag requires (torchvision's `stride_at="3x3"` ...)."""
    weights = kwargs.get("weights")
    if not isinstance(weights, str) or weights not in entry.weights:
        return {}
    required = weight_sources.build_options(entry.name, weights)
    for key, value in required.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"weights={weights!r} of {entry.name!r} were trained with {key}={value!r}. "
                f"Received: {key}={kwargs[key]!r}"
            )
    return required


def build(name: str, /, **kwargs: Any):
    """Builds a registered model by name.

    Args:
        name: A registered name (see `list_models()`).
        **kwargs: `num_classes`, `input_shape`, `include_top`, `pooling`, `classifier_activation`,
            `weights`, and the family's own options (`depth`, `aux_logits`, `drop_path_rate` ...).

    Returns:
        A `keras.Model` (functional API).

    Raises:
        ValueError: For an unknown name (with the closest names), an invalid common argument, or an
            input smaller than the architecture's minimum size.
    """
    entry = get_entry(name)
    arguments = {**entry.defaults, "name": entry.name,
                 **_source_build_options(entry, kwargs), **kwargs}
    common = validation.validate_common_arguments(
        entry, **{k: arguments.pop(k) for k in list(arguments) if k in validation.COMMON_ARGUMENTS}
    )
    if entry.spatial and common["input_shape"][:2] != entry.default_input_shape[:2]:
        required = minimum_input_size(name, **arguments, input_shape=common["input_shape"])
        validation.check_minimum_size(common["input_shape"], required, name)
    weights = common.pop("weights")
    model = entry.builder(**arguments, **common)
    if weights is not None:
        from kerascnn import weights as weight_loading

        weight_loading.load_into(model, entry, weights, common)
    return model
