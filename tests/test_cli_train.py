"""brainbridge train: metrics, checkpoint, resume, figure, errors."""

import subprocess
import sys

import pandas as pd
import pytest
import torch
import xarray as xr

from brainbridge._config import torch_threads
from brainbridge.cli._main import main


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _args(out, epochs, *extra):
    return ["train", "--task", "memory", "--task-arg", "horizon=3", "--task-arg", "n_train=64",
            "--task-arg", "n_test=32", "--task-arg", "n_symbols=3", "--model", "elm", "--hidden", "8",
            "--epochs", str(epochs), "--lr", "0.01", "--batch-size", "16", "--seed", "2", "--out",
            str(out), "-q", *extra]


def test_train_writes_metrics_checkpoint_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(out, 2, "--figure", str(tmp_path / "curves.png"))) == 0
    text = capsys.readouterr().out
    assert f"wrote {out / 'metrics.nc'}" in text and f"wrote {out / 'checkpoint.pt'}" in text
    assert "memory-h3 / elm: epoch 2, test loss" in text and "seed 2" in text
    metrics = xr.load_dataset(out / "metrics.nc")
    assert metrics.sizes["epoch"] == 2 and metrics.attrs["model"] == "elm"
    table = pd.read_csv(out / "metrics.csv")
    assert table["epoch"].tolist() == [1, 2]
    assert table["test_accuracy"].tolist() == pytest.approx(metrics["test_accuracy"].values.tolist(),
                                                            rel=1e-5)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 2
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_train_resume_equals_a_straight_run(tmp_path):
    assert main(_args(tmp_path / "straight.nc", 3)) == 0
    assert main(_args(tmp_path / "split.nc", 1)) == 0
    assert (tmp_path / "split.pt").exists() and (tmp_path / "split.csv").exists()
    assert main(_args(tmp_path / "split.nc", 3, "--resume")) == 0
    a = xr.load_dataset(tmp_path / "straight.nc").drop_vars("seconds")
    b = xr.load_dataset(tmp_path / "split.nc").drop_vars("seconds")
    xr.testing.assert_identical(a, b)


def test_train_errors(tmp_path, capsys):
    assert main(["train", "--task", "memory", "--task-arg", "horizon=0", "--model", "lstm",
                 "--epochs", "1", "--out", str(tmp_path / "x"), "-q"]) == 2
    assert ("brainbridge train: error: Invalid value for 'horizon': expected an integer >= 1 (steps "
            "between cue and recall); got 0.") in capsys.readouterr().err
    assert main(["train", "--task", "digits", "--task-arg", "order", "--model", "lstm",
                 "--epochs", "1", "--out", str(tmp_path / "x"), "-q"]) == 2
    assert "Invalid value for '--task-arg': expected KEY=VALUE; got 'order'." in capsys.readouterr().err


def test_train_help_needs_no_torch():
    code = ("import sys; from brainbridge.cli._main import build_parser; p = build_parser(); "
            "p.parse_args(['train', '--task', 'digits', '--model', 'lif', '--epochs', '1', '--out', 'r']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    res = subprocess.run([sys.executable, "-m", "brainbridge", "train", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "--task-arg" in res.stdout and "--resume" in res.stdout


def test_train_grasshopper_loads_the_recording(tmp_path, capsys):
    """The grasshopper task takes the recording; --task-arg condition=... picks it."""
    assert main(["train", "--task", "grasshopper", "--task-arg", "condition=2", "--task-arg", "window=400",
                 "--task-arg", "history=10", "--model", "lstm", "--hidden", "4", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    assert "grasshopper-2 / lstm: epoch 1" in capsys.readouterr().out
