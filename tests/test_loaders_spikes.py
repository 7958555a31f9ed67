"""load_spikes (binning spike times) and load_grasshopper (the real nitime recordings)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import re
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from loader_checks import bad_file_message, check_bad_files, check_loader

from brainbridge.loaders import load_grasshopper, load_spikes
from brainbridge.loaders._spikes import _GRASSHOPPER_SHA256, _parse_grasshopper

NITIME_DATA = Path(importlib.util.find_spec("nitime").submodule_search_locations[0]) / "data"


def _read_grasshopper(condition):
    """The files parsed line by line, independently of the loader."""
    spikes = [float(line) for line in
              (NITIME_DATA / f"grasshopper_spike_times{condition}.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    rows = [line.split() for line in
            (NITIME_DATA / f"grasshopper_stimulus{condition}.txt").read_text().splitlines()
            if line.strip()]
    t_us = np.array([int(r[0]) for r in rows])
    amplitude = np.array([float(r[1]) for r in rows])
    return np.array(spikes), t_us, amplitude


def _count_loop(train, lo, hi):
    return sum(1 for t in train if lo <= t < hi)


# --------------------------------------------------------------------------- load_spikes


def test_grid_counts_match_histogram(tmp_path, rng):
    trains = [np.sort(rng.uniform(0, 2, size=n)) for n in (40, 0, 75)]
    da = check_loader(load_spikes, trains, tmp_path, modality="ephys", bin_size=0.05,
                      t_stop=2.0)
    edges = np.arange(41) * 0.05
    assert da.dims == ("time", "unit")
    assert da.attrs["units"] == "count" and da.dtype == np.int64
    assert da.attrs["sampling_rate"] == pytest.approx(20.0)
    np.testing.assert_array_equal(da["time"].values, edges[:-1])
    assert da["unit"].values.tolist() == ["0", "1", "2"]
    for j, train in enumerate(trains):
        np.testing.assert_array_equal(da.values[:, j], np.histogram(train, bins=edges)[0])


def test_bins_are_left_closed_at_the_boundaries(tmp_path):
    train = np.array([0.0, 0.25, 0.5, 0.75, 0.999, 1.0, 1.5])
    da = check_loader(load_spikes, [train], tmp_path, modality="ephys", bin_size=0.5,
                      t_stop=1.0)
    assert da.values[:, 0].tolist() == [_count_loop(train, 0.0, 0.5),
                                        _count_loop(train, 0.5, 1.0)] == [2, 3]
    # Default t_stop: the grid grows until the last spike (1.5 s, on an edge) has its bin.
    da = load_spikes([train], bin_size=0.5)
    assert da["time"].values.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert da.values[:, 0].tolist() == [2, 3, 1, 1]
    # t_start shifts the grid; spikes before it are not counted.
    da = load_spikes([train], bin_size=0.5, t_start=0.25, t_stop=1.25)
    assert da.values[:, 0].tolist() == [_count_loop(train, 0.25, 0.75),
                                        _count_loop(train, 0.75, 1.25)] == [2, 3]


@pytest.mark.parametrize(("time_unit", "scale"), [("s", 1.0), ("ms", 1e3), ("us", 1e6)])
def test_time_units_convert_to_seconds(tmp_path, rng, time_unit, scale):
    trains = {"a": np.round(rng.uniform(0, 1, 30), 4), "b": np.round(rng.uniform(0, 1, 10), 4)}
    given = {k: v * scale for k, v in trains.items()}
    da = check_loader(load_spikes, given, tmp_path, modality="ephys", time_unit=time_unit,
                      bin_size=0.1, t_stop=1.0)
    assert da["unit"].values.tolist() == ["a", "b"]
    for j, train in enumerate(trains.values()):
        expected = [_count_loop(train, round(0.1 * i, 10), round(0.1 * (i + 1), 10))
                    for i in range(10)]
        assert da.values[:, j].tolist() == expected


def test_rates_in_hz(tmp_path, rng):
    trains = [rng.uniform(0, 1, size=50)]
    counts = load_spikes(trains, bin_size=0.1, t_stop=1.0)
    rates = check_loader(load_spikes, trains, tmp_path, modality="ephys", bin_size=0.1,
                         t_stop=1.0, rate=True)
    assert rates.attrs["units"] == "Hz"
    np.testing.assert_allclose(rates.values, counts.values / 0.1)
    assert float(rates.mean()) == pytest.approx(50 / 1.0)


def test_windows_counts_and_rates(tmp_path, rng):
    trains = [np.sort(rng.uniform(0, 3, size=n)) for n in (60, 25)]
    trains[0][5] = 1.0  # a spike exactly on a window edge
    windows = np.array([[0.0, 1.0], [1.0, 2.0], [0.5, 2.5]])  # the last one overlaps
    da = check_loader(load_spikes, trains, tmp_path, modality="ephys", windows=windows,
                      stimulus_ids=["A", "B", "C"], unit_ids=["n1", "n2"])
    assert da.dims == ("stimulus", "unit")
    assert da["stimulus"].values.tolist() == ["A", "B", "C"]
    assert da["unit"].values.tolist() == ["n1", "n2"]
    np.testing.assert_array_equal(da["window_start"].values, windows[:, 0])
    np.testing.assert_array_equal(da["window_stop"].values, windows[:, 1])
    expected = [[_count_loop(t, lo, hi) for t in trains] for lo, hi in windows]
    np.testing.assert_array_equal(da.values, expected)
    rates = check_loader(load_spikes, trains, tmp_path, modality="ephys", windows=windows,
                         rate=True)
    np.testing.assert_allclose(rates.values, np.array(expected) / np.array([[1.0], [1.0],
                                                                            [2.0]]))
    assert rates["stimulus"].values.tolist() == ["0", "1", "2"]


def test_snn_modality(tmp_path):
    load_snn = functools.partial(load_spikes, modality="snn")
    da = check_loader(load_snn, [[0.001, 0.0025]], tmp_path, modality="snn", bin_size=0.001)
    assert da.values[:, 0].tolist() == [0, 1, 1]


def test_load_spikes_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Give exactly one of 'bin_size' (counts on a time grid) or 'windows' (counts per "
            "stimulus window); got bin_size=None and no windows.")):
        load_spikes([[0.1]])
    with pytest.raises(ValueError, match=re.escape(
            "Give exactly one of 'bin_size' (counts on a time grid) or 'windows' (counts per "
            "stimulus window); got bin_size=0.1 and windows.")):
        load_spikes([[0.1]], bin_size=0.1, windows=[[0, 1]])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'time_unit': expected one of 's', 'ms', 'us'; got 'sec'.")):
        load_spikes([[0.1]], bin_size=0.1, time_unit="sec")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'times': expected a list of arrays (one per unit) or a dict "
            "unit id -> array; got ndarray. For a single unit, wrap its spike times in a "
            "list: load_spikes([times], ...).")):
        load_spikes(np.array([0.1, 0.2]), bin_size=0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'times': the spike train of unit '1' holds NaN or infinite "
            "values; remove them first.")):
        load_spikes([[0.1], [np.nan]], bin_size=0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'times': the spike train of unit '0' must be a 1-d array of "
            "numbers; got shape (1, 2) and dtype float64.")):
        load_spikes([[[0.1, 0.2]]], bin_size=0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'unit_ids': expected 2 ids, one per spike train in 'times'; "
            "got 1.")):
        load_spikes([[0.1], [0.2]], bin_size=0.1, unit_ids=["a"])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'unit_ids': 'times' is a dict, whose keys are the unit ids; "
            "pass unit_ids=None, or give 'times' as a list.")):
        load_spikes({"a": [0.1]}, bin_size=0.1, unit_ids=["b"])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'bin_size': expected a finite number in (0, inf) (seconds); got "
            "-0.1.")):
        load_spikes([[0.1]], bin_size=-0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 't_stop': t_stop - t_start = 1.05 s is not a whole number of "
            "bins of bin_size=0.1 s; choose t_stop = t_start + n * bin_size.")):
        load_spikes([[0.1]], bin_size=0.1, t_stop=1.05)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 't_stop': expected a time after t_start=1.0 s; got 0.5 s.")):
        load_spikes([[0.1]], bin_size=0.1, t_start=1.0, t_stop=0.5)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 't_stop': None, but no unit has spikes to infer the end of the "
            "grid from; give t_stop (seconds).")):
        load_spikes([[], []], bin_size=0.1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 't_start': 2.0 s is after the last spike (0.1 s); give an "
            "earlier t_start.")):
        load_spikes([[0.1]], bin_size=0.1, t_start=2.0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'windows': expected an (n_stimuli, 2) array of start and stop "
            "times in seconds; got shape (3,) and dtype float64.")):
        load_spikes([[0.1]], windows=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'windows': every window needs finite times with stop > start; "
            "row 1 is [2.0, 1.0].")):
        load_spikes([[0.1]], windows=[[0.0, 1.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'stimulus_ids': expected 2 ids, one per row of 'windows'; "
            "got 3.")):
        load_spikes([[0.1]], windows=[[0.0, 1.0], [1.0, 2.0]], stimulus_ids="abc")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 't_start': it sets the time grid, which 'windows' replaces; "
            "got 0.0. Pass t_start=None with windows.")):
        load_spikes([[0.1]], windows=[[0.0, 1.0]], t_start=0.0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'stimulus_ids': it names 'windows', which were not given; pass "
            "stimulus_ids=None with bin_size.")):
        load_spikes([[0.1]], bin_size=0.1, stimulus_ids=["a"])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'times': it holds no units; give at least one.")):
        load_spikes([], bin_size=0.1)


# --------------------------------------------------------------------------- grasshopper


@pytest.mark.parametrize(("condition", "cutoff"), [(1, "200 Hz"), (2, "800 Hz")])
def test_grasshopper_matches_files(tmp_path, condition, cutoff):
    spike_us, t_us, amplitude = _read_grasshopper(condition)
    spikes = check_loader(lambda c: load_grasshopper(c).spikes, condition, tmp_path,
                          modality="ephys")
    stimulus = check_loader(lambda c: load_grasshopper(c).stimulus, condition, tmp_path,
                            modality="ephys")
    assert spikes.sizes == stimulus.sizes == {"time": 200000, "unit": 1}
    assert spikes["unit"].values.tolist() == ["receptor"]
    assert stimulus["unit"].values.tolist() == ["stimulus"]
    np.testing.assert_array_equal(spikes["time"].values, stimulus["time"].values)
    np.testing.assert_array_equal(stimulus["time"].values, t_us / 1e6)
    assert spikes.attrs["sampling_rate"] == stimulus.attrs["sampling_rate"] == 20000.0
    np.testing.assert_array_equal(stimulus.values[:, 0], amplitude)
    # Every spike counted once, in the 50 us bin that starts at or before it.
    assert int(spikes.sum()) == len(spike_us)
    expected = np.bincount(spike_us.astype(np.int64) // 50, minlength=200000)
    np.testing.assert_array_equal(spikes.values[:, 0], expected)
    assert spikes.attrs["units"] == "count" and stimulus.attrs["units"] == "a.u."
    assert cutoff in spikes.attrs["source"] and "Rokem et al. 2006" in spikes.attrs["source"]
    assert f"grasshopper_spike_times{condition}.txt sha256:" in spikes.attrs["source"]


def test_grasshopper_spike_totals():
    assert int(load_grasshopper(1).spikes.sum()) == 929
    assert int(load_grasshopper(2).spikes.sum()) == 868


def test_grasshopper_coarser_bins(tmp_path):
    spike_us, t_us, amplitude = _read_grasshopper(1)
    spikes, stimulus = load_grasshopper(1, bin_size=0.001)  # 20 stimulus samples per bin
    assert spikes.sizes["time"] == stimulus.sizes["time"] == 10000
    assert spikes.attrs["sampling_rate"] == 1000.0
    np.testing.assert_array_equal(spikes["time"].values, stimulus["time"].values)
    np.testing.assert_allclose(stimulus["time"].values, np.arange(10000) / 1000.0)
    np.testing.assert_allclose(stimulus.values[:, 0], amplitude.reshape(10000, 20).mean(1))
    expected = np.bincount(spike_us.astype(np.int64) // 1000, minlength=10000)
    np.testing.assert_array_equal(spikes.values[:, 0], expected)


def test_grasshopper_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'condition': expected one of 1, 2; got 3.")):
        load_grasshopper(3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'bin_size': expected a whole multiple of the stimulus sample "
            "period (5e-05 s); got 7e-05.")):
        load_grasshopper(1, bin_size=7e-5)


# -- issue 15 ---------------------------------------------------------------------------------


def _exact_counts(times, unit, bin_size, t_start, n_bins):
    """Counts per bin from the decimal values as exact rationals (Fraction)."""
    scale = {"s": 1, "ms": 1000, "us": 10**6}[unit]
    width, start = Fraction(str(bin_size)), Fraction(str(t_start))
    counts = [0] * n_bins
    for t in times:
        i = math.floor((Fraction(str(t)) / scale - start) / width)
        if 0 <= i < n_bins:
            counts[i] += 1
    return counts


@pytest.mark.parametrize(("unit", "step", "bin_size", "t_start", "n_bins"), [
    ("ms", 100.0, 0.1, 0.0, 10), ("ms", 100.0, 0.1, 0.2, 8), ("ms", 10.0, 0.01, 0.0, 100),
    ("s", 0.1, 0.1, 0.0, 10), ("s", 0.3, 0.3, 0.3, 9), ("us", 700.0, 0.0007, 0.0, 50),
    ("ms", 50.0, 0.05, 0.1, 18), ("s", 0.001, 0.001, 0.0, 1000)])
def test_spikes_on_edges_go_to_the_later_bin(unit, step, bin_size, t_start, n_bins):
    # issue 15: spikes at 300, 600 and 700 ms fell one 100 ms bin early (float edges)
    times = [round(k * step, 6) for k in range(0, 2 * n_bins)]
    t_stop = round(t_start + n_bins * bin_size, 9)
    da = load_spikes([np.array(times)], time_unit=unit, bin_size=bin_size, t_start=t_start,
                     t_stop=t_stop)
    assert da.values[:, 0].tolist() == _exact_counts(times, unit, bin_size, t_start, n_bins)
    # without t_stop the grid ends with the last spike's bin, placed the same way
    last = load_spikes([np.array(times)], time_unit=unit, bin_size=bin_size, t_start=t_start)
    n = last.sizes["time"]
    assert last.values[:, 0].tolist() == _exact_counts(times, unit, bin_size, t_start, n)
    assert _exact_counts(times[-1:], unit, bin_size, t_start, n)[-1] == 1


def test_issue_example_and_rate():
    da = load_spikes([np.arange(1, 10) * 100.0], time_unit="ms", bin_size=0.1, t_stop=1.0)
    assert da.values[:, 0].tolist() == [0] + [1] * 9


def test_too_many_bins(monkeypatch):
    # issue 15: bin_size=1e-12 was a 72.8 TiB MemoryError
    monkeypatch.setattr("brainbridge.loaders._spikes._memory_bytes", lambda: 16 * 2**30)
    times = [np.arange(1, 10) * 100.0] * 9
    msg = ("Invalid value for 'bin_size': 1e-12 s from t_start=0.0 s to t_stop=1.0 s makes "
           "1e+12 bins x 9 units, a 72.8 TiB array, more than this machine's 16.0 GiB of "
           "memory. Use a larger bin_size or a shorter t_stop - t_start.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_spikes(times, time_unit="ms", bin_size=1e-12, t_stop=1.0)
    msg = ("Invalid value for 'bin_size': 1e-12 s from t_start=0.0 s to the last spike makes "
           "9e+11 bins x 9 units, a 65.5 TiB array, more than this machine's 16.0 GiB of "
           "memory. Use a larger bin_size or a shorter t_stop - t_start.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_spikes(times, time_unit="ms", bin_size=1e-12)


@pytest.mark.parametrize("name", ["grasshopper_spike_times1.txt", "grasshopper_stimulus1.txt"])
def test_grasshopper_damaged_files(name, tmp_path, monkeypatch):
    good = tmp_path / "good"
    good.mkdir()
    for f in ("grasshopper_spike_times1.txt", "grasshopper_stimulus1.txt"):
        shutil.copy2(NITIME_DATA / f, good / f)
    folder = {"dir": good}

    def package_data(package, *parts, install):
        return folder["dir"] / parts[-1]

    monkeypatch.setattr("brainbridge.loaders._spikes.package_data", package_data)

    def load(path):
        folder["dir"] = path.parent
        return load_grasshopper(1)

    errors = check_bad_files(load, good / name, tmp_path, companions=[
        f for f in ("grasshopper_spike_times1.txt", "grasshopper_stimulus1.txt") if f != name])
    for kind, err in errors.items():
        damaged = tmp_path / f"damaged-{kind}" / name
        digest = hashlib.sha256(damaged.read_bytes()).hexdigest()
        expected = _GRASSHOPPER_SHA256[name]
        assert str(err) == (
            f"{str(damaged)!r} is not the file nitime 0.12.1 ships (sha256 {digest}, expected "
            f"{expected}): it is truncated, corrupt or from another version. Reinstall nitime "
            "with: pip install nitime==0.12.1 --force-reinstall")
    # the parser itself names the file when its text cannot be read
    bad = tmp_path / "bad_stimulus.txt"
    bad.write_text("0 0.1\n50 0.2\n100\n")
    with pytest.raises(ValueError) as info:
        _parse_grasshopper(good / "grasshopper_spike_times1.txt", bad, 1, None)
    assert str(info.value) == bad_file_message(
        bad, "a text table of time (us) and stimulus amplitude", info.value.__cause__)


def test_bin_longer_than_grid_and_bool_condition():
    msg = ("Invalid value for 'bin_size': 2.5 s is longer than t_stop - t_start = 1.0 s, so the "
           "grid holds no whole bin; choose a bin_size that divides t_stop - t_start.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_spikes([[0.5]], bin_size=2.5, t_stop=1.0)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for 'condition': expected 1 or 2 (int); got True.")):
        load_grasshopper(True)
