"""``topoeval batch``: evaluate every sample of HDF5 batches of reconstructions."""

from __future__ import annotations

import re
import sys

import click

from .options import comparison_kwargs, comparison_options, echo_info, verbosity

EPILOG = """\b
Examples:
  topoeval batch sample_data/batch.h5 --orig /orig --recon '/sz3/*' --recon /zfp/1e-3 -o results.csv
  topoeval batch --orig data.h5:/orig --recon sz.h5:/out --recon zfp.h5:/out -o results.h5 -j 8
  topoeval batch data.h5 --orig /orig --recon '/*/1e-3' --scheduler tcp://10.0.0.5:8786 -o r.json
  topoeval batch data.h5 --orig /orig --recon '/sz3/*' -o results.csv --resume   # after Ctrl-C

\b
First axis = sample.  Every option of `topoeval compare` applies to each sample.  Rows
(one per reconstruction and sample: every metric, the options, status, error) and a
summary per reconstruction go to -o FILE (.h5: groups mirroring the inputs; .csv: plus
FILE.summary.csv; .json).  While it runs, finished rows are appended to FILE.partial,
so an interrupted run continues with --resume.
Exit status: 0 all samples ok, 1 some samples failed (or bad data), 2 bad usage.
"""

# metrics shown in the summary table by default (all numeric ones with -v)
_KEY_METRICS = ("wasserstein_sublevel", "wasserstein_superlevel", "bottleneck_sublevel",
                "bottleneck_superlevel", "exact_dsl", "dsl", "max_abs_error", "psnr",
                "cp_total_errors")
# and with --dims the distances of every dimension k >= 1 (wasserstein_sublevel_dim1 ...)
_DIM_METRIC = re.compile(r"^(wasserstein|bottleneck)_(sub|super)level_dim[0-9]+$")


@click.command("batch", epilog=EPILOG)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--orig", "orig", required=True, metavar="DATASET",
              help="Originals: a dataset in FILE (/orig) or file.h5:/dataset.")
@click.option("--recon", "recons", multiple=True, required=True, metavar="DATASET",
              help="Reconstruction(s), repeatable; glob patterns such as '/sz3/*' expand "
              "to every matching dataset; file.h5:/dataset for other files.")
@comparison_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file: .h5, .csv or .json.")
@click.option("--force", is_flag=True, help="Replace an existing output (and discard a partial run).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from its output without recomputing finished rows.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@click.option("--dask", type=click.Choice(["local"]), default=None,
              help="Run the tasks on a new local Dask cluster with --jobs workers.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run the tasks on an existing Dask cluster, e.g. tcp://host:8786 "
              "(its workers must see the files).")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Also write an HTML report of the batch to this file.")
@click.pass_context
def cli(ctx, file, orig, recons, output, force, resume, jobs, dask, scheduler, report, **params):
    """Compare every sample of ORIG with every reconstruction (first axis = sample)."""
    from ..io import check_output_path

    if dask and scheduler:
        raise click.UsageError("pass either --dask local or --scheduler ADDRESS, not both")
    if resume and output is None:
        raise click.UsageError("--resume needs the -o FILE of the run to continue")
    if report is not None:
        check_output_path(report, force=force)
    kwargs = comparison_kwargs(params)

    from ..batch import batch

    progress_cb, stop = _progress()
    done = _Done(progress_cb)
    try:
        result = batch(orig, list(recons), file=file, output=output, jobs=jobs,
                       scheduler=dask or scheduler, force=force, resume=resume,
                       on_progress=done, **kwargs)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM: the workers are gone by now
        stop()
        interrupted(ctx, exc, output, done, "rows", "rerun the same command with --resume to continue")
    finally:
        stop()

    click.echo(render_summary(result), nl=False)
    if output is not None:
        echo_info(f"wrote {output}", level=0)
    if report is not None:
        from ..report import write_batch_report

        write_batch_report(report, result, force=force, file=file)
        echo_info(f"wrote {report}", level=0)
    if result.n_failed:
        click.echo(f"topoeval: {result.n_failed} of {len(result)} samples failed (see the 'error' "
                   "column)", err=True)
        ctx.exit(1)


class _Done:
    """An ``on_progress`` that remembers the last count (for the line printed on an interrupt)."""

    def __init__(self, callback=None):
        self.callback, self.done, self.total = callback, 0, 0

    def __call__(self, done, total):
        self.done, self.total = done, total
        if self.callback is not None:
            self.callback(done, total)


def interrupted(ctx, exc: BaseException, output, done: _Done, unit: str, how: str) -> None:
    """One line saying what was kept and how to continue, then the exit status of the signal
    (130 for Ctrl-C / SIGINT, 143 for SIGTERM)."""
    import signal

    signum = getattr(exc, "signum", signal.SIGINT)
    kept = (f"{done.done} of {done.total} {unit} are kept in {output}.partial - {how}"
            if output is not None else "no -o FILE was given, so nothing was kept")
    click.echo(f"topoeval: stopped by {signal.Signals(signum).name}; {kept}", err=True)
    ctx.exit(128 + signum)


def _progress(label: str = "batch", unit: str = "samples"):
    """A rich progress bar on stderr (terminals only, not with -q): (callback, stop)."""
    if verbosity() < 0 or not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"  -   {unit}/s" if speed is None else f"{speed:6.1f} {unit}/s")

    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), _Rate(),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                        console=Console(file=sys.stderr), transient=False)
    state = {"task": None, "started": False}

    def callback(done, total):
        if not state["started"]:
            progress.start()
            state["started"] = True
            state["task"] = progress.add_task(label, total=total, completed=done)
        progress.update(state["task"], completed=done, total=total)

    def stop():
        if state["started"]:
            progress.stop()
            state["started"] = False

    return callback, stop


def _fmt(v: float) -> str:
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return str(v)
    a = abs(v)
    return f"{v:.4g}" if (a == 0 or 1e-3 <= a < 1e5) else f"{v:.3e}"


def render_summary(result) -> str:
    """The per-reconstruction summary: rich tables on a terminal, plain text in files and pipes."""
    from .output import Table, render

    summary = result.summary
    verbose = verbosity() >= 1
    names = [m for m in result.metric_names
             if any(m in s["metrics"] for s in summary.values())
             and (verbose or m in _KEY_METRICS or _DIM_METRIC.match(m))]
    blocks = [] if verbosity() < 0 or not summary else [
        f"{result.orig}: {len(result)} rows, {result.n_ok} ok, {result.n_failed} failed"]
    for recon, s in summary.items():
        table = Table([("metric", "left"), *((k, "right") for k in ("mean", "std", "min", "max"))],
                      title=f"{recon}  ({s['n_ok']} ok, {s['n_failed']} failed)")
        for m in names:
            st = s["metrics"].get(m)
            if st is not None:
                table.add_row(m, *(_fmt(st[k]) for k in ("mean", "std", "min", "max")))
        blocks.append(table)
        for m, worst in s["worst"].items():
            if worst:
                text = ", ".join(f"{i} ({_fmt(v)})" for i, v in worst)
                blocks.append(f"  worst samples by {m}: {text}")
    return render(blocks)
