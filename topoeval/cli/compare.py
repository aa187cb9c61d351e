"""``topoeval compare ORIG RECON``: compare an original array with its reconstruction."""

from __future__ import annotations

import time

import click

from .options import (
    close_dask,
    comparison_kwargs,
    dask_client,
    comparison_options,
    echo_info,
    input_options,
    load_input,
    output_options,
    pop_input_params,
    resolve_format,
    scaling_options,
    verbosity,
    verbosity_options,
    write_output,
)

FORMATS = ("table", "json", "csv")
_CP_DETAIL = ("minimum", "maximum", "saddle", "saddle1", "saddle2", "degenerate")

EPILOG = """\b
Examples:
  topoeval compare sample_data/shallow_water.npy sample_data/shallow_water_sz3_1e-2.npy
  topoeval compare orig.npy recon.npy --filtration both --order 2 --format json -o result.json
  topoeval compare batch.h5:/orig batch.h5:/sz3/1e-2 --batch-axis 0 --metrics pointwise,dsl
  topoeval compare Uf48.f32 Uf48.f32.sz.out --shape 100x500x500   # raw SDRBench files

\b
Inputs: .npy, .npz[:key], HDF5 file.h5[:/group/dataset], raw binary (.f32 .f64 .d64
.i32 ... with --shape, slowest axis first as SDRBench lists dimensions), '-' = .npy on stdin.
Exit status: 0 ok, 1 bad data, 2 bad usage.
"""


@click.command("compare", epilog=EPILOG)
@verbosity_options
@click.argument("orig", metavar="ORIG")
@click.argument("recon", metavar="RECON")
@input_options
@comparison_options
@scaling_options
@output_options(formats=FORMATS)
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report to this file.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also write a summary PNG to this file.")
def cli(orig, recon, output, fmt, force, report, plot, **params):
    """Compare an original array ORIG with its reconstruction RECON.

    Prints pointwise errors (MSE, PSNR with the original's range, ...), the exact and
    smooth directional sign loss, the Wasserstein and bottleneck distances between the
    0-D persistence diagrams, and critical-point false negatives / positives / types.
    """
    from ..io import check_output_path

    fmt = resolve_format(fmt, output, FORMATS, "table")
    # refuse bad output paths before any work
    for path in (output, report, plot):
        if path is not None and path != "-":
            check_output_path(path, force=force)
    if orig == "-" and recon == "-":
        raise click.UsageError("only one of ORIG and RECON can be '-' (standard input)")
    inputs = pop_input_params(params)
    scaling = {k: params.pop(k) for k in ("jobs", "memory_limit", "dask_mode", "scheduler")}
    dask = (scaling.pop("dask_mode"), scaling.pop("scheduler"))
    kwargs = comparison_kwargs(params)
    kwargs.update(_scaling_kwargs(scaling))
    if any(dask) and "-" in (orig, recon):
        raise click.UsageError("--dask / --scheduler read the inputs on the workers: pass files, not -")
    from ..compare import check_options

    # bad option values fail before large inputs are read
    opts = check_options(**{k: v for k, v in kwargs.items() if k not in ("jobs", "memory_limit")})
    if (kwargs.get("memory_limit") is not None or any(dask)) and "-" not in (orig, recon):
        if report is not None or plot is not None:
            raise click.UsageError("--report / --plot need both fields in memory; leave out --memory-limit, "
                                   "--dask and --scheduler")
        comparison = _compare_streamed(orig, recon, inputs, kwargs, dask)
        echo_info("computed in " + ", ".join(f"{k} {v:.2f} s" for k, v in comparison.elapsed.items()))
        write_output(output, render(comparison, fmt, orig=orig, recon=recon, output=output), force=force)
        if output not in (None, "-"):
            echo_info(f"wrote {output}", level=0)
        return

    t0 = time.perf_counter()
    a = load_input(orig, inputs, "orig")
    b = load_input(recon, inputs, "recon")
    echo_info(f"loaded {orig} {a.shape} {a.dtype} and {recon} {b.shape} {b.dtype} "
              f"in {time.perf_counter() - t0:.2f} s")

    from .._kernels._compile import warm_up_compare
    from ..compare import compare
    from ..compare.options import check_dims_range

    sample = kwargs.get("batch_axis") is not None  # --dims out of range: before any compiling
    check_dims_range(opts["dims"], a.ndim - sample, "sample" if sample else "field")

    # a first run: say so, and compile the kernels of the parts in parallel processes
    warm = warm_up_compare(a, b, kwargs, notify=lambda msg: echo_info(f"topoeval: {msg}", level=0))
    if warm["parts"]:
        echo_info(f"compiled in {warm['wall']:.1f} s, CPU per process "
                  + ", ".join(f"{c:.1f}" for c in warm["cpu"]) + " s")
    with _stage_bar() as tick:  # long distance solves show a bar (-q: none)
        comparison = compare(a, b, progress=tick, **kwargs)
    echo_info("computed in " + ", ".join(f"{k} {v:.2f} s" for k, v in comparison.elapsed.items()))

    write_output(output, render(comparison, fmt, orig=orig, recon=recon, output=output), force=force)

    if report is not None or plot is not None:
        from .. import report as _report

        if report is not None:
            _report.write_report(report, comparison, a, b, force=force)
            echo_info(f"wrote {report}", level=0)
        if plot is not None:
            _report.save_summary_plot(plot, comparison, a, b, force=force)
            echo_info(f"wrote {plot}", level=0)
    if output not in (None, "-"):
        echo_info(f"wrote {output}", level=0)


def _compare_streamed(orig, recon, inputs, kwargs, dask=(None, None)):
    """--memory-limit: both inputs opened lazily and compared a slab at a time (bar on stderr);
    --dask / --scheduler: the same tasks on a Dask cluster, whose workers open the files."""
    from ..compare import compare
    from ..io import open_array

    def file_kw(name):
        def pick(key):
            v = inputs.get(f"{name}_{key}")
            return v if v is not None else inputs.get(key)

        return dict(shape=pick("shape"), dtype=pick("dtype"), byteorder=pick("byteorder") or "little")

    if any(dask):
        from ..persistence.lazy import FileOpener

        a, b = FileOpener(orig, **file_kw("orig")), FileOpener(recon, **file_kw("recon"))
        a.close()  # the workers open the files themselves
        b.close()
        client = dask_client(*dask, kwargs.get("jobs"))
        try:
            echo_info(f"opened {orig} {a.shape} {a.dtype} and {recon} {b.shape} {b.dtype} (read by the Dask "
                      "workers, a slab at a time)")
            with _stage_bar() as tick:
                return compare(a, b, progress=tick, scheduler=client, **kwargs)
        finally:
            close_dask(client)
    with open_array(orig, **file_kw("orig")) as a, open_array(recon, **file_kw("recon")) as b, _stage_bar() as tick:
        echo_info(f"opened {orig} {a.shape} {a.dtype} and {recon} {b.shape} {b.dtype} (read a slab at a time)")
        return compare(a, b, progress=tick, **kwargs)


def _stage_bar():
    """A rich progress bar per stage (slabs, each persistence run) on stderr; -q or no terminal: none."""
    import contextlib
    import sys

    if verbosity() < 0 or not sys.stderr.isatty():
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def bar():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as prog:
            tasks = {}

            def tick(stage, done, total):
                if stage not in tasks:
                    tasks[stage] = prog.add_task(stage, total=total)
                prog.update(tasks[stage], completed=done, total=total)

            yield tick

    return bar()


def _scaling_kwargs(scaling):
    """--jobs / --memory-limit for the compare() keywords (--dask / --scheduler: _compare_streamed)."""
    return {k: v for k, v in scaling.items() if v is not None}


def render(comparison, fmt: str, *, orig: str = "orig", recon: str = "recon", output: str | None = None) -> str:
    """Render a Comparison as a table (text), JSON or CSV."""
    if fmt == "json":
        import json

        d = comparison.to_dict()
        d["inputs"] = {"orig": orig, "recon": recon}
        return json.dumps(d, indent=2) + "\n"
    if fmt == "csv":
        import csv
        import io

        row = {"orig": orig, "recon": recon, **comparison.to_row()}
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(row), lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
        return buf.getvalue()
    return _table(comparison, orig, recon, output)


def _rows(comparison):
    """(section, [(key, formatted value)]) for the table; the per-type breakdown only with -v."""
    from ..compare import _fmt

    detail = verbosity() >= 1
    out = []
    for section, items in comparison._sections():
        rows = [(key, _fmt(value)) for key, value in items
                if detail or not (key.startswith("cp_") and key.rsplit("_", 1)[-1] in _CP_DETAIL)]
        out.append((section, rows))
    return out


def _table(comparison, orig: str, recon: str, output: str | None) -> str:
    from .output import Table, is_terminal, render

    title = f"{orig} vs {recon}\nshape {comparison.shape}, {comparison.dtypes[0]} vs {comparison.dtypes[1]}"
    tty = is_terminal(output)
    # on a terminal a header names the columns; plain text: the title, a blank line, the sections
    table = Table([("metric", "left"), ("value", "right")], title=title if tty else None, show_header=tty)
    for section, rows in _rows(comparison):
        table.add_section(section)
        for key, value in rows:
            table.add_row(key, value)
    if verbosity() < 0:
        table.title = None
        return render([table], output)
    return render([table] if tty else [title, "", table], output)
