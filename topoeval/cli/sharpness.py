"""``topoeval sharpness DATA``: fit the DSL sharpness to a reference loss (Algorithm 2 of the paper)."""

from __future__ import annotations

import click

from .options import (
    _parse_weights,
    echo_info,
    input_options,
    load_input,
    output_options,
    resolve_format,
    verbosity_options,
    write_output,
)

FORMATS = ("table", "json")

EPILOG = """\b
Examples:
  topoeval sharpness sample_data/shallow_water.npy                  # samples = the 8 snapshots
  topoeval sharpness sample_data/batch.h5:/orig --reference mae --seed 1
  topoeval sharpness walks.npy --max-steps 2000 --format json -o fit.json

\b
Random pairs of samples are drawn along the FIRST axis of DATA; the sharpness s is
tuned (Adam on log s) until the mean DSL between the pairs matches the reference loss
(mse or mae) between them, to within --rtol of the reference (or, with --tol, an absolute
threshold on the squared gap as in the paper).  The same --seed gives the same fit.
The output gives the fitted sharpness and, on the last batch, the DSL, the reference loss
and their gap.
"""


@click.command("sharpness", epilog=EPILOG)
@verbosity_options
@click.argument("data", metavar="DATA")
@input_options(per_input=())
@click.option("--reference", type=click.Choice(["mse", "mae"]), default="mse", show_default=True,
              help="Reference loss the DSL should match.")
@click.option("--sign", type=click.Choice(["tanh", "softsign"]), default="tanh", show_default=True,
              help="Sign approximation.")
@click.option("--axis-weights", callback=_parse_weights, metavar="W1,W2,...",
              help="DSL weight per sample axis, e.g. 1,1.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random pairs.")
@click.option("--max-steps", type=int, default=500, show_default=True, help="Maximum optimisation steps.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Pairs per step.")
@click.option("--learning-rate", type=float, default=0.1, show_default=True, help="Adam step on log s.")
@click.option("--initial", type=float, default=1.0, show_default=True, help="Starting sharpness.")
@click.option("--rtol", type=float, default=1e-2, show_default=True,
              help="Stop when |dsl - reference| <= RTOL * reference on a batch (scale-free).")
@click.option("--tol", type=float, default=None,
              help="Also stop when (dsl - reference)^2 < TOL (the paper's absolute threshold epsilon).")
@output_options(formats=FORMATS)
def cli(data, reference, sign, axis_weights, seed, max_steps, batch_size, learning_rate, initial, rtol, tol,
        output, fmt, force, **inputs):
    """Fit the DSL sharpness on samples along the first axis of DATA."""
    from ..io import check_output_path

    fmt = resolve_format(fmt, output, FORMATS, "table")
    if output not in (None, "-"):
        check_output_path(output, force=force)
    samples = load_input(data, inputs)
    echo_info(f"{samples.shape[0]} samples of shape {samples.shape[1:]}")
    from ..dsl import find_sharpness

    fit = find_sharpness(samples, reference=reference, sign=sign, weights=axis_weights, seed=seed,
                         max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
                         initial=initial, rtol=rtol, tol=tol)
    last = fit.history[-1] if len(fit.history) else (float("nan"),) * 4
    result = {
        "sharpness": fit.sharpness,
        "reference": fit.reference,
        "dsl": float(last[1]),
        "reference_loss": float(last[2]),
        "gap": fit.gap,
        "steps": fit.steps,
        "converged": fit.converged,
        "seed": seed,
        "n_samples": int(samples.shape[0]),
    }
    if fmt == "json":
        import json

        from ..compare import _jsonable

        write_output(output, json.dumps(_jsonable(result), indent=2) + "\n", force=force)
    else:
        lines = [f"{k:<15} {v:.6g}" if isinstance(v, float) else f"{k:<15} {v}" for k, v in result.items()]
        if not fit.converged:
            lines.append("note: not converged - raise --max-steps, or scale the data so the reference "
                         "loss lies in [0, 1)")
        write_output(output, "\n".join(lines) + "\n", force=force)
