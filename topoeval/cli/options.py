"""Click options shared by the commands (compare, diagram, batch, sweep ...).

Three groups, each one decorator plus a function that turns the parsed values
into library arguments:

* :func:`comparison_options` / :func:`comparison_kwargs` -- every parameter of
  :func:`topoeval.compare` (``--metrics``, ``--filtration``, ``--order`` ...);
* :func:`input_options` / :func:`load_input` -- how to read raw binary inputs
  (``--shape``, ``--dtype``, ``--byteorder``, for both inputs or per input);
* :func:`output_options` / :func:`write_output` -- ``-o FILE``, ``--format``,
  ``--force`` (atomic writes).

Usage in a command module::

    @click.command("mycmd")
    @click.argument("data")
    @comparison_options
    @output_options(formats=("table", "json", "csv"))
    def cli(data, **params):
        kwargs = comparison_kwargs(params)   # pops the comparison options from params
        ...

This module imports only click (no numpy-heavy or numba modules), so ``--help``
stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import click

__all__ = [
    "comparison_options",
    "comparison_kwargs",
    "COMPARISON_PARAMS",
    "input_options",
    "load_input",
    "output_options",
    "write_output",
    "resolve_format",
    "verbosity",
    "echo_info",
    "pop_input_params",
    "verbosity_options",
    "global_options",
    "add_global_options",
    "GLOBAL_OPTIONS",
    "text_console",
    "scaling_options",
    "dask_client",
    "close_dask",
]

# the value of topoeval.dsl.DEFAULT_SHARPNESS, written out so that `--help` imports no
# Numba module (tests/test_cli.py checks that the two agree)
DEFAULT_SHARPNESS = 16.0

# click parameter name -> compare() keyword
COMPARISON_PARAMS = {
    "metrics": "metrics",
    "dims": "dims",
    "filtration": "filtration",
    "connectivity": "connectivity",
    "order": "order",
    "internal_p": "internal_p",
    "distance_tolerance": "distance_tolerance",
    "sharpness": "sharpness",
    "sign": "sign",
    "axis_weights": "weights",
    "batch_axis": "batch_axis",
    "nan_policy": "nan_policy",
    "compute_dtype": "dtype",
    "min_persistence": "min_persistence",
    "cp_connectivity": "cp_connectivity",
    "data_range": "data_range",
}

_PARTS = ("pointwise", "dsl", "persistence", "critical_points", "segmentation", "pairs")


def _number_list(value: str, kind: type, what: str, example: str) -> tuple:
    """``"1, 2,3"`` -> a tuple of ``kind`` (click's BadParameter naming an example otherwise)."""
    try:
        out = tuple(kind(v) for v in value.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of {what}; e.g. {example}") from None
    return out


def _parse_weights(ctx, param, value):
    if value is None:
        return None
    out = _number_list(value, float, "numbers", "--axis-weights 1,1,0")
    if not out:
        raise click.BadParameter("give one weight per non-batch axis, e.g. --axis-weights 1,1,0")
    return out


def _parse_metrics(ctx, param, value):
    if value is None:
        return "all"
    items = [v.strip().replace("-", "_") for v in value.split(",") if v.strip()]
    for v in items:
        if v not in (*_PARTS, "all", "cp"):
            raise click.BadParameter(
                f"{v!r} is not a metric group; use 'all' or a comma-separated list of: {', '.join(_PARTS)}"
            )
    return tuple(items)


def _parse_dims(ctx, param, value):
    if value is None:
        return None
    if value.strip().lower() == "all":  # every dimension 0..d-1 of the field
        return "all"
    out = _number_list(value, int, "homology dimensions", "--dims 0,1,2")
    if not out or min(out) < 0:
        raise click.BadParameter(f"{value!r}: give dimensions 0, 1, ..., d-1 of a d-D field, e.g. --dims 0,1")
    return out


def comparison_options(f: Callable) -> Callable:
    """Add the options of :func:`topoeval.compare` to a command (see :data:`COMPARISON_PARAMS`)."""
    opts = [
        click.option(
            "--metrics",
            callback=_parse_metrics,
            metavar="LIST",
            help="Parts to compute, comma-separated: pointwise,dsl,persistence,critical_points "
            "(default: all = these four), segmentation (Morse-segmentation errors), pairs "
            "(persistence pairs kept above --min-persistence), e.g. all,segmentation,pairs.",
        ),
        click.option(
            "--dims",
            callback=_parse_dims,
            metavar="K1,K2,...",
            help="Homology dimensions of the persistence part, each in 0..d-1: 0 components, 1 loops, "
            "2 voids of a 3-D field, e.g. 0,1,2, or all; dimension k >= 1 adds columns suffixed _dim<k> "
            "(wasserstein_sublevel_dim1 ...); with --memory-limit / --dask only 0 and d-1 [default: 0].",
        ),
        click.option(
            "--filtration",
            type=click.Choice(["sublevel", "superlevel", "both"]),
            default="sublevel",
            show_default=True,
            help="Persistence of the sublevel sets (minima), superlevel sets (maxima) or both.",
        ),
        click.option(
            "--connectivity",
            type=click.Choice(["full", "face"]),
            default="full",
            show_default=True,
            help="Cell neighbourhood of the persistence diagrams: 3^d-1 cells or the 2d axis neighbours.",
        ),
        click.option("--order", type=float, default=1.0, show_default=True,
                     help="Order p >= 1 of the Wasserstein distance."),
        click.option("--internal-p", type=float, default=2.0, show_default=True,
                     help="Ground metric of the Wasserstein distance (>= 1, or inf)."),
        click.option("--distance-tolerance", type=float, default=None, metavar="DELTA",
                     help="Stop the Wasserstein solver at this certified relative gap (e.g. 1e-3; "
                          "the bound is reported as wasserstein_gap) [default: exact]."),
        click.option("--sharpness", type=float, default=None,
                     help=f"Sharpness s of the smooth DSL [default: {DEFAULT_SHARPNESS:g}]."),
        click.option("--sign", type=click.Choice(["tanh", "softsign", "sign"]), default="tanh",
                     show_default=True, help="Sign approximation of the smooth DSL."),
        click.option("--axis-weights", callback=_parse_weights, metavar="W1,W2,...",
                     help="DSL weight per non-batch axis, e.g. 1,1,0 (0 switches an axis off)."),
        click.option("--batch-axis", type=int, default=None,
                     help="Axis of independent samples: DSL averaged, diagrams per sample."),
        click.option("--nan-policy", type=click.Choice(["raise", "omit"]), default="raise",
                     show_default=True, help="NaN/inf: fail naming them, or leave those cells out."),
        click.option("--compute-dtype", type=click.Choice(["float64", "float32", "input"]),
                     default="float64", show_default=True,
                     help="Type both arrays are converted to before comparing."),
        click.option("--min-persistence", type=float, default=0.0, show_default=True,
                     help="Count only critical points of the original with a larger persistence."),
        click.option("--cp-connectivity", type=click.Choice(["full", "freudenthal"]), default="full",
                     show_default=True, help="Link used to classify critical points."),
        click.option("--data-range", type=float, default=None,
                     help="PSNR peak instead of the original's value range."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def comparison_kwargs(params: dict[str, Any], *, pop: bool = True) -> dict[str, Any]:
    """Turn the parsed values of :func:`comparison_options` into :func:`topoeval.compare` kwargs.

    With ``pop=True`` the comparison options are removed from ``params`` (so the rest
    can be passed on).  Options left at None are omitted (the library default applies).
    """
    get = params.pop if pop else params.get
    out: dict[str, Any] = {}
    for name, kw in COMPARISON_PARAMS.items():
        if name not in params:
            continue
        value = get(name)
        if value is None:
            continue
        if name == "metrics":
            value = "all" if value in ("all", ("all",)) else tuple("critical_points" if v == "cp" else v
                                                                    for v in value)
        out[kw] = value
    return out


# ----------------------------------------------------------------------------- inputs

_SHAPE_HELP = (
    "Shape of raw binary inputs, slowest-varying axis first (C order, as SDRBench lists "
    "dimensions), e.g. 100x500x500."
)


def input_options(f: Callable | None = None, *, per_input: tuple[str, ...] = ("orig", "recon")):
    """Add ``--shape/--dtype/--byteorder`` (for every input) and ``--<name>-shape`` ... per input."""

    def deco(f):
        opts = [
            click.option("--shape", metavar="N0xN1x...", help=_SHAPE_HELP),
            click.option("--dtype", metavar="DTYPE",
                         help="Element type of raw inputs (float32, float64, int16 ...); default from "
                         "the extension (.f32, .f64/.d64, .i32 ...)."),
            click.option("--byteorder", type=click.Choice(["little", "big", "native"]), default=None,
                         help="Byte order of raw inputs [default: little, as SDRBench]."),
        ]
        for name in per_input:
            opts += [
                click.option(f"--{name}-shape", metavar="SHAPE", help=f"--shape for {name.upper()} only."),
                click.option(f"--{name}-dtype", metavar="DTYPE", help=f"--dtype for {name.upper()} only."),
                click.option(f"--{name}-byteorder", type=click.Choice(["little", "big", "native"]),
                             default=None, help=f"--byteorder for {name.upper()} only."),
            ]
        for opt in reversed(opts):
            f = opt(f)
        return f

    return deco(f) if f is not None else deco


def load_input(spec: str, params: dict[str, Any], name: str | None = None):
    """Load one input with :func:`topoeval.io.load_array`, honouring the input options.

    ``name`` selects the per-input options (``--orig-shape`` ...), which override the
    shared ones.
    """
    from ..io import load_array

    def pick(key):
        if name is not None and params.get(f"{name}_{key}") is not None:
            return params[f"{name}_{key}"]
        return params.get(key)

    return load_array(spec, shape=pick("shape"), dtype=pick("dtype"), byteorder=pick("byteorder") or "little")


def pop_input_params(params: dict[str, Any], per_input: tuple[str, ...] = ("orig", "recon")) -> dict[str, Any]:
    """Remove the input options from ``params`` and return them."""
    keys = ["shape", "dtype", "byteorder"] + [f"{n}_{k}" for n in per_input for k in ("shape", "dtype", "byteorder")]
    return {k: params.pop(k) for k in keys if k in params}


# ----------------------------------------------------------------------------- outputs


def output_options(f: Callable | None = None, *, formats: tuple[str, ...] = ("table", "json", "csv")):
    """Add ``-o/--output FILE``, ``--format`` and ``--force``."""

    def deco(f):
        opts = [
            click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
                         help="Write the result to FILE (format from its extension unless --format; "
                         "'-' = standard output)."),
            click.option("--format", "fmt", type=click.Choice(list(formats)), default=None,
                         help=f"Output format [default: from the -o extension, else {formats[0]}]."),
            click.option("--force", is_flag=True, help="Replace output files that exist."),
        ]
        for opt in reversed(opts):
            f = opt(f)
        return f

    return deco(f) if f is not None else deco


def resolve_format(fmt: str | None, output: str | None, formats: tuple[str, ...], default: str) -> str:
    """The output format: ``--format``, else the ``-o`` extension, else ``default``."""
    if fmt is not None:
        return fmt
    if output and output != "-":
        ext = os.path.splitext(output)[1].lower().lstrip(".")
        ext = {"txt": "table"}.get(ext, ext)
        if ext in formats:
            return ext
        raise click.UsageError(
            f"cannot tell the format of {output!r} from its extension; pass --format "
            f"({'|'.join(formats)})"
        )
    return default


def write_output(output: str | None, data: str | bytes, *, force: bool) -> None:
    """Write text/bytes to ``output`` atomically (refusing to replace without force), or to stdout."""
    if output is None or output == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            click.echo(data, nl=not data.endswith("\n"))
        return
    from ..io import atomic_output

    with atomic_output(output, force=force) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


# ----------------------------------------------------------------------------- verbosity


def verbosity() -> int:
    """-1 quiet, 0 normal, 1 verbose (from the group's -q / -v)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and "verbosity" in ctx.obj:
            return ctx.obj["verbosity"]
        ctx = ctx.parent
    return 0


def echo_info(message: str, *, level: int = 1) -> None:
    """Print a progress message on stderr when the verbosity is at least ``level``."""
    if verbosity() >= level:
        click.echo(message, err=True)



# ----------------------------------------------------------------------------- scaling
def scaling_options(f: Callable) -> Callable:
    """Add ``--jobs``, ``--memory-limit``, ``--dask local`` and ``--scheduler ADDRESS``."""
    opts = [
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                     help="Threads for the persistence step [default: the cores this process may use]."),
        click.option("--memory-limit", metavar="SIZE", default=None,
                     help="Memory the persistence step may use (3GB, 512MB); the input is read a block "
                     "at a time within it [default: half the available memory]."),
        click.option("--dask", "dask_mode", type=click.Choice(["local"]), default=None,
                     help="Run the blocks on a local Dask cluster (one worker process per job)."),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="Run the blocks on a running Dask cluster (tcp://host:8786); the workers "
                     "read the input file themselves, so it must be on a shared filesystem."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def dask_client(dask_mode: str | None, scheduler: str | None, jobs: int | None):
    """A ``distributed.Client`` for ``--dask local`` / ``--scheduler`` (None without them)."""
    if dask_mode is None and scheduler is None:
        return None
    if dask_mode is not None and scheduler is not None:
        raise click.UsageError("pass --dask local or --scheduler ADDRESS, not both")
    try:
        import distributed
    except ImportError:
        from ..errors import missing_dependency

        raise missing_dependency("distributed", "dask", "--dask / --scheduler") from None
    if scheduler is not None:
        try:
            return distributed.Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            from ..errors import TopoevalIOError

            raise TopoevalIOError(
                f"could not reach the Dask scheduler at {scheduler} ({exc}); check the address "
                "(tcp://host:8786) and that the scheduler is running"
            ) from None
    n = jobs or len(os.sched_getaffinity(0))
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None)
    client = distributed.Client(cluster)
    client._topoeval_cluster = cluster  # closed with the client by close_dask
    return client


def close_dask(client) -> None:
    if client is not None:
        cluster = getattr(client, "_topoeval_cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()


# The global options: the group takes them before the command name and every command
# after it (LazyGroup.get_command adds them to each command, so a new command needs nothing).
# Each is given only by its flag; the group's and the command's write the same ctx.obj keys.
GLOBAL_OPTIONS = {
    # name: (flags, help, ctx.obj key, value)
    "quiet": (("-q", "--quiet"), "Print only results and errors.", "verbosity", -1),
    "verbose": (("-v", "--verbose"), "Print progress details on stderr.", "verbosity", 1),
    "debug": (("--debug",), "Show full tracebacks on errors.", "debug", True),
}


def _store(key: str, value: Any):
    def callback(ctx, param, flag):
        if flag:
            ctx.ensure_object(dict)[key] = value
        return flag

    return callback


def _option_specs():
    """(flags, keyword arguments of click.Option) of each global option."""
    for flags, helptext, key, value in GLOBAL_OPTIONS.values():
        yield flags, dict(is_flag=True, expose_value=False, is_eager=True, help=helptext,
                          callback=_store(key, value))


def global_options() -> list[click.Option]:
    """New ``-q`` / ``-v`` / ``--debug`` options (one set per command: click options are per command)."""
    return [click.Option(list(flags), **kw) for flags, kw in _option_specs()]


def add_global_options(command: click.Command) -> click.Command:
    """Give ``command`` the global options it does not have yet (idempotent); return it."""
    have = {p.name for p in command.params}
    command.params.extend(o for o in global_options() if o.name not in have)
    return command


def verbosity_options(f: Callable) -> Callable:
    """Decorator: the global options on a group or command (the group adds them to commands anyway)."""
    for flags, kw in reversed(list(_option_specs())):
        f = click.option(*flags, **kw)(f)
    return f


def text_console(output: str | None, *, width: int = 100):
    """A rich Console writing into a buffer; see :func:`topoeval.cli.output.text_console`."""
    from .output import text_console as _text_console

    return _text_console(output, width=width)
