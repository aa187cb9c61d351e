"""``topoeval diagram ARRAY``: export the 0-D persistence diagram of an array."""

from __future__ import annotations

import click

from .options import (
    echo_info,
    input_options,
    load_input,
    output_options,
    resolve_format,
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
@output_options(formats=FORMATS)
def cli(array, filtration, connectivity, nan_policy, keep_zero, top, output, fmt, force, **inputs):
    """Export the 0-D persistence diagram of ARRAY with the critical-cell positions."""
    from ..io import check_output_path

    fmt = resolve_format(fmt, output, FORMATS, "table")
    if fmt == "npy" and output is None:
        raise click.UsageError("the npy format is binary: pass -o FILE.npy (or -o - to pipe it)")
    if output not in (None, "-"):
        check_output_path(output, force=force)
    a = load_input(array, inputs)
    from ..persistence import persistence_diagram

    filts = ("sublevel", "superlevel") if filtration == "both" else (filtration,)
    dgms = {f: persistence_diagram(a, filtration=f, connectivity=connectivity, nan_policy=nan_policy,
                                   keep_zero=keep_zero) for f in filts}
    echo_info(", ".join(f"{f}: {len(d)} pairs" for f, d in dgms.items()))
    write_output(output, _render(dgms, a.ndim, fmt, top, array, output), force=force)


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
