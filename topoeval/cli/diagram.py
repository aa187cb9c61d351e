"""``topoeval diagram ARRAY``: export the 0-D persistence diagram of an array."""

from __future__ import annotations

import click

from .options import (
    close_dask,
    dask_client,
    echo_info,
    input_options,
    output_options,
    resolve_format,
    scaling_options,
    verbosity,
    verbosity_options,
    write_output,
)

FORMATS = ("table", "csv", "json", "npy")

EPILOG = """\b
Examples:
  topoeval diagram sample_data/smooth2d.npy                       # table of the most persistent pairs
  topoeval diagram sample_data/smooth2d.npy -o smooth2d_dgm.csv
  topoeval diagram batch.h5:/orig --filtration both -o dgm.json
  topoeval diagram field.f32 --shape 100x500x500 -o dgm.npy       # structured .npy
  topoeval diagram big.h5:/orig --memory-limit 3GB -j 8 -o dgm.npy  # read a block at a time
  topoeval diagram big.h5:/orig --dask local -o dgm.npy            # on a local Dask cluster

\b
Big inputs: HDF5, Zarr, raw and .npy files are read a block at a time within
--memory-limit; the block engine's diagram is identical to the one-piece engine's.

\b
Columns: filtration, birth, death, persistence (|death - birth|), then the cell that
creates the class (birth_0 ... birth_{d-1}: the minimum, or the maximum for superlevel)
and the cell that kills it (death_0 ...: the merge saddle; -1 for never-dying classes).
Superlevel pairs are stored in the original values (birth above death, death -inf
for never-dying classes).  The .npy output is a structured array with these fields.
"""


@click.command("diagram", epilog=EPILOG)
@verbosity_options
@click.argument("array", metavar="ARRAY")
@input_options(per_input=())
@click.option("--filtration", type=click.Choice(["sublevel", "superlevel", "both"]), default="sublevel",
              show_default=True, help="Sublevel sets (minima), superlevel sets (maxima) or both.")
@click.option("--connectivity", type=click.Choice(["full", "face"]), default="full", show_default=True,
              help="3^d-1 neighbours or the 2d axis neighbours.")
@click.option("--nan-policy", type=click.Choice(["raise", "omit"]), default="raise", show_default=True,
              help="NaN/inf: fail naming them, or leave those cells out of the domain.")
@click.option("--keep-zero", is_flag=True, help="Keep zero-persistence pairs.")
@click.option("--top", type=int, default=20, show_default=True,
              help="Rows shown in the table format (most persistent first); 0 = all.")
@scaling_options
@output_options(formats=FORMATS)
def cli(array, filtration, connectivity, nan_policy, keep_zero, top, output, fmt, force, jobs, memory_limit,
        dask_mode, scheduler, **inputs):
    """Export the 0-D persistence diagram of ARRAY with the critical-cell positions."""
    from ..io import check_output_path

    fmt = resolve_format(fmt, output, FORMATS, "table")
    if fmt == "npy" and output is None:
        raise click.UsageError("the npy format is binary: pass -o FILE.npy (or -o - to pipe it)")
    if output not in (None, "-"):
        check_output_path(output, force=force)
    filts = ("sublevel", "superlevel") if filtration == "both" else (filtration,)
    from .._kernels._compile import cold_parts, notice

    if cold_parts(["diagrams"]):  # a first run: say why it takes a while
        echo_info(f"topoeval: {notice(['diagrams'], 1)}", level=0)
    opts = dict(connectivity=connectivity, nan_policy=nan_policy, keep_zero=keep_zero, jobs=jobs,
                memory_limit=memory_limit)
    dgms = _diagrams(array, inputs, filts, opts, dask_mode, scheduler)
    ndim = len(next(iter(dgms.values())).shape)
    echo_info(", ".join(f"{f}: {len(d)} pairs" for f, d in dgms.items()))
    if fmt == "npy":  # written 2**20 pairs at a time: the records of 10^7 pairs are GBs
        _write_npy(output, dgms, ndim, force)
        return
    write_output(output, _render(dgms, ndim, fmt, top, array, output), force=force)


def _write_npy(output, dgms, ndim, force, step=1 << 20):
    """The structured .npy of :func:`_records` (the same bytes as ``np.save``), built and written
    ``step`` pairs at a time, so the output costs no more memory than the diagrams themselves."""
    import sys

    import numpy as np

    from ..persistence.diagram import Diagram

    n = sum(len(d) for d in dgms.values())
    dtype = _records({}, ndim).dtype
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)}

    def write(f):
        np.lib.format.write_array_header_1_0(f, header)
        for filt, d in dgms.items():
            for lo in range(0, len(d), step):
                sl = slice(lo, lo + step)
                part = Diagram._new(d.births[sl], d.deaths[sl], d.birth_index[sl], d.death_index[sl], filt, d.shape)
                f.write(_records({filt: part}, ndim).tobytes())
        f.flush()

    if output == "-":
        write(sys.stdout.buffer)
        return
    from ..io import atomic_output

    with atomic_output(output, force=force) as tmp, open(tmp, "wb") as f:
        write(f)


def _diagrams(spec, inputs, filts, opts, dask_mode, scheduler):
    """The diagrams of the input, opened lazily (read a block at a time) unless it is stdin."""
    from ..io import open_array
    from ..persistence.blocks import block_diagram, check_jobs, parse_size
    from ..persistence.lazy import FileOpener

    kw = dict(shape=inputs.get("shape"), dtype=inputs.get("dtype"), byteorder=inputs.get("byteorder") or "little")
    if opts["memory_limit"] is not None:
        parse_size(opts["memory_limit"], "--memory-limit")
    check_jobs(opts["jobs"])
    if spec == "-" and (dask_mode or scheduler):
        raise click.UsageError("--dask / --scheduler read the input on the workers: pass a file, not -")
    client = dask_client(dask_mode, scheduler, opts["jobs"])
    try:
        if client is not None:
            src = FileOpener(spec, **kw)
            return {f: block_diagram(src, f, **opts, scheduler=client, name=spec) for f in filts}
        with open_array(spec, **kw) as a:
            if a.in_memory:
                from ..persistence import persistence_diagram

                arr = a.read()
                return {f: persistence_diagram(arr, filtration=f, **opts) for f in filts}
            with _progress(len(filts)) as tick:
                return {f: block_diagram(a, f, **opts, progress=tick, name=spec) for f in filts}
    finally:
        close_dask(client)


def _progress(n_runs):
    """A rich progress bar over the block tasks on stderr (-q or no terminal: none)."""
    import contextlib
    import sys

    if verbosity() < 0 or not sys.stderr.isatty():  # a bar only for a person watching
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def bar():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("persistence"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as prog:
            task = prog.add_task("blocks", total=None)
            state = {"base": 0}

            def tick(done, total):
                if done == total:
                    state["base"] += total
                prog.update(task, total=total * n_runs, completed=state["base"] + (done if done < total else 0))

            yield tick

    return bar()


def _records(dgms, ndim):
    import numpy as np

    dtype = [("filtration", "U10"), ("birth", "f8"), ("death", "f8"), ("persistence", "f8")]
    dtype += [(f"birth_{k}", "i8") for k in range(ndim)] + [(f"death_{k}", "i8") for k in range(ndim)]
    n = sum(len(d) for d in dgms.values())
    rec = np.zeros(n, dtype=dtype)
    i = 0
    for filt, d in dgms.items():
        m = len(d)
        sl = slice(i, i + m)
        rec["filtration"][sl] = filt
        rec["birth"][sl] = d.births
        rec["death"][sl] = d.deaths
        rec["persistence"][sl] = np.abs(d.deaths - d.births)
        for k in range(ndim):
            rec[f"birth_{k}"][sl] = d.birth_index[:, k] if d.birth_index.shape[1] else -1
            rec[f"death_{k}"][sl] = d.death_index[:, k] if d.death_index.shape[1] else -1
        i += m
    return rec


def _render(dgms, ndim, fmt, top, name, output=None):
    import math

    rec = _records(dgms, ndim)
    names = list(rec.dtype.names)
    if fmt == "npy":
        import io

        import numpy as np

        buf = io.BytesIO()
        np.save(buf, rec, allow_pickle=False)
        return buf.getvalue()
    if fmt == "csv":
        lines = [",".join(names)]
        for r in rec.tolist():
            lines.append(",".join(_csv(v) for v in r))
        return "\n".join(lines) + "\n"
    if fmt == "json":
        import json

        from ..compare import _jsonable

        out = {"array": name, "pairs": {}}
        for filt in dgms:
            sel = rec[rec["filtration"] == filt]
            out["pairs"][filt] = [
                {"birth": r["birth"], "death": r["death"], "persistence": r["persistence"],
                 "birth_index": [r[f"birth_{k}"] for k in range(ndim)],
                 "death_index": [r[f"death_{k}"] for k in range(ndim)]}
                for r in sel
            ]
        return json.dumps(_jsonable(out), indent=1) + "\n"
    # table
    import numpy as np

    from .output import Table, render

    tables = []
    for filt, d in dgms.items():
        sel = rec[rec["filtration"] == filt]
        sel = sel[np.argsort(-sel["persistence"], kind="stable")]
        shown = sel if top <= 0 else sel[:top]
        table = Table([(col, "right") for col in ("birth", "death", "persistence", "birth cell", "death cell")],
                      title=f"{name}: {filt} diagram, {len(sel)} pairs"
                      + ("" if len(shown) == len(sel) else f" (the {len(shown)} most persistent; --top 0 for all)"))
        for r in shown:
            bcell = tuple(int(r[f"birth_{k}"]) for k in range(ndim))
            dcell = "-" if math.isinf(r["death"]) else str(tuple(int(r[f"death_{k}"]) for k in range(ndim)))
            table.add_row(f"{r['birth']:.6g}", f"{r['death']:.6g}", f"{r['persistence']:.6g}", str(bcell), dcell)
        tables.append(table)
    return render(tables, output)


def _csv(v):
    if isinstance(v, float):
        return repr(v) if v == v and abs(v) != float("inf") else ("inf" if v > 0 else "-inf" if v < 0 else "nan")
    return str(v)
