"""``topoeval external-metric``: libpressio's ``external`` metric protocol (forkexec launcher).

libpressio runs the command twice per evaluation (``-m external -o
external:command="topoeval external-metric"``):

* with none of its well-known arguments: print ``external:api=5`` and a ``key=value``
  default for every result key (quickly: this path imports neither NumPy's heavy users
  nor Numba);
* with ``--api N --config_name NAME --eval_uuid UUID --input FILE --decompressed FILE
  --type float --dim N ...`` in any order (``--dim`` repeated, fastest-varying first, as
  ``pressio_data_new`` takes them; with ``external:fieldnames`` each is prefixed,
  ``--u_input``): read both raw files, compare them, print ``external:api=5`` and one
  ``key=value`` line per result.  A failure prints the api line, the reason on stderr and
  exits > 0 (1 bad data, 2 bad usage), which libpressio reports as
  ``external:return_code`` and ``external:stderr``.

Arguments of our own start with ``--external`` (libpressio never uses that prefix); other
unknown arguments are ignored, as the protocol asks.
"""

from __future__ import annotations

import click

API = 5
#: libpressio's --type names -> NumPy dtypes ("byte" is pressio_byte_dtype, unsigned char)
TYPES = {"float": "float32", "double": "float64", "bool": "bool", "byte": "uint8", "int8": "int8",
         "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8", "uint16": "uint16",
         "uint32": "uint32", "uint64": "uint64"}
WELL_KNOWN = ("api", "config_name", "eval_uuid", "input", "decompressed", "type", "dim")
PER_FIELD = ("input", "decompressed", "type", "dim")
PARTS = ("pointwise", "dsl", "persistence", "critical_points")  # as topoeval.compare's `metrics`
_CP_KINDS = ("minimum", "saddle", "saddle1", "saddle2", "degenerate", "maximum")
#: the numeric keys of Comparison.to_row() for each part (tests check they match a real run)
KEYS = {
    "pointwise": ("mse", "rmse", "mae", "max_abs_error", "psnr", "relative_l2_error", "pearson",
                  "value_range", "n_values"),
    "dsl": ("exact_dsl", "exact_dsl_rate", "dsl", "sharpness"),
    "persistence": ("wasserstein_{f}", "bottleneck_{f}", "n_points_orig_{f}", "n_points_recon_{f}",
                    "n_essential_orig_{f}", "n_essential_recon_{f}", "wasserstein", "bottleneck"),
    "critical_points": ("cp_min_persistence", "cp_n_critical_orig", "cp_n_critical_recon", "cp_preserved",
                        "cp_false_negatives", "cp_false_positives", "cp_false_types", "cp_total_errors",
                        "cp_fn_rate", "cp_fp_rate", "cp_ft_rate", "cp_error_rate",
                        *(f"cp_{e}_{k}" for e in ("false_negatives", "false_positives", "false_types")
                          for k in _CP_KINDS)),
}
#: our own options: --external-NAME VALUE -> compare() keyword, with the default
OWN = {"metrics": ("metrics", ",".join(PARTS)), "filtration": ("filtration", "sublevel"),
       "order": ("order", "1"), "connectivity": ("connectivity", "full"), "sharpness": ("sharpness", None),
       "nan-policy": ("nan_policy", "raise"), "min-persistence": ("min_persistence", "0")}

EPILOG = """\b
In libpressio (forkexec launcher, posix io format):
  pressio ... -m external -o external:command="topoeval external-metric --external-metrics pointwise,dsl"
\b
Our own arguments (libpressio never passes names starting with --external):
  --external-metrics pointwise,dsl,persistence,critical_points   (default: all four)
  --external-filtration sublevel|superlevel|both   --external-order P   --external-connectivity full|face
  --external-sharpness S   --external-nan-policy raise|omit   --external-min-persistence X
"""


@click.command("external-metric", epilog=EPILOG, add_help_option=True,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cli(args):
    """Speak libpressio's external metric protocol (called by libpressio, not by hand)."""
    try:
        fields, own = parse(list(args))
    except Exception:
        click.echo(f"external:api={API}")
        raise
    if not fields:  # the defaults call
        lines = [f"{key}=nan" for key in default_keys(own)]
    else:
        try:
            lines = [f"{key}={_format(v)}" for key, v in evaluate(fields, own).items()]
        except Exception:
            click.echo(f"external:api={API}")
            raise
    click.echo("\n".join([f"external:api={API}", *lines]))


# --------------------------------------------------------------------------- arguments


def _pairs(argv: list[str]):
    """(name, value) for each ``--name value`` / ``--name=value``; bare words are skipped."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        i += 1
        if not tok.startswith("--"):
            continue
        name, eq, value = tok[2:].partition("=")
        if not eq:
            if i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
            else:
                value = None
        yield name, value


def parse(argv: list[str]) -> tuple[dict[str, dict], dict[str, str]]:
    """({field prefix: {input, decompressed, type, dims}}, {our option: value})."""
    from ..errors import InvalidOptionError

    fields: dict[str, dict] = {}
    own = {k: default for k, (_, default) in OWN.items()}
    for name, value in _pairs(argv):
        if name.startswith("external"):
            key = name[len("external"):].lstrip("-_").replace("_", "-")
            if key not in OWN:
                raise InvalidOptionError(
                    f"--{name} is not an option of topoeval external-metric; use one of: "
                    + ", ".join(f"--external-{k}" for k in OWN)
                )
            if value is None:
                raise InvalidOptionError(f"--{name} needs a value, e.g. --external-{key} {own[key] or 16}")
            own[key] = value
            continue
        for arg in PER_FIELD:
            if name == arg or name.endswith("_" + arg):
                field = fields.setdefault(name[: -len(arg)].rstrip("_"), {"dims": []})
                if value is None:
                    raise InvalidOptionError(f"--{name} needs a value")
                if arg == "dim":
                    field["dims"].append(_dim(name, value))
                else:
                    field[arg] = value
                break
        # --api, --config_name, --eval_uuid and anything newer: nothing to do with them
    for prefix, field in fields.items():
        _check_field(prefix, field)
    _check_metrics(own["metrics"])
    return fields, own


def _dim(name: str, value: str) -> int:
    from ..errors import InvalidOptionError

    try:
        d = int(value)
    except ValueError:
        d = -1
    if d <= 0:
        raise InvalidOptionError(f"--{name} {value}: a dimension must be a positive integer")
    return d


def _check_field(prefix: str, field: dict) -> None:
    from ..errors import InvalidOptionError

    dash = f"--{prefix}_" if prefix else "--"
    missing = [a for a in ("input", "decompressed", "type") if a not in field] + ([] if field["dims"] else ["dim"])
    if missing:
        raise InvalidOptionError(
            f"libpressio's arguments are incomplete: {', '.join(dash + m for m in missing)} missing "
            f"(got {', '.join(dash + a for a in PER_FIELD if a not in missing)})"
        )
    if field["type"] not in TYPES:
        raise InvalidOptionError(f"{dash}type {field['type']} is not supported; use one of: {', '.join(TYPES)}")


def _check_metrics(text: str) -> tuple[str, ...]:
    from ..errors import InvalidOptionError

    parts = tuple(p for p in text.replace(",", " ").split() if p)
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise InvalidOptionError(
            f"--external-metrics {text}: {'unknown ' + ', '.join(bad) if bad else 'empty'}; "
            f"use a comma-separated list of {', '.join(PARTS)}"
        )
    return tuple(p for p in PARTS if p in parts)  # compare's order


def _filtrations(own: dict) -> tuple[str, ...]:
    f = own["filtration"]
    return ("sublevel", "superlevel") if f == "both" else (f,)


def default_keys(own: dict, prefix: str = "") -> list[str]:
    """Every key a run with these options prints (for the defaults call)."""
    keys = []
    for part in _check_metrics(own["metrics"]):
        for key in KEYS[part]:
            if "{f}" in key:
                keys.extend(key.format(f=f) for f in _filtrations(own))
            else:
                keys.append(key)
    keys = list(dict.fromkeys(keys))
    return [f"{prefix}:{k}" if prefix else k for k in keys]


# --------------------------------------------------------------------------- evaluation


def _read(path: str, field: dict, what: str):
    """The raw file (libpressio's posix io: native byte order) or a .npy (its numpy io), checked."""
    from pathlib import Path

    import numpy as np

    from ..errors import FileFormatError
    from ..io import load_array
    from ..io.raw import load as load_raw
    from ..io.spec import check_readable

    p = Path(path)
    check_readable(p)
    dtype = np.dtype(TYPES[field["type"]])
    shape = tuple(reversed(field["dims"]))  # libpressio lists dimensions fastest first
    with open(p, "rb") as fh:
        is_npy = fh.read(6) == b"\x93NUMPY"
    if is_npy:
        return load_array(p, shape=shape)
    try:
        return load_raw(p, shape, dtype, "native", True)
    except FileFormatError:
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        dims = " ".join(f"--dim {d}" for d in field["dims"])
        raise FileFormatError(
            f"the {what} file {path} has {p.stat().st_size} bytes, but {dims} (fastest first, shape "
            f"{'x'.join(map(str, shape))}) of {field['type']} needs {need} bytes; the dimensions do not match "
            "the data libpressio wrote"
        ) from None


def evaluate(fields: dict[str, dict], own: dict) -> dict[str, float]:
    """Compare each field's input with its decompressed data; the flat numeric results."""
    from ..compare import compare

    out: dict[str, float] = {}
    kwargs = {kw: own[name] for name, (kw, _) in OWN.items() if own[name] is not None}
    kwargs["metrics"] = _check_metrics(own["metrics"])
    for num in ("order", "sharpness", "min_persistence"):
        if num in kwargs:
            kwargs[num] = _number(kwargs[num], num)
    for prefix, field in fields.items():
        orig = _read(field["input"], field, "input")
        recon = _read(field["decompressed"], field, "decompressed")
        row = compare(orig, recon, **kwargs).to_row()
        first = _filtrations(own)[0]
        for alias in ("wasserstein", "bottleneck"):
            if f"{alias}_{first}" in row:
                row[alias] = row[f"{alias}_{first}"]  # the short names of the issue: the first filtration
        for key, value in row.items():
            if isinstance(value, (bool, int, float)) or hasattr(value, "dtype"):
                out[f"{prefix}:{key}" if prefix else key] = float(value)
    return out


def _number(text, name: str) -> float:
    from ..errors import InvalidOptionError

    try:
        return float(text)
    except ValueError:
        raise InvalidOptionError(f"--external-{name.replace('_', '-')} {text} is not a number") from None


def _format(v: float) -> str:
    """A value strtod parses back exactly (``inf``, ``nan``, integers without a fraction)."""
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
