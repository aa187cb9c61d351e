"""The command line: compare / diagram / info / sharpness, and every bad-input case of issue 5.

Each bad input must give ONE line on stderr, no traceback, exit status 1 (data) or 2 (usage).
Commands run in-process through ``topoeval.cli.main`` (the real entry point, with its error
mapping); a few run as real subprocesses.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

import topoeval as te
from topoeval.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def run(capsys, *args, stdin: bytes | None = None, monkeypatch=None):
    if stdin is not None:
        class FakeStdin:
            buffer = io.BytesIO(stdin)

        monkeypatch.setattr(sys, "stdin", FakeStdin)
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def assert_one_line_error(code, err, expected_code, *patterns):
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("topoeval: error: ")
    for p in patterns:
        assert p in lines[0], (p, lines[0])


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(42)
    x = rng.normal(size=(6, 7)).cumsum(axis=1).astype(np.float32)
    y = (x + 0.05 * rng.normal(size=x.shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


# ----------------------------------------------------------------------------- compare: success


def test_compare_json_matches_library(capsys, files):
    d, x, y = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "json", "--filtration", "both",
                         "--order", "2", "--internal-p", "inf", "--axis-weights", "1,0.5", "--sharpness", "4")
    assert code == 0, err
    got = json.loads(out)
    lib = te.compare(x, y, filtration="both", order=2, internal_p=np.inf, weights=(1, 0.5), sharpness=4).to_dict()
    assert got["metrics"] == lib["metrics"]
    assert got["options"]["order"] == 2.0 and got["options"]["internal_p"] == "inf"
    assert got["options"]["weights"] == [1.0, 0.5] and got["options"]["sharpness"] == 4.0
    assert got["inputs"] == {"orig": str(d / "x.npy"), "recon": str(d / "y.npy")}


def test_compare_table_and_csv(capsys, files):
    d, x, y = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy")
    assert code == 0, err
    for word in ("Pointwise", "psnr", "exact_dsl", "wasserstein", "bottleneck", "cp_false_negatives"):
        assert word in out
    assert "cp_false_negatives_minimum" not in out  # the per-type breakdown needs -v
    code, out, err = run(capsys, "-v", "compare", d / "x.npy", d / "y.npy")
    assert "cp_false_negatives_minimum" in out and "computed in" in err
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--metrics", "pointwise", "-v")
    assert code == 0 and "computed in" in err  # -q / -v after the command name too
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--metrics", "pointwise", "-q")
    assert code == 0 and err == "" and "psnr" in out and "x.npy vs" not in out  # no title
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "csv", "--metrics",
                         "pointwise,persistence")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    row = te.compare(x, y, metrics="pointwise,persistence").to_row()
    assert set(rows[0]) == {"orig", "recon", *row}
    assert float(rows[0]["wasserstein_sublevel"]) == pytest.approx(row["wasserstein_sublevel"])


def test_table_file_has_no_terminal_codes(capsys, files, monkeypatch):
    d, _, _ = files
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--metrics", "pointwise", "-o", d / "t.txt")
    assert code == 0, err
    text = (d / "t.txt").read_text()
    assert "psnr" in text and "\x1b[" not in text
    code, out, err = run(capsys, "info", d / "x.npy", "-o", d / "i.txt", "--format", "table")
    assert "\x1b[" not in (d / "i.txt").read_text()


def test_compare_output_file_force_and_atomic(capsys, files):
    d, x, y = files
    out_file = d / "res.json"
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", out_file, "--metrics", "pointwise")
    assert code == 0 and out == "" and json.loads(out_file.read_text())["metrics"]["pointwise"]
    before = out_file.read_bytes()
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", out_file, "--metrics", "dsl")
    assert_one_line_error(code, err, 2, str(out_file), "exists already", "--force")
    assert out_file.read_bytes() == before
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", out_file, "--metrics", "dsl",
                         "--force")
    assert code == 0 and "dsl" in json.loads(out_file.read_text())["metrics"]
    assert not [p for p in os.listdir(d) if p.startswith(".res.json")]  # no temporary left
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", d / "res.csv", "--metrics", "pointwise")
    assert code == 0 and (d / "res.csv").read_text().startswith("orig,recon,mse")
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", d / "res.xyz")
    assert_one_line_error(code, err, 2, "cannot tell the format", "--format")


def test_compare_mixed_formats_and_stdin(capsys, files, monkeypatch):
    d, x, y = files
    with h5py.File(d / "r.h5", "w") as f:
        f.create_dataset("grp/recon", data=y.astype(">f8"), chunks=(1, 7))
    y.astype("<f4").tofile(d / "y.f32")
    ref = te.compare(x, y, metrics="pointwise").to_row()["mse"]
    for recon, extra in ((f"{d / 'r.h5'}:/grp/recon", []), (d / "y.f32", ["--recon-shape", "6x7"]),
                         (d / "y.f32", ["--shape", "6x7"])):
        code, out, err = run(capsys, "compare", d / "x.npy", recon, "--metrics", "pointwise", "--format", "json",
                             *extra)
        assert code == 0, err
        assert json.loads(out)["metrics"]["pointwise"]["mse"] == pytest.approx(ref)
    buf = io.BytesIO()
    np.save(buf, y)
    code, out, err = run(capsys, "compare", d / "x.npy", "-", "--metrics", "pointwise", "--format", "json",
                         stdin=buf.getvalue(), monkeypatch=monkeypatch)
    assert code == 0, err
    assert json.loads(out)["metrics"]["pointwise"]["mse"] == pytest.approx(ref)


def test_compare_nan_policy_omit(capsys, files):
    d, x, y = files
    y[2, 3] = np.nan
    np.save(d / "nan.npy", y)
    code, out, err = run(capsys, "compare", d / "x.npy", d / "nan.npy")
    assert_one_line_error(code, err, 1, "recon holds 1 non-finite", "(2, 3)", "--nan-policy omit")
    code, out, err = run(capsys, "compare", d / "x.npy", d / "nan.npy", "--nan-policy", "omit", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["pointwise"]["n_values"] == x.size - 1


def test_report_and_plot_options(capsys, files):
    pytest.importorskip("topoeval.report")
    pytest.importorskip("matplotlib")
    d, x, y = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--report", d / "r.html", "--plot",
                         d / "s.png", "--metrics", "pointwise,dsl,persistence")
    assert code == 0, err
    assert (d / "r.html").stat().st_size > 0 and (d / "s.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--report", d / "r.html")
    assert_one_line_error(code, err, 2, "exists already")


# ----------------------------------------------------------------------------- compare: bad input


def test_missing_file(capsys, files):
    d, _, _ = files
    code, out, err = run(capsys, "compare", d / "nope.npy", d / "y.npy")
    assert_one_line_error(code, err, 1, "nope.npy", "no such file")


def test_unknown_extension(capsys, files):
    d, _, _ = files
    (d / "data.txt").write_text("1 2 3")
    code, out, err = run(capsys, "compare", d / "x.npy", d / "data.txt")
    assert_one_line_error(code, err, 1, "unknown file extension '.txt'", ".npy")


def test_wrong_dataset_key_lists_existing(capsys, files):
    d, x, y = files
    with h5py.File(d / "b.h5", "w") as f:
        f["orig"] = x
        f["sz3/1e-2"] = y
    code, out, err = run(capsys, "compare", f"{d / 'b.h5'}:/orig", f"{d / 'b.h5'}:/sz3/1e-3")
    assert_one_line_error(code, err, 1, "no dataset '/sz3/1e-3'", "/orig", "/sz3/1e-2")
    np.savez(d / "a.npz", u=x, v=y)
    code, out, err = run(capsys, "compare", f"{d / 'a.npz'}:u", f"{d / 'a.npz'}:w")
    assert_one_line_error(code, err, 1, "no array 'w'", "u, v")
    code, out, err = run(capsys, "compare", d / "a.npz", d / "y.npy")
    assert_one_line_error(code, err, 1, "holds 2 arrays", "u, v")


def test_raw_size_mismatch_and_missing_shape(capsys, files):
    d, x, _ = files
    x.tofile(d / "x.f32")  # 42 values = 168 bytes
    code, out, err = run(capsys, "compare", d / "x.f32", d / "x.f32", "--shape", "6x8")
    assert_one_line_error(code, err, 1, "has 168 bytes", "shape 6x8 of float32 needs 192 bytes")
    code, out, err = run(capsys, "compare", d / "x.f32", d / "x.f32")
    assert_one_line_error(code, err, 2, "needs its shape", "--shape")
    code, out, err = run(capsys, "compare", d / "x.f32", d / "x.f32", "--shape", "6xseven")
    assert_one_line_error(code, err, 2, "shape '6xseven' is not valid")


def test_shape_mismatch_shows_both(capsys, files):
    d, x, _ = files
    np.save(d / "t.npy", x.T)
    code, out, err = run(capsys, "compare", d / "x.npy", d / "t.npy")
    assert_one_line_error(code, err, 1, "(6, 7)", "(7, 6)")


def test_nonfinite_count_and_position(capsys, files):
    d, x, _ = files
    x[1, 2] = np.inf
    x[4, 0] = np.nan
    np.save(d / "bad.npy", x)
    code, out, err = run(capsys, "compare", d / "bad.npy", d / "y.npy")
    assert_one_line_error(code, err, 1, "orig holds 2 non-finite", "(1, 2)")


def test_pickled_object_array(capsys, files):
    d, _, _ = files
    np.save(d / "obj.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    code, out, err = run(capsys, "compare", d / "obj.npy", d / "y.npy")
    assert_one_line_error(code, err, 1, "Python objects", "never loads pickles")


def test_corrupt_and_truncated(capsys, files):
    d, x, _ = files
    raw = (d / "x.npy").read_bytes()
    (d / "trunc.npy").write_bytes(raw[: len(raw) - 20])
    code, out, err = run(capsys, "compare", d / "trunc.npy", d / "y.npy")
    assert_one_line_error(code, err, 1, "truncated")
    (d / "garbage.h5").write_bytes(b"\x00" * 512)
    code, out, err = run(capsys, "compare", d / "garbage.h5", d / "y.npy")
    assert_one_line_error(code, err, 1, "not an HDF5 file")
    (d / "garbage.npz").write_bytes(b"PK\x03\x04 broken")
    code, out, err = run(capsys, "compare", d / "garbage.npz", d / "y.npy")
    assert_one_line_error(code, err, 1, "not a readable .npz archive")


def test_unwritable_output(capsys, files):
    d, _, _ = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", d / "no" / "such" / "dir.json")
    assert_one_line_error(code, err, 1, "cannot write", "does not exist")
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", d / "x.npy" / "r.json")
    assert_one_line_error(code, err, 1, "is a file, not a folder")
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", d)
    assert code == 2 and "Traceback" not in err  # click: a directory is not a file
    if os.path.isdir("/sys/kernel"):  # not writable even for root: refused before any work
        code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", "/sys/kernel/te.json")
        assert_one_line_error(code, err, 1, "cannot write /sys/kernel/te.json")


@pytest.mark.parametrize("args,pattern", [
    (["--order", "0.5"], "--order 0.5 is not valid"),
    (["--filtration", "upper"], "'upper' is not one of"),
    (["--metrics", "pointwise,colour"], "'colour' is not a metric group"),
    (["--axis-weights", "1,x"], "comma-separated list of numbers"),
    (["--axis-weights", "1,1,1"], "--axis-weights has shape (3,)"),
    (["--batch-axis", "5"], "--batch-axis 5 is out of range"),
    (["--sharpness", "-2"], "--sharpness -2"),
    (["--bogus"], "No such option"),
])
def test_bad_options_exit_2(capsys, files, args, pattern):
    d, _, _ = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", *args)
    assert_one_line_error(code, err, 2, pattern)


def test_options_checked_before_reading_inputs(capsys, tmp_path):
    code, out, err = run(capsys, "compare", tmp_path / "missing.npy", tmp_path / "other.npy", "--order", "0.5")
    assert_one_line_error(code, err, 2, "--order 0.5")  # not "no such file": options come first


def test_debug_shows_traceback(files):
    d, _, _ = files
    with pytest.raises(te.TopoevalIOError):
        main(["--debug", "compare", str(d / "nope.npy"), str(d / "y.npy")])


# ----------------------------------------------------------------------------- diagram / info / sharpness


def test_diagram_exports(capsys, files):
    d, x, _ = files
    dg = te.persistence_diagram(x)
    sup = te.persistence_diagram(x, filtration="superlevel")
    code, out, err = run(capsys, "diagram", d / "x.npy", "--format", "csv", "--filtration", "both")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["filtration", "birth", "death", "persistence", "birth_0", "birth_1", "death_0",
                             "death_1"]
    subl = [r for r in rows if r["filtration"] == "sublevel"]
    assert len(subl) == len(dg) and len(rows) == len(dg) + len(sup)
    np.testing.assert_allclose([float(r["birth"]) for r in subl], dg.births)
    np.testing.assert_array_equal([[int(r["birth_0"]), int(r["birth_1"])] for r in subl], dg.birth_index)
    for r in rows:  # the positions are the critical cells: values match the array
        assert x[int(r["birth_0"]), int(r["birth_1"])] == np.float32(float(r["birth"]))
    assert any(r["death"] == "inf" for r in subl) and any(r["death"] == "-inf" for r in rows)

    code, out, err = run(capsys, "diagram", d / "x.npy", "-o", d / "dg.npy")
    rec = np.load(d / "dg.npy", allow_pickle=False)
    np.testing.assert_array_equal(rec["death"], dg.deaths)
    np.testing.assert_array_equal(rec["death_1"], dg.death_index[:, 1])
    code, out, err = run(capsys, "diagram", d / "x.npy", "-o", d / "dg.json", "--filtration", "superlevel")
    js = json.loads((d / "dg.json").read_text())
    assert len(js["pairs"]["superlevel"]) == len(sup) and js["pairs"]["superlevel"][0]["death"] == "-inf"
    code, out, err = run(capsys, "diagram", d / "x.npy", "--top", "3")
    assert code == 0 and "the 3 most persistent" in out
    code, out, err = run(capsys, "diagram", d / "x.npy", "--format", "npy")
    assert_one_line_error(code, err, 2, "pass -o FILE.npy")
    code, out, err = run(capsys, "diagram", d / "x.npy", "-o", d / "dg.npy")
    assert_one_line_error(code, err, 2, "exists already")


def test_diagram_dims(capsys, tmp_path):
    """--dim / --dims: a dim column (csv, npy), a dim entry (json), a table per dimension; the
    values those of persistence_diagrams; files read a block at a time give the same bytes."""
    rng = np.random.default_rng(12)
    a = np.round(rng.normal(size=(9, 8, 5)), 1)
    np.save(tmp_path / "a.npy", a)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("x", data=a, chunks=(3, 8, 5))
    want = te.persistence_diagrams(a)
    code, out, err = run(capsys, "diagram", tmp_path / "a.npy", "--dims", "all", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:3] == ["filtration", "dim", "birth"]
    assert [int(r["dim"]) for r in rows] == sorted(int(r["dim"]) for r in rows)  # by dimension
    for k, dgm in want.items():
        mine = [r for r in rows if r["dim"] == str(k)]
        np.testing.assert_array_equal([float(r["death"]) for r in mine], dgm.deaths)
        np.testing.assert_array_equal([[int(r[f"birth_{i}"]) for i in range(3)] for r in mine], dgm.birth_index)
    code, _, err = run(capsys, "diagram", tmp_path / "a.npy", "--dims", "0,2", "-o", tmp_path / "m.npy")
    assert code == 0, err
    for spec in (f"{tmp_path / 'a.h5'}:/x", tmp_path / "a.npy"):  # block by block (0 and d-1)
        for args in (["--dims", "2,0"], ["--dims", "0,2", "--memory-limit", "50MB", "-j", "1"]):
            code, _, err = run(capsys, "diagram", spec, *args, "-o", tmp_path / "b.npy", "--force")
            assert code == 0, err
            assert (tmp_path / "b.npy").read_bytes() == (tmp_path / "m.npy").read_bytes()
    rec = np.load(tmp_path / "m.npy")
    assert rec.dtype.names[:2] == ("filtration", "dim") and set(rec["dim"]) == {0, 2}
    np.testing.assert_array_equal(rec["birth"][rec["dim"] == 2], want[2].births)
    code, _, err = run(capsys, "diagram", tmp_path / "a.npy", "--dim", "1", "-o", tmp_path / "d.json")
    assert code == 0, err
    js = json.loads((tmp_path / "d.json").read_text())
    assert js["dims"] == [1] and {p["dim"] for p in js["pairs"]["sublevel"]} == {1}
    assert len(js["pairs"]["sublevel"]) == len(want[1])
    code, out, _ = run(capsys, "diagram", tmp_path / "a.npy", "--dims", "0,1", "--filtration", "both")
    assert code == 0 and out.count("diagram, dimension") == 4 and "superlevel diagram, dimension 1" in out
    # explicit --dim 0: the column is there; without the options, not
    code, out, _ = run(capsys, "diagram", tmp_path / "a.npy", "--dim", "0", "--format", "csv")
    assert out.startswith("filtration,dim,birth")
    code, out, _ = run(capsys, "diagram", tmp_path / "a.npy", "--format", "csv")
    assert out.startswith("filtration,birth")


@pytest.mark.parametrize("args, code, pattern", [
    (["--dims", "0,3"], 2, "homology dimensions 0..2"),
    (["--dim", "1", "--dims", "2"], 2, "not both"),
    (["--dim", "1", "--nan-policy", "omit"], 2, "dimension 0 only"),
    (["--dims", "all", "--memory-limit", "20kB"], 1, "raise --memory-limit to"),
    (["--dim", "1", "--dask", "local"], 2, "leave out --dask"),
])
def test_diagram_dims_errors(capsys, tmp_path, args, code, pattern):
    """Middle dimensions of a file read block by block are refused before any work (no cluster)."""
    a = np.round(np.random.default_rng(13).normal(size=(9, 8, 5)), 1)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("x", data=a, chunks=(3, 8, 5))
    got, _, err = run(capsys, "diagram", f"{tmp_path / 'a.h5'}:/x", *args)
    assert_one_line_error(got, err, code, pattern)
    if "dimension 1 of a 3-D" in err:
        assert "--dims 0,2" in err


def test_info(capsys, files):
    d, x, y = files
    with h5py.File(d / "b.h5", "w") as f:
        f.create_dataset("orig", data=x, chunks=(1, 7), compression="gzip")
        f.create_dataset("sz3/1e-2", data=y)
    code, out, err = run(capsys, "info", d / "b.h5")
    assert code == 0, err
    assert f"{d / 'b.h5'}:/sz3/1e-2" in out and "1x7" in out and "gzip" in out and "6x7" in out
    code, out, err = run(capsys, "info", d / "b.h5", "--format", "json")
    names = [e["name"] for e in json.loads(out)["datasets"]]
    assert names == [f"{d / 'b.h5'}:/orig", f"{d / 'b.h5'}:/sz3/1e-2"]
    x.tofile(d / "x.f32")
    code, out, err = run(capsys, "info", d / "x.f32")
    assert code == 0 and "42" in out and "--shape" in out
    code, out, err = run(capsys, "info", d / "x.f32", "--shape", "5x7")
    assert_one_line_error(code, err, 1, "has 168 bytes", "needs 140 bytes")
    code, out, err = run(capsys, "info", d / "missing.h5")
    assert_one_line_error(code, err, 1, "no such file")


def test_sharpness(capsys, tmp_path):
    rng = np.random.default_rng(3)
    walks = np.cumsum(rng.normal(scale=0.05, size=(32, 60)), axis=1)
    np.save(tmp_path / "w.npy", walks)
    code, out, err = run(capsys, "sharpness", tmp_path / "w.npy", "--format", "json", "--seed", "5")
    assert code == 0, err
    got = json.loads(out)
    from topoeval.dsl import find_sharpness

    fit = find_sharpness(walks, seed=5)
    assert got["sharpness"] == pytest.approx(fit.sharpness) and got["steps"] == fit.steps
    assert got["converged"] == fit.converged and got["reference"] == "mse"
    code, out2, err = run(capsys, "sharpness", tmp_path / "w.npy", "--format", "json", "--seed", "5")
    assert out2 == out  # reproducible with a seed
    code, out, err = run(capsys, "sharpness", tmp_path / "w.npy", "--reference", "mae")
    assert code == 0 and "sharpness" in out and "mae" in out


@pytest.mark.parametrize("command", ["compare", "diagram", "info", "sharpness"])
def test_help_has_example(capsys, command):
    code, out, err = run(capsys, command, "--help")
    assert code == 0 and "Example" in out and f"topoeval {command}" in out


def test_group_help_and_version(capsys):
    code, out, err = run(capsys, "--help")
    assert code == 0 and "compare" in out and "diagram" in out
    code, out, err = run(capsys, "--version")
    assert code == 0 and te.__version__ in out


# ----------------------------------------------------------------------------- real processes


def test_entry_point_on_sample_data():
    if not (SAMPLE / "shallow_water.npy").exists():
        pytest.skip("sample_data not generated")
    cmd = [sys.executable, "-m", "topoeval", "compare", str(SAMPLE / "shallow_water.npy"),
           str(SAMPLE / "shallow_water_sz3_1e-2.npy"), "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["shape"] == [8, 64, 64] and d["metrics"]["pointwise"]["max_abs_error"] <= 0.0100001


def test_subprocess_error_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "topoeval", "compare", str(tmp_path / "a.npy"),
                          str(tmp_path / "b.npy")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "no such file" in out.stderr and out.stdout == ""


def test_real_process_fast_exit_keeps_outputs_status_and_atexit(tmp_path):
    """Regression for the fast exit of the entry point (os._exit after flushing, issue 5 start-up):
    the output file is whole, usage errors keep status 2, and atexit handlers still run."""
    np.save(tmp_path / "a.npy", np.arange(12.0).reshape(3, 4))
    np.save(tmp_path / "b.npy", np.arange(12.0).reshape(3, 4) + 0.5)
    base = [sys.executable, "-m", "topoeval"]
    out = subprocess.run([*base, "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                          "-o", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["metrics"]["pointwise"]["max_abs_error"] == 0.5
    out = subprocess.run([*base, "compare", "--order", "x"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    flag = tmp_path / "atexit.txt"
    code = ("import atexit, sys\n"
            f"atexit.register(lambda: open({str(flag)!r}, 'w').write('ran'))\n"
            "from topoeval.cli import main\n"
            "sys.argv = ['topoeval', '--version']\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and te.__version__ in out.stdout
    assert flag.read_text() == "ran"


# ----------------------------------------------------------------------------- audit additions


def test_messages_name_options_not_keywords(capsys, files):
    d, x, y = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--axis-weights", "1,1,1")
    assert_one_line_error(code, err, 2, "--axis-weights has shape (3,)", "no --batch-axis")
    assert "weights=" not in err and "batch_axis=" not in err
    out_file = d / "r.csv"
    out_file.write_text("old")
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "-o", out_file)
    assert_one_line_error(code, err, 2, "exists already; pass --force to replace it")
    assert "force=True" not in err
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--data-range", "0")
    assert_one_line_error(code, err, 2, "--data-range 0.0 is not valid")


def test_key_on_a_file_that_takes_none(capsys, files):
    d, x, _ = files
    code, out, err = run(capsys, "compare", f"{d / 'x.npy'}:u", d / "y.npy")
    assert_one_line_error(code, err, 2, "only .npz and HDF5 files take a ':key' part", "drop ':u'")
    code, out, err = run(capsys, "compare", f"{d / 'nope.npy'}:u", d / "y.npy")
    assert_one_line_error(code, err, 1, "nope.npy: no such file")


def test_info_npz_npy_raw(capsys, files):
    d, x, y = files
    np.savez_compressed(d / "a.npz", u=x, v=y.astype(">f8"))
    code, out, err = run(capsys, "info", d / "a.npz", "--format", "json")
    assert code == 0, err
    got = {e["name"]: e for e in json.loads(out)["datasets"]}
    assert set(got) == {f"{d / 'a.npz'}:u", f"{d / 'a.npz'}:v"}
    assert got[f"{d / 'a.npz'}:u"]["shape"] == [6, 7] and got[f"{d / 'a.npz'}:u"]["dtype"] == "float32"
    assert got[f"{d / 'a.npz'}:v"]["byteorder"] == "big" and got[f"{d / 'a.npz'}:v"]["compression"] == "deflate"
    code, out, err = run(capsys, "info", d / "x.npy")
    assert code == 0 and "6x7" in out and "float32" in out and "npy" in out
    x.tofile(d / "x.f32")
    code, out, err = run(capsys, "info", d / "x.f32", "--shape", "6x7", "--format", "json")
    assert code == 0 and json.loads(out)["datasets"][0]["shape"] == [6, 7]
    (d / "x.bin").write_bytes(x.tobytes())
    code, out, err = run(capsys, "info", d / "x.bin")
    assert code == 0 and "x.bin" in out  # no dtype: the size only
    code, out, err = run(capsys, "info", "-")
    assert_one_line_error(code, err, 2, "not standard input")
    code, out, err = run(capsys, "info", d / "x.bin", "--dtype", "complex64")
    assert_one_line_error(code, err, 2, "--dtype complex64", "not a real number type")


def test_sharpness_relative_stop_on_small_values(capsys, tmp_path):
    """Data with a tiny reference loss: the paper's absolute tol would stop at step 1 (s unchanged);
    the default relative --rtol keeps fitting, as the library does."""
    rng = np.random.default_rng(8)
    walks = np.cumsum(rng.normal(scale=0.002, size=(24, 50)), axis=1)
    np.save(tmp_path / "w.npy", walks)
    code, out, err = run(capsys, "sharpness", tmp_path / "w.npy", "--format", "json", "--seed", "2")
    assert code == 0, err
    got = json.loads(out)
    from topoeval.dsl import find_sharpness

    fit = find_sharpness(walks, seed=2)
    assert got["sharpness"] == pytest.approx(fit.sharpness) and got["steps"] == fit.steps > 1
    assert got["dsl"] == pytest.approx(fit.history[-1, 1]) and got["reference_loss"] == pytest.approx(
        fit.history[-1, 2])
    assert abs(got["dsl"] - got["reference_loss"]) <= 1e-2 * got["reference_loss"]
    code, out, err = run(capsys, "sharpness", tmp_path / "w.npy", "--format", "json", "--seed", "2",
                         "--rtol", "0", "--tol", "1e-6")
    assert code == 0, err
    assert json.loads(out)["steps"] == 1  # the absolute threshold is met at once on these values
    code, out, err = run(capsys, "sharpness", tmp_path / "w.npy", "--max-steps", "0")
    assert_one_line_error(code, err, 2, "--max-steps 0 is not valid")


def test_compare_more_options(capsys, files):
    d, x, y = files
    lib = te.compare(x, y, batch_axis=0, metrics="dsl,persistence", filtration="both").to_row()
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--batch-axis", "0", "--metrics",
                         "dsl,persistence", "--filtration", "both", "--format", "csv", "-o", "-")
    assert code == 0, err
    row = next(csv.DictReader(io.StringIO(out)))
    for k in ("exact_dsl", "dsl", "wasserstein_sublevel", "bottleneck_superlevel", "n_points_orig_superlevel"):
        assert float(row[k]) == pytest.approx(lib[k]), k
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--compute-dtype", "float32",
                         "--metrics", "pointwise", "--format", "json", "--connectivity", "face")
    got = json.loads(out)
    assert got["options"]["dtype"] == "float32" and got["options"]["connectivity"] == "face"
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--filtration", "both", "--metrics",
                         "persistence")
    assert "Persistence (sublevel" in out and "Persistence (superlevel" in out


def test_json_output_is_strict_json(capsys, tmp_path):
    x = np.ones((4, 5))
    y = x.copy()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    code, out, err = run(capsys, "compare", tmp_path / "x.npy", tmp_path / "y.npy", "--format", "json")
    assert code == 0, err

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    d = json.loads(out, parse_constant=refuse)
    assert d["metrics"]["pointwise"]["psnr"] == "inf" and d["metrics"]["pointwise"]["pearson"] is None


def test_diagram_from_stdin(capsys, files, monkeypatch):
    d, x, _ = files
    buf = io.BytesIO()
    np.save(buf, x)
    code, out, err = run(capsys, "diagram", "-", "--format", "csv", stdin=buf.getvalue(), monkeypatch=monkeypatch)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1 + len(te.persistence_diagram(x))
    code, out, err = run(capsys, "diagram", "-", stdin=b"1,2,3\n", monkeypatch=monkeypatch)
    assert_one_line_error(code, err, 1, "standard input is not a .npy stream", "'-' reads only .npy")


def test_debug_traceback_and_version_in_a_process(tmp_path):
    base = [sys.executable, "-m", "topoeval"]
    out = subprocess.run([*base, "--debug", "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" in out.stderr and "TopoevalIOError" in out.stderr
    out = subprocess.run([*base, "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--debug"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" in out.stderr  # after the command name too
    out = subprocess.run([*base, "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and te.__version__ in out.stdout


def test_table_rich_on_a_terminal_plain_in_pipes(capsys, files, monkeypatch):
    d, x, y = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--metrics", "pointwise,dsl")
    assert code == 0, err
    assert "│" not in out and "\x1b[" not in out  # a pipe: plain aligned text
    lines = [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert {len(ln) for ln in lines} == {len(lines[0])}  # values right-aligned in one column
    psnr = next(ln for ln in lines if ln.split()[0] == "psnr")
    assert float(psnr.split()[1]) == pytest.approx(te.compare(x, y, metrics="pointwise").pointwise["psnr"], rel=1e-5)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--metrics", "pointwise,dsl")
    assert code == 0 and "│" in out and "psnr" in out  # a terminal: the rich table


# ----------------------------------------------------------------------------- global options (issue 17)


def _required_args(cmd):
    """Placeholder values for the required arguments and options of a click command."""
    import click

    def value(p):
        return p.type.choices[0] if isinstance(p.type, click.Choice) else "x"

    args, opts = [], []
    for p in cmd.params:
        if not p.required:
            continue
        if isinstance(p, click.Argument):
            args += [value(p)] * (1 if p.nargs == -1 else p.nargs)
        else:
            opts += [p.opts[0], value(p)]
    return opts, args


@pytest.mark.parametrize("name", list(__import__("topoeval.cli", fromlist=["COMMANDS"]).COMMANDS))
def test_global_options_before_and_after_every_command(name, capsys, monkeypatch):
    """-q/-v/--debug work before and after the name of every command in COMMANDS (new ones too)."""
    from topoeval.cli import cli as group
    from topoeval.cli.options import GLOBAL_OPTIONS, verbosity
    from topoeval.errors import InvalidInputError

    cmd = group.get_command(None, name)
    seen = {}

    def callback(**_):
        import click

        seen["verbosity"] = verbosity()
        seen["debug"] = click.get_current_context().obj.get("debug")
        raise InvalidInputError("stop here")

    monkeypatch.setattr(cmd, "callback", callback)
    opts, args = _required_args(cmd)
    for pname, (flags, _, _, _) in GLOBAL_OPTIONS.items():
        for flag in flags:
            for argv in ([flag, name, *opts, *args], [name, *opts, flag, *args]):
                seen.clear()
                if pname == "debug":  # the traceback: the error is raised, not turned into a line
                    with pytest.raises(InvalidInputError, match="stop here"):
                        main(argv)
                    assert seen == {"verbosity": 0, "debug": True}, argv
                    continue
                code, out, err = run(capsys, *argv)
                assert_one_line_error(code, err, 1, "stop here")
                assert seen == {"verbosity": -1 if pname == "quiet" else 1, "debug": False}, argv
    # and without them: normal verbosity, one line
    seen.clear()
    code, out, err = run(capsys, name, *opts, *args)
    assert code == 1 and seen == {"verbosity": 0, "debug": False}


@pytest.mark.parametrize("name", ["compare", "batch", "sweep"])
def test_help_shows_the_sharpness_default(name, capsys):
    from topoeval.cli.options import DEFAULT_SHARPNESS

    from topoeval.dsl import DEFAULT_SHARPNESS as LIBRARY_DEFAULT

    assert DEFAULT_SHARPNESS == LIBRARY_DEFAULT  # the value written out in options.py
    code, out, _ = run(capsys, name, "--help")
    assert code == 0
    text = " ".join(out.split())  # click wraps the help text
    assert "DEFAULT_SHARPNESS" not in text
    assert f"--sharpness FLOAT Sharpness s of the smooth DSL [default: {LIBRARY_DEFAULT:g}]." in text


# ----------------------------------------------------------------------------- plain text in pipes (issue 17)

_BOX = set("┏┓┗┛━┃│─┡┩╇┼┬┴├┤└┘┌┐╭╮╰╯═║")


@pytest.fixture
def long_files(tmp_path):
    """Inputs in a folder with a long name (a title longer than 80 columns)."""
    d = tmp_path / ("a_folder_with_a_rather_long_name_" * 3)
    d.mkdir()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 9, 9)).cumsum(axis=1)
    y = x + 0.05 * rng.normal(size=x.shape)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    with h5py.File(d / "b.h5", "w") as f:
        f["orig"] = x
        f["rec/a"] = y
        f["rec/a"].attrs["codec"] = "sz3"
    return d


def _pipe_cases(d):
    """command -> (argv, a line that must appear whole)."""
    return {
        "compare": (["compare", d / "x.npy", d / "y.npy"], f"{d / 'x.npy'} vs {d / 'y.npy'}"),
        "diagram": (["diagram", d / "x.npy", "--filtration", "both"],
                    f"{d / 'x.npy'}: superlevel diagram, "),
        "info": (["info", d / "b.h5"], f"{d / 'b.h5'}: hdf5, "),
        "sharpness": (["sharpness", d / "x.npy", "--max-steps", "5"], "sharpness"),
        "batch": (["batch", d / "b.h5", "--orig", "/orig", "--recon", "/rec/a", "-j", "1", "--metrics",
                   "pointwise,dsl,persistence"], "/orig: 6 rows, 6 ok, 0 failed"),
        "sweep": (["sweep", d / "x.npy", "-c", "quantize", "-c", "bitround", "-e", "1e-1,1e-2", "-j", "1",
                   "-v"], None),
        "external-metric": (["external-metric"], "external:api=5"),  # libpressio's protocol: key=value lines
    }


def _assert_plain(out):
    assert out.endswith("\n") and "\x1b[" not in out and not _BOX & set(out), out
    for line in out.splitlines():
        assert line == line.rstrip(), repr(line)  # no trailing spaces


@pytest.mark.parametrize("name", list(__import__("topoeval.cli", fromlist=["COMMANDS"]).COMMANDS))
def test_every_command_writes_plain_text_to_a_pipe(name, capsys, long_files, monkeypatch):
    cases = _pipe_cases(long_files)
    assert name in cases, f"add a case for the new command {name!r} to _pipe_cases"
    argv, whole = cases[name]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    _assert_plain(out)
    lines = out.splitlines()
    if whole is not None:  # a long title stays on one line
        assert any(ln.startswith(whole) for ln in lines), (whole, out)
    if name == "sweep":  # a table wider than any terminal: one line per run, every column in full
        header = lines[0].split()
        assert len(lines) == 5 and len(header) > 20 and len(lines[0]) > 150
        assert all(len(ln.split()) == len(header) for ln in lines[1:])
    # the same command on a terminal: rich tables (sharpness prints no table)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    code, tty_out, err = run(capsys, *argv)
    assert code == 0, err
    assert name in ("sharpness", "external-metric") or _BOX & set(tty_out)


def test_plain_columns_are_aligned(capsys, long_files):
    code, out, _ = run(capsys, "diagram", long_files / "x.npy", "--top", "0")
    assert code == 0
    lines = out.splitlines()
    header = lines[1]
    assert header.split() == ["birth", "death", "persistence", "birth", "cell", "death", "cell"]
    dgm = te.persistence_diagram(np.load(long_files / "x.npy"))
    rows = lines[2:]
    assert len(rows) == len(dgm)
    ends = [header.index(h) + len(h) for h in ("birth", "death", "persistence")]  # right-aligned columns
    for ln in rows:
        for e in ends:
            assert ln[e - 1] != " " and (e == len(ln) or ln[e] == " "), (ln, header)
    pers = sorted((float(ln.split()[2]) for ln in rows), reverse=True)
    assert pers == pytest.approx(np.sort(np.abs(dgm.deaths - dgm.births))[::-1], rel=1e-5)


def test_diagram_through_a_real_pipe(long_files):
    """`topoeval diagram field.npy | head`: plain text in a real pipe."""
    code = (f"import sys; from topoeval.cli import main; sys.argv[1:] = ['diagram', {str(long_files / 'x.npy')!r}];"
            " main()")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" | head -n 3", shell=True, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = proc.stdout
    _assert_plain(out)
    assert out.splitlines()[0].startswith(f"{long_files / 'x.npy'}: sublevel diagram, ") and len(out.splitlines()) == 3


# ----------------------------------------------------------------------------- benchmarks (issue 17)


def test_bench_persistence_takes_a_huge_gudhi_limit():
    """`bench_persistence.py --gudhi-limit 2000000` crashed with OverflowError in subprocess.run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_persistence", ROOT / "benchmarks" / "bench_persistence.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for limit in (2e6, 1e12, float("inf")):
        with pytest.raises(OverflowError):  # what the unclamped timeout did
            subprocess.run([sys.executable, "-c", "pass"], capture_output=True, timeout=limit * 1.5 + 30)
        out = subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True, text=True,
                             timeout=bench.worker_timeout(limit))
        assert out.stdout == "1\n"
    assert bench.worker_timeout(60) == 120  # small limits unchanged


# ----------------------------------------------------------------------------- README quick start (issue 17)


def test_readme_quick_start_install_on_its_own_line():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln.strip() for ln in block.strip().splitlines()]
    assert lines[0] == 'python -m pip install -e ".[test]"'  # alone: a newcomer sees what takes the time
    assert lines[1].startswith("topoeval compare sample_data/") and "&&" not in block
    for path in lines[1].split()[2:]:
        assert (ROOT / path).exists(), path
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    for needle in ("tests/test_torch.py", "tests/test_examples.py", "test_report_renders_in_headless_chromium",
                   "namespace package", "compiling kernels once"):
        assert needle in quick, needle


def test_a_clone_named_topoeval_in_the_working_folder_is_a_namespace_package(tmp_path):
    """What the README warns of: from the folder holding a clone named topoeval/, the clone shadows the install."""
    if not any("editable" in getattr(f, "__name__", type(f).__name__).lower() for f in sys.meta_path):
        pytest.skip("not an editable install by setuptools' finder (a regular install is found first)")
    (tmp_path / "topoeval").symlink_to(ROOT, target_is_directory=True)
    code = "import topoeval; print(getattr(topoeval, '__file__', None), hasattr(topoeval, 'compare'))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "False"]  # a namespace package without the API
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.stdout.split()[1] == "True"  # from inside the clone: the package


# ----------------------------------------------------------------------------- the first run (issue 17)


def _fresh_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "PYTHONPATH"))}
    env.update(extra)
    return env


@pytest.mark.slow
def test_first_compare_says_it_compiles_and_gives_the_same_result(tmp_path, files):
    """Empty Numba cache: one notice line on stderr, kernels compiled in parallel processes; the
    second run is silent and both print what the library computes."""
    d, x, y = files
    cmd = [sys.executable, "-m", "topoeval", "compare", str(d / "x.npy"), str(d / "y.npy"),
           "--metrics", "dsl,critical_points", "--format", "csv"]
    # two processes whatever the load: the forked child compiles one group of parts
    env = _fresh_env(NUMBA_CACHE_DIR=str(tmp_path / "cache"), TOPOEVAL_COMPILE_JOBS="2")
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(r"topoeval: compiling kernels once, about \d+ s \(dsl, "
                                            r"critical_points; .*\)", lines[0]), first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert second.returncode == 0 and second.stderr == "", second.stderr
    assert first.stdout == second.stdout
    row = next(csv.DictReader(io.StringIO(second.stdout)))
    lib = te.compare(x, y, metrics="dsl,critical_points").to_row()
    for key, value in lib.items():
        if isinstance(value, float):
            assert float(row[key]) == pytest.approx(value, rel=1e-12, abs=0), key


@pytest.mark.slow
def test_read_only_install_caches_in_the_user_cache_folder(tmp_path):
    """A package folder Numba cannot write to: kernels are cached in the user-wide folder
    (NUMBA_CACHE_DIR unset) and the next process loads them instead of compiling."""
    import shutil
    import stat

    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "topoeval", site / "topoeval", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site / "topoeval", *(p for p in (site / "topoeval").rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("")  # a file, not a folder: unwritable even for root
    for p in [*site.rglob("*"), site]:
        p.chmod(stat.S_IREAD | stat.S_IEXEC if p.is_dir() else stat.S_IREAD)
    code = """if True:
        import json, numpy as np, topoeval as te
        from topoeval._kernels._compile import PART_MODULES, _dispatchers, cold_parts
        assert te.__file__.startswith(%r), te.__file__
        cold = cold_parts(["dsl"])
        rng = np.random.default_rng(0)
        x = rng.random((6, 7)); y = x + 0.1 * rng.random((6, 7))
        value = te.exact_dsl(x, y)
        stats = [d.stats for d in _dispatchers(PART_MODULES["dsl"])]
        print(json.dumps({"cold": cold, "value": value, "hits": sum(sum(s.cache_hits.values()) for s in stats),
                          "misses": sum(sum(s.cache_misses.values()) for s in stats)}))
    """ % str(site)
    env = _fresh_env(PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"))
    try:
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                                 env=env, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            runs.append(json.loads(out.stdout.splitlines()[-1]))
        assert runs[0]["cold"] == ["dsl"] and runs[0]["misses"] > 0  # compiled, and said so
        assert runs[1]["cold"] == [] and runs[1]["misses"] == 0 and runs[1]["hits"] > 0  # loaded
        assert runs[0]["value"] == runs[1]["value"]
        assert list((tmp_path / "xdg" / "numba").rglob("*.nbi"))  # the user-wide cache
        assert not list(site.rglob("*.nbi"))
    finally:
        for p in [site, *site.rglob("*")]:
            if p.is_dir():
                p.chmod(stat.S_IRWXU)


def test_compile_groups_jobs_and_estimate(monkeypatch):
    from topoeval._kernels import _compile

    monkeypatch.setenv("TOPOEVAL_COMPILE_JOBS", "1")
    assert _compile._cores() == 1
    monkeypatch.setenv("TOPOEVAL_COMPILE_JOBS", "3")
    assert _compile._cores() == 3
    monkeypatch.delenv("TOPOEVAL_COMPILE_JOBS")
    assert 1 <= _compile._cores() <= (os.cpu_count() or 1)
    parts = ["dsl", "critical_points", "diagrams", "distances"]
    for n in (1, 2, 3, 8):
        groups = _compile._groups(parts, n)
        assert len(groups) == min(n, 4) and sorted(p for g in groups for p in g) == sorted(parts)
    assert _compile.estimate_seconds([]) == 0
    one, two = _compile.estimate_seconds(["dsl", "persistence"], 1), _compile.estimate_seconds(["dsl", "persistence"], 2)
    assert two < one and one % 5 == 0
    ran = []
    assert len(_compile.compile_parts(ran.append, ["a", "b"], jobs=1)) == 1 and ran == ["a", "b"]
    assert _compile.cold_parts(["pointwise"]) == []


def test_compile_groups_balance_the_measured_parts():
    # the compile processes get parts of about equal measured compile time: largest first onto
    # the lightest group is within 4/3 of the best split (brute force over every assignment)
    import itertools

    from topoeval._kernels import _compile

    parts = ["dsl", "critical_points", "diagrams", "distances"]
    sec = _compile._SECONDS
    for n in (2, 3):
        best = min(max(sum(sec[p] for p, g in zip(parts, assign) if g == k) for k in range(n))
                   for assign in itertools.product(range(n), repeat=len(parts)))
        got = max(sum(sec[p] for p in g) for g in _compile._groups(parts, n))
        assert best <= got <= best * (4 / 3 - 1 / (3 * n)) + 1e-9


def test_cold_parts_with_an_empty_and_a_filled_cache(tmp_path):
    parts = ["diagrams", "dsl", "critical_points", "persistence"]
    code = f"from topoeval._kernels._compile import cold_parts; print(cold_parts({parts!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env=_fresh_env(NUMBA_CACHE_DIR=str(tmp_path / "empty")))
    assert out.returncode == 0 and out.stdout.strip() == repr(parts), out.stderr  # nothing compiled: all cold
    from topoeval._kernels._compile import cold_parts

    te.persistence_diagram(np.random.default_rng(1).random((5, 6)))  # compiled or loaded: now cached
    assert cold_parts(["diagrams"]) == []


def test_stale_index_of_an_unused_kernel_is_not_cold_for_ever(tmp_path):
    # an index from an older source, for a kernel the call never uses (or one now inlined):
    # cold once (the upgrade), then forgotten, so the notice does not show on every run
    code = """
import numpy as np, topoeval as te
from topoeval._kernels import _compile
from topoeval.persistence import _block_kernels  # noqa: F401 (its kernels are never called here)
te.persistence_diagram(np.random.default_rng(1).random((5, 6)))
unused = next(iter(_compile._dispatchers(["topoeval.persistence._block_kernels"])))
cache_file = unused._cache._cache_file
cache_file._source_stamp = (0.0, 0)  # as written by an older release of the module
cache_file._save_index({})
print(_compile._cache_state(unused), _compile.cold_parts(["diagrams"]), _compile.cold_parts(["diagrams"]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env=_fresh_env(NUMBA_CACHE_DIR=str(tmp_path / "cache")))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["stale", "['diagrams']", "[]"]


# ----------------------------------------------------------------------------- --dims (issue 19 point 4)


def test_compare_dims(capsys, files):
    d, x, y = files
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "csv", "--metrics",
                         "persistence", "--filtration", "both", "--dims", "0,1")
    assert code == 0, err
    (got,) = list(csv.DictReader(io.StringIO(out)))
    row = te.compare(x, y, metrics="persistence", filtration="both", dims=(0, 1)).to_row()
    assert set(got) == {"orig", "recon", *row}
    for key in ("wasserstein_sublevel_dim1", "bottleneck_superlevel_dim1", "wasserstein_sublevel"):
        assert float(got[key]) == row[key]
    code, out, err = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "json", "--dims", "1,0")
    assert json.loads(out)["options"]["dims"] == [0, 1]
    code, out, _ = run(capsys, "compare", d / "x.npy", d / "y.npy", "--dims", "0,1")
    assert "Persistence (sublevel, H1" in out
    code, plain, _ = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "json")
    code, zero, _ = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "json", "--dims", "0")
    strip = lambda s: {k: v for k, v in json.loads(s).items() if k != "elapsed_s"}  # noqa: E731
    assert strip(plain) == strip(zero) and "dims" not in json.loads(plain)["options"]
    code, every, _ = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "json", "--dims", "all")
    code, both, _ = run(capsys, "compare", d / "x.npy", d / "y.npy", "--format", "json", "--dims", "0,1")
    assert strip(every) == strip(both) and json.loads(every)["options"]["dims"] == [0, 1]


@pytest.mark.parametrize("args, pattern", [
    (["--dims", "2"], "--dims has 2 but a 2-D field has homology dimensions 0..1 only"),
    (["--dims", "0,x"], "is not a comma-separated list of homology dimensions"),
    (["--dims", "-1"], "give dimensions 0, 1, ..., d-1"),
    (["--dims", "all,1"], "is not a comma-separated list of homology dimensions"),
])
def test_compare_dims_errors(capsys, files, args, pattern):
    d, _, _ = files
    code, _, err = run(capsys, "compare", d / "x.npy", d / "y.npy", *args)
    assert_one_line_error(code, err, 2, pattern)
