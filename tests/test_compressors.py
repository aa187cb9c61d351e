"""Tests of topoeval.compressors: the error bound holds, the protocol, clear errors."""

import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from topoeval.compressors import Compressor, available_compressors, get_compressor
from topoeval.errors import (
    InvalidDTypeError,
    InvalidInputError,
    InvalidOptionError,
    MissingDependencyError,
    NonFiniteError,
)

ABS = ["sz3", "zfp", "quantize", "bitround"]


def _fields(seed):
    """Random fields of several kinds: white noise, smooth, heavy-tailed, constant, 1-4 D."""
    rng = np.random.default_rng(seed)
    yield rng.standard_normal(1000)
    yield np.cumsum(rng.standard_normal((40, 50)), axis=0) * 3.0
    yield rng.standard_cauchy((12, 10, 9))
    yield rng.uniform(-1e3, 1e3, size=(3, 4, 5, 6))
    yield np.full((7, 9), 4.25)
    yield rng.standard_normal((1, 33)) * 1e-4


@pytest.mark.parametrize("name", ABS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bound", [1.0, 1e-2, 1e-4])
def test_error_bound_holds(name, dtype, bound):
    comp = get_compressor(name)
    for seed in range(3):
        for a in _fields(seed):
            a = a.astype(dtype)
            data = comp.compress(a, bound)
            assert isinstance(data, bytes)
            recon = comp.decompress(data, a.shape, a.dtype)
            assert recon.shape == a.shape and recon.dtype == a.dtype
            err = np.abs(recon.astype(np.float64) - a.astype(np.float64)).max()
            assert err <= bound, (name, dtype, bound, a.shape, err)


@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=1, max_size=200),
    st.sampled_from(ABS),
    st.floats(1e-5, 10.0),
)
def test_error_bound_hypothesis(values, name, bound):
    a = np.array(values, dtype=np.float32)
    recon, nbytes = get_compressor(name).roundtrip(a, bound)
    assert nbytes > 0
    assert np.abs(recon.astype(np.float64) - a).max() <= bound


def test_compression_actually_compresses_smooth_data():
    x = np.linspace(0, 4 * np.pi, 64 * 64)
    a = (np.sin(x) * np.cos(x / 3)).reshape(64, 64).astype(np.float32)
    for name in ABS:
        _, nbytes = get_compressor(name).roundtrip(a, 1e-2)
        assert nbytes < a.nbytes / 2, name


def test_zfp_rate_controls_size_not_error():
    a = np.random.default_rng(3).standard_normal((32, 32)).astype(np.float32)
    comp = get_compressor("zfp-rate")
    assert comp.bound_kind == "rate"
    sizes = [comp.roundtrip(a, rate)[1] for rate in (4, 8, 16)]
    assert sizes[0] < sizes[1] < sizes[2]
    # the stream is about rate bits per value (plus a header)
    assert abs(sizes[1] - a.size) < 0.1 * a.size
    errs = [np.abs(comp.roundtrip(a, rate)[0] - a).max() for rate in (4, 16)]
    assert errs[1] < errs[0]


def test_quantize_and_bitround_match_numcodecs_semantics():
    # quantize: values are multiples of a power of two; bitround: trailing mantissa bits are zero
    a = np.random.default_rng(4).standard_normal(500).astype(np.float32)
    q, _ = get_compressor("quantize").roundtrip(a, 1e-2)
    scale = 64.0  # 0.5 / 1e-2 = 50 -> 2**6
    assert np.array_equal(q * scale, np.round(q * scale))
    b, _ = get_compressor("bitround").roundtrip(a, 1e-2)
    keep = int(np.ceil(np.log2(np.abs(a).max() / 1e-2))) - 1
    assert np.all(b.view(np.uint32) & np.uint32((1 << (23 - keep)) - 1) == 0)


def test_protocol_and_registry():
    names = available_compressors()
    assert names == ["sz3", "zfp", "zfp-rate", "quantize", "bitround"]
    for name in names:
        comp = get_compressor(name)
        assert isinstance(comp, Compressor)
        assert comp.name == name
        assert comp.bound_kind in ("abs", "rate")
        assert name in repr(comp)
    assert get_compressor("SZ3").name == "sz3"


def test_unknown_name():
    with pytest.raises(InvalidOptionError, match="unknown compressor 'lz4'.*'sz3'"):
        get_compressor("lz4")


@pytest.mark.parametrize("name,module", [("sz3", "pysz"), ("zfp", "zfpy"), ("zfp-rate", "zfpy")])
def test_missing_package_names_the_extra(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MissingDependencyError, match=rf"'{module}'.*topoeval\[compressors\]"):
        get_compressor(name)


def test_missing_package_at_use(monkeypatch):
    comp = get_compressor("sz3")
    monkeypatch.setitem(sys.modules, "pysz", None)
    with pytest.raises(MissingDependencyError, match="SZ3"):
        comp.compress(np.zeros(4, np.float32), 0.1)
    # the NumPy-only ones keep working and stay listed
    monkeypatch.setattr("importlib.util.find_spec", lambda m: None)
    assert available_compressors() == ["quantize", "bitround"]
    assert get_compressor("quantize").roundtrip(np.ones(3), 0.1)[0].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", ABS)
def test_bad_inputs(name):
    comp = get_compressor(name)
    with pytest.raises(InvalidDTypeError, match="float32 or float64"):
        comp.compress(np.arange(5), 0.1)
    with pytest.raises(NonFiniteError, match="1 non-finite"):
        comp.compress(np.array([0.0, np.nan, 1.0]), 0.1)
    with pytest.raises(InvalidOptionError, match="bound"):
        comp.compress(np.zeros(3), 0.0)
    with pytest.raises(InvalidOptionError, match="bound"):
        comp.compress(np.zeros(3), -1)
    with pytest.raises(InvalidInputError, match="empty"):
        comp.compress(np.zeros(0), 0.1)


@pytest.mark.parametrize("name", ["sz3", "zfp"])
def test_more_than_4d_refused(name):
    with pytest.raises(InvalidInputError, match="1 to 4 dimensions"):
        get_compressor(name).compress(np.zeros((2, 2, 2, 2, 2)), 0.1)


def test_non_contiguous_and_big_endian_input():
    a = np.random.default_rng(5).standard_normal((20, 30))
    for view in (a[::2, ::3], a.T, a.astype(">f8")):
        for name in ABS:
            recon, _ = get_compressor(name).roundtrip(view, 1e-3)
            assert np.abs(recon - view).max() <= 1e-3


def test_sz3_deterministic():
    a = np.random.default_rng(6).standard_normal((30, 30)).astype(np.float32)
    c = get_compressor("sz3")
    assert c.compress(a, 1e-3) == c.compress(a, 1e-3)


def test_zfp_wrong_shape_is_reported():
    c = get_compressor("zfp")
    data = c.compress(np.zeros((4, 4)), 0.1)
    with pytest.raises(InvalidInputError, match="holds 16 values"):
        c.decompress(data, (5, 5), np.float64)


def _numcodecs_filters():
    """numcodecs' BitRound and Quantize, imported without numcodecs/__init__ (which fails with
    zfpy version strings such as '1.0.1.post0')."""
    import importlib
    import importlib.util
    import types

    spec = importlib.util.find_spec("numcodecs")
    if spec is None:
        pytest.skip("numcodecs is not installed")
    saved = {k: v for k, v in sys.modules.items() if k == "numcodecs" or k.startswith("numcodecs.")}
    try:
        try:
            import numcodecs  # noqa: F401
        except Exception:
            for k in list(sys.modules):
                if k == "numcodecs" or k.startswith("numcodecs."):
                    del sys.modules[k]
            pkg = types.ModuleType("numcodecs")
            pkg.__path__ = list(spec.submodule_search_locations)
            sys.modules["numcodecs"] = pkg
        bitround = importlib.import_module("numcodecs.bitround").BitRound
        quantize = importlib.import_module("numcodecs.quantize").Quantize
    finally:
        for k in [k for k in sys.modules if k == "numcodecs" or k.startswith("numcodecs.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return bitround, quantize


@pytest.mark.parametrize("dtype,mbits", [(np.float32, 23), (np.float64, 52)])
def test_bitround_equals_numcodecs(dtype, mbits):
    BitRound, _ = _numcodecs_filters()
    rng = np.random.default_rng(8)
    a = (rng.standard_normal(2000) * 10.0 ** rng.integers(-3, 4, 2000)).astype(dtype)
    amax = float(np.abs(a).max())
    for keep in (0, 1, 5, 10, mbits - 1):
        bound = amax / 2.0 ** (keep + 1)  # exactly the bound for which `keep` bits are needed
        ours, _ = get_compressor("bitround").roundtrip(a, bound)
        theirs = np.asarray(BitRound(keepbits=keep).encode(a)).view(dtype).reshape(a.shape)
        np.testing.assert_array_equal(ours.view(theirs.dtype), theirs)


@pytest.mark.parametrize("digits", [0, 1, 2, 4])
def test_quantize_equals_numcodecs(digits):
    _, Quantize = _numcodecs_filters()
    a = np.random.default_rng(9).standard_normal(2000).astype(np.float32) * 50
    bits = int(np.ceil(np.log2(10.0**digits)))
    bound = 0.5 / 2.0**bits  # the bound for which our scale is numcodecs' 2**bits
    ours, _ = get_compressor("quantize").roundtrip(a, bound)
    theirs = np.asarray(Quantize(digits=digits, dtype="f4").encode(a))
    np.testing.assert_array_equal(ours, theirs)


# regression: zfpy's fixed-rate mode crashed the process (malloc(): invalid size) below one
# exponent header per block; the compressor refuses such rates with a message
@pytest.mark.parametrize("dtype, ndim, minimum", [(np.float64, 1, 3.0), (np.float32, 2, 9 / 16)])
def test_zfp_rate_below_block_header_is_refused(dtype, ndim, minimum):
    from topoeval.errors import InvalidOptionError

    a = np.random.default_rng(5).random((16,) * ndim).astype(dtype)
    comp = get_compressor("zfp-rate")
    with pytest.raises(InvalidOptionError, match=f"at least {minimum:g} bits per value"):
        comp.compress(a, minimum / 2)
    recon = comp.decompress(comp.compress(a, minimum * 4), a.shape, a.dtype)
    assert recon.shape == a.shape
