"""Published reference figures, recorded as data next to each builder.

torchvision's weights metadata is the published ImageNet table (``num_params``, and
``_ops``: the "GFLOPS" column, which counts multiply-accumulates). The family modules
copy those numbers into :class:`~bench.zoo.registry.Reference` records through
:func:`torchvision_reference`, so every such record names its weights enum in one
format; ``tests/bench/zoo/test_references.py`` re-reads torchvision's metadata to catch
a drift.
"""

from __future__ import annotations

import re

from bench.zoo.spec import Reference

IMAGENET_CLASSES = 1000
TORCHVISION_SOURCE = "torchvision weights meta ({weights})"
_SOURCE_PATTERN = re.compile(r"^torchvision weights meta \((?P<weights>\w+\.\w+)\)$")


def torchvision_reference(
    weights: str, *, params: int, gmacs: float | None, input_size: int = 224, note: str = ""
) -> Reference:
    """A Reference copied from the meta of torchvision's ``weights`` (``"VGG16_Weights.IMAGENET1K_V1"``)."""
    return Reference(
        params=params,
        gmacs=gmacs,
        num_classes=IMAGENET_CLASSES,
        input_size=input_size,
        source=TORCHVISION_SOURCE.format(weights=weights),
        note=note,
    )


def torchvision_weights_of(reference: Reference) -> str | None:
    """The ``Enum.MEMBER`` a torchvision reference was copied from, ``None`` for other sources."""
    match = _SOURCE_PATTERN.match(reference.source)
    return match["weights"] if match else None
