"""brainbridge CLI under bad input: output paths checked before any work, errors as one line."""

import logging
import os
import stat

import numpy as np
import pytest

import brainbridge as bb
from brainbridge.cli import _main
from brainbridge.cli._main import build_parser, main

OUTPUT_FLAGS = ("--out", "--to", "--figure", "--dest")


def _subparsers():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return sub.choices


def test_every_output_flag_is_checked():
    """Adding a subcommand with an unchecked output flag fails here."""
    seen = set()
    for name, sub in _subparsers().items():
        for action in sub._actions:
            if set(action.option_strings) & set(OUTPUT_FLAGS):
                assert hasattr(action.type, "output"), f"{name} {action.option_strings}"
                seen.add(name)
    assert seen == set(_subparsers()) - {"info", "report"}


def test_data_suffixes_are_the_storage_formats():
    from brainbridge._storage import FORMATS

    assert _main.DATA_SUFFIXES == tuple(FORMATS)
    assert _main.RESULT_SUFFIXES == tuple(s for s, f in FORMATS.items() if f == "netcdf")


NC = "expected a file ending in .nc, .nc4, .h5 or .hdf5 (the suffix picks the format)"
DATA = "expected a file ending in .nc, .nc4, .h5, .hdf5 or .zarr (the suffix picks the format)"
FIG = "expected a file ending in .png, .svg or .pdf (the suffix picks the format)"


@pytest.mark.parametrize("argv, message", [
    (["compare", "a.nc", "b.nc", "--out", "r.txt"],
     f"Invalid value for '--out': {NC}; got 'r.txt'. Use e.g. 'r.nc'."),
    (["compare", "a.nc", "b.nc", "--out", "r"],
     f"Invalid value for '--out': {NC}; got 'r' (no suffix). Use e.g. 'r.nc'."),
    (["compare", "a.nc", "b.nc", "--out", "r.zarr"],
     f"Invalid value for '--out': {NC}; got 'r.zarr'. Use e.g. 'r.nc'."),
    (["compare", "a.nc", "b.nc", "--out", "r.nc", "--figure", "f.jpg"],
     f"Invalid value for '--figure': {FIG}; got 'f.jpg'. Use e.g. 'f.png'."),
    (["encode", "f.nc", "r.nc", "--out", "s.csv"],
     f"Invalid value for '--out': {NC}; got 's.csv'. Use e.g. 's.nc'."),
    (["selectivity", "a.nc", "--positive", "x", "--out", "s.nc", "--figure", "s"],
     f"Invalid value for '--figure': {FIG}; got 's' (no suffix). Use e.g. 's.png'."),
    (["curvature", "a.nc", "--out", "c.json"],
     f"Invalid value for '--out': {NC}; got 'c.json'. Use e.g. 'c.nc'."),
    (["extract", "--model", "minilm", "--stimuli", "x", "--layers", "y", "--out", "a.npy"],
     f"Invalid value for '--out': {DATA}; got 'a.npy'. Use e.g. 'a.nc'."),
    (["load", "rec.edf", "--to", "rec.parquet"],
     f"Invalid value for '--to': {DATA}; got 'rec.parquet'. Use e.g. 'rec.nc'."),
    (["train", "--task", "memory", "--model", "elm", "--epochs", "1", "--out", "r.txt"],
     "Invalid value for '--out': expected a folder or a file ending in .nc (the suffix picks the "
     "format); got 'r.txt'. Use e.g. 'r.nc'. For a folder whose name has a dot, end it with '/' "
     "(e.g. 'r.txt/')."),
])
def test_output_suffix_is_checked_before_any_work(argv, message, tmp_path, monkeypatch, capsys):
    """Issue 15: 'compare --out r.txt' wrote HDF5 into .txt and exited 0. The inputs here do not
    exist: the output is refused first, before anything is read or computed."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err == f"brainbridge {argv[0]}: error: {message}\n"
    assert os.listdir(tmp_path) == []


def test_output_folders_and_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    os.mkdir("folder.nc")
    (tmp_path / "file").write_text("")
    cases = [
        (["compare", "a.nc", "b.nc", "--out", "folder.nc"], IsADirectoryError,
         "Invalid value for '--out': 'folder.nc' is a folder; expected a file ending in .nc, .nc4, "
         ".h5 or .hdf5."),
        (["compare", "a.nc", "b.nc", "--out", "r.nc/"], IsADirectoryError,
         "Invalid value for '--out': 'r.nc/' is a folder; expected a file ending in .nc, .nc4, "
         ".h5 or .hdf5."),
        (["compare", "a.nc", "b.nc", "--out", "file/sub/r.nc"], NotADirectoryError,
         "Invalid value for '--out': cannot write 'file/sub/r.nc': 'file' is a file, not a folder."),
        (["run", "study.yaml", "--out", "file"], NotADirectoryError,
         "Invalid value for '--out': 'file' is an existing file; expected a folder (it is created "
         "if missing)."),
        (["datasets", "fetch", "x", "--dest", "file"], NotADirectoryError,
         "Invalid value for '--dest': 'file' is an existing file; expected a folder (it is created "
         "if missing)."),
        (["train", "--task", "memory", "--model", "elm", "--epochs", "1", "--out", "file"],
         NotADirectoryError,
         "Invalid value for '--out': 'file' is an existing file; expected a folder or a file ending "
         "in .nc."),
    ]
    for argv, kind, message in cases:
        assert issubclass(kind, (ValueError, OSError))
        assert main(argv) == 2
        assert capsys.readouterr().err == f"brainbridge {argv[0]}: error: {message}\n"
    assert sorted(os.listdir(tmp_path)) == ["file", "folder.nc"]


def test_read_only_outputs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    os.mkdir("locked")
    (tmp_path / "old.nc").write_text("")
    os.chmod("old.nc", 0o444)
    os.chmod("locked", 0o555)
    try:
        assert main(["compare", "a.nc", "b.nc", "--out", "locked/r.nc"]) == 2
        assert capsys.readouterr().err == (
            "brainbridge compare: error: Invalid value for '--out': cannot write 'locked/r.nc': the "
            "folder 'locked' is not writable. Choose another path.\n")
        assert main(["compare", "a.nc", "b.nc", "--out", "old.nc"]) == 2
        assert capsys.readouterr().err == (
            "brainbridge compare: error: Invalid value for '--out': cannot write 'old.nc': the file "
            "is read-only. Make it writable (chmod u+w) or choose another path.\n")
    finally:
        os.chmod("locked", stat.S_IRWXU)


@pytest.fixture
def acts(tmp_path, rng):
    ids = [f"face_{i}" for i in range(6)] + [f"house_{i}" for i in range(6)]
    da = bb.assembly(rng.normal(size=(12, 4)), dims=("stimulus", "unit"), modality="ann",
                     coords={"stimulus": ids})
    bb.save(da, tmp_path / "acts.nc")
    return tmp_path / "acts.nc"


def test_missing_output_folders_are_created(acts, tmp_path):
    out, fig = tmp_path / "new" / "deep" / "r.nc", tmp_path / "figs" / "r.png"
    assert main(["compare", str(acts), str(acts), "--out", str(out), "--figure", str(fig),
                 "-q"]) == 0
    assert out.is_file() and fig.is_file()


def test_bad_regular_expression(acts, tmp_path, capsys):
    """Issue 15: 'selectivity --positive (['  gave re.error's traceback."""
    assert main(["selectivity", str(acts), "--positive", "([", "--out",
                 str(tmp_path / "s.nc")]) == 2
    assert capsys.readouterr().err == (
        "brainbridge selectivity: error: Invalid value for '--positive': expected a regular "
        "expression; got '([' (unterminated character set at position 1). Escape special "
        "characters with a backslash (e.g. '\\(' for a literal '('), and quote the pattern for the "
        "shell.\n")
    assert not (tmp_path / "s.nc").exists()


@pytest.mark.parametrize("argv, message", [
    (["load", "x.edf", "--to", "x.nc", "--arg", "tr=[1,"],
     "Invalid value for '--arg': the value of 'tr' is not valid YAML (expected the node content, "
     "but found '<stream end>'); got '[1,'. Write a YAML value, e.g. tr=2.0 or tr='[1, 2]', or "
     "quote a string: tr='\"[1,\"'."),
    (["train", "--task", "memory", "--model", "elm", "--epochs", "1", "--out", "r",
      "--task-arg", "horizon={a"],
     "Invalid value for '--task-arg': the value of 'horizon' is not valid YAML"),
    (["load", "x.nii", "--to", "x.nc", "--arg", "t=2.0"],
     "Invalid value for '--arg': load_fmri has no option 't'. Did you mean 'tr'? Its options: mask, "
     "atlas, labels, tr, confounds, standardize, detrend, events, chunk_size, units."),
    (["train", "--task", "memory", "--model", "elm", "--epochs", "1", "--out", "r",
      "--task-arg", "horizn=3"],
     "Invalid value for '--task-arg': memory_task has no option 'horizn'. Did you mean 'horizon'? "
     "Its options: horizon, n_symbols, n_train, n_test, noise, random_state."),
    (["train", "--task", "memory", "--model", "elm", "--epochs", "1", "--out", "r",
      "--model-arg", "foo=1"],
     "Invalid value for '--model-arg': the 'elm' model takes no such option (ELM.__init__() got an "
     "unexpected keyword argument 'foo'). Its options are listed in "
     "help(brainbridge.snn.build_model)."),
])
def test_bad_key_value_options(argv, message, tmp_path, monkeypatch, capsys):
    """Issue 15: 'load --arg tr=[1,' gave yaml's traceback."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"brainbridge {argv[0]}: error: {message}") and err.count("\n") == 1


def test_load_chooses_the_loader_by_suffix_and_says_so(tmp_path, capsys):
    """Issue 15: a .func.gii or .pkl given to load."""
    import pickle

    nib = pytest.importorskip("nibabel")
    series = np.arange(12, dtype=np.float32).reshape(3, 4)
    darrays = [nib.gifti.GiftiDataArray(row, intent="NIFTI_INTENT_TIME_SERIES") for row in series]
    gii = tmp_path / "lh.func.gii"
    nib.save(nib.gifti.GiftiImage(darrays=darrays), gii)
    assert main(["load", str(gii), "--to", str(tmp_path / "lh.nc"), "--arg", "tr=2.0", "-q"]) == 0
    da = bb.load(tmp_path / "lh.nc")
    assert da.dims == ("time", "unit") and da.attrs["sampling_rate"] == 0.5
    np.testing.assert_array_equal(da.values, series)
    capsys.readouterr()

    pkl = tmp_path / "notes.pkl"
    with open(pkl, "wb") as f:
        pickle.dump({"a": 1}, f)
    assert main(["load", str(pkl), "--to", str(tmp_path / "n.nc")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"brainbridge load: error: Invalid pickle {str(pkl)!r}: expected a dict")
    assert err.endswith("(The 'celegans-activity' loader was chosen from the file name; pass "
                        "--loader to use another: eeg, fmri, calcium, celegans-activity.)\n")
    assert err.count("\n") == 1


def test_input_errors_are_one_line_and_v_adds_the_traceback(tmp_path, capsys, caplog):
    argv = ["compare", str(tmp_path / "none.nc"), str(tmp_path / "none.nc"), "--out",
            str(tmp_path / "r.nc")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("brainbridge compare: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
    with caplog.at_level(logging.DEBUG, logger="brainbridge"):
        assert main([*argv, "-v"]) == 2
    assert any(r.exc_info and r.message == "command failed" for r in caplog.records)


def test_bugs_keep_their_traceback(monkeypatch, tmp_path):
    """Only input errors become one line: any other exception type propagates."""
    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr(_main, "cmd_info", broken)
    with pytest.raises(KeyError, match="internal"):
        main(["info"])


@pytest.mark.parametrize("argv, flag, value, low", [
    (["selectivity", "a.nc", "--labels", "face", "--out", "s.nc", "--top"], "--top", "0", 1),
    (["compare", "a.nc", "b.nc", "--out", "c.nc", "--n-boot"], "--n-boot", str(2**64), 0),
    (["train", "--task", "memory", "--model", "elm", "--out", "r", "--epochs"], "--epochs",
     str(2**64), 1),
    (["train", "--task", "memory", "--model", "elm", "--out", "r", "--epochs", "1", "--hidden"],
     "--hidden", "2.5", 1),
    (["extract", "--model", "minilm", "--stimuli", "x", "--layers", "y", "--out", "a.nc",
      "--batch-size"], "--batch-size", "-1", 1),
])
def test_integer_flags_are_checked_by_the_parser(argv, flag, value, low, tmp_path, monkeypatch,
                                                 capsys):
    """Counts too large for any backend (2**64 gave numpy's 'Maximum allowed dimension exceeded'
    or trained forever) and out-of-range ones are refused, naming the flag, before any work."""
    monkeypatch.chdir(tmp_path)
    assert main([*argv, value]) == 2
    assert capsys.readouterr().err == (
        f"brainbridge {argv[0]}: error: argument {flag}: expected an integer in [{low}, "
        f"{_main.MAX_COUNT}]; got {value!r}. See 'brainbridge {argv[0]} --help'.\n")
    assert os.listdir(tmp_path) == []


def test_command_line_errors_are_one_line(capsys):
    assert main(["train", "--task", "memory"]) == 2
    assert capsys.readouterr().err == (
        "brainbridge train: error: the following arguments are required: --out, --model, --epochs. "
        "See 'brainbridge train --help'.\n")
    assert main(["demo", "--study", "2_vision_unit"]) == 2
    assert capsys.readouterr().err == (
        "brainbridge demo: error: Invalid value for '--study': expected one of "
        "'1_celegans_structure_function', '2_vision_units', '3_model_recovery', "
        "'4_auditory_receptor'; got '2_vision_unit'. Did you mean '2_vision_units'?\n")
