import re

import pytest
import torch

import brainbridge as bb


def test_resolve_device_auto_and_env(monkeypatch):
    monkeypatch.delenv("BRAINBRIDGE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert bb.resolve_device("auto").type == expected
    monkeypatch.setenv("BRAINBRIDGE_DEVICE", "cpu")
    assert bb.resolve_device("auto") == torch.device("cpu")
    assert bb.resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_resolve_device_errors(monkeypatch):
    msg = "Invalid value for 'device': expected 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'gpu0'."
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.resolve_device("gpu0")
    monkeypatch.setenv("BRAINBRIDGE_DEVICE", "tpu")
    msg = "Invalid value for $BRAINBRIDGE_DEVICE: expected 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'."
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.resolve_device("auto")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_resolve_device_cuda_missing():
    msg = ("Invalid value for 'device': 'cuda' was asked for but this torch has no CUDA device. "
           "Use device='cpu' or 'auto'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.resolve_device("cuda")


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BRAINBRIDGE_DATA", str(tmp_path))
    assert bb.data_dir() == tmp_path
    monkeypatch.delenv("BRAINBRIDGE_DATA")
    assert bb.data_dir().name == "brainbridge"
