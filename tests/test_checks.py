"""The shared validation helpers: check_scalar, check_random_state, _check_option."""

import re

import numpy as np
import pytest

from brainbridge._checks import _check_option, check_random_state, check_scalar


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_check_scalar_int_accepts_numpy_integers(value):
    out = check_scalar("steps", value, int, low=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [0.5, 2, np.float32(0.5), np.float64(2.0), np.int64(2)])
def test_check_scalar_float_returns_python_float(value):
    out = check_scalar("rate", value, float, low=0, closed="neither")
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize(("kwargs", "value", "expected"), [
    (dict(target_type=int), 1.5, "expected an integer; got 1.5."),
    (dict(target_type=int), True, "expected an integer; got True."),
    (dict(target_type=int), np.bool_(True), "expected an integer; got True."),
    (dict(target_type=int), "3", "expected an integer; got '3'."),
    (dict(target_type=int, low=1), 0, "expected an integer >= 1; got 0."),
    (dict(target_type=int, low=1), np.int64(0), "expected an integer >= 1; got 0."),
    (dict(target_type=int, low=0, closed="neither"), 0, "expected an integer > 0; got 0."),
    (dict(target_type=int, high=3), 4, "expected an integer <= 3; got 4."),
    (dict(target_type=int, high=3, closed="left"), 3, "expected an integer < 3; got 3."),
    (dict(target_type=int, low=0, high=3, closed="left"), 3, "expected an integer in [0, 3); got 3."),
    (dict(target_type=float, low=0, high=1), 1.5, "expected a finite number in [0, 1]; got 1.5."),
    (dict(target_type=float, low=0, high=1, closed="neither"), 0.0,
     "expected a finite number in (0, 1); got 0.0."),
    (dict(target_type=float, low=0, high=1, closed="right"), 0, "expected a finite number in (0, 1]; got 0."),
    (dict(target_type=float, low=0), -1.0, "expected a finite number in [0, inf); got -1.0."),
    (dict(target_type=float, low=0, closed="neither"), 0, "expected a finite number in (0, inf); got 0."),
    (dict(target_type=float, high=1), 2.0, "expected a finite number <= 1; got 2.0."),
    (dict(target_type=float), float("nan"), "expected a finite number; got nan."),
    (dict(target_type=float), float("inf"), "expected a finite number; got inf."),
    (dict(target_type=float), False, "expected a finite number; got False."),
    (dict(target_type=(int, float), low=0), None, "expected a finite number in [0, inf); got None."),
    (dict(target_type=int, low=1, allow_none=True), 0, "expected an integer >= 1 or None; got 0."),
    (dict(target_type=float, low=0, what="seconds"), -1,
     "expected a finite number in [0, inf) (seconds); got -1."),
    (dict(target_type=int, low=1, fix="Use steps=1 or more."), 0,
     "expected an integer >= 1; got 0. Use steps=1 or more."),
])
def test_check_scalar_messages(kwargs, value, expected):
    with pytest.raises(ValueError, match=re.escape(f"Invalid value for 'x': {expected}")):
        check_scalar("x", value, **kwargs)


def test_check_scalar_bounds_and_none():
    assert check_scalar("x", None, int, allow_none=True) is None
    assert check_scalar("x", 0, int, low=0) == 0  # closed="both": the bound is included
    assert check_scalar("x", 1.0, float, low=0, high=1) == 1.0
    assert check_scalar("x", 1, (int, float)) == 1.0
    msg = ("Invalid value for 'closed': expected one of 'both', 'left', 'right', 'neither'; got "
           "'open'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_scalar("x", 1, int, closed="open")


def test_check_random_state():
    g = np.random.default_rng(3)
    assert check_random_state(g) is g  # a Generator is used as is
    a, b = check_random_state(7), check_random_state(np.int64(7))
    ref = np.random.default_rng(7).random(5)
    np.testing.assert_array_equal(a.random(5), ref)
    np.testing.assert_array_equal(b.random(5), ref)
    assert isinstance(check_random_state(None), np.random.Generator)


@pytest.mark.parametrize(("value", "kind"), [(1.5, "float"), (True, "bool"), ("0", "str"),
                                             (np.random.RandomState(0), "RandomState")])
def test_check_random_state_type_errors(value, kind):
    msg = (f"Invalid type for 'random_state': expected an int, a numpy Generator or None; got "
           f"{kind}.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        check_random_state(value)


def test_check_random_state_negative_seed():
    msg = "Invalid value for 'seed_arg': expected a seed >= 0; got -1."
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_random_state(-1, name="seed_arg")


def test_check_option_suggests():
    assert _check_option("kernel", "rbf", ["linear", "rbf"]) == "rbf"
    msg = "Invalid value for 'kernel': expected one of 'linear', 'rbf'; got 'lineer'. Did you mean 'linear'?"
    with pytest.raises(ValueError, match=re.escape(msg)):
        _check_option("kernel", "lineer", ["linear", "rbf"])
    msg = "Invalid value for 'kernel': expected one of 'linear', 'rbf'; got 3."
    with pytest.raises(ValueError, match=re.escape(msg) + "$"):
        _check_option("kernel", 3, ["linear", "rbf"])


def test_check_varies_flags_constant_slices_and_raises_when_all_are():
    from brainbridge._checks import check_varies

    x = np.array([[1.0, 5.0, np.nan], [1.0, 6.0, 2.0], [1.0, 7.0, 2.0]])
    np.testing.assert_array_equal(check_varies("x", x), [True, False, True])
    np.testing.assert_array_equal(check_varies("x", x.T, axis=1), [True, False, True])
    with pytest.raises(ValueError, match="'x'.*vary over time"):
        check_varies("x", np.full((5, 2), 3.0), over="time")
    with pytest.raises(ValueError, match="a single value"):
        check_varies("x", np.ones((1, 4)))


def test_check_scalar_refuses_counts_no_array_can_hold():
    with pytest.raises(ValueError, match="'n_boot'.*below 2\\*\\*63"):
        check_scalar("n_boot", 2**64, int, low=1)
    assert check_scalar("seed", 2**62, int) == 2**62


def test_check_tensor_types_dims_and_values():
    import torch

    from brainbridge._checks import check_tensor

    t = torch.ones(2, 3, dtype=torch.float64)
    assert check_tensor("x", t) is t
    assert check_tensor("x", np.arange(3)).dtype == torch.get_default_dtype()
    assert check_tensor("x", torch.arange(3)).tolist() == [0.0, 1.0, 2.0]
    for bad, err in ((torch.ones(2, dtype=torch.complex64), TypeError), (np.array(["a"]), TypeError),
                     (np.array([1, None], dtype=object), TypeError), (torch.ones(0, 3), ValueError),
                     (torch.tensor([1.0, float("inf")]), ValueError)):
        with pytest.raises(err, match="'x'"):
            check_tensor("x", bad)
    with pytest.raises(ValueError, match="'x'.*2 or 3 dims"):
        check_tensor("x", torch.ones(4), ndim=(2, 3))
    assert torch.isnan(check_tensor("x", [float("nan")])).all()
    with pytest.raises(ValueError, match="'x'.*finite numbers;"):
        check_tensor("x", [float("nan")], allow_nan=False)
