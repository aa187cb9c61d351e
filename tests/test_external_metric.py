"""``topoeval external-metric``, run as libpressio's forkexec launcher runs it.

The launcher (libpressio src/plugins/launch/external_forkexec.cc) closes standard input,
execs the command split on whitespace with libpressio's arguments appended (order not
fixed), and parses standard output: ``external:api=N`` then ``key=value`` lines, values read
with strtod.  It calls the command once without arguments (the defaults) and once with the
files it wrote (posix io: raw bytes, native byte order, names like ``.pressioinXXXXXX``).
The oracle for every value is :func:`topoeval.compare` on the same arrays, in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import topoeval as te
from topoeval.cli.external_metric import default_keys

_SCRIPT = Path(sys.executable).with_name("topoeval")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "topoeval"]
ALL = {"metrics": "pointwise,dsl,persistence,critical_points", "filtration": "sublevel"}


def launch(args, cwd, extra=()):
    """fork + exec as libpressio's forkexec launcher: stdin closed, stdout/stderr piped."""
    out = subprocess.run([*COMMAND, "external-metric", *extra, *args], cwd=cwd, capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    return out.returncode, out.stdout, out.stderr


def parse(stdout):
    """libpressio's parse_result: the api line, then name=value (strtod)."""
    lines = stdout.strip().splitlines()
    assert lines and lines[0] == "external:api=5", stdout
    results = {}
    for line in lines[1:]:
        name, eq, value = line.partition("=")
        assert eq and name and "\n" not in value and not name.startswith("external:"), line
        results[name] = float(value)
    return results


def write_pair(d: Path, shape, dtype, seed, tag=""):
    rng = np.random.default_rng(seed)
    orig = np.round(rng.normal(size=shape).cumsum(axis=-1), 1)  # rounded: ties
    recon = orig + rng.normal(scale=0.05, size=shape)
    orig, recon = orig.astype(dtype), recon.astype(dtype)
    pin, pout = d / f".pressioin{tag}{seed}", d / f".pressioout{tag}{seed}"
    orig.tofile(pin)
    recon.tofile(pout)
    return orig, recon, pin, pout


def pressio_args(pin, pout, shape, type_name, prefix=""):
    dash = f"--{prefix}_" if prefix else "--"
    pairs = [(f"{dash}input", str(pin)), (f"{dash}decompressed", str(pout)), (f"{dash}type", type_name)]
    pairs += [(f"{dash}dim", str(d)) for d in reversed(shape)]  # fastest first
    return pairs


def shuffled(pairs, seed):
    """libpressio's own arguments plus ours, in a random order (dims keep theirs)."""
    base = [("--api", "6"), ("--config_name", "external"), ("--eval_uuid", "0c4e-11")] + pairs
    dims = [p for p in base if p[0].endswith("dim")]
    rest = [p for p in base if not p[0].endswith("dim")]
    order = np.random.default_rng(seed).permutation(len(rest) + 1)
    out = []
    for i in order:
        out.extend(sum(dims, ()) if i == len(rest) else rest[i])
    return out


def test_defaults_quickly_without_numba(tmp_path):
    code, out, err = launch([], tmp_path)
    assert code == 0, err
    res = parse(out)
    assert list(res) == default_keys(ALL)
    assert {"mse", "psnr", "exact_dsl", "wasserstein", "bottleneck", "cp_total_errors"} <= set(res)
    assert all(np.isnan(v) for v in res.values())
    probe = ("import sys\nfrom topoeval.cli import main\ntry:\n    main(['external-metric'])\n"
             "except SystemExit as e:\n    assert e.code == 0\n"
             "print(sorted(m for m in ('numba', 'scipy', 'h5py', 'gudhi') if m in sys.modules))")
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert heavy.returncode == 0, heavy.stderr
    assert heavy.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("seed,shape,type_name,dtype", [
    (1, (5, 9, 13), "float", np.float32),
    (2, (17, 11), "double", np.float64),
    (3, (4, 6, 8), "int16", np.int16),
    (4, (40,), "uint8", np.uint8),
])
def test_values_equal_compare_any_argument_order(tmp_path, seed, shape, type_name, dtype):
    orig, recon, pin, pout = write_pair(tmp_path, shape, dtype, seed)
    code, out, err = launch(shuffled(pressio_args(pin, pout, shape, type_name), seed), tmp_path)
    assert code == 0, err
    res = parse(out)
    row = te.compare(orig, recon).to_row()  # the shape is C order: dims were reversed
    numeric = {k: float(v) for k, v in row.items() if not isinstance(v, str)}
    assert set(res) == set(default_keys(ALL)), set(res) ^ set(default_keys(ALL))
    for k, v in numeric.items():
        assert res[k] == v or (np.isnan(v) and np.isnan(res[k])), k
    assert res["wasserstein"] == row["wasserstein_sublevel"] and res["bottleneck"] == row["bottleneck_sublevel"]


def test_dims_are_fastest_first(tmp_path):
    shape = (3, 5, 7)
    orig, recon, pin, pout = write_pair(tmp_path, shape, np.float64, 5)
    code, out, err = launch(shuffled(pressio_args(pin, pout, shape, "double"), 5)
                            + ["--external-metrics", "dsl,persistence"], tmp_path)
    assert code == 0, err
    res = parse(out)
    right = te.compare(orig, recon, metrics=["dsl", "persistence"]).to_row()
    wrong = te.compare(orig.reshape(7, 5, 3), recon.reshape(7, 5, 3), metrics=["dsl", "persistence"]).to_row()
    assert res["dsl"] == right["dsl"] and res["dsl"] != wrong["dsl"]
    assert res["wasserstein"] == right["wasserstein_sublevel"]


def test_own_options_and_their_defaults(tmp_path):
    shape = (6, 7)
    orig, recon, pin, pout = write_pair(tmp_path, shape, np.float32, 6)
    ours = ["--external-metrics", "persistence,dsl", "--external-filtration=both", "--external-order", "2",
            "--external-sharpness", "8"]
    code, out, err = launch(ours, tmp_path)
    assert code == 0, err
    defaults = parse(out)
    code, out, err = launch(shuffled(pressio_args(pin, pout, shape, "float"), 6) + ours, tmp_path)
    assert code == 0, err
    res = parse(out)
    assert set(res) == set(defaults)  # the defaults list every key the run prints
    row = te.compare(orig, recon, metrics=["persistence", "dsl"], filtration="both", order=2, sharpness=8).to_row()
    assert {k for k in res if "superlevel" in k} and res["sharpness"] == 8
    for k, v in row.items():
        if not isinstance(v, str):
            assert res[k] == float(v), k
    assert not any(k.startswith(("mse", "cp_")) for k in res)


def test_field_names_prefix_every_argument_and_key(tmp_path):
    args, rows = [], {}
    for prefix, seed in (("u", 7), ("v", 8)):
        orig, recon, pin, pout = write_pair(tmp_path, (5, 6), np.float32, seed, tag=prefix)
        args += [x for pair in pressio_args(pin, pout, (5, 6), "float", prefix) for x in pair]
        rows[prefix] = te.compare(orig, recon, metrics=["pointwise"]).to_row()
    code, out, err = launch(["--api", "6", *args, "--external_metrics", "pointwise"], tmp_path)
    assert code == 0, err
    res = parse(out)
    for prefix, row in rows.items():
        assert res[f"{prefix}:mse"] == row["mse"] and res[f"{prefix}:psnr"] == row["psnr"]


def test_numpy_io_format_and_unknown_arguments_ignored(tmp_path):
    rng = np.random.default_rng(9)
    orig = rng.normal(size=(4, 5))
    recon = orig + 0.01
    np.save(tmp_path / "in.npy", orig)
    np.save(tmp_path / "out.npy", recon)
    args = ["--input", str(tmp_path / "in.npy"), "--decompressed", str(tmp_path / "out.npy"), "--type", "double",
            "--dim", "5", "--dim", "4", "--some_future_argument", "3", "--external-metrics", "pointwise"]
    code, out, err = launch(args, tmp_path)
    assert code == 0, err
    assert parse(out)["max_abs_error"] == te.compare(orig, recon, metrics=["pointwise"]).to_row()["max_abs_error"]


def _fails(tmp_path, args, expected_code, *patterns):
    code, out, err = launch(args, tmp_path)
    assert code == expected_code, (code, err)
    assert out.strip() == "external:api=5"  # parseable: libpressio reports return code and stderr
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for p in patterns:
        assert p in lines[0], (p, lines[0])


def test_bad_input_one_line_each(tmp_path):
    orig, recon, pin, pout = write_pair(tmp_path, (4, 5, 6), np.float32, 10)
    good = [x for pair in pressio_args(pin, pout, (4, 5, 6), "float") for x in pair]
    wrong_dims = [x for pair in pressio_args(pin, pout, (4, 5, 7), "float") for x in pair]
    _fails(tmp_path, wrong_dims, 1, "has 480 bytes", "needs 560 bytes", "--dim 7 --dim 5 --dim 4")
    _fails(tmp_path, good[:2], 2, "--decompressed", "--type", "--dim", "missing")
    _fails(tmp_path, [*good[:-2], "--dim", "0"], 2, "positive integer")
    _fails(tmp_path, [x if x != "float" else "complex" for x in good], 2, "--type complex is not supported")
    _fails(tmp_path, [*good, "--external-metric", "dsl"], 2, "--external-metric is not an option",
           "--external-metrics")
    _fails(tmp_path, [*good, "--external-metrics", "dsl,topo"], 2, "unknown topo")
    _fails(tmp_path, ["--external-metrics", "nope"], 2, "unknown nope")
    _fails(tmp_path, [*good, "--external-order", "x"], 2, "not a number")
    _fails(tmp_path, [*good, "--external-filtration", "up"], 2, "filtration")
    os.unlink(pout)
    _fails(tmp_path, good, 1, "no such file")
