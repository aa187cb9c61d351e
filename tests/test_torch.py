"""Tests of topoeval.torch: the directional sign loss as a PyTorch loss.

Values are checked against an obviously-right loop reference (below) and against the NumPy
implementation topoeval.dsl / topoeval.exact_dsl; gradients with torch.autograd.gradcheck and
against topoeval.dsl_gradient.
"""

from __future__ import annotations

import inspect
import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import topoeval as te  # noqa: E402
from topoeval.errors import (  # noqa: E402
    InvalidDTypeError,
    InvalidInputError,
    InvalidOptionError,
    ShapeMismatchError,
)
from topoeval.torch import (  # noqa: E402
    DEFAULT_SHARPNESS,
    DirectionalSignLoss,
    directional_sign_loss,
    exact_directional_sign_loss,
)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- loop reference


def _np_sign(name):
    if name == "tanh":
        return np.tanh
    if name == "softsign":
        return lambda v: v / (1.0 + abs(v))
    if name == "exact":
        return np.sign
    if name == "erf":
        return np.vectorize(math.erf)
    raise AssertionError(name)


def reference_dsl(x, y, *, sharpness=1.0, sign="tanh", weights=None, reduction="mean", normalize=True):
    """One sample at a time, one axis at a time, one pair of neighbouring cells at a time."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sigma = _np_sign(sign)
    s = 1.0 if sign == "exact" else float(sharpness)
    sample_shape = x.shape[1:]
    w = [1.0] * len(sample_shape) if weights is None else list(weights)
    values = []
    for b in range(x.shape[0]):
        total = 0.0
        count = 0.0
        for axis, n in enumerate(sample_shape):
            for idx in itertools.product(*(range(m) for m in sample_shape)):
                if idx[axis] == n - 1:
                    continue
                nxt = list(idx)
                nxt[axis] += 1
                nxt = tuple(nxt)
                dx = x[(b, *nxt)] - x[(b, *idx)]
                dy = y[(b, *nxt)] - y[(b, *idx)]
                total += w[axis] * abs(float(sigma(s * dx)) - float(sigma(s * dy))) / 2.0
                count += w[axis]
        values.append(total / count if normalize else total)
    values = np.array(values)
    return {"mean": values.mean(), "sum": values.sum(), "none": values}[reduction]


def _erf_sign(t):
    return torch.erf(t)


_erf_sign.__name__ = "erf"

SHAPES = [(3, 7), (2, 4, 5), (2, 3, 1, 4), (1, 2, 3, 2, 3)]


def _random_pair(rng, shape, ties=False):
    if ties:
        x = rng.integers(-2, 3, size=shape).astype(np.float64)
        y = rng.integers(-2, 3, size=shape).astype(np.float64)
    else:
        x = rng.normal(size=shape)
        y = x + 0.5 * rng.normal(size=shape)
    return x, y


def _weights(rng, ndim, kind):
    if kind is None:
        return None
    w = rng.uniform(0.2, 2.0, size=ndim)
    if kind == "with_zero" and ndim > 1:
        w[rng.integers(ndim)] = 0.0
    return w.tolist()


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sign", ["tanh", "softsign", "erf"])
@pytest.mark.parametrize("normalize", [True, False])
def test_dsl_matches_loop_reference_float64(shape, sign, normalize):
    rng = np.random.default_rng(100 + len(shape))
    for trial, (wkind, reduction) in enumerate(
        itertools.product([None, "random", "with_zero"], ["mean", "sum", "none"])
    ):
        x, y = _random_pair(rng, shape, ties=trial % 2 == 1)
        w = _weights(rng, len(shape) - 1, wkind)
        s = float(rng.uniform(0.3, 40.0))
        torch_sign = _erf_sign if sign == "erf" else sign
        got = directional_sign_loss(
            torch.from_numpy(x), torch.from_numpy(y), sharpness=s, sign=torch_sign, weights=w,
            reduction=reduction, normalize=normalize,
        )
        want = reference_dsl(x, y, sharpness=s, sign=sign, weights=w, reduction=reduction, normalize=normalize)
        assert got.dtype == torch.float64
        assert got.shape == ((shape[0],) if reduction == "none" else ())
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("normalize", [False, True])
def test_exact_matches_loop_reference(shape, normalize):
    rng = np.random.default_rng(7 + len(shape))
    for trial, (wkind, reduction) in enumerate(
        itertools.product([None, "random", "with_zero"], ["mean", "sum", "none"])
    ):
        x, y = _random_pair(rng, shape, ties=True)  # many flat steps: zero vs non-zero counts 1/2
        w = _weights(rng, len(shape) - 1, wkind)
        want = reference_dsl(x, y, sign="exact", weights=w, reduction=reduction, normalize=normalize)
        for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int16):
            got = exact_directional_sign_loss(
                torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype), weights=w,
                reduction=reduction, normalize=normalize,
            )
            assert got.dtype == torch.float64
            assert not got.requires_grad
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-13, atol=1e-13, err_msg=str(dtype))


def test_exact_bool_and_mixed_dtypes():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, size=(4, 9)).astype(bool)
    b = rng.integers(0, 2, size=(4, 9)).astype(bool)
    want = reference_dsl(a.astype(float), b.astype(float), sign="exact", reduction="none", normalize=False)
    got = exact_directional_sign_loss(torch.from_numpy(a), torch.from_numpy(b), reduction="none")
    np.testing.assert_array_equal(got.numpy(), want)
    got = exact_directional_sign_loss(torch.from_numpy(a).double(), torch.from_numpy(b).int(), reduction="none")
    np.testing.assert_array_equal(got.numpy(), want)


def test_default_options_are_documented_values():
    sig = inspect.signature
    assert sig(directional_sign_loss).parameters["sharpness"].default == DEFAULT_SHARPNESS
    assert sig(exact_directional_sign_loss).parameters["normalize"].default is False
    assert sig(directional_sign_loss).parameters["normalize"].default is True
    # the defaults agree with the NumPy implementation's
    np_default = sig(te.dsl).parameters["sharpness"].default
    assert DEFAULT_SHARPNESS == np_default
    assert sig(te.exact_dsl).parameters["normalize"].default is False


@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 2e-5), (torch.float16, 2e-5), (torch.bfloat16, 2e-5)])
def test_low_precision_dtypes(dtype, rtol):
    rng = np.random.default_rng(11)
    x, y = _random_pair(rng, (4, 6, 7))
    xt, yt = torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype)
    # reference on exactly the values the tensors hold
    xr, yr = xt.double().numpy(), yt.double().numpy()
    for normalize in (True, False):
        got = directional_sign_loss(xt, yt, sharpness=3.0, reduction="none", normalize=normalize)
        assert got.dtype == (torch.float32 if dtype != torch.float64 else torch.float64)
        want = reference_dsl(xr, yr, sharpness=3.0, reduction="none", normalize=normalize)
        np.testing.assert_allclose(got.double().numpy(), want, rtol=rtol)


def test_half_precision_unnormalized_sum_does_not_overflow():
    rng = np.random.default_rng(12)
    x = torch.from_numpy(rng.normal(size=(2, 8, 64, 64))).half()
    y = torch.from_numpy(rng.normal(size=(2, 8, 64, 64))).half()
    got = directional_sign_loss(x, y, sharpness=50.0, normalize=False, reduction="sum")
    assert torch.isfinite(got) and got.item() > 65504  # beyond float16's range, still exact enough
    exact = exact_directional_sign_loss(x, y, normalize=False, reduction="sum")
    assert abs(got.item() - exact.item()) / exact.item() < 0.02


def test_mixed_input_dtypes_promote():
    rng = np.random.default_rng(13)
    x, y = _random_pair(rng, (3, 10))
    got = directional_sign_loss(torch.from_numpy(x).float(), torch.from_numpy(y), sharpness=2.0)
    assert got.dtype == torch.float64
    want = reference_dsl(torch.from_numpy(x).float().double().numpy(), y, sharpness=2.0)
    np.testing.assert_allclose(got.item(), want, rtol=1e-12)


def test_properties_zero_symmetric_bounded():
    rng = np.random.default_rng(14)
    for shape in SHAPES:
        x, y = (torch.from_numpy(a) for a in _random_pair(rng, shape))
        for sign in ("tanh", "softsign"):
            assert directional_sign_loss(x, x, sign=sign, sharpness=5.0).item() == 0.0
            a = directional_sign_loss(x, y, sign=sign, sharpness=5.0, reduction="none")
            b = directional_sign_loss(y, x, sign=sign, sharpness=5.0, reduction="none")
            torch.testing.assert_close(a, b, rtol=0, atol=0)
            assert ((a >= 0) & (a <= 1)).all()
        e = exact_directional_sign_loss(x, y, reduction="none", normalize=True)
        assert ((e >= 0) & (e <= 1)).all()
        # exact DSL: invariant under adding a constant and positive scaling
        torch.testing.assert_close(exact_directional_sign_loss(3.0 * x + 1.0, y), exact_directional_sign_loss(x, y))


def test_large_sharpness_tends_to_exact_normalized():
    rng = np.random.default_rng(15)
    x, y = (torch.from_numpy(a) for a in _random_pair(rng, (3, 5, 6), ties=True))
    exact = exact_directional_sign_loss(x, y, normalize=True, reduction="none")
    approx = directional_sign_loss(x, y, sharpness=1e6, normalize=True, reduction="none")
    torch.testing.assert_close(approx, exact, rtol=0, atol=1e-9)


def test_random_walks_count_differing_step_directions():
    """The paper's reading of exact DSL: the number of steps whose directions differ."""
    rng = np.random.default_rng(16)
    steps_x = rng.choice([-1.0, 1.0], size=(5, 200))
    steps_y = rng.choice([-1.0, 1.0], size=(5, 200))
    x = torch.from_numpy(np.cumsum(steps_x, axis=1))
    y = torch.from_numpy(np.cumsum(steps_y, axis=1))
    got = exact_directional_sign_loss(x, y, reduction="none")
    want = (steps_x[:, 1:] != steps_y[:, 1:]).sum(axis=1)
    np.testing.assert_array_equal(got.numpy(), want)


# ----------------------------------------------------------------------------- NumPy library


def _numpy_dsl_or_skip():
    dsl_mod = pytest.importorskip("topoeval.dsl")
    return dsl_mod


@pytest.mark.parametrize("shape", [(4, 9), (3, 4, 6), (2, 3, 4, 5)])
def test_same_values_as_numpy_library(shape):
    _numpy_dsl_or_skip()
    rng = np.random.default_rng(200 + len(shape))
    for trial, (sign, wkind, reduction, normalize) in enumerate(
        itertools.product(["tanh", "softsign"], [None, "with_zero"], ["mean", "sum", "none"], [True, False])
    ):
        x, y = _random_pair(rng, shape, ties=trial % 3 == 0)
        w = _weights(rng, len(shape) - 1, wkind)
        s = float(rng.uniform(0.5, 30.0))
        kw = dict(weights=w, reduction=reduction, normalize=normalize)
        got = directional_sign_loss(torch.from_numpy(x), torch.from_numpy(y), sharpness=s, sign=sign, **kw)
        want = te.dsl(x, y, sharpness=s, sign=sign, batch_axis=0, **kw)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
        got32 = directional_sign_loss(
            torch.from_numpy(x).float(), torch.from_numpy(y).float(), sharpness=s, sign=sign, **kw
        )
        want32 = te.dsl(x.astype(np.float32), y.astype(np.float32), sharpness=s, sign=sign, batch_axis=0, **kw)
        np.testing.assert_allclose(got32.numpy(), want32, rtol=1e-4, atol=1e-6)
        got_e = exact_directional_sign_loss(torch.from_numpy(x), torch.from_numpy(y), **kw)
        want_e = te.exact_dsl(x, y, batch_axis=0, **kw)
        np.testing.assert_allclose(got_e.numpy(), want_e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sign", ["tanh", "softsign"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_matches_numpy_dsl_gradient(sign, reduction):
    _numpy_dsl_or_skip()
    rng = np.random.default_rng(300)
    for shape, wkind, normalize in itertools.product([(3, 11), (2, 5, 6)], [None, "random"], [True, False]):
        x, y = _random_pair(rng, shape)
        w = _weights(rng, len(shape) - 1, wkind)
        xt = torch.from_numpy(x).requires_grad_(True)
        loss = directional_sign_loss(
            xt, torch.from_numpy(y), sharpness=4.0, sign=sign, weights=w, reduction=reduction, normalize=normalize
        )
        loss.backward()
        want = te.dsl_gradient(
            x, y, sharpness=4.0, sign=sign, weights=w, batch_axis=0, reduction=reduction, normalize=normalize
        )
        np.testing.assert_allclose(xt.grad.numpy(), want, rtol=1e-9, atol=1e-12)


def test_callable_sign_matches_numpy_library_value_and_gradient():
    _numpy_dsl_or_skip()
    rng = np.random.default_rng(301)
    x, y = _random_pair(rng, (3, 5, 7))
    np_pair = (lambda z: z / np.sqrt(1 + z * z), lambda z: (1 + z * z) ** -1.5)
    torch_f = lambda z: z / torch.sqrt(1 + z * z)  # noqa: E731
    for normalize in (True, False):
        xt = torch.from_numpy(x).requires_grad_(True)
        loss = directional_sign_loss(xt, torch.from_numpy(y), sharpness=3.0, sign=torch_f, normalize=normalize)
        loss.backward()
        kw = dict(sharpness=3.0, sign=np_pair, batch_axis=0, normalize=normalize)
        np.testing.assert_allclose(loss.item(), te.dsl(x, y, **kw), rtol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy(), te.dsl_gradient(x, y, **kw), rtol=1e-9, atol=1e-14)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("sign", ["tanh", "softsign", _erf_sign])
@pytest.mark.parametrize("shape", [(2, 6), (2, 3, 4), (1, 2, 3, 3)])
def test_gradcheck_float64(sign, shape):
    rng = np.random.default_rng(400 + len(shape))
    x, y = _random_pair(rng, shape)
    w = _weights(rng, len(shape) - 1, "random")
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.from_numpy(y).requires_grad_(True)
    st = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    for reduction, normalize in itertools.product(["mean", "sum", "none"], [True, False]):
        def f(a, b, s):
            return directional_sign_loss(a, b, sharpness=s, sign=sign, weights=w, reduction=reduction, normalize=normalize)

        assert torch.autograd.gradcheck(f, (xt, yt, st), eps=1e-6, atol=1e-7, rtol=1e-5)
        if reduction == "none" and normalize:  # second derivatives (e.g. for gradient penalties)
            assert torch.autograd.gradgradcheck(f, (xt, yt, st), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradients_reach_half_precision_inputs():
    rng = np.random.default_rng(17)
    x, y = _random_pair(rng, (2, 5, 5))
    for dtype in (torch.float16, torch.bfloat16):
        xt = torch.from_numpy(x).to(dtype).requires_grad_(True)
        loss = directional_sign_loss(xt, torch.from_numpy(y).to(dtype), sharpness=2.0)
        loss.backward()
        assert xt.grad.dtype == dtype
        ref = torch.from_numpy(x).to(dtype).double().requires_grad_(True)
        directional_sign_loss(ref, torch.from_numpy(y).to(dtype).double(), sharpness=2.0).backward()
        torch.testing.assert_close(xt.grad.double(), ref.grad, rtol=2e-2, atol=1e-4)


# ----------------------------------------------------------------------------- module


def test_module_matches_functional_and_repr():
    rng = np.random.default_rng(18)
    x, y = (torch.from_numpy(a) for a in _random_pair(rng, (3, 4, 5)))
    for kw in [{}, {"sharpness": 7.0, "sign": "softsign", "weights": [1.0, 0.0], "reduction": "none", "normalize": False}]:
        mod = DirectionalSignLoss(**kw)
        torch.testing.assert_close(mod(x, y), directional_sign_loss(x, y, **kw), rtol=0, atol=0)
        assert list(mod.parameters()) == []
    text = repr(DirectionalSignLoss(sharpness=7.0, sign="softsign", weights=[1, 0]))
    assert "sharpness=7" in text and "softsign" in text and "weights=(1.0, 0.0)" in text


def test_module_weights_may_be_a_tensor():
    mod = DirectionalSignLoss(weights=torch.tensor([1.0, 2.0]))
    assert mod.weights == (1.0, 2.0)


def test_learnable_sharpness_is_log_parametrised_and_trains():
    rng = np.random.default_rng(19)
    x, y = (torch.from_numpy(a) for a in _random_pair(rng, (4, 30)))
    mod = DirectionalSignLoss(sharpness=3.0, learnable_sharpness=True)
    params = dict(mod.named_parameters())
    assert list(params) == ["log_sharpness"]
    assert math.isclose(params["log_sharpness"].item(), math.log(3.0), rel_tol=1e-6)
    assert math.isclose(mod.sharpness.item(), 3.0, rel_tol=1e-6)
    torch.testing.assert_close(
        mod(x, y), directional_sign_loss(x, y, sharpness=3.0), rtol=1e-6, atol=0
    )
    # gradient w.r.t. log s equals s * d loss / d s
    loss = mod(x, y)
    loss.backward()
    s = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    directional_sign_loss(x, y, sharpness=s).backward()
    np.testing.assert_allclose(mod.log_sharpness.grad.item(), 3.0 * s.grad.item(), rtol=1e-5)
    # Algorithm 2: fit s so that DSL between random pairs approaches a fixed target value
    opt = torch.optim.Adam(mod.parameters(), lr=0.05)
    target_value = directional_sign_loss(x, y, sharpness=12.0).item()
    for _ in range(300):
        opt.zero_grad()
        ((mod(x, y) - target_value) ** 2).backward()
        opt.step()
    # (Algorithm 2's objective is met, and s moved from 3 towards the 12 that produced the target)
    assert abs(mod(x, y).item() - target_value) < 1e-3 * target_value
    assert mod.sharpness.item() > 10.0
    # the state dict round-trips
    other = DirectionalSignLoss(learnable_sharpness=True)
    other.load_state_dict(mod.state_dict())
    assert other.sharpness.item() == mod.sharpness.item()


def test_module_in_a_training_step_reduces_loss():
    torch.manual_seed(0)
    target = torch.sin(torch.linspace(0, 6.28, 64)).repeat(8, 1) + 0.1 * torch.randn(8, 64)
    out = torch.zeros(8, 64, requires_grad=True)  # flat: every comparison is half a mismatch
    assert exact_directional_sign_loss(out, target, normalize=True).item() == 0.5
    opt = torch.optim.Adam([out], lr=0.05)
    loss_fn = DirectionalSignLoss(sharpness=10.0)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(out, target)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.3 * first
    assert exact_directional_sign_loss(out.detach(), target, normalize=True).item() < 0.1


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: directional_sign_loss(np.zeros((2, 3)), torch.zeros(2, 3)), InvalidInputError, "torch.as_tensor"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 4)), ShapeMismatchError, "same shape"),
        (lambda: directional_sign_loss(torch.zeros(3), torch.zeros(3)), InvalidInputError, "unsqueeze"),
        (lambda: directional_sign_loss(torch.zeros(0, 3), torch.zeros(0, 3)), InvalidInputError, "empty"),
        (lambda: directional_sign_loss(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3)), InvalidDTypeError, r"\.float\(\)"),
        (lambda: exact_directional_sign_loss(torch.zeros(2, 3, dtype=torch.complex64), torch.zeros(2, 3)), InvalidDTypeError, "complex"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sharpness=0.0), InvalidOptionError, "positive"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sharpness=float("inf")), InvalidOptionError, "finite"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sharpness="big"), InvalidOptionError, "not a number"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sharpness=torch.ones(2)), InvalidOptionError, "single value"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sign="relu"), InvalidOptionError, "softsign"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sign=3), InvalidOptionError, "callable"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), sign=(torch.tanh,)), InvalidOptionError, "callable"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), reduction="avg"), InvalidOptionError, "'mean'"),
        (lambda: exact_directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), reduction=None), InvalidOptionError, "'none'"),
        (lambda: directional_sign_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), weights=[1.0]), InvalidOptionError, "one weight per non-batch axis"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), weights=[-1.0]), InvalidOptionError, "non-negative"),
        (lambda: directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 3), weights="1"), InvalidOptionError, "sequence"),
        (lambda: directional_sign_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), weights=[0, 0]), InvalidInputError, "nothing to compare"),
        (lambda: directional_sign_loss(torch.zeros(2, 1, 1), torch.zeros(2, 1, 1)), InvalidInputError, "normalize=False"),
        (lambda: exact_directional_sign_loss(torch.zeros(2, 1), torch.zeros(2, 1), normalize=True), InvalidInputError, "length 1"),
        (lambda: DirectionalSignLoss(sharpness=-1.0), InvalidOptionError, "positive"),
        (lambda: DirectionalSignLoss(reduction="max"), InvalidOptionError, "reduction"),
    ],
)
def test_errors_say_what_and_how(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_errors_are_also_builtin_exceptions():
    with pytest.raises(ValueError):
        directional_sign_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError):
        directional_sign_loss(torch.zeros(2, 3, dtype=torch.int32), torch.zeros(2, 3, dtype=torch.int32))


def test_nothing_to_compare_without_normalization_is_zero():
    x = torch.randn(3, 1, 4, requires_grad=True)
    got = directional_sign_loss(x, torch.randn(3, 1, 4), weights=[1.0, 0.0], normalize=False, reduction="none")
    torch.testing.assert_close(got, torch.zeros(3))
    got.sum().backward()
    torch.testing.assert_close(x.grad, torch.zeros_like(x))
    e = exact_directional_sign_loss(torch.zeros(2, 1), torch.ones(2, 1), reduction="none")
    torch.testing.assert_close(e, torch.zeros(2, dtype=torch.float64))
    if hasattr(te, "dsl"):
        assert te.dsl(np.zeros((3, 1, 4)), np.ones((3, 1, 4)), weights=[1, 0], batch_axis=0, normalize=False) == 0.0


def test_sign_option_sign_and_pair_match_exact():
    rng = np.random.default_rng(22)
    x, y = (torch.from_numpy(a) for a in _random_pair(rng, (3, 4, 5), ties=True))
    torch.testing.assert_close(
        directional_sign_loss(x, y, sign="sign", reduction="none"),
        exact_directional_sign_loss(x, y, normalize=True, reduction="none"),
    )
    pair = (torch.tanh, lambda t: 1 - torch.tanh(t) ** 2)
    torch.testing.assert_close(directional_sign_loss(x, y, sign=pair), directional_sign_loss(x, y))


def test_nan_propagates_like_torch_losses():
    x = torch.tensor([[0.0, float("nan"), 1.0]])
    assert torch.isnan(directional_sign_loss(x, torch.zeros(1, 3)))


# ----------------------------------------------------------------------------- packaging, devices, compile


def test_import_topoeval_does_not_import_torch():
    code = "import sys, topoeval; topoeval.errors; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_gives_missing_dependency_error():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from topoeval.errors import MissingDependencyError\n"
        "try:\n    import topoeval.torch\nexcept MissingDependencyError as e:\n"
        "    assert 'topoeval[torch]' in str(e), e\nelse:\n    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(20)
    x, y = _random_pair(rng, (4, 8, 16, 16))
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        xc, yc = torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype)
        xg = xc.cuda().requires_grad_(True)
        got = directional_sign_loss(xg, yc.cuda(), sharpness=8.0)
        got.backward()
        want = directional_sign_loss(xc, yc, sharpness=8.0)
        torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-6)
        assert xg.grad.device.type == "cuda"
        torch.testing.assert_close(
            exact_directional_sign_loss(xc.cuda(), yc.cuda()).cpu(), exact_directional_sign_loss(xc, yc)
        )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_cpu():
    rng = np.random.default_rng(21)
    x, y = _random_pair(rng, (4, 6, 10))
    xt = torch.from_numpy(x).float()
    yt = torch.from_numpy(y).float()
    loss_fn = DirectionalSignLoss(sharpness=5.0, weights=[1.0, 0.5], learnable_sharpness=True)
    compiled = torch.compile(loss_fn)
    a = xt.clone().requires_grad_(True)
    b = xt.clone().requires_grad_(True)
    got = compiled(a, yt)
    want = loss_fn(b, yt)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    got.backward()
    want.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-8)
    exact = torch.compile(exact_directional_sign_loss)
    torch.testing.assert_close(exact(xt, yt), exact_directional_sign_loss(xt, yt))
