"""``topoeval info FILE``: what a file or store holds (arrays, shapes, dimensions, dtypes, chunks, compression)."""

from __future__ import annotations

import click

from .options import output_options, resolve_format, verbosity_options, write_output

FORMATS = ("table", "json")

EPILOG = """\b
Examples:
  topoeval info sample_data/batch.h5          # every dataset: shape, dtype, chunks, compression
  topoeval info arrays.npz --format json
  topoeval info Uf48.f32 --shape 100x500x500  # raw: checks the size against the shape
  topoeval info run.zarr                      # a Zarr store's arrays (format 2 or 3)
  topoeval info era5.nc                       # netCDF-3 / netCDF-4 variables and their dimensions

\b
The NAME column is the input specification to pass to compare / diagram / batch,
e.g. sample_data/batch.h5:/sz3/1e-2, run.zarr:/fields/u, era5.nc:t2m.
"""


@click.command("info", epilog=EPILOG)
@verbosity_options
@click.argument("file", metavar="FILE")
@click.option("--shape", metavar="N0xN1x...", help="Shape of a raw binary file (slowest axis first).")
@click.option("--dtype", metavar="DTYPE", help="Element type of a raw binary file.")
@click.option("--byteorder", type=click.Choice(["little", "big", "native"]), default="little",
              show_default=True, help="Byte order of a raw binary file.")
@output_options(formats=FORMATS)
def cli(file, shape, dtype, byteorder, output, fmt, force):
    """Show what FILE holds, so you can find the arrays to compare."""
    from ..io import describe_file

    fmt = resolve_format(fmt, output, FORMATS, "table")
    info = describe_file(file, shape=shape, dtype=dtype, byteorder=byteorder)
    if shape is not None and info["format"] == "raw":
        # check the size against the shape and dtype with the loader's message
        from ..io import load_array

        load_array(file, shape=shape, dtype=dtype, byteorder=byteorder)
    if fmt == "json":
        import json

        from ..compare import _jsonable

        write_output(output, json.dumps(_jsonable(info), indent=2) + "\n", force=force)
        return
    write_output(output, _table(info, output), force=force)


def _human(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _table(info, output=None) -> str:
    from .output import Table, render

    named = any(d.get("dims") for d in info["datasets"])  # netCDF / Zarr: dimension names
    columns = ("name", "shape", *(("dims",) if named else ()), "dtype", "chunks", "compression", "size")
    table = Table([(col, "left" if col in ("name", "dims", "dtype", "compression") else "right")
                   for col in columns],
                  title=f"{info['path']}: {info['format']}, {_human(info['size_bytes'])}")
    notes = []
    for d in info["datasets"]:
        shape = "-" if d["shape"] is None else "x".join(map(str, d["shape"])) or "scalar"
        chunks = "-" if not d.get("chunks") else "x".join(map(str, d["chunks"]))
        comp = d.get("compression") or "-"
        if d.get("compression_opts") not in (None, ""):
            comp += f" ({d['compression_opts']})"
        dtype = d["dtype"] or "-"
        if d.get("byteorder") == "big":
            dtype += " (big-endian)"
        dims = (", ".join(d["dims"]) if d.get("dims") else "-",) if named else ()
        table.add_row(d["name"], shape, *dims, dtype, chunks, comp, _human(d.get("nbytes")))
        if d.get("note"):
            notes.append(f"{d['name']}: {d['note']}")
        for k, v in (d.get("attrs") or {}).items():
            notes.append(f"{d['name']} @{k} = {v}")
    return render([table, *notes, *([] if info["datasets"] else ["(no arrays)"])], output)
