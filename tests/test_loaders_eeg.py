"""load_eeg: arrays, mne objects and files written by each format's own writer."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
from loader_checks import bad_file_message, check_bad_files, check_loader

from brainbridge.loaders import load_eeg
from brainbridge.loaders._common import package_data

mne = pytest.importorskip("mne")

SFREQ = 100.0
EEG = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3",
       "Pz", "P4", "P8", "O1", "O2"]
ANNOT = {"onset": [1.0, 2.5, 4.0, 5.5, 7.0], "description": ["a", "b", "a", "a", "b"]}
PG = ["PG3", "PG5", "PG4", "PG6"]  # the labels of matplotlib's mri_with_eeg example


def _raw(rng: np.random.Generator, *, stim: bool = True, n_times: int = 1000) -> mne.io.RawArray:
    """19 10-20 EEG channels + EOG (+ a trigger channel), montage, one bad, annotations."""
    names = EEG + ["EOG"] + (["STI"] if stim else [])
    types = ["eeg"] * len(EEG) + ["eog"] + (["stim"] if stim else [])
    data = rng.normal(scale=20e-6, size=(len(names), n_times))
    if stim:
        data[-1] = 0.0
        data[-1, [150, 420]] = [1.0, 2.0]
    raw = mne.io.RawArray(data, mne.create_info(names, SFREQ, types), verbose=False)
    # head_size 8.5 cm (mne's default: 9.5 cm) keeps the mean electrode distance from the
    # head origin under the 10.85 cm at which mne's EEGLAB reader warns about the head size
    montage = mne.channels.make_standard_montage("standard_1020", head_size=0.085)
    raw.set_montage(montage, on_missing="ignore", verbose=False)
    raw.info["bads"] = ["C4"]
    raw.set_annotations(mne.Annotations(ANNOT["onset"], [0.0] * 5, ANNOT["description"]))
    return raw


def _positions(raw: mne.io.BaseRaw, names: list[str]) -> np.ndarray:
    """Montage positions from mne's montage API (NaN where a channel has none)."""
    ch_pos = raw.get_montage().get_positions()["ch_pos"]
    return np.array([ch_pos.get(n, [np.nan] * 3) for n in names], dtype=float)


# -- real data --------------------------------------------------------------------------------


def test_matplotlib_eeg_array(tmp_path):
    from matplotlib import cbook

    path = cbook.get_sample_data("eeg.dat", asfileobj=False)
    raw_bytes = Path(path).read_bytes()
    assert len(raw_bytes) == 800 * 4 * 8
    data = np.frombuffer(raw_bytes, dtype="<f8").reshape(800, 4)  # (time, channel)
    da = check_loader(load_eeg, data.T, tmp_path, modality="eeg", sfreq=80.0, ch_names=PG)
    assert da.dims == ("time", "unit") and da.shape == (800, 4)
    assert da["unit"].values.tolist() == PG
    np.testing.assert_array_equal(da.values, data)
    # spot checks decoded straight from the bytes (little-endian float64, row-major)
    for t, c in [(0, 0), (2, 1), (799, 3), (412, 2)]:
        (expected,) = struct.unpack_from("<d", raw_bytes, 8 * (4 * t + c))
        assert da.values[t, c] == expected
    assert da.values[0, 0] == pytest.approx(0.04009357, abs=1e-8)
    np.testing.assert_array_equal(da["time"].values, np.arange(800) / 80.0)
    assert da["time"].values[-1] == 799 / 80.0
    assert da.attrs["sampling_rate"] == 80.0 and da.attrs["units"] == "V"
    assert da.attrs["source"] == "numpy array (in memory)"
    assert da["ch_type"].values.tolist() == ["eeg"] * 4
    assert np.isnan(da["x"].values).all() and not da["bad"].values.any()


def test_pyedflib_generator_edf(tmp_path):
    pyedflib = pytest.importorskip("pyedflib")
    path = package_data("pyedflib", "data", "test_generator.edf", install="pip install pyedflib")
    with pyedflib.EdfReader(str(path)) as f:
        labels = f.getSignalLabels()
        dims = [f.getPhysicalDimension(i) for i in range(f.signals_in_file)]
        ref = np.stack([f.readSignal(i) for i in range(f.signals_in_file)])
        rates = f.getSampleFrequencies()
    assert set(dims) == {"uV"} and set(rates) == {200.0} and ref.shape == (11, 120000)
    da = check_loader(load_eeg, path, tmp_path, modality="eeg")
    assert da.shape == (120000, 11)
    assert da["unit"].values.tolist() == labels
    np.testing.assert_allclose(da.values, ref.T * 1e-6, rtol=1e-12, atol=1e-18)  # uV -> V
    assert da.attrs["units"] == "V" and da.attrs["sampling_rate"] == 200.0
    assert da["time"].values[-1] == pytest.approx(119999 / 200.0, abs=1e-12)
    assert da.attrs["source"].startswith("test_generator.edf sha256:")


# -- mne objects and arrays -------------------------------------------------------------------


def test_raw_object(rng, tmp_path):
    raw = _raw(rng)
    da = check_loader(load_eeg, raw, tmp_path, modality="eeg")
    names = EEG + ["EOG"]  # the trigger channel is left out by default
    assert da["unit"].values.tolist() == names
    np.testing.assert_array_equal(da.values, raw.get_data(picks=names).T)
    np.testing.assert_array_equal(da["time"].values, np.arange(1000) / SFREQ)
    assert da["ch_type"].values.tolist() == ["eeg"] * 19 + ["eog"]
    assert da["si_unit"].values.tolist() == ["V"] * 20 and da.attrs["units"] == "V"
    assert da["bad"].values.tolist() == [n == "C4" for n in names]
    pos = np.stack([da[k].values for k in "xyz"], axis=1)
    np.testing.assert_allclose(pos, _positions(raw, names), rtol=0, atol=1e-12)
    assert np.isnan(pos[-1]).all() and np.isfinite(pos[:-1]).all()
    assert da.attrs["source"] == "mne RawArray (in memory)"
    # older files mark a missing position with zeros instead of NaN
    zeroed = raw.copy()
    zeroed.info["chs"][4]["loc"][:3] = 0.0
    fz = load_eeg(zeroed, picks="Fz")
    assert np.isnan([fz[k].values for k in "xyz"]).all()
    # picks: mne's names / types, bads kept; the trigger channel only when asked for
    sub = load_eeg(raw, picks=["Pz", "C4", "EOG"])
    assert sub["unit"].values.tolist() == ["Pz", "C4", "EOG"]
    np.testing.assert_array_equal(sub.values, raw.get_data(picks=["Pz", "C4", "EOG"]).T)
    stim = load_eeg(raw, picks="stim")
    assert stim.attrs["units"] == "a.u." and stim.values[[150, 420], 0].tolist() == [1.0, 2.0]
    both = load_eeg(raw, picks=["Cz", "STI"])
    assert both.attrs["units"] == "SI (see unit coord 'si_unit')"
    assert both["si_unit"].values.tolist() == ["V", "a.u."]


def test_first_samp_offsets_time(rng, tmp_path):
    raw = _raw(rng)
    cropped = raw.copy().crop(tmin=2.0)
    assert cropped.first_samp == 200
    da = check_loader(load_eeg, cropped, tmp_path, modality="eeg")
    np.testing.assert_allclose(da["time"].values, (200 + np.arange(800)) / SFREQ, rtol=0,
                               atol=1e-12)
    np.testing.assert_array_equal(da.values, raw.get_data(picks=EEG + ["EOG"])[:, 200:].T)


def test_meg_and_mixed_units(rng, tmp_path):
    info = mne.create_info(["MEG1", "MEG2", "EOG", "ECG"], 50.0, ["mag", "grad", "eog", "ecg"])
    data = rng.normal(size=(4, 100)) * np.array([[1e-13], [1e-11], [1e-4], [1e-3]])
    raw = mne.io.RawArray(data, info, verbose=False)
    da = check_loader(load_eeg, raw, tmp_path, modality="meg")
    assert da["si_unit"].values.tolist() == ["T", "T/m", "V", "V"]
    assert da.attrs["units"] == "SI (see unit coord 'si_unit')"
    np.testing.assert_array_equal(da.values, data.T)
    assert load_eeg(raw, picks="mag").attrs["units"] == "T"
    # one EEG channel among MEG ones makes it EEG
    arr = check_loader(load_eeg, data, tmp_path, modality="eeg", sfreq=50.0,
                       ch_types=["mag", "grad", "eeg", "ecg"])
    assert arr["ch_type"].values.tolist() == ["mag", "grad", "eeg", "ecg"]
    assert arr["unit"].values.tolist() == ["0", "1", "2", "3"]


# -- files written by each format's own writer ------------------------------------------------

# (writer, file name, rtol of the stored values, keeps types, keeps positions, keeps bads,
#  annotation label prefix)
FORMATS = {
    "fif": ("fif", "rec_raw.fif", 2.0**-23, True, True, True, ""),  # float32
    "fif.gz": ("fif", "rec_raw.fif.gz", 2.0**-23, True, True, True, ""),
    "edf": ("edf", "rec.edf", None, False, False, False, ""),  # 16-bit, tolerance from header
    "bdf": ("bdf", "rec.bdf", None, False, False, False, ""),  # 24-bit (pyedflib writer)
    "brainvision": ("brainvision", "rec.vhdr", 2.0**-23, False, False, False, "Comment/"),
    "eeglab": ("eeglab", "rec.set", 2.0**-23, False, True, False, ""),  # float32 in uV
}


def _write(raw: mne.io.BaseRaw, fmt: str, path) -> None:
    if fmt == "fif":
        raw.save(path, verbose=False)
    elif fmt == "bdf":
        import pyedflib
        from pyedflib import highlevel

        headers = highlevel.make_signal_headers(
            raw.ch_names, dimension="uV", sample_frequency=SFREQ, physical_min=-200.0,
            physical_max=200.0, digital_min=-(2**23), digital_max=2**23 - 1)
        notes = [[o, -1, d] for o, d in
                 zip(raw.annotations.onset, raw.annotations.description, strict=True)]
        highlevel.write_edf(str(path), raw.get_data() * 1e6, headers,
                            header={"annotations": notes}, file_type=pyedflib.FILETYPE_BDFPLUS)
    else:
        mne.export.export_raw(path, raw, fmt=fmt, verbose=False)


def _edf_steps(path) -> np.ndarray:
    """Quantisation step (V) per channel from the EDF/BDF header: physical / digital range."""
    import pyedflib

    with pyedflib.EdfReader(str(path)) as f:
        n = f.signals_in_file
        assert {f.getPhysicalDimension(i) for i in range(n)} == {"uV"}
        return np.array([(f.getPhysicalMaximum(i) - f.getPhysicalMinimum(i))
                         / (f.getDigitalMaximum(i) - f.getDigitalMinimum(i))
                         for i in range(n)]) * 1e-6


# pybv converts mne's float64 to float32 and says so; that is the format's precision, checked
# below, and mne.export offers no way to pass float32.
@pytest.mark.filterwarnings("ignore:Encountered data in 'double' format:RuntimeWarning")
@pytest.mark.parametrize("name", list(FORMATS))
def test_formats_round_trip(name, rng, tmp_path):
    fmt, fname, rtol, keeps_types, keeps_pos, keeps_bads, prefix = FORMATS[name]
    raw = _raw(rng, stim=False)
    expected = raw.get_data()
    path = tmp_path / fname
    _write(raw, fmt, path)
    da = check_loader(load_eeg, path, tmp_path, modality="eeg")
    assert da["unit"].values.tolist() == raw.ch_names
    assert da.attrs["units"] == "V" and da.attrs["sampling_rate"] == SFREQ
    assert da.attrs["source"].startswith(f"{fname} sha256:")
    np.testing.assert_array_equal(da["time"].values, np.arange(1000) / SFREQ)
    if rtol is None:
        step = _edf_steps(path)
        # mne's EDF exporter rounds (error <= step / 2); pyedflib's BDF writer truncates
        # (error < 1 step)
        err = np.abs(da.values - expected.T)
        assert (err <= step * (1 + 1e-9)).all(), (err / step).max()
    else:
        np.testing.assert_allclose(da.values, expected.T, rtol=rtol, atol=0)
    types = da["ch_type"].values.tolist()
    assert types == (raw.get_channel_types() if keeps_types else ["eeg"] * 20)
    pos = np.stack([da[k].values for k in "xyz"], axis=1)
    if keeps_pos:
        np.testing.assert_allclose(pos, _positions(raw, raw.ch_names), rtol=0, atol=1e-7)
    else:
        assert np.isnan(pos).all()
    assert da["bad"].values.tolist() == [keeps_bads and n == "C4" for n in raw.ch_names]
    # the annotations survive and epoch the same samples
    ep = check_loader(load_eeg, path, tmp_path, modality="eeg", events="annotations",
                      tmin=0.0, tmax=0.3)
    assert ep["stimulus"].values.tolist() == [prefix + "a", prefix + "b"]
    assert ep.sizes["trial"] == 3 and np.isnan(ep.values[1, 2]).all()
    onsets = [[1.0, 4.0, 5.5], [2.5, 7.0, np.nan]]
    np.testing.assert_allclose(ep["onset"].values, onsets, rtol=0, atol=1e-9)
    start = int(round(ANNOT["onset"][3] * SFREQ))
    np.testing.assert_array_equal(ep.values[0, 2], da.values[start:start + 31])


def test_preload_and_picks_on_file(rng, tmp_path):
    raw = _raw(rng)
    path = tmp_path / "rec_raw.fif"
    raw.save(path, verbose=False)
    lazy = load_eeg(path, picks=["O1", "Cz"])
    eager = check_loader(load_eeg, path, tmp_path, modality="eeg", picks=["O1", "Cz"],
                         preload=True)
    np.testing.assert_array_equal(lazy.values, eager.values)
    np.testing.assert_allclose(lazy.values, raw.get_data(picks=["O1", "Cz"]).T, rtol=2.0**-23)


# -- epoching ---------------------------------------------------------------------------------


# rows 0 and 7 lie too close to the edges for a (-0.1, 0.25) s window: mne drops them
EVENTS = np.array([[5, 0, 2], [120, 0, 1], [250, 0, 2], [380, 0, 1], [510, 0, 3],
                   [640, 0, 1], [700, 0, 2], [990, 0, 1]])
EVENT_ID = {"face": 1, "house": 2, "tool": 3}


def test_epochs_match_mne(rng, tmp_path):
    raw = _raw(rng)
    events = EVENTS.copy()
    da = check_loader(load_eeg, raw, tmp_path, modality="eeg", events=events,
                      event_id=EVENT_ID, tmin=-0.1, tmax=0.25)
    assert da.dims == ("stimulus", "trial", "time", "unit")
    assert da["stimulus"].values.tolist() == ["face", "house", "tool"]
    assert da["event_id"].values.tolist() == [1, 2, 3]
    assert da.sizes["trial"] == 4 and da.sizes["time"] == 36 and da.sizes["unit"] == 20
    np.testing.assert_allclose(da["time"].values, np.arange(-10, 26) / SFREQ, atol=1e-12)
    names = EEG + ["EOG"]
    ref = mne.Epochs(raw, events, EVENT_ID, tmin=-0.1, tmax=0.25, baseline=None,
                     preload=True, verbose=False)
    ref_data = ref.get_data(picks=names)
    # mne drops the events whose window leaves the recording (samples 5 and 990)
    assert ref.selection.tolist() == [1, 2, 3, 4, 5, 6]
    order = {1: 0, 2: 0, 3: 0}
    slots = {}
    for row, (_, _, code) in enumerate(events):
        slots[row] = (code - 1, order[code])
        order[code] += 1
    for j, row in enumerate(ref.selection):
        s, t = slots[row]
        np.testing.assert_array_equal(da.values[s, t], ref_data[j].T)
    for row in (0, 7):  # dropped by mne -> NaN, onset kept
        s, t = slots[row]
        assert np.isnan(da.values[s, t]).all()
        assert da["onset"].values[s, t] == events[row, 0] / SFREQ
    assert np.isnan(da.values[2, 1:]).all() and np.isnan(da["onset"].values[2, 1:]).all()
    # default labels: the ids as strings; ids left out of event_id are ignored
    default = load_eeg(raw, events=events, tmin=-0.1, tmax=0.25)
    assert default["stimulus"].values.tolist() == ["1", "2", "3"]
    np.testing.assert_array_equal(default.values, da.values)
    only = load_eeg(raw, events=events, event_id={"tool": 3}, tmin=-0.1, tmax=0.25)
    np.testing.assert_array_equal(only.values, da.values[2:3, :1])


def test_epochs_from_annotations_match_mne(rng, tmp_path):
    raw = _raw(rng)
    da = check_loader(load_eeg, raw, tmp_path, modality="eeg", events="annotations",
                      tmin=-0.2, tmax=0.5)
    events, event_id = mne.events_from_annotations(raw, verbose=False)
    ref = mne.Epochs(raw, events, event_id, tmin=-0.2, tmax=0.5, baseline=None,
                     preload=True, verbose=False)
    assert da["stimulus"].values.tolist() == list(event_id) == ["a", "b"]
    ref_a, ref_b = ref["a"].get_data(picks=EEG + ["EOG"]), ref["b"].get_data(picks=EEG + ["EOG"])
    np.testing.assert_array_equal(da.values[0], ref_a.transpose(0, 2, 1))
    np.testing.assert_array_equal(da.values[1, :2], ref_b.transpose(0, 2, 1))
    assert np.isnan(da.values[1, 2]).all()
    sub = load_eeg(raw, events="annotations", event_id={"b": 7}, tmin=-0.2, tmax=0.5)
    assert sub["stimulus"].values.tolist() == ["b"] and sub["event_id"].values.tolist() == [7]
    np.testing.assert_array_equal(sub.values[0], da.values[1, :2])


def test_epochs_object_and_file(rng, tmp_path):
    raw = _raw(rng)
    epochs = mne.Epochs(raw, EVENTS, EVENT_ID, tmin=-0.1, tmax=0.25, baseline=None,
                        preload=True, verbose=False)
    from_raw = load_eeg(raw, events=EVENTS, event_id=EVENT_ID, tmin=-0.1, tmax=0.25)
    da = check_loader(load_eeg, epochs, tmp_path, modality="eeg")
    # the Epochs object holds only the kept epochs: trials are counted among those
    ref = epochs.get_data(picks=EEG + ["EOG"])
    labels = {1: "face", 2: "house", 3: "tool"}
    seen: dict[str, int] = {}
    for j, code in enumerate(epochs.events[:, 2]):
        label = labels[code]
        t = seen.get(label, 0)
        seen[label] = t + 1
        np.testing.assert_array_equal(da.sel(stimulus=label, trial=t).values, ref[j].T)
    assert da.sizes["trial"] == max(seen.values()) == 3
    np.testing.assert_array_equal(da.sel(stimulus="tool", trial=0).values,
                                  from_raw.sel(stimulus="tool", trial=0).values)
    # an epochs FIF file (mne's -epo.fif naming) is read as epochs
    path = tmp_path / "rec-epo.fif"
    epochs.save(path, verbose=False)
    on_disk = check_loader(load_eeg, path, tmp_path, modality="eeg")
    np.testing.assert_allclose(on_disk.values, da.values, rtol=2.0**-23)
    assert on_disk["bad"].values.tolist() == da["bad"].values.tolist()


# -- errors -----------------------------------------------------------------------------------


def _raises(exc, msg, *args, **kwargs):
    with pytest.raises(exc, match=re.escape(msg) + "$"):
        load_eeg(*args, **kwargs)


def test_array_errors(rng):
    x = rng.normal(size=(4, 100))
    _raises(ValueError, "Invalid value for 'sfreq': an array source needs its sampling rate in "
            "Hz; got None. Pass it, e.g. load_eeg(data, sfreq=250.0).", x)
    _raises(ValueError, "Invalid value for 'sfreq': expected a finite number in (0, inf) (Hz); got -1.0.",
            x, sfreq=-1.0)
    _raises(ValueError, "Invalid value for 'ch_names': expected 4 names (str), one per row of "
            "the array of shape (4, 100); got 3. Give one name per channel, or transpose the "
            "array if its rows are samples.", x, sfreq=10.0, ch_names=["a", "b", "c"])
    _raises(ValueError, "Invalid value for 'ch_names': names must be unique; ['a'] repeat.",
            x, sfreq=10.0, ch_names=["a", "b", "a", "c"])
    _raises(ValueError, "Invalid value for 'ch_types': expected one type or 4 (one per "
            "channel); got 2.", x, sfreq=10.0, ch_types=["eeg", "eog"])
    valid = ", ".join(map(repr, mne.io.get_channel_type_constants(include_defaults=True)))
    _raises(ValueError, f"Invalid value for 'ch_types': ['EEG'] are not mne channel types; "
            f"expected some of {valid}.", x, sfreq=10.0, ch_types="EEG")
    _raises(ValueError, "Invalid value for 'source': expected a numeric array of shape "
            "(n_channels, n_times); got float64 array of shape (2, 4, 50). For epoched data, "
            "build mne.EpochsArray and pass it instead.", x.reshape(2, 4, 50), sfreq=10.0)
    _raises(ValueError, "Invalid value for 'preload': True applies only to a file source; got "
            "a ndarray. Leave preload out (its default is False).", x, sfreq=10.0,
            preload=True)
    _raises(TypeError, "Invalid type for 'source': expected a path (.fif, .edf, .bdf, .vhdr, "
            ".set), an mne Raw or Epochs object, or an array of shape (n_channels, n_times); "
            "got dict.", {"data": x})
    _raises(ValueError, "Invalid value for 'picks': the recording holds only trigger (stim) "
            "channels, which are left out by default; pass picks='stim' to load them.",
            x, sfreq=10.0, ch_types="stim")


def test_option_errors(rng, tmp_path):
    raw = _raw(rng)
    _raises(ValueError, "Invalid value for 'sfreq': 'sfreq', 'ch_names' apply only to an array "
            "source; mne objects and files carry their own sampling rate, names and types. "
            "Leave them out.", raw, sfreq=100.0, ch_names=EEG)
    _raises(ValueError, "Invalid value for 'tmin': 'tmin' need 'events'; pass events=<(n, 3) "
            "array> or events='annotations'. Leave it out.", raw, tmin=0.0)
    _raises(ValueError, "Invalid value for 'tmin'/'tmax': epoching with 'events' needs both; "
            "got tmin=-0.1, tmax=None. Pass the window in seconds around each event, e.g. "
            "tmin=-0.2, tmax=0.8.", raw, events=EVENTS, tmin=-0.1)
    _raises(ValueError, "Invalid value for 'tmin'/'tmax': tmin must be below tmax; got "
            "tmin=0.5, tmax=0.1.", raw, events=EVENTS, tmin=0.5, tmax=0.1)
    _raises(ValueError, "Invalid value for 'tmax': expected a finite number (seconds); got "
            "'1'.", raw, events=EVENTS, tmin=0.0, tmax="1")
    _raises(ValueError, "Invalid value for 'events': expected an (n_events, 3) integer array of "
            "mne events (sample, previous value, id); got int64 array of shape (8, 2). Build "
            "it with mne.find_events or mne.events_from_annotations.", raw,
            events=EVENTS[:, :2], tmin=0.0, tmax=0.1)
    _raises(ValueError, "Invalid value for 'events': expected an (n_events, 3) array of mne "
            "events or 'annotations'; got 'stim'.", raw, events="stim", tmin=0.0, tmax=0.1)
    _raises(ValueError, "Invalid value for 'event_id': expected a non-empty dict of label (str) "
            "-> event id (int), e.g. {'face': 1, 'house': 2}; got [1, 2].", raw,
            events=EVENTS, event_id=[1, 2], tmin=0.0, tmax=0.1)
    _raises(ValueError, "Invalid value for 'event_id': two labels share an id ({'a': 1, 'b': "
            "1}); give each label its own id.", raw, events=EVENTS, event_id={"a": 1, "b": 1},
            tmin=0.0, tmax=0.1)
    _raises(ValueError, "Invalid value for 'event_id': {'car': 9} match no event; the events "
            "hold ids [1, 2, 3]. Remove those labels or fix their ids.", raw, events=EVENTS,
            event_id={"face": 1, "car": 9}, tmin=0.0, tmax=0.1)
    _raises(ValueError, "Invalid value for 'event_id': ['c'] match no annotation; the "
            "annotations are ['a', 'b']. Remove those labels or fix them.", raw,
            events="annotations", event_id={"a": 1, "c": 2}, tmin=0.0, tmax=0.1)
    bare = raw.copy().set_annotations(None)
    _raises(ValueError, "Invalid value for 'events': 'annotations' asks for the recording's "
            "annotations, but it has none. Pass an (n_events, 3) array instead, e.g. from "
            "mne.find_events(raw).", bare, events="annotations", tmin=0.0, tmax=0.1)
    only_bad = raw.copy().set_annotations(mne.Annotations([1.0], [0.5], ["BAD_blink"]))
    _raises(ValueError, "Invalid value for 'events': the recording's annotations "
            "['BAD_blink'] hold no events (mne skips those starting with 'bad' or 'edge'). "
            "Pass an (n_events, 3) array instead.", only_bad, events="annotations", tmin=0.0,
            tmax=0.1)
    epochs = mne.Epochs(raw, EVENTS, EVENT_ID, tmin=-0.1, tmax=0.2, baseline=None,
                        verbose=False)
    _raises(ValueError, "Invalid value for 'events': the source is already epoched (mne "
            "Epochs), so 'events', 'event_id', 'tmin' and 'tmax' do not apply. Leave them "
            "out, or pass the continuous recording instead.", epochs, events=EVENTS,
            tmin=0.0, tmax=0.1)


def test_path_errors(tmp_path):
    missing = tmp_path / "nope.edf"
    _raises(FileNotFoundError, f"Invalid value for 'source': {str(missing)!r} does not exist. "
            "Give the path to an EEG/MEG recording.", missing)
    txt = tmp_path / "rec.txt"
    txt.write_text("1 2 3\n")
    _raises(ValueError, f"Invalid value for 'source': expected an EEG/MEG recording ending in "
            f".fif, .fif.gz, .edf, .bdf, .vhdr, .set; got {str(txt)!r}. Rename the file if its "
            "content has one of these formats.", txt)


_EEG_FIX = ("Re-export or re-download it, or give it the ending of its real format (.fif, "
            ".fif.gz, .edf, .bdf, .vhdr, .set). To accept a partial recording, read it with mne "
            "yourself and pass the mne object.")


def _bad_file_message(path, fmt, cause) -> str:
    return bad_file_message(path, fmt, cause, _EEG_FIX)


@pytest.mark.parametrize("kind", ["truncated fif", "truncated edf", "text as edf",
                                  "edf as fif", "truncated set"])
def test_unreadable_files(kind, rng, tmp_path):
    raw = _raw(rng, stim=False)
    raw.save(tmp_path / "good_raw.fif", verbose=False)
    mne.export.export_raw(tmp_path / "good.edf", raw, fmt="edf", verbose=False)
    mne.export.export_raw(tmp_path / "good.set", raw, fmt="eeglab", verbose=False)
    if kind.startswith("truncated"):
        ext = {"fif": "_raw.fif", "edf": ".edf", "set": ".set"}[kind.split()[1]]
        content = (tmp_path / f"good{ext}").read_bytes()
        path = tmp_path / f"cut{ext}"
        path.write_bytes(content[: len(content) // 2])
    elif kind == "text as edf":
        path = tmp_path / "notes.edf"
        path.write_text("not an EDF file\n" * 20)
    else:
        path = tmp_path / "wrong_raw.fif"
        path.write_bytes((tmp_path / "good.edf").read_bytes())
    fmt = {".fif": "FIF", ".edf": "EDF", ".set": "EEGLAB"}[path.suffix]
    for preload in (False, True):
        with pytest.raises(ValueError) as info:
            load_eeg(path, preload=preload)
        if kind == "text as edf":
            assert str(info.value) == _magic_message(path, "EDF", b"not an E", b"0       ")
            continue
        cause = info.value.__cause__
        assert cause is not None
        assert str(info.value) == _bad_file_message(path, fmt, cause)


def _magic_message(path, fmt, head, magic) -> str:
    return (f"Cannot read {str(path)!r} as {fmt}: it starts with {head!r}, not the {fmt} "
            f"version field {magic!r}. The file is corrupt, or its content is not {fmt} despite "
            "its ending. Re-export or re-download it, or give it the ending of its real format "
            "(.fif, .fif.gz, .edf, .bdf, .vhdr, .set).")


# -- issue 15: damaged files, BrainVision size, events outside the recording ------------------


@pytest.mark.filterwarnings("ignore:Encountered data in 'double' format:RuntimeWarning")
@pytest.mark.parametrize("fmt", ["fif", "edf", "bdf", "brainvision", "eeglab"])
def test_damaged_files(fmt, rng, tmp_path):
    raw = _raw(rng, stim=False)
    good = tmp_path / "good"
    good.mkdir()
    name = {"fif": "rec_raw.fif", "edf": "rec.edf", "bdf": "rec.bdf",
            "brainvision": "rec.vhdr", "eeglab": "rec.set"}[fmt]
    _write(raw, fmt, good / name)
    # a BrainVision header is text: cutting the binary .eeg is what truncates the recording
    target = {"truncated": "rec.eeg"} if fmt == "brainvision" else None
    edf = tmp_path / "other.edf"
    mne.export.export_raw(edf, raw, fmt="edf", verbose=False)
    other = b"plain text\n" * 20 if fmt == "edf" else edf.read_bytes()
    errors = check_bad_files(load_eeg, good / name, tmp_path, target=target, other=other,
                             corrupt_at=128 if fmt == "eeglab" else 0, preload=True)
    for kind, err in errors.items():
        path = tmp_path / f"damaged-{kind}" / name
        label = {"fif": "FIF", "edf": "EDF", "bdf": "BDF", "brainvision": "BrainVision",
                 "eeglab": "EEGLAB"}[fmt]
        if kind == "truncated" and fmt == "brainvision":
            continue  # checked in test_brainvision_truncated
        if kind != "truncated" and fmt in ("edf", "bdf"):
            head = (other if kind == "renamed" else bytes(range(255, 191, -1)))[:8]
            magic = b"0       " if fmt == "edf" else b"\xffBIOSEMI"
            assert str(err) == _magic_message(path, label, head, magic), kind
            continue
        assert str(err) == _bad_file_message(path, label, err.__cause__), kind


def _brainvision(rng, folder, *, events=None, data_points=False):
    import pybv

    folder.mkdir()
    pybv.write_brainvision(data=rng.normal(scale=1e-5, size=(2, 1000)), sfreq=SFREQ,
                           ch_names=["a", "b"], fname_base="rec", folder_out=folder,
                           events=events, overwrite=True)
    vhdr = folder / "rec.vhdr"
    if data_points:
        text = vhdr.read_text(encoding="utf-8")
        vhdr.write_text(text.replace("NumberOfChannels=2", "NumberOfChannels=2\nDataPoints=1000"),
                        encoding="utf-8")
    return vhdr


@pytest.mark.parametrize("case", ["data points", "odd size", "late marker"])
def test_brainvision_truncated(case, rng, tmp_path):
    # issue 15: an .eeg cut to half loaded as 500 of 1000 samples, without an error
    events = np.array([[100, 1], [900, 2]]) if case == "late marker" else None
    vhdr = _brainvision(rng, tmp_path / "bv", events=events, data_points=case == "data points")
    eeg = vhdr.with_suffix(".eeg")
    assert load_eeg(vhdr).sizes["time"] == 1000
    content = eeg.read_bytes()
    keep = len(content) // 2 - (3 if case == "odd size" else 0)
    eeg.write_bytes(content[:keep])
    for preload in (False, True):
        with pytest.raises(ValueError) as info:
            load_eeg(vhdr, preload=preload)
        if case == "late marker":
            assert str(info.value) == _bad_file_message(vhdr, "BrainVision",
                                                        info.value.__cause__)
            continue
        want = ("2 channels x 1000 samples x 4 bytes = 8000 bytes" if case == "data points"
                else "a whole number of samples of 2 channels x 4 bytes (8 bytes each)")
        assert str(info.value) == (
            f"Invalid value for 'source': the BrainVision data file {str(eeg)!r} holds {keep} "
            f"bytes, but the header {str(vhdr)!r} describes {want}. The file is truncated or "
            "corrupt; re-export or re-download it. To accept a partial recording, read it "
            "with mne yourself and pass the mne object.")


@pytest.mark.parametrize("sample", [1200, -5])
def test_event_outside_recording(sample, rng, tmp_path):
    # issue 15: an event outside the recording was reported as "may be truncated"
    raw = _raw(rng)
    path = tmp_path / "rec_raw.fif"
    raw.save(path, verbose=False)
    events = np.array([[100, 0, 1], [sample, 0, 2]])
    msg = (f"Invalid value for 'events': event 1 ('house') is at sample {sample}, outside the "
           "recording, whose samples run from 0 to 999 (0 to 9.99 s); 1 of 2 events lie "
           "outside it. Event samples count from the start of the acquisition (including "
           "raw.first_samp); check them, or drop those events.")
    for source in (path, raw):
        with pytest.raises(ValueError, match=re.escape(msg)):
            load_eeg(source, events=events, event_id={"face": 1, "house": 2}, tmin=-0.1,
                     tmax=0.2)
    msg = ("Invalid value for 'tmin'/'tmax': the window [-5.0, 5.0] s around every one of the "
           "2 events leaves the recording (samples 0 to 999), so every epoch would be NaN. "
           "Narrow tmin/tmax.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_eeg(raw, events=np.array([[100, 0, 1], [900, 0, 2]]), tmin=-5.0, tmax=5.0)


@pytest.mark.parametrize(("shape", "what"), [((0, 10), "channel"), ((2, 0), "sample")])
def test_empty_array(shape, what):
    msg = (f"Invalid value for 'source': the array of shape {shape} holds no {what}; expected "
           "(n_channels, n_times) with at least one of each.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_eeg(np.zeros(shape), sfreq=100.0)


def test_inf_is_rejected_nan_kept(rng, tmp_path):
    data = rng.normal(scale=1e-5, size=(2, 300))
    data[0, 5] = np.nan
    da = load_eeg(data, sfreq=100.0, ch_names=["Fz", "Cz"])
    assert np.isnan(da.values).sum() == 1
    data[1, 9] = -np.inf
    msg = ("Invalid value for 'source': numpy array (in memory) holds 1 infinite value(s), in "
           "unit(s) 'Cz'; a recording cannot measure infinity. Replace them with NaN (a missing "
           "sample) if they mark gaps, or check how the data were written.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_eeg(data, sfreq=100.0, ch_names=["Fz", "Cz"])
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_eeg(data, sfreq=100.0, ch_names=["Fz", "Cz"], events=np.array([[5, 0, 1]]),
                 tmin=0.0, tmax=0.1)
