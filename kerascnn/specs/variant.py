"""The row type of every family's variant table: a registered name's own options and description.

Each `specs/<family>.py` declares its registered names as a table `{name: variant(...)}`; the
family module hands that table to `kerascnn.registry.register_family`.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["Variant", "variant"]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One registered name of a family.

    Attributes:
        description: One line for `kerascnn list`: what this variant is, with its source.
        options: The builder's default arguments for this name (`{"depth": 50}`).
        input_shape: The paper's input shape, or None for the family's.
    """

    description: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    input_shape: tuple | None = None


def variant(description: str, *, input_shape: tuple | None = None, **options: Any) -> Variant:
    """A table row: `variant("ResNet-50 (He et al. 2015, Table 1)", depth=50)`."""
    return Variant(description, MappingProxyType(dict(options)), input_shape)
