"""Stimulus sets: built-in ones that ship inside installed packages, and files on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import _check_option, _soft_import, _suggest

#: scikit-image's bundled natural and scientific images (no download needed).
SKIMAGE_IMAGES = (
    "astronaut", "brick", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field",
    "immunohistochemistry", "moon", "coins", "page", "text", "clock", "grass", "gravel",
    "retina", "colorwheel", "logo", "microaneurysms",
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")


def _skimage() -> tuple[list[str], list[Any]]:
    data = _soft_import("skimage.data", "the 'skimage' stimulus set", "models")
    return list(SKIMAGE_IMAGES), [getattr(data, n)() for n in SKIMAGE_IMAGES]


def _lfw() -> tuple[list[str], list[Any]]:
    data = _soft_import("skimage.data", "the 'lfw' stimulus set", "models")
    images = data.lfw_subset()  # 100 faces then 100 non-faces, 25 x 25 floats in [0, 1]
    ids = [f"face_{i:03d}" for i in range(100)] + [f"nonface_{i:03d}" for i in range(100)]
    return ids, list(images)


def _digits() -> tuple[list[str], list[Any]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    ids = [f"digit{t}_{i:04d}" for i, t in enumerate(d.target)]
    return ids, list(d.images / 16.0)


#: Built-in stimulus sets: name -> loader returning (ids, stimuli).
STIMULUS_SETS: dict[str, Callable[[], tuple[list[str], list[Any]]]] = {
    "skimage": _skimage,
    "lfw": _lfw,
    "digits": _digits,
}


def load_stimuli(source: str | Path) -> tuple[list[str], Any]:
    """Return (ids, stimuli) for a built-in set name, an image folder, a ``.npy`` array or a text file.

    - a name from :data:`STIMULUS_SETS` (``skimage``, ``lfw``, ``digits``);
    - a folder of images (ids are the file names without suffix, sorted);
    - a ``.npy`` file indexed by stimulus along its first axis (ids ``"0"``, ``"1"``, ...);
    - a ``.txt`` file with one sentence per line (ids ``"line1"``, ``"line2"``, ...).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from brainbridge.ann import load_stimuli
    >>> ids, images = load_stimuli("digits")
    >>> len(ids), ids[0], images[0].shape
    (1797, 'digit0_0000', (8, 8))
    >>> path = Path(tempfile.mkdtemp()) / "noise.npy"
    >>> np.save(path, np.zeros((3, 8, 8)))
    >>> ids, array = load_stimuli(path)
    >>> ids, array.shape
    (['0', '1', '2'], (3, 8, 8))
    """
    if str(source) in STIMULUS_SETS:
        return STIMULUS_SETS[str(source)]()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"Invalid value for 'stimuli': {str(source)!r} is neither a built-in set "
            f"({', '.join(STIMULUS_SETS)}) nor an existing path.{_suggest(str(source), STIMULUS_SETS)}"
        )
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(
                f"Invalid value for 'stimuli': the folder {str(path)!r} holds no images "
                f"({', '.join(IMAGE_SUFFIXES)})."
            )
        image = _soft_import("PIL.Image", "reading image files", "models")
        images = []
        for f in files:
            with image.open(f) as im:
                images.append(np.asarray(im.convert("RGB")))
        return [f.stem for f in files], images
    kind = _check_option("stimuli suffix", path.suffix.lower(), [".npy", ".txt"])
    if kind == ".npy":
        array = np.load(path, allow_pickle=False)
        return [str(i) for i in range(len(array))], array
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line]
    return [f"line{i}" for i, _ in numbered], [line for _, line in numbered]
