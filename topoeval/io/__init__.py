"""Reading the arrays people really have, and writing output files atomically.

One opener over one module per format, as xarray's ``backends``:

=====================  ==========================================================================
:mod:`.spec`           input specifications (``file.h5:/dataset``), shapes, dtypes, format by name
:mod:`.npy`            ``.npy`` (memory-mapped, never unpickled) and ``-`` (``.npy`` on stdin)
:mod:`.npz`            ``.npz`` members (``arrays.npz:key``)
:mod:`.hdf5`           HDF5 datasets, with hdf5plugin's filters when installed
:mod:`.raw`            raw binary as SDRBench distributes it (``field.f32 --shape 100x500x500``)
:mod:`.lazy`           :class:`LazyArray`, what :func:`open_array` returns
:mod:`.opener`         :func:`load_array` and :func:`open_array`
:mod:`.describe`       :func:`describe_file` (``topoeval info``)
:mod:`.output`         :func:`atomic_output`, :func:`check_output_path`
=====================  ==========================================================================

Input specifications understood by :func:`load_array`, :func:`open_array` (and every command
of the CLI):

=====================================  ===================================================
``field.npy``                          NumPy array, memory-mapped read-only; never unpickled
``-``                                  a ``.npy`` stream on standard input
``arrays.npz:key`` / ``arrays.npz``    a member of an ``.npz`` archive (the only one may be
                                       left out)
``data.h5:/group/dataset``             an HDF5 dataset (also ``.hdf5``, ``.he5``, ``.hdf``,
                                       and netCDF-4 ``.nc`` files, which are HDF5); the only
                                       dataset of the file may be left out
``field.f32`` (``--shape 100x500x500``) raw binary as SDRBench distributes it: ``.f32``,
                                       ``.f64`` / ``.d64``, ``.f16``, ``.i8`` ... ``.i64``,
                                       ``.u8`` ... ``.u64`` (also inside a longer name, as
                                       SZ's ``Uf48.f32.sz.out``); any other name with an
                                       explicit ``dtype``
=====================================  ===================================================

Raw shapes are given in **C order, slowest-varying axis first** -- the same order as a
NumPy ``shape`` and as SDRBench's tables write dimensions (Hurricane ISABEL
``100x500x500`` is z × y × x: x varies fastest in the file).  The SZ and ZFP command
lines take the same dimensions the other way round (``-3 500 500 100``).  Raw data are
read little-endian unless ``byteorder`` says otherwise (SDRBench files are little-endian).

Every problem raises a :mod:`topoeval.errors` exception whose message names the file
and says how to fix it: a missing file (:class:`~topoeval.errors.TopoevalIOError`),
an unknown extension, a corrupt or truncated file, pickled/object data
(:class:`~topoeval.errors.FileFormatError`), a missing dataset or key
(:class:`~topoeval.errors.DatasetNotFoundError`, listing those that exist), a raw size
that does not match the shape (both numbers).

:func:`atomic_output` writes an output file through a temporary file in the same folder
and ``os.replace``, so a crash never leaves half a file, and refuses to replace an
existing file unless ``force=True``.
"""

from __future__ import annotations

from .describe import describe_file
from .lazy import LazyArray
from .opener import load_array, open_array
from .output import atomic_output, check_output_path
from .spec import (
    BYTEORDERS,
    HDF5_EXTENSIONS,
    NPY_EXTENSIONS,
    NPZ_EXTENSIONS,
    RAW_EXTENSIONS,
    parse_shape,
    split_spec,
)

__all__ = ["load_array", "open_array", "LazyArray", "describe_file"]

# re-exported for the modules that import them from here (``from .io import atomic_output``)
_INTERNAL = (atomic_output, check_output_path, parse_shape, split_spec, BYTEORDERS, HDF5_EXTENSIONS,
             NPY_EXTENSIONS, NPZ_EXTENSIONS, RAW_EXTENSIONS)
