"""File readers (npy / npz / HDF5 / raw / stdin), describe_file and atomic_output."""

from __future__ import annotations

import io
import os
import sys
import zipfile

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import topoeval as te
from topoeval.errors import (
    DatasetNotFoundError,
    FileFormatError,
    InvalidDTypeError,
    InvalidOptionError,
    OutputExistsError,
    TopoevalIOError,
)
from topoeval.io import atomic_output, parse_shape, split_spec


@pytest.fixture
def arr():
    return np.random.default_rng(7).normal(size=(4, 5, 6)).astype(np.float32)


# ----------------------------------------------------------------------------- npy


def test_npy_memmapped_readonly(tmp_path, arr):
    p = tmp_path / "a.npy"
    np.save(p, arr)
    out = te.load_array(p)
    np.testing.assert_array_equal(out, arr)
    assert isinstance(out, np.memmap) and not out.flags.writeable
    assert type(te.load_array(p, mmap=False)) is np.ndarray


def test_npy_fortran_bigendian_and_cast(tmp_path, arr):
    p = tmp_path / "f.npy"
    np.save(p, np.asfortranarray(arr).astype(">f8"))
    out = te.load_array(p)
    assert out.dtype == np.float64 and out.dtype.isnative
    np.testing.assert_array_equal(out, arr.astype(np.float64))
    assert te.load_array(p, dtype="float32").dtype == np.float32


def test_npy_object_array_refused(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match="Python objects.*never loads pickles"):
        te.load_array(p)


def test_npy_truncated(tmp_path, arr):
    p = tmp_path / "t.npy"
    np.save(p, arr)
    data = p.read_bytes()
    p.write_bytes(data[:-10])
    with pytest.raises(FileFormatError, match=r"truncated.*\(4, 5, 6\).*bytes"):
        te.load_array(p)


def test_npy_corrupt(tmp_path):
    p = tmp_path / "c.npy"
    p.write_bytes(b"this is not numpy at all")
    with pytest.raises(FileFormatError, match="not a .npy file"):
        te.load_array(p)
    p.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4 ")
    with pytest.raises(FileFormatError, match="corrupt .npy header"):
        te.load_array(p)


def test_npy_string_dtype(tmp_path):
    p = tmp_path / "s.npy"
    np.save(p, np.array(["a", "b"]))
    with pytest.raises(InvalidDTypeError, match="not a real number type"):
        te.load_array(p)


def test_stdin(monkeypatch, arr):
    buf = io.BytesIO()
    np.save(buf, arr)

    class FakeStdin:
        buffer = io.BytesIO(buf.getvalue())

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    np.testing.assert_array_equal(te.load_array("-"), arr)
    FakeStdin.buffer = io.BytesIO(b"")
    with pytest.raises(FileFormatError, match="no data"):
        te.load_array("-")


# ----------------------------------------------------------------------------- npz


def test_npz(tmp_path, arr):
    p = tmp_path / "a.npz"
    np.savez_compressed(p, u=arr, v=arr * 2)
    np.testing.assert_array_equal(te.load_array(f"{p}:v"), arr * 2)
    with pytest.raises(DatasetNotFoundError, match=r"holds 2 arrays \(u, v\).*:KEY"):
        te.load_array(p)
    with pytest.raises(DatasetNotFoundError, match=r"no array 'w'; it holds: u, v"):
        te.load_array(f"{p}:w")
    single = tmp_path / "one.npz"
    np.savez(single, only=arr)
    np.testing.assert_array_equal(te.load_array(single), arr)


def test_npz_that_is_npy_or_pickle(tmp_path, arr):
    p = tmp_path / "fake.npz"
    np.save(tmp_path / "real.npy", arr)
    p.write_bytes((tmp_path / "real.npy").read_bytes())
    with pytest.raises(FileFormatError, match="a .npy file with a .npz name"):
        te.load_array(p)
    import pickle

    p.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(FileFormatError, match="not a readable .npz archive"):
        te.load_array(p)


def test_npz_object_and_corrupt(tmp_path):
    p = tmp_path / "o.npz"
    np.savez(p, x=np.array([None, 1], dtype=object))
    with pytest.raises(FileFormatError, match="Python objects"):
        te.load_array(f"{p}:x")
    q = tmp_path / "c.npz"
    np.savez(q, x=np.arange(1000.0))
    q.write_bytes(q.read_bytes()[:200])
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        te.load_array(q)


# ----------------------------------------------------------------------------- hdf5


def test_hdf5(tmp_path, arr):
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("grp/u", data=arr, chunks=(1, 5, 6), compression="gzip")
        f.create_dataset("big", data=arr.astype(">f8"))
        f.create_dataset("names", data=np.array([b"a", b"b"]))
    np.testing.assert_array_equal(te.load_array(f"{p}:/grp/u"), arr)
    np.testing.assert_array_equal(te.load_array(f"{p}:grp/u"), arr)
    big = te.load_array(f"{p}:/big")
    assert big.dtype == np.float64 and big.dtype.isnative
    np.testing.assert_array_equal(big, arr.astype(np.float64))
    with pytest.raises(DatasetNotFoundError, match=r"no dataset '/grp/v'; it holds: /big, /grp/u, /names"):
        te.load_array(f"{p}:/grp/v")
    with pytest.raises(DatasetNotFoundError, match=r"is a group.*/grp/u"):
        te.load_array(f"{p}:/grp")
    with pytest.raises(DatasetNotFoundError, match="holds 3 datasets"):
        te.load_array(p)
    with pytest.raises(InvalidDTypeError, match="not a real number type"):
        te.load_array(f"{p}:/names")


def test_hdf5_single_dataset_and_corrupt(tmp_path, arr):
    p = tmp_path / "one.hdf5"
    with h5py.File(p, "w") as f:
        f["x"] = arr
    np.testing.assert_array_equal(te.load_array(p), arr)
    data = p.read_bytes()
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=str(trunc)):
        te.load_array(trunc)
    noth5 = tmp_path / "x.nc"
    noth5.write_bytes(b"CDF\x01" + bytes(100))  # netCDF-3 classic
    with pytest.raises(FileFormatError, match="netCDF-3"):
        te.load_array(noth5)


# ----------------------------------------------------------------------------- raw


@pytest.mark.parametrize("ext,dtype", [(".f32", "<f4"), (".f64", "<f8"), (".d64", "<f8"), (".i32", "<i4"),
                                       (".u8", "u1"), (".i16", "<i2")])
def test_raw_extensions(tmp_path, arr, ext, dtype):
    p = tmp_path / f"field{ext}"
    data = (arr * 10).astype(dtype)
    data.tofile(p)
    out = te.load_array(p, shape="4x5x6")
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, data)


@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
    ext=st.sampled_from([".f16", ".f32", ".f64", ".d64", ".i8", ".i16", ".i32", ".i64", ".u8", ".u16",
                         ".u32", ".u64"]),
    byteorder=st.sampled_from(["little", "big"]),
    mmap=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_raw_roundtrip_property(tmp_path_factory, shape, ext, byteorder, mmap, seed):
    from topoeval.io import RAW_EXTENSIONS

    dt = np.dtype(RAW_EXTENSIONS[ext])
    rng = np.random.default_rng(seed)
    data = (rng.normal(size=shape) * 50).astype(dt)
    p = tmp_path_factory.mktemp("raw") / f"f{ext}"
    data.astype(dt.newbyteorder("<" if byteorder == "little" else ">")).tofile(p)
    out = te.load_array(p, shape="x".join(map(str, shape)), byteorder=byteorder, mmap=mmap)
    assert out.dtype == dt and out.dtype.isnative and out.shape == tuple(shape)
    np.testing.assert_array_equal(out, data)


def test_raw_c_order_slowest_first(tmp_path):
    """--shape is C order: the LAST dimension varies fastest in the file (SDRBench convention)."""
    p = tmp_path / "r.f32"
    np.arange(6, dtype="<f4").tofile(p)
    out = te.load_array(p, shape=(2, 3))
    assert out[0, 2] == 2 and out[1, 0] == 3


def test_raw_byteorder_and_dtype(tmp_path, arr):
    p = tmp_path / "b.dat"
    arr.astype(">f4").tofile(p)
    with pytest.raises(InvalidOptionError, match="carries no dtype.*--dtype float32"):
        te.load_array(p, shape="4x5x6")
    out = te.load_array(p, shape="4x5x6", dtype="float32", byteorder="big")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    wrong = te.load_array(p, shape="4x5x6", dtype="float32")  # little-endian read of big data
    assert not np.array_equal(wrong, arr)


def test_raw_compressor_output_names(tmp_path, arr):
    """SZ writes `Uf48.f32.sz.out`: the .f32 inside the name gives the dtype; --dtype reads any name."""
    p = tmp_path / "Uf48.f32.sz.out"
    arr.tofile(p)
    np.testing.assert_array_equal(te.load_array(p, shape="4x5x6"), arr)
    q = tmp_path / "field.zfp.decompressed"
    arr.astype(np.float64).tofile(q)
    np.testing.assert_array_equal(te.load_array(q, shape="4x5x6", dtype="float64"), arr)
    with pytest.raises(FileFormatError, match="unknown file extension '.decompressed'.*--dtype and --shape"):
        te.load_array(q, shape="4x5x6")
    assert te.describe_file(p)["datasets"][0]["dtype"] == "float32"


def test_raw_size_mismatch_says_both_numbers(tmp_path, arr):
    p = tmp_path / "s.f32"
    arr.tofile(p)
    with pytest.raises(FileFormatError, match=r"has 480 bytes but shape 4x5x7 of float32 needs 560 bytes"):
        te.load_array(p, shape="4x5x7")
    with pytest.raises(InvalidOptionError, match=r"needs its shape.*480 bytes hold 120 float32"):
        te.load_array(p)


def test_shape_parsing():
    assert parse_shape("100x500x500") == (100, 500, 500)
    assert parse_shape("3,4") == (3, 4)
    for bad in ("", "3x0", "axb", "-1x2"):
        with pytest.raises(InvalidOptionError, match="shape"):
            parse_shape(bad)


def test_shape_given_for_npy_must_match(tmp_path, arr):
    p = tmp_path / "a.npy"
    np.save(p, arr)
    assert te.load_array(p, shape="4x5x6").shape == (4, 5, 6)
    with pytest.raises(InvalidOptionError, match="only needed for raw"):
        te.load_array(p, shape="4x30")


# ----------------------------------------------------------------------------- errors


def test_missing_and_unknown(tmp_path):
    with pytest.raises(TopoevalIOError, match="no such file"):
        te.load_array(tmp_path / "nope.npy")
    with pytest.raises(TopoevalIOError, match="folder .* does not exist"):
        te.load_array(tmp_path / "nodir" / "nope.npy")
    p = tmp_path / "x.csv"
    p.write_text("1,2\n")
    with pytest.raises(FileFormatError, match=r"unknown file extension '.csv'.*\.npy"):
        te.load_array(p)
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(TopoevalIOError, match="is a folder"):
        te.load_array(tmp_path / "d.npy")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable(tmp_path, arr):  # pragma: no cover - CI runs as root here
    p = tmp_path / "a.npy"
    np.save(p, arr)
    p.chmod(0)
    with pytest.raises(TopoevalIOError, match="permission denied"):
        te.load_array(p)


def test_split_spec(tmp_path):
    assert split_spec("a.h5:/x/y") == (split_spec("a.h5")[0], "/x/y")
    assert split_spec("a.npz:k")[1] == "k"
    assert split_spec("dir:with:colons/a.npy")[1] is None
    weird = tmp_path / "we:ird.npy"
    weird.write_bytes(b"")
    assert split_spec(str(weird))[1] is None  # an existing path is never split


# ----------------------------------------------------------------------------- describe


def test_describe_file(tmp_path, arr):
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        d = f.create_dataset("grp/u", data=arr, chunks=(1, 5, 6), compression="gzip", compression_opts=4)
        d.attrs["units"] = "m"
        f.create_dataset("v", data=arr[0].astype(">f8"))
    info = te.describe_file(p)
    assert info["format"] == "hdf5"
    by = {e["name"]: e for e in info["datasets"]}
    u = by[f"{p}:/grp/u"]
    assert u["shape"] == (4, 5, 6) and u["dtype"] == "float32" and u["chunks"] == (1, 5, 6)
    assert u["compression"] == "gzip" and u["compression_opts"] == 4 and u["attrs"] == {"units": "m"}
    assert by[f"{p}:/v"]["byteorder"] == "big"
    np.testing.assert_array_equal(te.load_array(u["name"]), arr)  # the name is a valid spec

    z = tmp_path / "z.npz"
    np.savez_compressed(z, a=arr, b=np.zeros(3, np.int16))
    names = {e["name"]: e for e in te.describe_file(z)["datasets"]}
    assert names[f"{z}:b"]["shape"] == (3,) and names[f"{z}:b"]["dtype"] == "int16"

    r = tmp_path / "r.f64"
    np.zeros(10).tofile(r)
    assert te.describe_file(r)["datasets"][0]["shape"] == (10,)


# ----------------------------------------------------------------------------- atomic output


def test_atomic_output_writes_and_refuses(tmp_path):
    out = tmp_path / "r.csv"
    with atomic_output(out) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".csv"
        tmp.write_text("one")
    assert out.read_text() == "one"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    with pytest.raises(OutputExistsError, match="exists already; pass --force"):
        with atomic_output(out):
            pass
    with atomic_output(out, force=True) as tmp:
        tmp.write_text("two")
    assert out.read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["r.csv"]  # no temporary left behind


def test_atomic_output_crash_leaves_old_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(out, force=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert out.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_atomic_output_unwritable(tmp_path):
    with pytest.raises(TopoevalIOError, match="folder .* does not exist"):
        with atomic_output(tmp_path / "missing" / "r.csv"):
            pass
    with pytest.raises(TopoevalIOError, match="is a folder"):
        with atomic_output(tmp_path):
            pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(TopoevalIOError, match="is a file, not a folder"):
        with atomic_output(tmp_path / "file" / "r.csv"):
            pass
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(TopoevalIOError, match="not writable"):
            with atomic_output(ro / "r.csv"):
                pass
    finally:
        ro.chmod(0o755)


def test_zip_member_names(tmp_path, arr):
    """npz members written by other tools (without the .npy suffix) are skipped, not crashed on."""
    p = tmp_path / "m.npz"
    with zipfile.ZipFile(p, "w") as zf:
        buf = io.BytesIO()
        np.save(buf, arr)
        zf.writestr("a.npy", buf.getvalue())
        zf.writestr("README", "hello")
    assert [e["name"] for e in te.describe_file(p)["datasets"]] == [f"{p}:a"]


# ----------------------------------------------------------------------------- open_array (lazy)


def _lazy_inputs(tmp_path, arr):
    """(spec, open_array kwargs, expected in_memory) for every file format, same data."""
    np.save(tmp_path / "c.npy", arr)
    np.save(tmp_path / "f.npy", np.asfortranarray(arr).astype(">f4"))
    np.savez(tmp_path / "s.npz", a=arr, b=arr)
    np.savez_compressed(tmp_path / "z.npz", a=arr)
    arr.astype(">f4").tofile(tmp_path / "big.f32")
    arr.tofile(tmp_path / "little.dat")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("g/chunked", data=arr, chunks=(2, 2, 3), compression="gzip", shuffle=True)
        f.create_dataset("big", data=arr.astype(">f4"))
    return [
        (str(tmp_path / "c.npy"), {}, False),
        (str(tmp_path / "f.npy"), {}, False),
        (f"{tmp_path / 's.npz'}:b", {}, False),
        (str(tmp_path / "z.npz"), {}, True),
        (str(tmp_path / "big.f32"), {"shape": "4x5x6", "byteorder": "big"}, False),
        (str(tmp_path / "little.dat"), {"shape": (4, 5, 6), "dtype": "float32"}, False),
        (f"{tmp_path / 'd.h5'}:/g/chunked", {}, False),
        (f"{tmp_path / 'd.h5'}:big", {}, False),
    ]


_SLICES = [np.s_[...], np.s_[1:3], np.s_[:, 2], np.s_[3, 1:4, ::2], np.s_[1, 2, 3], np.s_[-1, :, 1:2],
           np.s_[0:0]]


def test_open_array_every_format_matches_load_array(tmp_path, arr):
    for spec, kw, in_memory in _lazy_inputs(tmp_path, arr):
        whole = te.load_array(spec, **kw)
        with te.open_array(spec, **kw) as a:
            assert (a.shape, a.ndim, a.size, len(a)) == (arr.shape, 3, arr.size, 4), spec
            assert a.dtype == np.float32 and a.dtype.isnative and a.nbytes == arr.nbytes
            assert a.in_memory is in_memory, spec
            for key in _SLICES:
                block = a[key]
                assert isinstance(block, np.ndarray) and block.dtype.isnative, (spec, key)
                np.testing.assert_array_equal(block, whole[key], err_msg=f"{spec} {key}")
                np.testing.assert_array_equal(block, arr[key])
            np.testing.assert_array_equal(a.read(), arr)
            np.testing.assert_array_equal(np.asarray(a), arr)
        assert a.closed
        with pytest.raises(TopoevalIOError, match="is closed"):
            a[0]


@given(seed=st.integers(0, 2**32 - 1))
def test_open_array_random_blocks(tmp_path_factory, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(1, 7, size=int(rng.integers(1, 4))))
    data = rng.integers(-3, 4, size=shape).astype(rng.choice(["<f8", ">i4", "<u2"]))  # ties, both orders
    d = tmp_path_factory.mktemp("blocks")
    np.save(d / "x.npy", data)
    with h5py.File(d / "x.h5", "w") as f:
        f.create_dataset("x", data=data, chunks=tuple(max(1, s // 2) for s in shape))
    for spec in (d / "x.npy", f"{d / 'x.h5'}:/x"):
        with te.open_array(spec) as a:
            assert a.dtype == data.dtype.newbyteorder("=")
            for _ in range(5):
                key = tuple(slice(int(lo), int(lo + rng.integers(1, s + 1))) for lo, s in
                            ((rng.integers(0, s), s) for s in shape))
                np.testing.assert_array_equal(a[key], data[key])


def test_open_array_hdf5_keeps_file_open_until_closed(tmp_path, arr):
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("u", data=arr, chunks=(1, 5, 6))
    a = te.open_array(p)
    assert a.chunks == (1, 5, 6) and "on disk" in repr(a)
    handle = a._source.file
    assert handle.id.valid
    block = a[2]
    a.close()
    a.close()  # idempotent
    assert not handle.id.valid and "closed" in repr(a)
    np.testing.assert_array_equal(block, arr[2])  # blocks read stay valid


def test_open_array_memmaps_npy_and_raw(tmp_path, arr):
    np.save(tmp_path / "a.npy", arr)
    arr.tofile(tmp_path / "a.f32")
    for spec, kw in ((tmp_path / "a.npy", {}), (tmp_path / "a.f32", {"shape": "4x5x6"})):
        with te.open_array(spec, **kw) as a:
            assert isinstance(a._source, np.memmap)
            block = a[1:3]
            assert not block.flags.writeable  # a read-only view of the map, not a copy
            np.testing.assert_array_equal(block, arr[1:3])


def test_open_array_dtype_cast_and_errors_as_load_array(tmp_path, arr):
    np.save(tmp_path / "a.npy", arr)
    with te.open_array(tmp_path / "a.npy", dtype="float64") as a:
        assert a.dtype == np.float64 and a[0].dtype == np.float64
        np.testing.assert_array_equal(a[0], arr[0].astype(np.float64))
    with pytest.raises(InvalidOptionError, match=r"has shape \(4, 5, 6\) but --shape 4x5x7"):
        te.open_array(tmp_path / "a.npy", shape="4x5x7")
    with pytest.raises(TopoevalIOError, match="no such file"):
        te.open_array(tmp_path / "missing.npy")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"], f["y"] = arr, arr
    with pytest.raises(DatasetNotFoundError, match="holds 2 datasets"):
        te.open_array(tmp_path / "d.h5")
    with pytest.raises(DatasetNotFoundError, match="no dataset '/z'"):
        te.open_array(f"{tmp_path / 'd.h5'}:/z")
    arr.tofile(tmp_path / "r.f32")
    with pytest.raises(FileFormatError, match="has 480 bytes but shape 4x5x7"):
        te.open_array(tmp_path / "r.f32", shape="4x5x7")
    with pytest.raises(InvalidOptionError, match="byteorder"):
        te.open_array(tmp_path / "r.f32", shape="4x5x6", byteorder="middle")


def test_open_array_stdin_is_read_whole(monkeypatch, arr):
    buf = io.BytesIO()
    np.save(buf, arr)

    class FakeStdin:
        buffer = io.BytesIO(buf.getvalue())

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    with te.open_array("-") as a:
        assert a.in_memory and a.name == "standard input"
        np.testing.assert_array_equal(a[1:], arr[1:])


def test_open_array_wraps_array_objects(tmp_path, arr):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ds = f.create_dataset("u", data=arr.astype(">f8"), chunks=(2, 5, 6))
        with te.open_array(ds) as a:
            assert a.dtype == np.float64 and a.chunks == (2, 5, 6)
            np.testing.assert_array_equal(a[1:, 0], arr[1:, 0])
        assert ds.id.valid  # the caller's dataset stays open
    for obj in (arr, arr.tolist()):
        with te.open_array(obj) as a:
            assert a.in_memory and a.shape == arr.shape
            np.testing.assert_array_equal(a[:, 1], arr[:, 1])
    lazy = te.open_array(arr)
    assert te.open_array(lazy) is lazy
    with pytest.raises(InvalidDTypeError, match="not a real number type"):
        te.open_array(np.array(["a", "b"]))
