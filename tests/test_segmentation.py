"""Tests of topoeval.segmentation: Morse segmentation, segmentation errors, persistence-pair errors.

Oracles: the step-by-step walks of tests/naive.py on random inputs with many ties (values
drawn from a few integers), 1-D to 4-D, every connectivity; the critical points of
topoeval.critical_points (same tie rule, so the same extrema); the threaded run against one
thread, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import topoeval as te
from topoeval.errors import InvalidOptionError, NonFiniteError, ShapeMismatchError
from topoeval.segmentation.morse import neighbour_offsets, segment_flat

from .naive import (
    naive_morse_segmentation,
    naive_pair_errors,
    naive_seg_neighbours,
    naive_segmentation_errors,
)

CONNECTIVITIES = ("full", "face", "freudenthal")


def _shape(draw, max_cells=120):
    ndim = draw(st.integers(1, 4))
    sides = [draw(st.integers(1, 6)) for _ in range(ndim)]
    while int(np.prod(sides)) > max_cells:
        sides[int(np.argmax(sides))] -= 1
    return tuple(sides)


@st.composite
def tied_arrays(draw):
    shape = _shape(draw)
    seed = draw(st.integers(0, 2**32 - 1))
    levels = draw(st.integers(1, 6))  # few levels: many ties
    rng = np.random.default_rng(seed)
    return rng.integers(0, levels, size=shape).astype(np.float64)


@st.composite
def tied_pairs(draw):
    x = draw(tied_arrays())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    noise = rng.integers(-1, 2, size=x.shape) * (rng.random(x.shape) < 0.3)
    return x, x + noise


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_offsets_match_the_naive_neighbours(connectivity, ndim):
    centre = (1,) * ndim
    naive = {tuple(np.subtract(q, centre)) for q in naive_seg_neighbours(centre, (3,) * ndim, connectivity)}
    got = {tuple(o) for o in neighbour_offsets(ndim, connectivity)}
    assert got == naive
    expected = {"full": 3**ndim - 1, "face": 2 * ndim, "freudenthal": 2 * (2**ndim - 1)}[connectivity]
    assert len(got) == expected


@given(a=tied_arrays(), connectivity=st.sampled_from(CONNECTIVITIES))
def test_segmentation_matches_naive(a, connectivity):
    seg = te.morse_segmentation(a, connectivity)
    asc, desc = naive_morse_segmentation(a, connectivity)
    np.testing.assert_array_equal(seg.ascending, asc)
    np.testing.assert_array_equal(seg.descending, desc)
    # every label is an extremum, which labels itself
    flat = seg.ascending.ravel()
    assert (flat[flat] == flat).all()
    assert set(seg.maxima) == set(np.unique(flat))


@given(a=tied_arrays(), connectivity=st.sampled_from(CONNECTIVITIES))
def test_segmentation_omit_matches_naive(a, connectivity):
    rng = np.random.default_rng(int(a.sum()) + a.size)
    b = a.copy()
    b[rng.random(a.shape) < 0.2] = np.nan
    seg = te.morse_segmentation(b, connectivity, nan_policy="omit")
    asc, desc = naive_morse_segmentation(b, connectivity, omit=True)
    np.testing.assert_array_equal(seg.ascending, asc)
    np.testing.assert_array_equal(seg.descending, desc)


@pytest.mark.parametrize("connectivity", ["full", "freudenthal"])
def test_extrema_are_the_critical_points_extrema(rng, connectivity):
    for shape in [(40,), (17, 23), (7, 8, 9)]:
        a = rng.integers(0, 4, size=shape).astype(np.float64)
        seg = te.morse_segmentation(a, connectivity)
        cp = te.critical_points(a, connectivity=connectivity)
        types = np.asarray(cp.types).ravel()
        minimum, maximum = 1, 5  # the type codes of topoeval.critical_points
        np.testing.assert_array_equal(seg.minima, np.flatnonzero(types == minimum))
        np.testing.assert_array_equal(seg.maxima, np.flatnonzero(types == maximum))


def test_threads_give_the_same_labels_bit_for_bit(rng):
    for shape in [(700, 600), (60, 70, 80), (300000,), (3, 200000)]:  # last: ranges within a row
        a = rng.integers(0, 8, size=shape).astype(np.float64)
        one = te.morse_segmentation(a, jobs=1)
        many = te.morse_segmentation(a, jobs=5)
        b = np.where(rng.random(shape) < 0.1, np.nan, a)
        np.testing.assert_array_equal(
            te.morse_segmentation(b, nan_policy="omit", jobs=1).ascending,
            te.morse_segmentation(b, nan_policy="omit", jobs=5).ascending,
        )
        np.testing.assert_array_equal(one.ascending, many.ascending)
        np.testing.assert_array_equal(one.descending, many.descending)
        # the engine on odd thread counts and uneven ranges
        up, _ = segment_flat(np.ascontiguousarray(a).ravel(), a.shape, "full", False, 3)
        np.testing.assert_array_equal(up.reshape(shape), one.ascending)


def test_smooth_field_and_layouts(rng):
    y, x = np.mgrid[0:64, 0:80] / 8.0
    a = np.sin(x) * np.cos(y)
    seg = te.morse_segmentation(a)
    asc, _desc = naive_morse_segmentation(a[:20, :20])
    np.testing.assert_array_equal(te.morse_segmentation(a[:20, :20]).ascending, asc)
    # any memory layout and dtype: the same labels (flat indices are C-order)
    np.testing.assert_array_equal(te.morse_segmentation(np.asfortranarray(a)).ascending, seg.ascending)
    f32 = a.astype(np.float32)
    np.testing.assert_array_equal(
        te.morse_segmentation(f32).descending, te.morse_segmentation(f32.astype(np.float64)).descending
    )
    assert "maxima" in repr(seg)


@given(pair=tied_pairs(), connectivity=st.sampled_from(CONNECTIVITIES))
def test_segmentation_errors_match_naive(pair, connectivity):
    x, y = pair
    err = te.segmentation_errors(x, y, connectivity)
    row = err.to_row()
    naive = naive_segmentation_errors(x, y, connectivity)
    for k, v in naive.items():
        assert row[k] == v, k
    assert row["seg_false_label_ratio"] == pytest.approx(naive["seg_false_labels"] / x.size)
    assert int(err.mask().sum()) == row["seg_false_labels"]
    assert int(err.mask("ascending").sum()) == row["seg_false_ascending"]
    assert int(err.mask("descending").sum()) == row["seg_false_descending"]
    assert int(err.mask("extrema").sum()) <= row["seg_false_extrema"]
    same = te.segmentation_errors(x, x.copy(), connectivity).to_row()
    assert all(v == 0 for k, v in same.items())


def test_segmentation_errors_omit_uses_one_domain():
    x = np.array([0.0, 2.0, 1.0, 3.0, 0.5, 4.0])
    y = x.copy()
    y[1] = np.nan
    with pytest.raises(NonFiniteError, match="nan_policy='omit'"):
        te.segmentation_errors(x, y)
    err = te.segmentation_errors(x, y, nan_policy="omit")
    assert err.n_cells == 5 and err.false_labels == 0  # cell 1 is out of both domains
    xm = x.copy()
    xm[1] = np.nan
    ref = te.morse_segmentation(xm, nan_policy="omit")
    np.testing.assert_array_equal(err.orig.ascending, ref.ascending)


def test_errors():
    with pytest.raises(InvalidOptionError, match="connectivity"):
        te.morse_segmentation(np.zeros(3), "diagonal")
    with pytest.raises(NonFiniteError):
        te.morse_segmentation(np.array([0.0, np.inf]))
    with pytest.raises(InvalidOptionError, match="jobs"):
        te.morse_segmentation(np.zeros(3), jobs=0)
    with pytest.raises(ShapeMismatchError):
        te.segmentation_errors(np.zeros(3), np.zeros(4))
    with pytest.raises(InvalidOptionError, match="kind"):
        te.segmentation_errors(np.zeros(3), np.zeros(3)).mask("saddles")
    with pytest.raises(InvalidOptionError, match="min_persistence"):
        te.persistence_pair_errors(np.zeros(3), np.zeros(3), min_persistence=-1)
    with pytest.raises(InvalidOptionError, match="filtration"):
        te.persistence_pair_errors(np.zeros(3), np.zeros(3), filtration="up")


@given(
    pair=tied_pairs(),
    eps=st.sampled_from([0.0, 0.5, 1.0, 2.5]),
    filtration=st.sampled_from(["sublevel", "superlevel"]),
    connectivity=st.sampled_from(["full", "face"]),
)
def test_pair_errors_match_naive(pair, eps, filtration, connectivity):
    x, y = pair
    err = te.persistence_pair_errors(x, y, eps, filtration, connectivity)
    assert (err.preserved, err.false_negatives, err.false_positives) == naive_pair_errors(
        x, y, eps, filtration, connectivity
    )
    row = err.to_row()
    assert row["pairs_n_orig"] == row["pairs_preserved"] + row["pairs_false_negatives"]
    assert row["pairs_min_persistence"] == eps


def test_pair_errors_both_filtrations_and_cells(rng):
    x = rng.integers(0, 5, size=(12, 14)).astype(np.float64)
    y = x + rng.integers(-1, 2, size=x.shape) * 0.6
    both = te.persistence_pair_errors(x, y, 0.5)
    row = both.to_row()
    for f in ("sublevel", "superlevel"):
        one = te.persistence_pair_errors(x, y, 0.5, f).to_row()
        for k in ("preserved", "false_negatives", "false_positives"):
            assert row[f"pairs_{k}_{f}"] == one[f"pairs_{k}"]
    assert row["pairs_preserved"] == row["pairs_preserved_sublevel"] + row["pairs_preserved_superlevel"]
    # the lost pairs are pairs of the original's diagram, with their cells
    d = te.persistence_diagram(x)
    cells = {
        (int(np.ravel_multi_index(b, x.shape)), int(np.ravel_multi_index(c, x.shape)) if c[0] >= 0 else -1)
        for b, c in zip(d.birth_index, d.death_index)
    }
    assert {tuple(p) for p in both.false_negative_pairs["sublevel"]} <= cells
    same = te.persistence_pair_errors(x, x, 0.0).to_row()
    assert same["pairs_false_negatives"] == same["pairs_false_positives"] == 0
    assert "preserved" in repr(both)


# ---------------------------------------------------------------------------- compare, batch, sweep


def _quantised(rng, shape=(3, 12, 14)):
    a = rng.random(shape)
    return a, np.round(a * 4) / 4


def test_compare_parts_segmentation_and_pairs(rng):
    a, b = _quantised(rng, (12, 14))
    c = te.compare(a, b, metrics="all,segmentation,pairs", filtration="both", min_persistence=0.1)
    row = c.to_row()
    seg = te.segmentation_errors(a, b).to_row()  # cp_connectivity "full"
    pairs = te.persistence_pair_errors(a, b, 0.1, "both").to_row()
    assert {k: row[k] for k in seg} == seg
    assert {k: row[k] for k in pairs} == pairs
    assert c.seg_errors.mask().shape == a.shape and c.pair_errors.preserved == row["pairs_preserved"]
    # without the persistence part the pairs are computed from new diagrams: the same counts
    alone = te.compare(a, b, metrics=["pairs"], filtration="both", min_persistence=0.1).to_row()
    assert {k: alone[k] for k in pairs} == pairs
    # "all" keeps the standard parts; the new ones are asked for by name
    assert not any(k.startswith(("seg_", "pairs_")) for k in te.compare(a, b).to_row())
    d = c.to_dict()
    assert {"segmentation", "pairs"} <= set(d["metrics"])


def test_compare_batch_axis_sums_counts(rng):
    a, b = _quantised(rng)
    c = te.compare(a, b, metrics="segmentation,pairs", batch_axis=0)
    per = [te.segmentation_errors(a[i], b[i]).to_row() for i in range(3)]
    assert c.segmentation["seg_false_labels"] == sum(r["seg_false_labels"] for r in per)
    assert c.segmentation["seg_false_label_ratio"] == pytest.approx(
        sum(r["seg_false_labels"] for r in per) / a.size
    )
    pairs = [te.persistence_pair_errors(a[i], b[i], 0.0, "sublevel").to_row() for i in range(3)]
    assert c.pairs["pairs_false_negatives"] == sum(r["pairs_false_negatives"] for r in pairs)


def test_batch_and_sweep_rows_carry_the_new_columns(rng):
    a, b = _quantised(rng)
    res = te.batch(a, {"q": b}, jobs=1, metrics="segmentation,pairs")
    assert res.n_ok == 3
    for i, r in enumerate(res.rows):
        assert r["seg_false_labels"] == te.segmentation_errors(a[r["sample"]], b[r["sample"]]).false_labels, i
        assert "pairs_preserved" in r
    sw = te.sweep(a[0], ["quantize"], [0.1, 0.001], metrics="segmentation,pairs")
    labels = [r["seg_false_labels"] for r in sw.rows]
    assert all(r["status"] == "ok" for r in sw.rows) and labels[1] <= labels[0]


def test_command_line_compare_and_batch_metrics(tmp_path, rng):
    import json

    import h5py
    from click.testing import CliRunner

    from topoeval.cli import cli

    a, b = _quantised(rng)
    np.save(tmp_path / "x.npy", a[0])
    np.save(tmp_path / "y.npy", b[0])
    runner = CliRunner()
    out = tmp_path / "c.json"
    r = runner.invoke(cli, ["compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                            "--metrics", "all,segmentation,pairs", "-o", str(out)])
    assert r.exit_code == 0, r.output
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["segmentation"]["seg_false_labels"] == te.segmentation_errors(a[0], b[0]).false_labels
    assert metrics["pairs"]["pairs_preserved"] == te.persistence_pair_errors(a[0], b[0], 0.0, "sublevel").preserved
    r = runner.invoke(cli, ["compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--metrics", "segs"])
    assert r.exit_code == 2
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["orig"], f["q"] = a, b
    r = runner.invoke(cli, ["batch", str(tmp_path / "d.h5"), "--orig", "/orig", "--recon", "/q",
                            "--metrics", "segmentation", "-o", str(tmp_path / "rows.csv")])
    assert r.exit_code == 0, r.output
    header = (tmp_path / "rows.csv").read_text().splitlines()[0].split(",")
    assert "seg_false_labels" in header and "pairs_preserved" not in header
