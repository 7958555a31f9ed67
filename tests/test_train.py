"""train(): determinism, checkpoints, exact resume, clipping; a hand-written reference loop."""

import doctest
import os
import re

import numpy as np
import pytest
import torch
import xarray as xr

from brainbridge._config import torch_threads
from brainbridge.snn import _train, adding_task, build_model, grasshopper_task, memory_task
from brainbridge.snn._train import evaluate, train


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny recurrent models: thread hand-off costs more than the arithmetic (busy CI machines)."""
    with torch_threads(1):
        yield


class TinyGRU(torch.nn.Module):
    def __init__(self, n_in, n_out, hidden=8, seed=0, dropout=0.0):
        super().__init__()
        torch.manual_seed(seed)
        self.rnn = torch.nn.GRU(n_in, hidden)
        self.drop = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(hidden, n_out)
        self.calls = 0
        self.fail_at = None

    def forward(self, x):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated crash")
        return self.out(self.drop(self.rnn(x)[0]))


@pytest.fixture
def task():
    return memory_task(4, n_symbols=3, n_train=40, n_test=16, random_state=0)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    xr.testing.assert_identical(a.drop_vars("seconds"), b.drop_vars("seconds"))


def test_doctests():
    assert doctest.testmod(_train, optionflags=doctest.ELLIPSIS).failed == 0


def test_metrics_dataset(task):
    model = TinyGRU(4, 3)
    res = train(model, task, epochs=3, lr=1e-2, batch_size=16, device="cpu", progress=False)
    assert list(res.data_vars) == ["train_loss", "test_loss", "train_accuracy", "test_accuracy", "seconds"]
    assert res["epoch"].values.tolist() == [1, 2, 3]
    assert res.attrs["chance"] == pytest.approx(1 / 3) and res.attrs["metric"] == "accuracy"
    assert res.attrs["n_parameters"] == sum(p.numel() for p in model.parameters())
    # the last test values are those of the final weights
    loss, acc = evaluate(model, task, device="cpu")
    assert res["test_loss"].values[-1] == pytest.approx(loss, rel=1e-12)
    assert res["test_accuracy"].values[-1] == acc


def test_same_seed_same_run_other_seed_other_run(task):
    a, b, c = TinyGRU(4, 3, dropout=0.2), TinyGRU(4, 3, dropout=0.2), TinyGRU(4, 3, dropout=0.2)
    ra = train(a, task, epochs=2, batch_size=8, lr=1e-2, random_state=7, device="cpu", progress=False)
    torch.manual_seed(123)  # global state before the call does not matter
    rb = train(b, task, epochs=2, batch_size=8, lr=1e-2, random_state=7, device="cpu", progress=False)
    rc = train(c, task, epochs=2, batch_size=8, lr=1e-2, random_state=8, device="cpu", progress=False)
    _same(ra, rb)
    for k, v in _weights(a).items():
        assert torch.equal(v, _weights(b)[k])
    assert not np.array_equal(ra["train_loss"].values, rc["train_loss"].values)


def test_first_epoch_equals_a_hand_written_loop(task):
    """One epoch of Adam on shuffled batches, written out, gives the same weights and loss."""
    model, ref = TinyGRU(4, 3, seed=1), TinyGRU(4, 3, seed=1)
    res = train(model, task, epochs=1, lr=5e-3, batch_size=16, random_state=3, device="cpu", progress=False)
    opt = torch.optim.Adam(ref.parameters(), lr=5e-3)
    order = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    total = 0.0
    for lo in range(0, 40, 16):
        idx = order[lo:lo + 16]
        loss = torch.nn.functional.cross_entropy(ref(task.x_train[:, idx])[-1], task.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    assert res["train_loss"].values[0] == pytest.approx(total / 40, rel=1e-12)
    for k, v in _weights(ref).items():
        assert torch.equal(v, _weights(model)[k]), k
    with torch.no_grad():
        logits = ref(task.x_test)[-1]
    assert res["test_accuracy"].values[0] == float((logits.argmax(1) == task.y_test).double().mean())


def test_gradient_clipping(task):
    """One SGD step (momentum buffer = gradient on the first step) moves by lr * clipped grad."""
    model, ref = TinyGRU(4, 3, seed=2), TinyGRU(4, 3, seed=2)
    before = _weights(ref)
    train(model, task, epochs=1, lr=0.1, batch_size=40, optimizer="sgd", clip_grad_norm=0.01,
          device="cpu", progress=False)
    loss = torch.nn.functional.cross_entropy(ref(task.x_train)[-1], task.y_train)
    loss.backward()
    grads = {n: p.grad for n, p in ref.named_parameters()}
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads.values()))
    assert norm > 0.01  # clipping is active
    for name, g in grads.items():
        expected = before[name] - 0.1 * g * (0.01 / (norm + 1e-6))
        torch.testing.assert_close(_weights(model)[name], expected, rtol=1e-5, atol=1e-7)


def test_checkpoint_and_exact_resume_after_a_crash(task, tmp_path):
    kw = dict(epochs=3, batch_size=8, lr=1e-2, random_state=5, device="cpu", progress=False)
    straight = TinyGRU(4, 3, dropout=0.3)
    full = train(straight, task, **kw)

    ckpt = tmp_path / "run" / "ckpt.pt"
    crashed = TinyGRU(4, 3, dropout=0.3)
    crashed.fail_at = 7 + 3  # 5 train batches + 2 test batches per epoch: fail in epoch 2
    with pytest.raises(KeyboardInterrupt):
        train(crashed, task, checkpoint=ckpt, **kw)
    payload = torch.load(ckpt, weights_only=True)
    assert payload["epoch"] == 1 and len(payload["metrics"]["train_loss"]) == 1
    assert os.listdir(ckpt.parent) == ["ckpt.pt"]  # no temporary file left behind

    resumed_model = TinyGRU(4, 3, dropout=0.3, seed=99)  # its initial weights are replaced
    resumed = train(resumed_model, task, checkpoint=ckpt, resume=True, **kw)
    _same(full, resumed)
    for k, v in _weights(straight).items():
        assert torch.equal(v, _weights(resumed_model)[k]), k


def test_resume_extends_a_finished_run(task, tmp_path):
    kw = dict(batch_size=8, lr=1e-2, random_state=1, device="cpu", progress=False)
    full = train(TinyGRU(4, 3), task, epochs=2, **kw)
    ckpt = tmp_path / "c.pt"
    train(TinyGRU(4, 3), task, epochs=1, checkpoint=ckpt, **kw)
    _same(full, train(TinyGRU(4, 3), task, epochs=2, checkpoint=ckpt, resume=True, **kw))
    # without resume the checkpoint is overwritten by a fresh run
    _same(full.isel(epoch=[0]), train(TinyGRU(4, 3), task, epochs=1, checkpoint=ckpt, **kw))


def test_resume_refuses_other_settings(task, tmp_path):
    ckpt = tmp_path / "c.pt"
    train(TinyGRU(4, 3), task, epochs=1, lr=1e-2, device="cpu", checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match=re.escape(
            f"Cannot resume from {str(ckpt)!r}: the run was started with other settings (lr: 0.01 "
            "-> 0.02). Resume with the same settings, or pass resume=False to start afresh.")):
        train(TinyGRU(4, 3), task, epochs=2, lr=2e-2, device="cpu", checkpoint=ckpt, resume=True)
    (tmp_path / "junk.pt").write_bytes(b"")
    torch.save({"format": "other"}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'checkpoint': {str(tmp_path / 'junk.pt')!r} is not a brainbridge "
            "training checkpoint (format 'brainbridge.snn.train/1'); it holds format 'other'. "
            "Delete it, or pass resume=False to start afresh (it is then overwritten).")):
        train(TinyGRU(4, 3), task, epochs=2, device="cpu", checkpoint=tmp_path / "junk.pt", resume=True)


def _damaged(path, how):
    message = "Delete it, or pass resume=False to start afresh (it is then overwritten)."
    unreadable = (f"Invalid value for 'checkpoint': {str(path)!r} is not a brainbridge training "
                  "checkpoint, or it is damaged (truncated or overwritten): torch.load cannot read "
                  "it. " + message)
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
        return unreadable
    if how == "empty":
        path.write_bytes(b"")
        return unreadable
    if how == "text":
        path.write_text("epoch,loss\n1,0.5\n")
        return unreadable
    if how == "pickle":  # a plain pickle of a numpy array: not loadable with weights_only
        import pickle

        with open(path, "wb") as f:
            pickle.dump(np.zeros(3), f, protocol=4)
        return unreadable
    if how == "plain dict":
        torch.save({"weights": torch.zeros(2)}, path)
        return (f"Invalid value for 'checkpoint': {str(path)!r} is not a brainbridge training "
                "checkpoint (format 'brainbridge.snn.train/1'); it holds a dict without a 'format' "
                "key. " + message)
    if how == "list":
        torch.save([1, 2], path)
        return (f"Invalid value for 'checkpoint': {str(path)!r} is not a brainbridge training "
                "checkpoint (format 'brainbridge.snn.train/1'); it holds a list. " + message)
    payload = torch.load(path, weights_only=True)
    if how == "missing key":
        del payload["optimizer"]
        torch.save(payload, path)
        return (f"Invalid value for 'checkpoint': {str(path)!r} is a damaged brainbridge training "
                "checkpoint: 'optimizer' is missing or not a mapping. " + message)
    assert how == "bad rng"
    payload["rng"] = {"torch": "garbage"}
    torch.save(payload, path)
    return (f"Invalid value for 'checkpoint': {str(path)!r} is a damaged brainbridge training "
            "checkpoint: its random states or metrics cannot be read (")


@pytest.mark.parametrize("how", ["truncated", "empty", "text", "pickle", "plain dict", "list",
                                 "missing key", "bad rng"])
def test_resume_from_a_damaged_or_foreign_checkpoint(task, tmp_path, how):
    ckpt = tmp_path / "c.pt"
    kw = {"device": "cpu", "progress": False}
    train(TinyGRU(4, 3), task, epochs=1, checkpoint=ckpt, **kw)
    message = _damaged(ckpt, how)
    with pytest.raises(ValueError, match=re.escape(message)):
        train(TinyGRU(4, 3), task, epochs=2, checkpoint=ckpt, resume=True, **kw)
    # the fix the message gives works: without resume the file is overwritten
    train(TinyGRU(4, 3), task, epochs=1, checkpoint=ckpt, **kw)
    train(TinyGRU(4, 3), task, epochs=2, checkpoint=ckpt, resume=True, **kw)


def test_resume_into_another_model(task, tmp_path):
    ckpt = tmp_path / "c.pt"
    train(TinyGRU(4, 3), task, epochs=1, checkpoint=ckpt, device="cpu", progress=False)
    with pytest.raises(ValueError, match=re.escape(
            f"Cannot resume from {str(ckpt)!r}: its weights do not fit this model (Error(s) in "
            "loading state_dict for TinyGRU: size mismatch for")):
        train(TinyGRU(4, 3, hidden=16), task, epochs=2, checkpoint=ckpt, resume=True, device="cpu",
              progress=False)


def test_checkpoint_path_is_checked_before_training(task, tmp_path):
    model = TinyGRU(4, 3)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(IsADirectoryError, match=re.escape(
            f"Invalid value for 'checkpoint': {str(tmp_path)!r} is a folder; expected a file path, "
            f"e.g. {str(tmp_path / 'checkpoint.pt')!r}.")):
        train(model, task, epochs=1, checkpoint=tmp_path, device="cpu", progress=False)
    (tmp_path / "file").write_text("")
    below_a_file = tmp_path / "file" / "c.pt"
    with pytest.raises(FileExistsError, match=re.escape(
            f"Cannot write the checkpoint {str(below_a_file)!r}: its folder "
            f"{str(below_a_file.parent)!r} cannot be created (File exists).")):
        train(model, task, epochs=1, checkpoint=below_a_file, device="cpu", progress=False)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for 'checkpoint': expected a file path or None; got int.")):
        train(model, task, epochs=1, checkpoint=3, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing trained


def test_argument_errors(task):
    model = TinyGRU(4, 3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'resume': resume=True needs a 'checkpoint' file to resume from; got "
            "checkpoint=None.")):
        train(model, task, epochs=1, resume=True)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'optimizer': expected one of 'adam', 'adamw', 'sgd'; got 'adm'. Did "
            "you mean 'adam'?")):
        train(model, task, epochs=1, optimizer="adm")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'epochs': expected an integer >= 1 (number of epochs); got 0.")):
        train(model, task, epochs=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'clip_grad_norm': expected a finite number in (0, inf) or None (maximum "
            "gradient norm); got -1.")):
        train(model, task, epochs=1, clip_grad_norm=-1)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for 'task': expected a brainbridge.snn Task (e.g. digits_task()); got dict.")):
        train(model, {}, epochs=1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'random_state': expected an integer >= 0 (a seed); got 1.5.")):
        train(model, task, epochs=1, random_state=1.5)


def test_no_progress_bar_off_a_terminal(task, capsys):
    train(TinyGRU(4, 3), task, epochs=1, device="cpu")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_regression_and_rate_tasks_run():
    adding = adding_task(6, n_train=32, n_test=8)
    res = train(TinyGRU(2, 1), adding, epochs=2, batch_size=16, device="cpu", progress=False)
    assert "test_mse" in res and res.attrs["higher_is_better"] == 0
    from brainbridge.loaders import load_grasshopper

    hopper = grasshopper_task(load_grasshopper(1), window=400, history=10)
    res = train(TinyGRU(1, 1), hopper, epochs=1, batch_size=64, device="cpu", progress=False)
    assert np.isfinite(res["test_coincidence"].values).all()


@pytest.mark.parametrize("name", ["lif", "elm"])
def test_real_layers_learn_a_short_memory_task(name):
    task = memory_task(3, n_symbols=3, n_train=192, n_test=96, random_state=0)
    model = build_model(name, task, hidden=32, random_state=0)
    res = train(model, task, epochs=8, lr=1e-2, batch_size=32, device="cpu", progress=False)
    assert res["test_accuracy"].values[-1] > 0.8  # chance is 1/3
