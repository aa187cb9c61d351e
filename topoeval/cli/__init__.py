"""The ``topoeval`` command line: a thin layer that parses, calls the library and renders.

One module per command (``topoeval/cli/<command>.py``, each defining a Click
command named ``cli``), shared options in :mod:`topoeval.cli.options`.  The
group loads a command's module only when that command runs, so ``topoeval
--help`` imports neither numba, h5py nor gudhi.

Exit status: 0 success, 1 bad data (or some samples failed in a batch),
2 bad usage; one line on stderr and no traceback unless ``--debug``.
"""

from __future__ import annotations

import importlib
import re
import sys

import click

from .. import __version__
from .options import add_global_options, verbosity_options

# command name -> (module, one-line help shown by `topoeval --help` without importing the module)
COMMANDS = {
    "compare": ("compare", "Compare an original array with its reconstruction."),
    "diagram": ("diagram", "Export the 0-D persistence diagram of an array."),
    "info": ("info", "Show what a file holds (datasets, shapes, dtypes, chunks)."),
    "sharpness": ("sharpness", "Fit the DSL sharpness to a reference loss on samples."),
    "batch": ("batch", "Evaluate every sample of HDF5 batches of reconstructions."),
    "sweep": ("sweep", "Rate-distortion-topology sweep of real compressors."),
    "external-metric": ("external_metric", "libpressio's external metric protocol (for -m external)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f".{COMMANDS[name][0]}", __name__)
        return add_global_options(module.cli)  # -q/-v/--debug after the name too

    def format_commands(self, ctx, formatter):
        rows = [(name, helptext) for name, (_, helptext) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="topoeval")
@verbosity_options
@click.pass_context
def cli(ctx):
    """topoeval: how much topology did a lossy compressor or an autoencoder destroy?

    \b
    Example:
      topoeval compare sample_data/smooth2d.npy sample_data/smooth2d_sz3_1e-2.npy
    """
    obj = ctx.ensure_object(dict)  # the options' callbacks have set what was given
    obj.setdefault("verbosity", 0)
    obj.setdefault("debug", False)


def _echo_error(message: str) -> None:
    click.echo(f"topoeval: error: {message}", err=True)


# library keyword -> command-line option: error messages of the library name Python keywords
# (``weights=...``, ``nan_policy='omit'``); on the command line they name the options instead
OPTION_NAMES = {
    "weights": "--axis-weights",
    "batch_axis": "--batch-axis",
    "nan_policy": "--nan-policy",
    "order": "--order",
    "internal_p": "--internal-p",
    "sharpness": "--sharpness",
    "data_range": "--data-range",
    "min_persistence": "--min-persistence",
    "metrics": "--metrics",
    "dims": "--dims",
    "dtype": "--dtype",
    "byteorder": "--byteorder",
    "max_steps": "--max-steps",
    "batch_size": "--batch-size",
    "learning_rate": "--learning-rate",
    "initial": "--initial",
    "rtol": "--rtol",
    "tol": "--tol",
}
_NAMES = "|".join(sorted(OPTION_NAMES, key=len, reverse=True))
_KEYWORD_VALUE = re.compile(rf"(?<![\w/.\-])({_NAMES})=('[^']*'|\S+?)(?=[\s,;)]|$)")
_LEADING_NAME = re.compile(rf"^({_NAMES}) (?=is |has |must |are )")


def cli_wording(message: str) -> str:
    """Reword a library error message for the command line (options instead of keywords).

    >>> cli_wording("weights=(1, 2) must be ...; or pass nan_policy='omit'")
    '--axis-weights (1, 2) must be ...; or pass --nan-policy omit'
    >>> cli_wording("order=0.5 is not valid")
    '--order 0.5 is not valid'
    >>> cli_wording("out.json exists already; pass --force (force=True) to replace it")
    'out.json exists already; pass --force to replace it'
    """

    def keyword(m):
        name, value = m.group(1), m.group(2)
        if value == "None":
            return f"no {OPTION_NAMES[name]}"
        return f"{OPTION_NAMES[name]} {value.strip(chr(39))}"

    message = message.replace(" (force=True)", "").replace("force=True", "--force")
    message = _KEYWORD_VALUE.sub(keyword, message)
    return _LEADING_NAME.sub(lambda m: OPTION_NAMES[m.group(1)] + " ", message)


def main(args=None, prog_name="topoeval"):
    """Entry point: run the CLI, turning errors into one line and an exit status.

    Called without ``args`` (the ``topoeval`` script, ``python -m topoeval``) the
    process ends by :func:`_fast_exit`; with ``args`` (tests, embedding) it raises
    :class:`SystemExit` as usual.
    """
    code = _run(sys.argv[1:] if args is None else list(args), prog_name)
    if args is None:
        _fast_exit(code)
    sys.exit(code)


def _fast_exit(code: int) -> None:
    """End the process without the interpreter's teardown.

    Freeing the objects of Numba, LLVM and SciPy at exit takes 0.2-0.6 s, a third of a
    small ``topoeval compare``.  Every output file is closed by then (written through
    context managers), so flush the standard streams, run the ``atexit`` handlers
    (h5py, multiprocessing, logging) and leave with ``os._exit``.  With other threads
    still running, exit normally so that they are joined.
    """
    import os
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    try:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:  # a stream that cannot be flushed (closed pipe): exit normally
        sys.exit(code)
    os._exit(code)


def _run(argv: list[str], prog_name: str) -> int:
    """Run the command line; return the exit status (re-raise errors under ``--debug``)."""
    from ..errors import TopoevalError

    debug = "--debug" in argv
    try:
        rv = cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        _echo_error("aborted")
        return 130
    except click.ClickException as exc:
        if debug:
            raise
        # click's own usage errors: one line (plus the usage hint click gives)
        msg = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _echo_error(msg + hint)
        return exc.exit_code
    except TopoevalError as exc:
        if debug:
            raise
        _echo_error(cli_wording(str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        _echo_error("interrupted")
        return 130
    except OSError as exc:
        if debug:
            raise
        _echo_error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return 1
    except Exception as exc:  # an internal bug: still one line, the traceback with --debug
        if debug:
            raise
        _echo_error(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return 1
    return rv if isinstance(rv, int) else 0
