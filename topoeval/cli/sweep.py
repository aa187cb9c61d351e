"""``topoeval sweep``: the topology-aware rate-distortion picture of real compressors."""

from __future__ import annotations

import click

from .options import (
    comparison_kwargs,
    comparison_options,
    echo_info,
    input_options,
    pop_input_params,
    verbosity,
)

EPILOG = """\b
Examples:
  topoeval sweep sample_data/shallow_water.npy --compressor sz3 --compressor zfp \\
      --error-bound 1e-1,1e-2,1e-3,1e-4 -o sweep.csv --report sweep.html
  topoeval sweep field.f32 --shape 100x500x500 --compressor sz3 --mode rel --error-bound 1e-2,1e-4
  topoeval sweep a.npy b.npy --compressor zfp-rate --rate 2,4,8,16 -j 2 --plot rd.png

\b
Compressors: sz3 (pysz), zfp (zfpy, fixed accuracy), zfp-rate (zfpy, fixed rate: --rate gives
bits per value), quantize and bitround (numcodecs-style, NumPy only).  sz3/zfp need the
`compressors` extra.  Every option of `topoeval compare` applies (default --filtration both);
the wasserstein_* columns have order --order (default 1), the wasserstein2_* columns order 2.
Rows are appended to OUTPUT.partial as runs finish (an interrupted sweep continues with
--resume).  A failing run is recorded in the
status/error columns; a run whose compressor exceeds its bound is reported loudly.
Exit status: 0 all runs ok, 1 a run failed or a bound was violated, 2 bad usage.
"""

_SHOWN = ("field", "compressor", "bound", "ratio", "bit_rate", "max_error", "psnr",
          "wasserstein_sublevel", "wasserstein2_sublevel", "wasserstein_superlevel",
          "bottleneck_sublevel", "exact_dsl", "cp_total_errors", "status")


def _floats(ctx, param, value):
    if value is None:
        return None
    out = []
    for item in value:
        for v in item.replace(" ", "").split(","):
            if not v:
                continue
            try:
                out.append(float(v))
            except ValueError:
                raise click.BadParameter(f"{v!r} is not a number; e.g. 1e-1,1e-2,1e-3") from None
    return out or None


@click.command("sweep", epilog=EPILOG)
@click.argument("fields", nargs=-1, required=True)
@click.option("-c", "--compressor", "compressors", multiple=True, metavar="NAME",
              help="Compressor, repeatable: sz3, zfp, zfp-rate, quantize, bitround [default: sz3, zfp].")
@click.option("-e", "--error-bound", "bounds", multiple=True, callback=_floats, metavar="B1,B2,...",
              help="Error bounds, comma-separated [default: 1e-1,1e-2,1e-3,1e-4].")
@click.option("--rate", "rates", multiple=True, callback=_floats, metavar="R1,R2,...",
              help="Bit rates (bits per value) for zfp-rate [default: 1,2,4,8,16].")
@click.option("--mode", type=click.Choice(["abs", "rel"]), default="abs", show_default=True,
              help="Bounds absolute, or relative to each field's value range.")
@comparison_options
@input_options(per_input=())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file: .csv, .json or .h5.")
@click.option("--force", is_flag=True, help="Replace existing output files.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted sweep from its output without repeating finished runs.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@click.option("--dask", type=click.Choice(["local"]), default=None,
              help="Run on a new local Dask cluster with --jobs workers.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run on an existing Dask cluster, e.g. tcp://host:8786.")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Write an HTML report with the rate-distortion curves.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write the rate-distortion curves as a PNG.")
@click.pass_context
def cli(ctx, fields, compressors, bounds, rates, mode, output, force, resume, jobs, dask, scheduler,
        report, plot, **params):
    """Compress each FIELD with each compressor at each bound, and measure what it cost."""
    from ..io import check_output_path

    if dask and scheduler:
        raise click.UsageError("pass either --dask local or --scheduler ADDRESS, not both")
    if resume and output is None:
        raise click.UsageError("--resume needs the -o FILE of the sweep to continue")
    for path in (report, plot):
        if path is not None:
            check_output_path(path, force=force)
    kwargs = comparison_kwargs(params)
    if ctx.get_parameter_source("filtration") == click.core.ParameterSource.DEFAULT:
        kwargs["filtration"] = "both"
    load = {k: v for k, v in pop_input_params(params, per_input=()).items() if v is not None}

    from ..sweep import DEFAULT_BOUNDS, sweep
    from .batch import _Done, _progress, interrupted

    callback, stop = _progress(label="sweep", unit="runs")
    done = _Done(callback)
    import warnings

    with warnings.catch_warnings(record=True):  # violations are reported below, once each
        warnings.simplefilter("ignore")
        try:
            result = sweep(list(fields), compressors=list(compressors) or ["sz3", "zfp"],
                           bounds=bounds or DEFAULT_BOUNDS, rates=rates, mode=mode, output=output,
                           force=force, resume=resume, jobs=jobs, scheduler=dask or scheduler,
                           on_progress=done, load_kwargs=load, **kwargs)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM: the workers are gone by now
            stop()
            interrupted(ctx, exc, output, done, "runs", "rerun the same command with --resume to continue")
        finally:
            stop()

    table = _table(result)
    click.echo(table, nl=not table.endswith("\n"))
    if output is not None:
        echo_info(f"wrote {output}", level=0)
    if report is not None or plot is not None:
        from .. import report as report_mod

        if report is not None:
            report_mod.write_sweep_report(report, result, force=force)
            echo_info(f"wrote {report}", level=0)
        if plot is not None:
            report_mod.save_sweep_plot(plot, result, force=force)
            echo_info(f"wrote {plot}", level=0)
    bad = False
    for r in result.violations:
        click.secho(f"topoeval: BOUND VIOLATED: {r['compressor']} on {r['field']} at bound {r['bound']:g}: "
                    f"max error {r['max_error']:.6g} > {r['abs_bound']:.6g}", err=True, fg="red", bold=True)
        bad = True
    if result.n_failed:
        click.echo(f"topoeval: {result.n_failed} of {len(result)} runs failed (see the 'error' column)",
                   err=True)
        for r in result.rows:
            if r.get("status") != "ok":
                click.echo(f"  {r['field']} / {r['compressor']} / {r['bound']:g}: {r['error']}", err=True)
        bad = True
    if bad:
        ctx.exit(1)


def _table(result) -> str:
    from .batch import _fmt
    from .output import Table, render

    cols = [c for c in _SHOWN if c in result.column_names]
    cols[-1:-1] = [c for c in result.column_names if c.startswith("wasserstein_sublevel_dim")]  # --dims
    if verbosity() >= 1:
        cols = [c for c in result.column_names if c != "error"]
    # a terminal squeezes the table to its width; a pipe or file gets every column in full
    table = Table([(c, "left" if c in ("field", "compressor", "status") else "right") for c in cols])
    for r in result.rows:
        table.add_row(*(_cell(r.get(c), _fmt) for c in cols))
    return render([table])


def _cell(v, fmt) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return fmt(float(v))
