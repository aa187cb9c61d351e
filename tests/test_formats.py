"""Issue 21's formats: Zarr (v2, v3), netCDF-3 / netCDF-4 by variable, filter-compressed HDF5, xarray.

Oracles: the arrays written (lossless), and each format's own library reading the same file
(netCDF4, zarr, h5py).  Laziness is shown without timing: a chunk outside the block read is
corrupted, and the block still reads while the whole array does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

import topoeval as te
from topoeval.cli import main
from topoeval.errors import DatasetNotFoundError, FileFormatError

zarr = pytest.importorskip("zarr")


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def one_line_error(code, err, expected, *patterns):
    assert code == expected, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for p in patterns:
        assert p in lines[0], (p, lines[0])


@pytest.fixture
def field():
    rng = np.random.default_rng(2121)
    # rounded so that ties occur, as in quantised simulation output
    return np.round(rng.normal(size=(6, 8, 10)).cumsum(axis=2), 1).astype(np.float32)


def _blocks(rng, shape, n=6):
    for _ in range(n):
        lo = [int(rng.integers(0, s)) for s in shape]
        yield tuple(slice(a, a + int(rng.integers(1, s - a + 1))) for a, s in zip(lo, shape))


# ----------------------------------------------------------------------------- Zarr


@pytest.fixture(params=[2, 3], ids=["zarr-v2", "zarr-v3"])
def store(request, tmp_path, field):
    fmt = request.param
    path = tmp_path / f"run{fmt}.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt)
    u = root.create_array("fields/u", shape=field.shape, chunks=(2, 4, 5), dtype=">f4" if fmt == 2 else "f4",
                          **({"dimension_names": ("time", "lat", "lon")} if fmt == 3 else {}))
    u[:] = field
    if fmt == 2:
        u.attrs["_ARRAY_DIMENSIONS"] = ["time", "lat", "lon"]  # what xarray writes
    u.attrs["units"] = "m/s"
    v = root.create_array("fields/v", shape=field.shape, chunks=(3, 8, 10), dtype="f8")
    v[:] = field.astype(np.float64) * 2
    root.create_array("mask", shape=(3,), dtype="i2")[:] = [1, 0, 1]
    return path, fmt


def test_zarr_reads_like_zarr_itself(store, field):
    path, fmt = store
    oracle = zarr.open(str(path), mode="r")
    for name, expect in (("/fields/u", field), ("fields/v", field * 2.0), ("/mask", [1, 0, 1])):
        got = te.load_array(f"{path}:{name}")
        assert got.dtype.isnative
        np.testing.assert_array_equal(got, oracle[name.strip("/")][...])
        np.testing.assert_array_equal(got, expect)


def test_zarr_lazy_blocks_and_metadata(store, field):
    path, fmt = store
    rng = np.random.default_rng(fmt)
    with te.open_array(f"{path}:/fields/u") as a:
        assert not a.in_memory and a.shape == field.shape and a.dtype == np.float32
        assert a.chunks == (2, 4, 5) and a.dims == ("time", "lat", "lon")
        for key in _blocks(rng, field.shape):
            np.testing.assert_array_equal(a[key], field[key])


def test_zarr_reads_only_the_chunks_asked_for(tmp_path, field):
    path = tmp_path / "one.zarr"
    arr = zarr.create_array(str(path), shape=field.shape, chunks=(2, 8, 10), dtype="f4", zarr_format=3)
    arr[:] = field
    chunk = next(p for p in (path / "c").rglob("*") if p.is_file() and p.relative_to(path / "c").parts[0] == "2")
    chunk.write_bytes(b"not a zstd frame")  # the chunk holding time steps 4 and 5
    with te.open_array(path) as a:  # an array at the store's root: no key
        np.testing.assert_array_equal(a[:4], field[:4])  # never touches the broken chunk
        with pytest.raises(FileFormatError, match="cannot read the data"):
            a[3:5]


def test_zarr_bad_specs(store):
    path, _ = store
    with pytest.raises(DatasetNotFoundError, match=r"is a Zarr group, not an array; arrays under it: "
                                                   r"/fields/u, /fields/v \(write .*:/fields/u\)"):
        te.load_array(f"{path}:/fields")
    with pytest.raises(DatasetNotFoundError, match=r"no array '/w'; it holds: /fields/u, /fields/v, /mask"):
        te.open_array(f"{path}:/w")
    with pytest.raises(DatasetNotFoundError, match=r"holds 3 arrays .*name one as"):
        te.load_array(path)
    plain = path.parent / "plain.zarr"
    plain.mkdir()
    with pytest.raises(FileFormatError, match="not a Zarr store"):
        te.load_array(plain)


def test_zarr_described_and_cli(capsys, store, field):
    path, fmt = store
    info = te.describe_file(path)
    assert info["format"] == "zarr"
    byname = {d["name"]: d for d in info["datasets"]}
    assert list(byname) == [f"{path}:/fields/u", f"{path}:/fields/v", f"{path}:/mask"]
    u = byname[f"{path}:/fields/u"]
    assert (u["shape"], u["dtype"], u["chunks"], u["dims"]) == (field.shape, "float32", (2, 4, 5),
                                                                 ("time", "lat", "lon"))
    assert u["compression"] and u["attrs"] == {"units": "m/s"} and u["zarr_format"] == fmt
    code, out, err = run(capsys, "info", path)
    assert code == 0, err
    assert "/fields/u" in out and "/fields/v" in out and "/mask" in out and "zarr" in out
    code, out, err = run(capsys, "compare", f"{path}:/fields/u", f"{path}:/fields/v", "--metrics", "pointwise",
                         "--format", "json")
    assert code == 0, err
    code, _, err = run(capsys, "compare", f"{path}:/fields", f"{path}:/fields/v")
    one_line_error(code, err, 1, "is a Zarr group, not an array", "/fields/u")


# ----------------------------------------------------------------------------- netCDF


@pytest.fixture(params=["NETCDF4", "NETCDF4_CLASSIC", "NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET"])
def ncfile(request, tmp_path, field):
    netCDF4 = pytest.importorskip("netCDF4")
    fmt = request.param
    path = tmp_path / f"{fmt.lower()}.nc"
    with netCDF4.Dataset(path, "w", format=fmt) as d:
        d.createDimension("time", None)  # unlimited: a record variable in netCDF-3
        d.createDimension("lat", field.shape[1])
        d.createDimension("lon", field.shape[2])
        d.createVariable("lat", "f8", ("lat",))[:] = np.linspace(-80, 80, field.shape[1])
        kw = {"zlib": True, "chunksizes": (1, 8, 10)} if fmt.startswith("NETCDF4") else {}
        t = d.createVariable("temp", "f4", ("time", "lat", "lon"), **kw)
        t[:] = field
        t.units = "K"
        p = d.createVariable("packed", "i2", ("lat", "lon"))
        p.scale_factor = 0.5
        p.set_auto_maskandscale(False)
        p[:] = np.arange(field.shape[1] * field.shape[2]).reshape(field.shape[1:])
        if fmt == "NETCDF4":
            d.createGroup("ocean").createVariable("sst", "f8", ("lat", "lon"))[:] = field[0]
    return path, fmt


def test_netcdf_by_variable_name(ncfile, field):
    netCDF4 = pytest.importorskip("netCDF4")
    path, fmt = ncfile
    with netCDF4.Dataset(path) as d:
        d.set_auto_maskandscale(False)
        names = ["temp", "packed", "lat"] + (["ocean/sst"] if fmt == "NETCDF4" else [])
        for name in names:
            group, _, var = name.rpartition("/")
            oracle = (d[group] if group else d).variables[var][...]
            got = te.load_array(f"{path}:{name}")
            assert got.dtype == oracle.dtype.newbyteorder("=") and got.dtype.isnative, name
            np.testing.assert_array_equal(got, oracle, err_msg=name)
    np.testing.assert_array_equal(te.load_array(f"{path}:/temp"), field)


def test_netcdf_lazy_with_dimension_names(ncfile, field):
    path, fmt = ncfile
    rng = np.random.default_rng(len(fmt))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SciPy warns when a map is closed with views still alive
        with te.open_array(f"{path}:temp") as a:
            assert a.dims == ("time", "lat", "lon") and not a.in_memory
            assert a.chunks == ((1, 8, 10) if fmt.startswith("NETCDF4") else None)
            for key in _blocks(rng, field.shape):
                np.testing.assert_array_equal(a[key], field[key])
            block = a[1]
        np.testing.assert_array_equal(block, field[1])  # still valid after close
        with te.open_array(f"{path}:lat") as lat:
            assert lat.dims == ("lat",)


def test_netcdf_variable_errors(ncfile, capsys):
    path, fmt = ncfile
    with pytest.raises(DatasetNotFoundError, match=r"no variable 'salt'; its variables: .*temp \(time, lat, lon\)"):
        te.load_array(f"{path}:salt")
    with pytest.raises(DatasetNotFoundError, match=r"data variables .*name one as .*:VARIABLE"):
        te.load_array(path)  # temp and packed: which one?
    code, _, err = run(capsys, "compare", f"{path}:salt", f"{path}:temp")
    one_line_error(code, err, 1, "no variable 'salt'", "lat (lat)", "packed (lat, lon)")


def test_netcdf_single_data_variable_may_be_left_out(tmp_path, field):
    from scipy.io import netcdf_file

    path = tmp_path / "one.nc"
    with netcdf_file(path, "w") as f:
        f.createDimension("x", field.shape[2])
        f.createVariable("x", "f8", ("x",))[:] = np.arange(field.shape[2])
        f.createDimension("y", field.shape[1])
        f.createVariable("u", "f4", ("y", "x"))[:] = field[0]
    np.testing.assert_array_equal(te.load_array(path), field[0])  # the coordinate x does not count


def test_netcdf_described(ncfile, capsys):
    path, fmt = ncfile
    info = te.describe_file(path)
    assert info["format"] == ("netcdf4" if fmt.startswith("NETCDF4") else "netcdf3")
    byname = {d["name"].split(":")[-1]: d for d in info["datasets"]}
    assert {"temp", "lat", "packed"} <= set(byname) and "lon" not in byname  # lon: a dimension only
    assert byname["temp"]["dims"] == ("time", "lat", "lon") and byname["temp"]["attrs"] == {"units": "K"}
    assert "scale_factor" in byname["packed"]["note"]
    code, out, err = run(capsys, "info", path)
    assert code == 0, err
    assert f"{path}:temp" in out and "time, lat, lon" in out


def test_cdf5_and_corrupt_netcdf(tmp_path):
    netCDF4 = pytest.importorskip("netCDF4")
    p = tmp_path / "cdf5.nc"
    with netCDF4.Dataset(p, "w", format="NETCDF3_64BIT_DATA") as d:
        d.createDimension("x", 3)
        d.createVariable("u", "f4", ("x",))[:] = [1, 2, 3]
    with pytest.raises(FileFormatError, match="CDF-5.*nccopy -k nc4"):
        te.load_array(f"{p}:u")
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"CDF\x01\x00\x00\x00\x01\x00\x00\x00\x0a\xff\xff\xff\xff")
    with pytest.raises(FileFormatError, match="netCDF-3"):
        te.load_array(bad)


# ----------------------------------------------------------------------------- filter-compressed HDF5


FILTERS = ["Blosc", "Blosc2", "Zstd", "LZ4", "Bitshuffle", "BZip2"]


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("HDF5_PLUGIN_PATH", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def filtered(tmp_path, field):
    """Each filter's dataset, written in a fresh interpreter: hdf5plugin is never imported here (and
    netCDF4's own HDF5 library, loaded by the netCDF tests, cannot interfere with the filters)."""
    pytest.importorskip("hdf5plugin")
    path = tmp_path / "filtered.h5"
    np.save(tmp_path / "field.npy", field)
    out = _fresh_python(
        "import h5py, hdf5plugin, numpy as np\n"
        f"data = np.load({str(tmp_path / 'field.npy')!r})\n"
        f"with h5py.File({str(path)!r}, 'w') as f:\n"
        f"    for name in {FILTERS!r}:\n"
        "        f.create_dataset(name, data=data, chunks=(2, 8, 10), **getattr(hdf5plugin, name)())\n"
    )
    assert out.returncode == 0, out.stderr
    return path


def test_filtered_hdf5_loads_hdf5plugin_automatically(filtered, field):
    code = (
        "import sys, numpy as np, topoeval as te\n"
        f"p, ref = {str(filtered)!r}, np.load({str(filtered.parent / 'field.npy')!r})\n"
        "assert 'hdf5plugin' not in sys.modules\n"
        f"for name in {FILTERS!r}:\n"
        "    np.testing.assert_array_equal(te.load_array(f'{p}:/{name}'), ref)\n"
        "    with te.open_array(f'{p}:/{name}') as a:\n"
        "        np.testing.assert_array_equal(a[1:3, 2:, ::3], ref[1:3, 2:, ::3])\n"
        "print('hdf5plugin' in sys.modules)\n"
    )
    out = _fresh_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_filtered_hdf5_described(filtered):
    names = {d["name"].rsplit("/", 1)[-1]: d["compression"] for d in te.describe_file(filtered)["datasets"]}
    assert names == {"Blosc": "blosc", "Blosc2": "blosc2", "Zstd": "zstd", "LZ4": "lz4", "Bitshuffle": "bitshuffle",
                     "BZip2": "bzip2"}


def test_filtered_hdf5_without_hdf5plugin_says_how_to_fix(filtered):
    code = (
        "import sys\nsys.modules['hdf5plugin'] = None  # as if not installed\n"
        "import topoeval as te\n"
        "from topoeval.errors import FileFormatError\n"
        "try:\n"
        f"    te.load_array({str(filtered) + ':/Blosc2'!r})\n"
        "except FileFormatError as exc:\n"
        "    print(exc)\n"
    )
    out = _fresh_python(code)
    assert out.returncode == 0, out.stderr
    msg = out.stdout.strip()
    assert "compressed with an HDF5 filter that is not available" in msg, msg
    assert "pip install hdf5plugin" in msg and "topoeval[hdf5]" in msg


# ----------------------------------------------------------------------------- the zfpy / numcodecs trap


def _requirements(name):
    tomllib = pytest.importorskip("tomllib")
    requirements = pytest.importorskip("packaging.requirements")
    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    found = []
    for extra, reqs in project["optional-dependencies"].items():
        for text in reqs:
            req = requirements.Requirement(text)
            if req.name == name:
                found.append((extra, req))
    return found


def test_extras_exclude_the_zfpy_release_numcodecs_cannot_import():
    found = _requirements("zfpy")
    assert {extra for extra, _ in found} >= {"compressors", "test"}
    for extra, req in found:
        assert not req.specifier.contains("1.0.1.post0"), (extra, str(req))
        assert req.specifier.contains("1.0.1"), (extra, str(req))
    assert {extra for extra, _ in _requirements("zarr")} >= {"zarr", "test"}
    assert {extra for extra, _ in _requirements("hdf5plugin")} >= {"hdf5", "test"}


def test_zarr_imports_beside_the_compressors():
    pytest.importorskip("zfpy")
    out = _fresh_python("import zarr, numcodecs.zfpy, zfpy\nprint(numcodecs.zfpy.ZFPY.codec_id)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "zfpy"


def test_broken_zarr_import_says_how_to_fix(monkeypatch, tmp_path, field):
    import builtins

    path = tmp_path / "s.zarr"
    zarr.create_array(str(path), shape=field.shape, dtype="f4")[:] = field
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "zarr":
            raise ValueError("invalid literal for int() with base 10: 'post0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(te.MissingDependencyError, match=r"'post0'.*pip install 'zfpy!=1.0.1.post0'"):
        te.load_array(path)


# ----------------------------------------------------------------------------- xarray


@pytest.fixture
def members():
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(2122)
    x = np.round(rng.normal(size=(3, 6, 7)).cumsum(axis=2), 1)
    y = x + rng.normal(scale=0.1, size=x.shape)
    dims = ("member", "lat", "lon")
    coords = {"member": [10, 20, 30], "lat": np.linspace(-60, 60, 6)}
    return x, y, xr.DataArray(x, dims=dims, coords=coords), xr.DataArray(y, dims=dims, coords=coords)


def test_dataarrays_accepted_everywhere_arrays_are(members):
    x, y, X, Y = members
    same = [
        lambda a, b: te.compare(a, b).to_row(),
        lambda a, b: np.asarray(te.persistence_diagram(a)),
        lambda a, b: te.wasserstein_distance(te.persistence_diagram(a), te.persistence_diagram(b)),
        lambda a, b: te.critical_point_errors(a, b).to_row(),
        lambda a, b: te.critical_points(a).types,
        lambda a, b: te.pointwise_metrics(a, b),
        lambda a, b: (te.mse(a, b), te.psnr(a, b), te.pearson_correlation(a, b)),
        lambda a, b: (te.dsl(a, b), te.exact_dsl(a, b), tuple(te.dsl_per_axis(a, b))),
        lambda a, b: te.dsl_gradient(a, b),
        lambda a, b: te.mismatch_map(a, b),
    ]
    for i, f in enumerate(same):
        got, want = f(X, Y), f(x, y)
        if isinstance(want, dict):
            assert got.keys() == want.keys(), i
            for k in want:
                assert got[k] == want[k] or (got[k] != got[k] and want[k] != want[k]), (i, k)
        else:
            flat = [np.hstack([np.ravel(np.asarray(v, dtype=float)) for v in (r if isinstance(r, tuple) else (r,))])
                    for r in (got, want)]
            np.testing.assert_array_equal(flat[0], flat[1], err_msg=str(i))


def test_dataarray_dask_backed_and_lazy(members):
    pytest.importorskip("dask")
    x, y, X, Y = members
    Xd = X.chunk({"member": 1})
    assert te.exact_dsl(Xd, Y.chunk({"member": 1})) == te.exact_dsl(x, y)
    with te.open_array(Xd) as a:  # read a block at a time, the dims kept
        assert a.dims == ("member", "lat", "lon") and not a.in_memory
        np.testing.assert_array_equal(a[1, 2:4], x[1, 2:4])


def test_dimension_names_for_axes(members):
    x, y, X, Y = members
    assert te.dsl(X, Y, weights={"member": 0, "lat": 1, "lon": 1}) == te.dsl(x, y, weights=[0, 1, 1])
    assert te.exact_dsl(X, Y, weights={"lon": 0.5, "member": 2, "lat": 0}) == te.exact_dsl(x, y, weights=[2, 0, 0.5])
    np.testing.assert_array_equal(te.dsl(X, Y, batch_axis="member", reduction="none"),
                                  te.dsl(x, y, batch_axis=0, reduction="none"))
    np.testing.assert_array_equal(te.dsl_per_axis(X, Y, batch_axis="lat", weights={"member": 1, "lon": 3}),
                                  te.dsl_per_axis(x, y, batch_axis=1, weights=[1, 3]))
    np.testing.assert_array_equal(te.dsl_gradient(X, Y, batch_axis="member"), te.dsl_gradient(x, y, batch_axis=0))
    np.testing.assert_array_equal(te.mismatch_map(X, Y, axis="lon"), te.mismatch_map(x, y, axis=2))
    np.testing.assert_array_equal(te.mismatch_map(X, Y, axis=("lat", "lon"), weights={"member": 1, "lat": 2, "lon": 1}),
                                  te.mismatch_map(x, y, axis=(1, 2), weights=[1, 2, 1]))
    assert te.dsl(x, y, weights={0: 1, 1: 1, 2: 0}) == te.dsl(x, y, weights=[1, 1, 0])  # axis numbers as keys


def test_dimension_name_errors(members):
    x, y, X, Y = members
    with pytest.raises(te.InvalidOptionError, match=r"batch_axis='time' is not a dimension .*member, lat, lon"):
        te.dsl(X, Y, batch_axis="time")
    with pytest.raises(te.InvalidOptionError, match=r"names a dimension, but x has no dimension names"):
        te.dsl(x, y, batch_axis="member")
    with pytest.raises(te.InvalidOptionError, match=r"no entry for 'lon'.*\(lat, lon\)"):
        te.dsl(X, Y, batch_axis="member", weights={"lat": 1})
    with pytest.raises(te.InvalidOptionError, match=r"'member' a weight, but it is the batch axis"):
        te.dsl(X, Y, batch_axis="member", weights={"member": 1, "lat": 1, "lon": 1})
    with pytest.raises(te.InvalidInputError, match=r"xarray Dataset; pass one of its variables, e.g. ds\['u'\]"):
        te.mse(X.to_dataset(name="u"), y)


def test_compare_takes_dimension_names(members):
    x, y, X, Y = members
    named = te.compare(X, Y, batch_axis="member", weights={"lat": 1, "lon": 0.5}).to_row()
    plain = te.compare(x, y, batch_axis=0, weights=[1, 0.5]).to_row()
    assert named == plain
    with pytest.raises(te.InvalidOptionError, match=r"batch_axis='time' is not a dimension of orig"):
        te.compare(X, Y, batch_axis="time")
