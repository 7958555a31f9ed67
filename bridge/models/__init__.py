"""``brainbridge.models``: the model registry and adapters, at the short path users type.

The home of these names is :mod:`brainbridge.ann.models`; this package re-exports them.
"""

from __future__ import annotations

from ..ann.models import (
    ALIASES,
    EFFICIENTNET_BLOCKS,
    MINILM_FFN,
    MINILM_LAYERS,
    REGISTRY,
    ImagePreprocess,
    ModelEntry,
    TextPreprocess,
    efficientnet_lite0,
    load,
    minilm,
    resolve,
    resolve_layers,
)

__all__ = [
    "ALIASES",
    "EFFICIENTNET_BLOCKS",
    "MINILM_FFN",
    "MINILM_LAYERS",
    "REGISTRY",
    "ImagePreprocess",
    "ModelEntry",
    "TextPreprocess",
    "efficientnet_lite0",
    "load",
    "minilm",
    "resolve",
    "resolve_layers",
]
