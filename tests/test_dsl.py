"""Tests of topoeval.dsl against the loop references in tests/naive.py and known properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from topoeval import errors
from topoeval.dsl import (
    DEFAULT_SHARPNESS,
    SharpnessFit,
    dsl,
    dsl_gradient,
    dsl_per_axis,
    exact_dsl,
    find_sharpness,
    mismatch_map,
)
from tests.naive import dsl_f32_atol, dsl_naive, exact_dsl_count_naive, mismatch_map_naive


def _random_shape(rng, ndim, max_total=240):
    while True:
        shape = tuple(int(v) for v in rng.integers(1, 7, size=ndim))
        if int(np.prod(shape)) <= max_total:
            return shape


def _tied(rng, shape, dtype=np.float64):
    """Values from a few levels, so that ties (zero differences) and zeros are common."""
    return rng.integers(-2, 3, size=shape).astype(dtype) * 0.5


def _random_options(rng, ndim):
    batch_axis = None if rng.random() < 0.4 or ndim == 1 else int(rng.integers(-ndim, ndim))
    n_axes = ndim - (batch_axis is not None)
    weights = None
    if rng.random() < 0.5:
        weights = rng.choice([0.0, 0.5, 1.0, 2.0], size=n_axes)
        weights[rng.integers(n_axes)] = 1.0  # at least one axis on
    return dict(
        batch_axis=batch_axis,
        weights=weights,
        reduction=str(rng.choice(["mean", "sum", "none"])),
        normalize=bool(rng.random() < 0.5),
    )


def _has_comparison(shape, options):
    ba = options["batch_axis"]
    axes = [a for a in range(len(shape)) if ba is None or a != ba % len(shape)]
    w = options["weights"] if options["weights"] is not None else [1.0] * len(axes)
    return any(wi > 0 and shape[a] > 1 for wi, a in zip(w, axes))


# ----------------------------------------------------------------------------- against the references


@pytest.mark.parametrize("sign", ["tanh", "softsign", "sign", "callable"])
def test_matches_naive_reference_all_options(sign):
    rng = np.random.default_rng(4 + len(sign))
    checked = 0
    for case in range(60):
        ndim = 1 + case % 5
        shape = _random_shape(rng, ndim)
        x = _tied(rng, shape)
        y = _tied(rng, shape) if rng.random() < 0.7 else x + rng.normal(scale=0.3, size=shape)
        options = _random_options(rng, ndim)
        if options["normalize"] and not _has_comparison(shape, options):
            continue
        s = float(rng.choice([0.5, 3.0, DEFAULT_SHARPNESS]))
        sg = (lambda z: np.arctan(z) * (2 / np.pi)) if sign == "callable" else sign
        got = dsl(x, y, sharpness=s, sign=sg, **options)
        want = dsl_naive(x, y, sharpness=s, sign=sg, **options)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{shape} {options}")
        if options["batch_axis"] is not None and options["reduction"] == "none":
            assert isinstance(got, np.ndarray) and got.shape == (shape[options["batch_axis"]],)
        else:
            assert isinstance(got, float)
        per = dsl_per_axis(x, y, sharpness=s, sign=sg, **options)
        np.testing.assert_allclose(per, dsl_naive(x, y, sharpness=s, sign=sg, per_axis=True, **options),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.sum(per, axis=-1), got, rtol=1e-12, atol=1e-15)
        checked += 1
    assert checked > 40


def test_exact_matches_direct_counting_1d_to_5d():
    rng = np.random.default_rng(11)
    for case in range(50):
        shape = _random_shape(rng, 1 + case % 5)
        x = rng.integers(-1, 2, size=shape)
        y = rng.integers(-1, 2, size=shape)
        want = exact_dsl_count_naive(x, y)
        assert exact_dsl(x, y) == want
        assert dsl(x, y, sign="sign", normalize=False) == want
        assert dsl_per_axis(x, y, sign="sign", normalize=False).sum() == want


def test_exact_options_match_naive():
    rng = np.random.default_rng(12)
    for case in range(40):
        ndim = 1 + case % 5
        shape = _random_shape(rng, ndim)
        x, y = _tied(rng, shape), _tied(rng, shape)
        options = _random_options(rng, ndim)
        if options["normalize"] and not _has_comparison(shape, options):
            continue
        np.testing.assert_allclose(exact_dsl(x, y, **options), dsl_naive(x, y, sign="sign", **options),
                                   rtol=1e-12, atol=0)


@given(
    st.lists(st.integers(-3, 3), min_size=2, max_size=30),
    st.lists(st.integers(-3, 3), min_size=2, max_size=30),
)
def test_exact_hypothesis_1d(a, b):
    n = min(len(a), len(b))
    x, y = np.array(a[:n]), np.array(b[:n])
    assert exact_dsl(x, y) == exact_dsl_count_naive(x, y)


@given(
    hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5).flatmap(
        lambda shape: st.tuples(
            hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0, 1e-300])),
            hnp.arrays(np.float64, shape, elements=st.floats(-2, 2, allow_subnormal=False)),
            st.none() | st.integers(0, len(shape) - 1),
        )),
)
def test_hypothesis_nd_against_loops(arrays):
    x, y, batch_axis = arrays
    if batch_axis is not None and x.ndim == 1:
        batch_axis = None
    opts = dict(batch_axis=batch_axis, reduction="none", normalize=False)
    np.testing.assert_allclose(exact_dsl(x, y, **opts), dsl_naive(x, y, sign="sign", **opts), rtol=0)
    np.testing.assert_allclose(dsl(x, y, sharpness=3.0, **opts), dsl_naive(x, y, sharpness=3.0, **opts),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(mismatch_map(x, y), mismatch_map_naive(x, y))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int64, np.float16, np.float32])
def test_dtypes_exact_without_overflow(dtype):
    rng = np.random.default_rng(13)
    shape = (5, 7, 6)
    if dtype == np.bool_:
        x, y = rng.random(shape) < 0.5, rng.random(shape) < 0.5
    elif np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)  # the extremes make the differences overflow the dtype
        x = rng.choice([info.min, 0, info.max], size=shape).astype(dtype)
        y = rng.choice([info.min, 1, info.max], size=shape).astype(dtype)
    else:
        x, y = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    assert exact_dsl(x, y) == exact_dsl_count_naive(x, y)
    # float32 pairs are computed in float32 (like NumPy): the bound of that error, not 1e-12
    atol = dsl_f32_atol(x, y, sharpness=0.01) if dtype == np.float32 else 0.0
    np.testing.assert_allclose(dsl(x, y, sharpness=0.01), dsl_naive(x, y, sharpness=0.01), rtol=1e-12, atol=atol)
    np.testing.assert_array_equal(mismatch_map(x, y), mismatch_map_naive(x, y))


def test_float32_tiny_differences_exact():
    # differences of one ulp: float32 subtraction keeps the sign exactly
    x = np.array([1.0, np.nextafter(np.float32(1), np.float32(2)), 1.0], dtype=np.float32)
    y = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    assert exact_dsl(x, y) == 1.0
    assert exact_dsl(x, x.astype(np.float64)) == 0.0


@pytest.mark.parametrize("layout", ["F", "strided", "mixed"])
def test_memory_layouts(layout):
    rng = np.random.default_rng(14)
    x, y = _tied(rng, (4, 5, 6)), _tied(rng, (4, 5, 6))
    if layout == "F":
        xl, yl = np.asfortranarray(x), np.asfortranarray(y)
    elif layout == "strided":
        big_x, big_y = _tied(rng, (8, 5, 12)), _tied(rng, (8, 5, 12))
        xl, yl = big_x[::2, :, ::2], big_y[::2, :, ::2]
        x, y = xl.copy(), yl.copy()
    else:
        xl, yl = np.asfortranarray(x), y
    for ba in (None, 0, 1, 2):
        opts = dict(batch_axis=ba, reduction="none")
        np.testing.assert_allclose(dsl(xl, yl, sharpness=2.0, **opts), dsl(x, y, sharpness=2.0, **opts))
        np.testing.assert_array_equal(exact_dsl(xl, yl, **opts), exact_dsl(x, y, **opts))
        np.testing.assert_allclose(dsl_gradient(xl, yl, sharpness=2.0, **opts),
                                   dsl_gradient(x, y, sharpness=2.0, **opts), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(mismatch_map(xl, yl), mismatch_map(x, y))


# ----------------------------------------------------------------------------- properties


def test_identity_symmetry_bounds():
    rng = np.random.default_rng(15)
    for case in range(30):
        shape = _random_shape(rng, 1 + case % 4)
        if max(shape) < 2:
            continue
        x, y = rng.normal(size=shape), _tied(rng, shape)
        for sign in ("tanh", "softsign", "sign"):
            assert dsl(x, x, sign=sign) == 0.0
            v = dsl(x, y, sign=sign, sharpness=3.0)
            assert v == dsl(y, x, sign=sign, sharpness=3.0)
            assert 0.0 <= v <= 1.0
        n_cmp = sum(x.size // n * (n - 1) for n in shape)
        e = exact_dsl(x, y)
        assert e == exact_dsl(y, x) and 0.0 <= e <= n_cmp
        assert exact_dsl(x, -x) == exact_dsl_count_naive(x, -x)
    # the maximum: every direction reversed and none flat
    x = np.arange(12.0).reshape(3, 4)
    assert exact_dsl(x, -x) == x.size // 3 * 2 + x.size // 4 * 3
    assert exact_dsl(x, -x, normalize=True) == 1.0


def test_large_sharpness_tends_to_exact():
    rng = np.random.default_rng(16)
    x = rng.integers(-3, 4, size=(6, 7, 5)).astype(float)  # differences 0 or |d| >= 1
    y = rng.integers(-3, 4, size=(6, 7, 5)).astype(float)
    exact = exact_dsl(x, y, normalize=True)
    errs = [abs(dsl(x, y, sharpness=s) - exact) for s in (1.0, 4.0, 16.0, 64.0)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < 1e-12
    assert abs(dsl(x, y, sharpness=1e4, sign="softsign") - exact) < 1e-3


def test_exact_invariant_under_shift_and_positive_scaling():
    rng = np.random.default_rng(17)
    x = rng.integers(-50, 50, size=(7, 9)).astype(float)
    y = rng.integers(-50, 50, size=(7, 9)).astype(float)
    base = exact_dsl(x, y)
    for c, a in ((3.0, 1.0), (-1000.0, 1.0), (0.0, 0.125), (5.0, 37.0), (-2.0, 1e-3)):
        assert exact_dsl(a * x + c, y) == base
        assert exact_dsl(x, a * y - c) == base
    assert exact_dsl(-x, -y) == base


def test_random_walks_count_differing_step_directions():
    # the paper's claim: on two random walks the exact DSL is the number of differing step directions
    rng = np.random.default_rng(18)

    def walk(steps, axis=-1):  # starts at 0: len(steps) + 1 points
        pad = [(0, 0)] * steps.ndim
        pad[axis] = (1, 0)
        return np.cumsum(np.pad(steps, pad), axis=axis)

    for _ in range(20):
        steps1 = rng.choice([-1, 1], size=500)
        steps2 = rng.choice([-1, 1], size=500)
        w1, w2 = walk(steps1), walk(steps2)
        assert exact_dsl(w1, w2) == np.count_nonzero(steps1 != steps2)
    # lazy walks (steps of 0): a flat step against a move counts 1/2
    s1, s2 = rng.choice([-1, 0, 1], size=400), rng.choice([-1, 0, 1], size=400)
    opposite = np.count_nonzero(s1 * s2 < 0)
    one_flat = np.count_nonzero((s1 == 0) != (s2 == 0))
    assert exact_dsl(walk(s1 * 0.1), walk(s2 * 0.1)) == opposite + one_flat / 2
    # batched walks: one count per walk
    steps = rng.choice([-1, 1], size=(2, 8, 300))
    walks = walk(steps, axis=2)
    want = np.count_nonzero(steps[0] != steps[1], axis=1)
    np.testing.assert_array_equal(
        exact_dsl(walks[0], walks[1], batch_axis=0, reduction="none"), want)


def test_reductions_and_normalization():
    rng = np.random.default_rng(19)
    x, y = rng.normal(size=(5, 6, 7)), rng.normal(size=(5, 6, 7))
    per = dsl(x, y, batch_axis=0, reduction="none")
    assert per.shape == (5,) and per.dtype == np.float64
    assert dsl(x, y, batch_axis=0) == pytest.approx(per.mean(), rel=1e-14)
    assert dsl(x, y, batch_axis=0, reduction="sum") == pytest.approx(per.sum(), rel=1e-14)
    for i in range(5):
        assert per[i] == pytest.approx(dsl(x[i], y[i]), rel=1e-14)
    raw = exact_dsl(x, y, weights=[2.0, 0.0, 1.0])
    assert exact_dsl(x, y, weights=[2.0, 0.0, 1.0], normalize=True) == pytest.approx(
        raw / (2 * 5 * 6 * 7 / 5 * 4 + 1 * 5 * 6 * 7 / 7 * 6))
    # a 0 weight switches an axis off, as if the array were split along it
    assert exact_dsl(x, y, weights=[0, 1, 1]) == exact_dsl(x, y, batch_axis=0, reduction="sum")
    # per-axis values: (B, n_axes) for reduction none
    assert dsl_per_axis(x, y, batch_axis=1, reduction="none").shape == (6, 2)
    assert dsl_per_axis(x, y).shape == (3,)


def test_custom_sign_equals_builtin():
    rng = np.random.default_rng(20)
    x, y = rng.normal(size=(4, 9)), rng.normal(size=(4, 9))
    assert dsl(x, y, sign=np.tanh, sharpness=2.5) == pytest.approx(dsl(x, y, sharpness=2.5), rel=1e-13)
    soft = (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2)
    assert dsl(x, y, sign=soft, sharpness=2.5) == pytest.approx(
        dsl(x, y, sign="softsign", sharpness=2.5), rel=1e-13)
    np.testing.assert_allclose(dsl_gradient(x, y, sign=soft, sharpness=2.5, batch_axis=0),
                               dsl_gradient(x, y, sign="softsign", sharpness=2.5, batch_axis=0),
                               rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- gradient


def _fd_gradient(x, y, eps=1e-6, **options):
    g = np.zeros_like(x)
    reduce_none = options.get("reduction") == "none" and options.get("batch_axis") is not None
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        vu, vd = dsl(up, y, **options), dsl(down, y, **options)
        if reduce_none:
            vu, vd = np.sum(vu), np.sum(vd)
        g[idx] = (vu - vd) / (2 * eps)
    return g


@pytest.mark.parametrize("sign", ["tanh", "softsign", "pair"])
def test_gradient_matches_central_differences(sign):
    rng = np.random.default_rng(21 + len(sign))
    sg = (np.tanh, lambda z: 1 - np.tanh(z) ** 2) if sign == "pair" else sign
    for case in range(12):
        ndim = 1 + case % 4
        shape = _random_shape(rng, ndim, max_total=60)
        x, y = rng.normal(size=shape), _tied(rng, shape)
        options = _random_options(rng, ndim)
        if not _has_comparison(shape, options):
            continue
        options.update(sharpness=float(rng.choice([0.7, 2.0, 5.0])), sign=sg)
        g = dsl_gradient(x, y, **options)
        assert g.shape == x.shape and g.dtype == np.float64
        np.testing.assert_allclose(g, _fd_gradient(x, y, **options), rtol=1e-5, atol=1e-8,
                                   err_msg=f"{shape} {options}")


def test_gradient_dtype_and_zero_at_identity():
    rng = np.random.default_rng(23)
    x = rng.normal(size=(6, 8)).astype(np.float32)
    g = dsl_gradient(x, x)
    assert g.dtype == np.float32 and not g.any()
    y = rng.normal(size=(6, 8)).astype(np.float32)
    g32 = dsl_gradient(x, y, sharpness=2.0)
    g64 = dsl_gradient(x.astype(np.float64), y.astype(np.float64), sharpness=2.0)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-6, atol=1e-9)
    assert dsl_gradient(x.astype(np.int32), y.astype(np.int32)).dtype == np.float64
    # a gradient step decreases the loss
    y64, x64 = y.astype(np.float64), x.astype(np.float64)
    g = dsl_gradient(x64, y64, sharpness=2.0)
    assert dsl(x64 - 1e-2 * g / np.abs(g).max(), y64, sharpness=2.0) < dsl(x64, y64, sharpness=2.0)


# ----------------------------------------------------------------------------- mismatch map


def test_mismatch_map_matches_naive_and_sums_to_exact():
    rng = np.random.default_rng(24)
    for case in range(25):
        ndim = 1 + case % 5
        shape = _random_shape(rng, ndim)
        x, y = _tied(rng, shape), _tied(rng, shape)
        m = mismatch_map(x, y)
        assert m.shape == (ndim, *shape) and m.dtype == np.float64
        np.testing.assert_array_equal(m, mismatch_map_naive(x, y))
        s = mismatch_map(x, y, summed=True)
        assert s.shape == shape
        assert s.sum() == exact_dsl(x, y)
        for a in range(ndim):
            np.testing.assert_array_equal(mismatch_map(x, y, axis=a), m[a])
            np.testing.assert_array_equal(np.take(m[a], -1, axis=a), 0)
        w = rng.choice([0.0, 1.0, 2.5], size=ndim)
        assert mismatch_map(x, y, weights=w, summed=True).sum() == pytest.approx(
            exact_dsl(x, y, weights=w), rel=1e-14)
        if ndim >= 2:
            sel = (ndim - 1, 0)
            np.testing.assert_array_equal(mismatch_map(x, y, axis=sel), m[list(sel)])
            np.testing.assert_array_equal(mismatch_map(x, y, axis=sel, summed=True), m[list(sel)].sum(0))


def test_mismatch_map_float32():
    rng = np.random.default_rng(25)
    x, y = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    m = mismatch_map(x, y)
    assert m.dtype == np.float32
    np.testing.assert_array_equal(m, mismatch_map_naive(x, y))


# ----------------------------------------------------------------------------- find_sharpness


def test_find_sharpness_recovers_known_sharpness():
    rng = np.random.default_rng(26)
    samples = np.cumsum(rng.normal(scale=0.1, size=(40, 6, 20)), axis=2)
    for target in (2.0, 20.0):
        def ref(a, b, target=target):
            return dsl(a, b, sharpness=target, batch_axis=0)

        fit = find_sharpness(samples, reference=ref, seed=3, max_steps=2000, learning_rate=0.05,
                             tol=1e-14, rtol=None)
        assert isinstance(fit, SharpnessFit)
        assert fit.converged and fit.sharpness == pytest.approx(target, rel=1e-4)
        assert fit.reference == "ref" and fit.history.shape == (fit.steps, 4)
        assert fit.history[-1, 3] < 1e-14 and abs(fit.gap) < 1e-7


def test_find_sharpness_mse_reproducible():
    rng = np.random.default_rng(27)
    samples = np.cumsum(rng.normal(scale=0.05, size=(64, 100)), axis=1)
    a = find_sharpness(samples, seed=5)
    b = find_sharpness(samples, seed=5)
    np.testing.assert_array_equal(a.history, b.history)
    assert a == b or (a.sharpness == b.sharpness and a.steps == b.steps)
    assert a.converged and abs(a.gap) <= 1e-2 * a.history[-1, 2] and 1.0 < a.sharpness < 100.0
    assert a.history[-1, 1] - a.history[-1, 2] == a.gap
    # the fitted s makes the DSL of random pairs close to their MSE on the whole data set
    half = len(samples) // 2
    mse = np.mean((samples[:half] - samples[half:]) ** 2)
    d = dsl(samples[:half], samples[half:], sharpness=a.sharpness, batch_axis=0)
    assert d == pytest.approx(mse, rel=0.3)
    c = find_sharpness(samples, seed=6)
    assert not np.array_equal(c.history, a.history)
    m = find_sharpness(samples, reference="mae", seed=5, sign="softsign")
    assert m.reference == "mae" and m.sharpness > 0
    with pytest.raises(errors.InvalidOptionError, match="reference"):
        find_sharpness(samples, reference="huber")
    with pytest.raises(errors.InvalidInputError, match="at least 2"):
        find_sharpness(samples[:1])
    with pytest.raises(errors.InvalidOptionError, match="max_steps"):
        find_sharpness(samples, max_steps=0)
    with pytest.raises(errors.InvalidOptionError, match="stopping"):
        find_sharpness(samples, rtol=None, tol=None)
    # the paper's absolute threshold alone
    p = find_sharpness(samples, rtol=None, tol=1e-6, seed=5)
    assert p.converged and p.history[-1, 3] < 1e-6 and (p.history[:-1, 3] >= 1e-6).all()


def test_find_sharpness_unreachable_reference_does_not_converge():
    rng = np.random.default_rng(28)
    samples = rng.normal(scale=10.0, size=(20, 30))  # MSE ~ 200, DSL <= 1
    fit = find_sharpness(samples, seed=0, max_steps=50)
    assert not fit.converged and fit.steps == 50 and np.isfinite(fit.sharpness)


# ----------------------------------------------------------------------------- errors


def test_errors():
    x = np.zeros((3, 4))
    with pytest.raises(errors.ShapeMismatchError, match="exactly the same shape"):
        dsl(x, np.zeros((4, 3)))
    with pytest.raises(errors.ShapeMismatchError):
        exact_dsl(x, np.zeros((3, 4, 1)))
    bad = x.copy()
    bad[1, 2] = np.nan
    with pytest.raises(errors.NonFiniteError, match=r"\(1, 2\)"):
        dsl(x, bad)
    bad[1, 2] = np.inf
    with pytest.raises(errors.NonFiniteError):
        exact_dsl(bad, x)
    with pytest.raises(errors.InvalidDTypeError, match="complex"):
        exact_dsl(x + 1j, x)
    with pytest.raises(errors.InvalidInputError, match="empty"):
        dsl(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(errors.InvalidInputError, match="dimension"):
        dsl(1.0, 2.0)
    for s in (0, -1.0, np.nan, np.inf, "big"):
        with pytest.raises(errors.InvalidOptionError, match="sharpness"):
            dsl(x, x, sharpness=s)
    with pytest.raises(errors.InvalidOptionError, match="sign"):
        dsl(x, x, sign="relu")
    with pytest.raises(errors.InvalidOptionError, match="reduction"):
        dsl(x, x, reduction="max")
    with pytest.raises(errors.InvalidOptionError, match="weights"):
        dsl(x, x, weights=[1, 1, 1])
    with pytest.raises(errors.InvalidOptionError, match="non-negative"):
        dsl(x, x, weights=[1, -1])
    with pytest.raises(errors.InvalidOptionError, match="non-negative"):
        dsl(x, x, weights=[1, np.nan])
    with pytest.raises(errors.InvalidOptionError, match="batch_axis"):
        dsl(x, x, batch_axis=2)
    with pytest.raises(errors.InvalidInputError, match="batch_axis"):
        dsl(np.zeros(4), np.zeros(4), batch_axis=0)
    with pytest.raises(errors.InvalidInputError, match="nothing to compare"):
        dsl(x, x, weights=[0, 0])
    with pytest.raises(errors.InvalidInputError, match="nothing to compare"):
        exact_dsl(np.zeros((1, 1)), np.zeros((1, 1)), normalize=True)
    assert exact_dsl(np.zeros((1, 1)), np.ones((1, 1))) == 0.0
    with pytest.raises(errors.InvalidOptionError, match="zero gradient"):
        dsl_gradient(x, x, sign="sign")
    with pytest.raises(errors.InvalidOptionError, match="fprime"):
        dsl_gradient(x, x, sign=np.tanh)
    with pytest.raises(errors.InvalidOptionError, match="elementwise"):
        dsl(x, x + np.arange(4), sign=lambda z: np.sum(z))
    with pytest.raises(errors.InvalidOptionError, match="NaN"):
        dsl(x, x + np.arange(4), sign=lambda z: np.where(z > 0, np.nan, z))
    with pytest.raises(errors.InvalidOptionError, match="axis"):
        mismatch_map(x, x, axis=(0, 0))
    with pytest.raises(errors.InvalidOptionError, match="out of range"):
        mismatch_map(x, x, axis=5)


def test_list_inputs_and_return_types():
    assert exact_dsl([0, 1, 2], [2, 1, 0]) == 2.0
    assert isinstance(dsl([0, 1, 2], [2, 1, 0]), float)
    assert isinstance(exact_dsl(np.zeros((2, 3)), np.ones((2, 3)), batch_axis=0, reduction="none"), np.ndarray)


def test_kernel_tanh_accuracy():
    from topoeval._kernels._dsl import tanh_array

    rng = np.random.default_rng(29)
    z = np.concatenate([
        np.linspace(-25, 25, 200_001), rng.normal(scale=3, size=100_000),
        np.geomspace(1e-300, 40, 10_000), -np.geomspace(1e-300, 40, 10_000),
        [0.0, -0.0, 0.625, np.nextafter(0.625, 0), 20.0, 1e308, -1e308, np.inf, -np.inf],
        [5e-324, -5e-324, 1e-310, -2.2e-308, np.nextafter(np.log(2) / 4, 1), np.log(2) / 4],  # subnormals, k = 0/1
        rng.uniform(-0.5, 0.5, 100_000), rng.uniform(-20, 20, 100_000),
    ])
    out = np.empty_like(z)
    tanh_array(z, out)
    ref = np.tanh(z)
    ulps = np.abs(out - ref) / np.spacing(np.abs(ref))
    assert ulps.max() <= 4, z[ulps.argmax()]
    assert np.array_equal(np.sign(out), np.sign(ref))
    assert np.array_equal(np.signbit(out), np.signbit(ref))  # tanh(-0.0) = -0.0
    assert np.array_equal(out[np.abs(z) < 1e-300], z[np.abs(z) < 1e-300])  # tiny and subnormal: exact
    nan = np.full(3, np.nan)
    tanh_array(nan, nan)
    assert np.isnan(nan).all()


def _tanh32_ulps(z):
    """ulp error of the kernels' float32 tanh against float64 tanh rounded to float32."""
    from topoeval._kernels._dsl import tanh_array32

    z = np.asarray(z, dtype=np.float32)
    out = np.empty_like(z)
    tanh_array32(z, out)
    ref = np.tanh(z.astype(np.float64)).astype(np.float32)
    return out, ref, np.abs(out.astype(np.float64) - ref) / np.spacing(np.abs(ref)).astype(np.float64)


def test_kernel_tanh32_accuracy():
    # the float32 tanh of float32 inputs: <= 2 ulp over the whole range (NumPy's float32 tanh: 1),
    # signs and -0.0 kept, tiny and subnormal values exact, +-inf -> +-1, NaN stays NaN
    rng = np.random.default_rng(30)
    f32 = np.float32
    z = np.concatenate([
        np.linspace(-25, 25, 1_000_001, dtype=f32), rng.normal(scale=3, size=200_000).astype(f32),
        np.geomspace(1e-45, 30, 20_000).astype(f32), -np.geomspace(1e-45, 30, 20_000).astype(f32),
        rng.uniform(-0.5, 0.5, 100_000).astype(f32), rng.uniform(-12, 12, 100_000).astype(f32),
        np.array([0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, -1e-40, 0.34657359, 0.69314718, 9.0, 9.1,
                  10.0, 20.0, 3.4e38, -3.4e38, np.inf, -np.inf], dtype=f32),
    ])
    out, ref, ulps = _tanh32_ulps(z)
    assert ulps.max() <= 2, z[ulps.argmax()]
    assert np.array_equal(np.signbit(out), np.signbit(ref))  # tanh(-0.0) = -0.0
    tiny = np.abs(z) < 1e-30
    assert np.array_equal(out[tiny], z[tiny])
    assert np.isnan(_tanh32_ulps([np.nan, -np.nan])[0]).all()


@given(hnp.arrays(np.float32, st.integers(1, 64), elements=st.floats(width=32, allow_nan=False)))
def test_kernel_tanh32_accuracy_any_float32(z):
    assert _tanh32_ulps(z)[2].max() <= 2


@pytest.mark.parametrize("shape", [(4, 33, 70), (2, 3, 40, 50)])
def test_float32_tanh_dsl_close_to_float64_and_deterministic(shape):
    # float32 pairs: computed in float32 with float64 sums; within the stated float32 bound of the
    # float64 result (relative ~1e-6 here), bit for bit the same on every call; softsign stays float64
    rng = np.random.default_rng(42)
    x = rng.random(shape, dtype=np.float32)
    y = (x + rng.normal(scale=0.05, size=shape)).astype(np.float32)
    kw = dict(sharpness=16.0, batch_axis=0, reduction="none", normalize=False)
    got = dsl(x, y, **kw)
    want = dsl(x.astype(np.float64), y.astype(np.float64), **kw)
    assert np.all(np.abs(got - want) <= dsl_f32_atol(x, y, **kw))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.array_equal(got, dsl(x, y, **kw))
    np.testing.assert_allclose(dsl(x, y, sign="softsign", **kw),
                               dsl(x.astype(np.float64), y.astype(np.float64), sign="softsign", **kw),
                               rtol=1e-12)


@pytest.mark.parametrize("s", [1e39, 1e300, 1e-46, 1e-300])
def test_float32_extreme_sharpness_as_float64(s):
    # float32(s) would overflow (inf * 0 = NaN) or underflow: such sharpness takes the float64 path
    x = np.array([0, 0, 1, 2], np.float32)
    y = np.array([0, 1, 1, 1], np.float32)
    assert dsl(x, y, sharpness=s) == dsl(x.astype(np.float64), y.astype(np.float64), sharpness=s)


@pytest.mark.parametrize("scale", [1e-9, 1e-5, 1e-2])
def test_tanh_sums_keep_relative_accuracy_for_tiny_differences(scale):
    # s * d small: tanh(z) ~ z, and |tanh a - tanh b| ~ |a - b| may be far smaller than an ulp of 1;
    # the kernel's fraction is exact for k = 0 (no e**z - 1 cancellation), so the sum keeps the
    # relative accuracy of np.tanh's (2|e**2a - e**2b| / ((1 + e**2a)(1 + e**2b)) is 5e-9 off at 1e-9)
    rng = np.random.default_rng(40)
    x = np.cumsum(rng.normal(scale=scale, size=(3, 7, 9)), axis=2)
    y = x + rng.normal(scale=scale / 10, size=x.shape)
    for s in (0.5, DEFAULT_SHARPNESS):
        got = dsl(x, y, sharpness=s, normalize=False, batch_axis=0, reduction="none")
        want = dsl_naive(x, y, sharpness=s, normalize=False, batch_axis=0, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_smooth_kernels_compile_one_signature_and_no_helper_apart():
    # first-run compile time: the run loops and helpers are inlined (never compiled as dispatchers
    # of their own) and a call compiles one signature per kernel and dtype (no Literal[int] copy)
    from topoeval._kernels import _dsl as k

    rng = np.random.default_rng(41)
    x = rng.random((2, 5, 70, 40)).astype(np.float32)  # several cache blocks and chunks
    dsl(x, x + np.float32(0.01), batch_axis=0)
    exact_dsl(x, np.round(x * 4) / 4)
    f32 = [sig for sig in k.smooth_sums.signatures if "float32" in str(sig[0])]
    assert len(f32) == 1
    assert len([sig for sig in k.exact_counts.signatures if "float32" in str(sig[0])]) == 1
    # the float32 tanh chunk, a call of its own: at most one signature (none when smooth_sums came
    # from the cache, which holds the callee too)
    assert len(k._tanh_chunk32.signatures) <= 1
    for helper in ("_smooth_run", "_sum8", "_c_strides", "_plan", "_next_block", "_finite_pair",
                   "_exact_run", "_exact_last", "_axis_runs", "_tanh_half_nd", "_tanh_half_nd32"):
        assert getattr(k, helper).signatures == [], helper


@pytest.mark.parametrize("where", ["first", "last", "block_end", "random"])
def test_nonfinite_found_everywhere(where):
    # the kernels test finiteness block by block, fused with the last-axis loop: every cell counts
    rng = np.random.default_rng(30)
    shape = (6, 5, 64, 70)  # several cache blocks
    x = rng.normal(size=shape).astype(np.float32)
    y = rng.normal(size=shape).astype(np.float32)
    idx = {"first": (0, 0, 0, 0), "last": (5, 4, 63, 69), "block_end": (2, 4, 63, 69),
           "random": tuple(int(rng.integers(n)) for n in shape)}[where]
    for bad_value in (np.nan, np.inf, -np.inf):
        for target in ("x", "y"):
            xb, yb = x.copy(), y.copy()
            (xb if target == "x" else yb)[idx] = bad_value
            for call in (
                lambda: exact_dsl(xb, yb),
                lambda: exact_dsl(xb, yb, batch_axis=0),
                lambda: exact_dsl(xb, yb, weights=[1, 1, 1, 0]),  # last axis off: separate check
                lambda: dsl(xb, yb, batch_axis=1, sign="softsign"),
                lambda: dsl(xb, yb, weights=[0, 0, 0, 1]),
                lambda: dsl_gradient(xb, yb),
                lambda: mismatch_map(xb, yb),
            ):
                with pytest.raises(errors.NonFiniteError, match=target):
                    call()
    # nothing to compare, but still checked
    with pytest.raises(errors.NonFiniteError):
        exact_dsl(np.array([[np.nan]]), np.array([[1.0]]))


# ----------------------------------------------------------------------------- arrays larger than a cache block


def _numpy_reference(x, y, s, sign, batch_axis, weights):
    """Straightforward NumPy DSL per sample (count units), for arrays too big for the loop reference."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    axes = [a for a in range(x.ndim) if batch_axis is None or a != batch_axis]
    w = np.ones(len(axes)) if weights is None else weights
    f = np.sign if sign == "sign" else np.tanh
    scale = 1.0 if sign == "sign" else s
    total = 0.0
    for wi, a in zip(w, axes):
        delta = np.abs(f(scale * np.diff(x, axis=a)) - f(scale * np.diff(y, axis=a))) / 2
        keep = () if batch_axis is None else (batch_axis,)
        total = total + wi * delta.sum(axis=tuple(i for i in range(x.ndim) if i not in keep))
    return total


@pytest.mark.parametrize("shape", [(3, 70, 400), (300, 300), (70001,), (5, 4, 3, 2000), (2, 65537)])
def test_large_arrays_split_in_blocks(shape):
    from topoeval._kernels._dsl import LBLOCK

    assert int(np.prod(shape)) > LBLOCK  # several cache blocks: every code path of the plan
    rng = np.random.default_rng(31)
    x = rng.integers(-3, 4, size=shape).astype(np.float32)  # ties along every axis
    y = np.where(rng.random(shape) < 0.5, x, rng.integers(-3, 4, size=shape)).astype(np.float32)
    # the NumPy reference agrees with the loop reference on a corner
    corner = tuple(slice(0, 3) for _ in shape)
    assert _numpy_reference(x[corner], y[corner], 1.0, "sign", None, None) == \
        dsl_naive(x[corner], y[corner], sign="sign", normalize=False)
    for batch_axis in [None] + list(range(len(shape))) * (len(shape) > 1):
        n_axes = len(shape) - (batch_axis is not None)
        weights = None if batch_axis is None else np.linspace(0.5, 2.0, n_axes)
        opts = dict(batch_axis=batch_axis, weights=weights, reduction="none", normalize=False)
        want = _numpy_reference(x, y, 0.7, "sign", batch_axis, weights)
        np.testing.assert_allclose(exact_dsl(x, y, **opts), want, rtol=1e-15)
        np.testing.assert_allclose(exact_dsl(np.asfortranarray(x), np.asfortranarray(y), **opts), want,
                                   rtol=1e-15)
        want = _numpy_reference(x, y, 0.7, "tanh", batch_axis, weights)
        # float32 inputs: both sides compute in float32 (NumPy's tanh too), so the tolerance is
        # the float32 error bound (tests/naive.dsl_f32_atol, from the same sums against zero)
        z = np.zeros(shape)
        bound = 2.0 ** -20 * (_numpy_reference(x.astype(np.float64), z, 0.7, "tanh", batch_axis, weights)
                              + _numpy_reference(y.astype(np.float64), z, 0.7, "tanh", batch_axis, weights))
        assert np.all(np.abs(dsl(x, y, sharpness=0.7, **opts) - want) <= bound)
    m = mismatch_map(x, y)
    for a in range(len(shape)):
        d = np.abs(np.sign(np.diff(x, axis=a)) - np.sign(np.diff(y, axis=a))) / 2
        pad = [(0, 0)] * len(shape)
        pad[a] = (0, 1)
        np.testing.assert_array_equal(m[a], np.pad(d, pad))
    # gradient: the NumPy formula, scattered to both cells of every difference
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    want = np.zeros(shape)
    for a in range(len(shape)):
        ta, tb = np.tanh(0.7 * np.diff(xd, axis=a)), np.tanh(0.7 * np.diff(yd, axis=a))
        g = 0.5 * 0.7 * np.sign(ta - tb) * (1 - ta**2)
        hi, lo = [slice(None)] * len(shape), [slice(None)] * len(shape)
        hi[a], lo[a] = slice(1, None), slice(None, -1)
        want[tuple(hi)] += g
        want[tuple(lo)] -= g
    np.testing.assert_allclose(dsl_gradient(xd, yd, sharpness=0.7, normalize=False), want,
                               rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- threads (jobs)


@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple),
    seed=st.integers(0, 2**31 - 1),
    jobs=st.integers(2, 5),
    batch=st.booleans(),
    fortran=st.booleans(),
    dtype=st.sampled_from(["float64", "float32", "int64"]),
)
def test_jobs_equal_one_thread_and_naive(shape, seed, jobs, batch, fortran, dtype):
    """Slabs with the straddling pairs counted apart: counts exactly, sums to 1e-12, every layout."""
    from topoeval.dsl import _evaluate as ev

    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(dtype)  # few values: many ties and flat steps
    y = rng.integers(-2, 3, size=shape).astype(dtype)
    if fortran:
        x, y = np.asfortranarray(x), np.asfortranarray(y)
    b = 0 if batch and len(shape) > 1 else None
    w = rng.integers(0, 3, size=len(shape) - (b is not None)).tolist()
    kw = dict(batch_axis=b, weights=w, reduction="none" if b is not None else "mean")
    old = ev._THREAD_MIN_CELLS
    ev._THREAD_MIN_CELLS = 0
    try:
        e1 = exact_dsl(x, y, jobs=1, **kw)
        en = exact_dsl(x, y, jobs=jobs, **kw)
        s1 = dsl(x, y, jobs=1, sharpness=3.0, normalize=False, **kw)
        sn = dsl(x, y, jobs=jobs, sharpness=3.0, normalize=False, **kw)
        pn = dsl_per_axis(x, y, jobs=jobs, sign="sign", normalize=False, **kw)
    finally:
        ev._THREAD_MIN_CELLS = old
    np.testing.assert_array_equal(en, e1)
    np.testing.assert_allclose(sn, s1, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(np.sum(pn, axis=-1), e1)
    want = dsl_naive(x, y, sharpness=3.0, normalize=False, **kw)
    # float32 pairs are computed in float32: the float32 error bound instead of 1e-12
    atol = dsl_f32_atol(x, y, sharpness=3.0, normalize=False, **kw) if dtype == "float32" else 1e-12
    assert np.all(np.abs(sn - want) <= 1e-12 * np.abs(want) + atol), (sn, want, atol)
    np.testing.assert_allclose(en, dsl_naive(x, y, sign="sign", normalize=False, **kw), rtol=0, atol=1e-12)


def test_jobs_large_array_and_nonfinite():
    rng = np.random.default_rng(31)
    x = rng.normal(size=(9, 130, 1000)).astype(np.float32)  # > 2**20 cells: threads by default
    y = np.round(x * 8) / 8
    assert exact_dsl(x, y, jobs=3) == exact_dsl(x, y, jobs=1)
    assert abs(dsl(x, y, jobs=3) - dsl(x, y, jobs=1)) <= 1e-12 * dsl(x, y, jobs=1)
    assert np.array_equal(exact_dsl(x, y, batch_axis=0, reduction="none", jobs=4),
                          exact_dsl(x, y, batch_axis=0, reduction="none", jobs=1))
    y[7, 129, 999] = np.nan  # in the last slab
    with pytest.raises(errors.NonFiniteError, match="y"):
        dsl(x, y, jobs=3)
    with pytest.raises(errors.InvalidOptionError, match="jobs"):
        exact_dsl(x, y, jobs=0)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 17, 2048, 2049, 2050, 4097, 4098, 6145])
def test_tanh_chunk_fold_every_length(n):
    # smooth_sums sums each chunk by folding halves after padding it to a multiple of 8:
    # every length and chunk remainder (BLOCK = 2048) must give the naive sum, each pair once
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = x + rng.normal(scale=0.1, size=n)
    got = dsl(x, y, sharpness=3.0, normalize=False)
    want = dsl_naive(x, y, sharpness=3.0, normalize=False)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)  # atol: saturated pairs, np.tanh a - np.tanh b
    x2 = rng.normal(size=(3, n)).astype(np.float32)  # rows of odd length along the last axis
    y2 = rng.normal(size=(3, n)).astype(np.float32)
    got2 = dsl(x2, y2, sharpness=3.0, normalize=False)
    # float32 rows are computed in float32 (like NumPy): the float32 error bound; the float64
    # result of the same rows keeps the 1e-12 pin of the fold
    want2 = dsl_naive(x2, y2, sharpness=3.0, normalize=False)
    assert abs(got2 - want2) <= dsl_f32_atol(x2, y2, sharpness=3.0, normalize=False)
    got64 = dsl(x2.astype(np.float64), y2.astype(np.float64), sharpness=3.0, normalize=False)
    np.testing.assert_allclose(got64, want2, rtol=1e-12, atol=1e-14)  # atol: saturated pairs, np.tanh a - np.tanh b
