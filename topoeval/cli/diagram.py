"""``topoeval diagram ARRAY``: export the persistence diagram of an array (dimension 0, or
the dimensions of ``--dim`` / ``--dims``)."""

from __future__ import annotations

import click

from .options import (
    _parse_dims,
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
  topoeval diagram field.npy --dims all -o dgm.csv                 # every dimension, a dim column
  topoeval diagram big.h5:/orig --dim 2 --memory-limit 3GB -o voids.npy   # voids of a 3-D field

\b
Big inputs: HDF5, Zarr, raw and .npy files are read a block at a time within
--memory-limit; the block engine's diagram is identical to the one-piece engine's.

\b
Columns: filtration, birth, death, persistence (|death - birth|), then the cell that
creates the class (birth_0 ... birth_{d-1}: the minimum, or the maximum for superlevel)
and the cell that kills it (death_0 ...: the merge saddle; -1 for never-dying classes).
Superlevel pairs are stored in the original values (birth above death, death -inf
for never-dying classes).  The .npy output is a structured array with these fields.

\b
Dimensions: --dim K (0 components, 1 loops, ..., d-1 voids) or --dims 0,1,2 / all.
With either, every output carries the dimension: a "dim" column after "filtration"
(csv, .npy field), a "dim" entry in each JSON pair, one table per filtration and
dimension; rows by filtration, then dimension.  Without them the output is dimension
0 in the columns above.  For k >= 1 the cells are the array elements whose values the
birth and death cells take (see topoeval.persistence_diagrams).  Files read a block at
a time (--memory-limit, --dask, HDF5/Zarr/raw/.npy) give dimensions 0 and d-1 only.
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
@click.option("--dim", type=click.IntRange(min=0), default=None, metavar="K",
              help="Homology dimension K in 0..d-1 (1 loops, d-1 voids); adds a dim column.  [default: 0]")
@click.option("--dims", callback=_parse_dims, metavar="K1,K2,...", default=None,
              help="Several homology dimensions, e.g. 0,1,2, or all; adds a dim column.")
@click.option("--top", type=int, default=20, show_default=True,
              help="Rows shown in the table format (most persistent first); 0 = all.")
@scaling_options
@output_options(formats=FORMATS)
def cli(array, filtration, connectivity, nan_policy, keep_zero, dim, dims, top, output, fmt, force, jobs,
        memory_limit, dask_mode, scheduler, **inputs):
    """Export the persistence diagram of ARRAY (dimension 0, or --dim / --dims) with the critical-cell positions."""
    from ..io import check_output_path

    if dim is not None and dims is not None:
        raise click.UsageError("pass --dim K or --dims K1,K2,..., not both")
    wanted = (dim,) if dim is not None else dims  # None: dimension 0, the outputs without a dim column
    if nan_policy == "omit" and wanted is not None and wanted != (0,):
        raise click.UsageError("--nan-policy omit is for dimension 0 only; replace the non-finite values, "
                               "or pass --dim 0")
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
    dgms = _diagrams(array, inputs, filts, wanted, opts, dask_mode, scheduler)
    ndim = len(next(iter(dgms.values())).shape)
    with_dim = wanted is not None
    echo_info(", ".join(f"{_label(key, with_dim)}: {len(d)} pairs" for key, d in dgms.items()))
    if fmt == "npy":  # written 2**20 pairs at a time: the records of 10^7 pairs are GBs
        _write_npy(output, dgms, ndim, force, with_dim)
        return
    write_output(output, _render(dgms, ndim, fmt, top, array, output, with_dim), force=force)


def _label(key, with_dim):
    """``sublevel``, or ``sublevel H1`` with --dim / --dims."""
    return f"{key[0]} H{key[1]}" if with_dim else key[0]


def _write_npy(output, dgms, ndim, force, with_dim=False, step=1 << 20):
    """The structured .npy of :func:`_records` (the same bytes as ``np.save``), built and written
    ``step`` pairs at a time, so the output costs no more memory than the diagrams themselves."""
    import sys

    import numpy as np

    from ..persistence.diagram import Diagram

    n = sum(len(d) for d in dgms.values())
    dtype = _records({}, ndim, with_dim).dtype
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)}

    def write(f):
        np.lib.format.write_array_header_1_0(f, header)
        for key, d in dgms.items():
            for lo in range(0, len(d), step):
                sl = slice(lo, lo + step)
                part = Diagram._new(d.births[sl], d.deaths[sl], d.birth_index[sl], d.death_index[sl], key[0],
                                    d.shape, d.dim)
                f.write(_records({key: part}, ndim, with_dim).tobytes())
        f.flush()

    if output == "-":
        write(sys.stdout.buffer)
        return
    from ..io import atomic_output

    with atomic_output(output, force=force) as tmp, open(tmp, "wb") as f:
        write(f)


def _diagrams(spec, inputs, filts, wanted, opts, dask_mode, scheduler):
    """``{(filtration, dim): Diagram}`` of the input (filtration, then dimension), opened lazily (read
    a block at a time: dimensions 0 and d-1 only, checked before any read) unless it is stdin."""
    from ..io import open_array
    from ..persistence.blocks import check_jobs, parse_size
    from ..persistence.lazy import FileOpener

    kw = dict(shape=inputs.get("shape"), dtype=inputs.get("dtype"), byteorder=inputs.get("byteorder") or "little")
    if opts["memory_limit"] is not None:
        parse_size(opts["memory_limit"], "--memory-limit")
    check_jobs(opts["jobs"])
    if spec == "-" and (dask_mode or scheduler):
        raise click.UsageError("--dask / --scheduler read the input on the workers: pass a file, not -")
    dims = (0,) if wanted is None else wanted
    if dask_mode or scheduler:
        src = FileOpener(spec, **kw)
        plan = _plan(src.shape, dims, spec, None, dask=True)  # before a cluster starts
        client = dask_client(dask_mode, scheduler, opts["jobs"])
        try:
            return _blocked(src, filts, plan, opts, dict(scheduler=client, name=spec))
        finally:
            close_dask(client)
    with open_array(spec, **kw) as a:
        if a.in_memory:
            return _in_memory(a.read(), filts, dims, opts)
        plan = _plan(a.shape, dims, spec, opts["memory_limit"])
        if plan["middle"]:  # they fit (checked by _plan): the whole file, as an in-memory array
            return _in_memory(a.read(), filts, dims, opts)
        with _progress(len(filts) * len(plan["blocks"])) as tick:
            return _blocked(a, filts, plan, opts, dict(progress=tick, name=spec))


def _plan(shape, dims, spec, memory_limit, dask=False):
    """Where each dimension runs (:func:`~topoeval.persistence.duality.plan_dimensions`).  The
    middle dimensions need the whole complex: a file whose complex fits ``memory_limit`` (default
    half the available memory) is read whole for them; otherwise, and on Dask, they are refused
    before any read, naming the way out."""
    from ..persistence.blocks import available_memory, format_size, parse_size
    from ..persistence.duality import complex_bytes, plan_dimensions, refuse_middle

    plan = plan_dimensions(shape, dims, False)
    if not plan["middle"]:
        return plan
    keep = f"--dims 0,{sum(s > 1 for s in shape) - 1}"
    what = f"field ({spec})"
    if dask:  # two options that cannot go together: a usage error (exit 2), not bad data
        from ..errors import InvalidInputError

        try:
            refuse_middle(plan["middle"], shape, what, "leave out --dask / --scheduler", keep)
        except InvalidInputError as err:
            raise click.UsageError(str(err)) from None
    need = complex_bytes(shape)
    limit = parse_size(memory_limit) if memory_limit is not None else available_memory() // 2
    if need > limit:
        how = (f"raise --memory-limit to {format_size(need)}" if memory_limit is not None
               else f"free about {format_size(need)} of memory")
        refuse_middle(plan["middle"], shape, what, how, keep)
    return plan


def _blocked(src, filts, plan, opts, extra):
    """Dimensions 0 and d-1 by the block engine (d-1: top=True), empty ones above the long axes."""
    from ..persistence.blocks import block_diagram
    from ..persistence.cubical import _empty

    shape = tuple(int(s) for s in src.shape)
    out = {}
    for f in filts:
        for k in sorted(plan["blocks"] + plan["empty"]):
            out[(f, k)] = (_empty(f, shape, k) if k in plan["empty"]
                           else block_diagram(src, f, **opts, **extra, top=k > 0))
    return out


def _in_memory(arr, filts, dims, opts):
    """Dimension 0 by persistence_diagram (NaN policy), the others in one persistence_diagrams call."""
    from ..persistence import persistence_diagram, persistence_diagrams
    from ..persistence.cubical import _check_dims

    dims = _check_dims(dims, arr.ndim)  # "all", and the range 0..d-1, before any work
    rest = {k: v for k, v in opts.items() if k != "nan_policy"}
    out = {}
    for f in filts:
        higher = [k for k in dims if k > 0]
        got = persistence_diagrams(arr, higher, filtration=f, **rest) if higher else {}
        if 0 in dims:
            got[0] = persistence_diagram(arr, filtration=f, **opts)
        out.update({(f, k): got[k] for k in dims})
    return out


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


def _records(dgms, ndim, with_dim=False):
    """The structured records of ``{(filtration, dim): Diagram}`` (a ``dim`` field with --dim/--dims)."""
    import numpy as np

    dtype = [("filtration", "U10")] + ([("dim", "i8")] if with_dim else [])
    dtype += [("birth", "f8"), ("death", "f8"), ("persistence", "f8")]
    dtype += [(f"birth_{k}", "i8") for k in range(ndim)] + [(f"death_{k}", "i8") for k in range(ndim)]
    n = sum(len(d) for d in dgms.values())
    rec = np.zeros(n, dtype=dtype)
    i = 0
    for (filt, dim), d in dgms.items():
        m = len(d)
        sl = slice(i, i + m)
        rec["filtration"][sl] = filt
        if with_dim:
            rec["dim"][sl] = dim
        rec["birth"][sl] = d.births
        rec["death"][sl] = d.deaths
        rec["persistence"][sl] = np.abs(d.deaths - d.births)
        for k in range(ndim):
            rec[f"birth_{k}"][sl] = d.birth_index[:, k] if d.birth_index.shape[1] else -1
            rec[f"death_{k}"][sl] = d.death_index[:, k] if d.death_index.shape[1] else -1
        i += m
    return rec


def _render(dgms, ndim, fmt, top, name, output=None, with_dim=False):
    import math

    rec = _records(dgms, ndim, with_dim)
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
        if with_dim:
            out["dims"] = sorted({k for _, k in dgms})
        for filt in dict.fromkeys(f for f, _ in dgms):
            sel = rec[rec["filtration"] == filt]
            out["pairs"][filt] = [
                {**({"dim": r["dim"]} if with_dim else {}),
                 "birth": r["birth"], "death": r["death"], "persistence": r["persistence"],
                 "birth_index": [r[f"birth_{k}"] for k in range(ndim)],
                 "death_index": [r[f"death_{k}"] for k in range(ndim)]}
                for r in sel
            ]
        return json.dumps(_jsonable(out), indent=1) + "\n"
    # table
    import numpy as np

    from .output import Table, render

    tables = []
    for filt, dim in dgms:
        sel = rec[rec["filtration"] == filt]
        if with_dim:
            sel = sel[sel["dim"] == dim]
        sel = sel[np.argsort(-sel["persistence"], kind="stable")]
        shown = sel if top <= 0 else sel[:top]
        what = f"{filt} diagram, dimension {dim}" if with_dim else f"{filt} diagram"
        table = Table([(col, "right") for col in ("birth", "death", "persistence", "birth cell", "death cell")],
                      title=f"{name}: {what}, {len(sel)} pairs"
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
