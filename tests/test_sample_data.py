"""The bundled sample data: present, as documented, and reproducible byte for byte."""

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
BOUNDS = {"1e-2": 1e-2, "1e-3": 1e-3}
ORIGINALS = {"shallow_water": (8, 64, 64), "smooth2d": (128, 128), "sinusoid1d": (2048,)}


def test_total_size_under_2mb():
    total = sum(p.stat().st_size for p in SAMPLE.iterdir() if p.is_file())
    assert total < 2 * 1024 * 1024


@pytest.mark.parametrize("name,shape", ORIGINALS.items())
def test_npy_files(name, shape):
    a = np.load(SAMPLE / f"{name}.npy", allow_pickle=False)
    assert a.shape == shape and a.dtype == np.float32
    assert np.isfinite(a).all()
    for comp in ("sz3", "zfp"):
        for label, bound in BOUNDS.items():
            r = np.load(SAMPLE / f"{name}_{comp}_{label}.npy", allow_pickle=False)
            assert r.shape == shape and r.dtype == np.float32
            err = np.abs(r.astype(np.float64) - a).max()
            assert 0 < err <= bound, (name, comp, label, err)


def test_shallow_water_is_a_falling_bump():
    a = np.load(SAMPLE / "shallow_water.npy").astype(np.float64)
    # t = 0: water at rest (depth 1) plus one Gaussian bump of height 0.5
    assert a[0].min() == pytest.approx(1.0, abs=1e-6)
    assert a[0].max() == pytest.approx(1.5, abs=0.01)
    peak = np.unravel_index(np.argmax(a[0]), a[0].shape)
    assert 0.2 * 64 <= peak[0] <= 0.8 * 64 and 0.2 * 64 <= peak[1] <= 0.8 * 64
    # the bump falls and waves spread: the maximum drops, the surface is no longer flat anywhere
    assert a[1].max() < a[0].max() - 0.2
    assert a[-1].min() < 0.99
    # mass (volume of water) is conserved by the conservative scheme with reflective walls
    volume = a.sum(axis=(1, 2))
    np.testing.assert_allclose(volume, volume[0], rtol=1e-5)


def test_sinusoid_is_the_papers_signal():
    s = np.load(SAMPLE / "sinusoid1d.npy").astype(np.float64)
    t = np.linspace(0.0, 2 * np.pi, 2048)
    for ramp in (np.linspace(-1, 1, 2048), np.linspace(1, -1, 2048)):
        base = s / np.exp(ramp)
        # base must be sin(t + phase) = cos(phase) sin(t) + sin(phase) cos(t) for one phase
        basis = np.stack([np.sin(t), np.cos(t)], axis=1)
        coef = np.linalg.lstsq(basis, base, rcond=None)[0]
        if np.hypot(*coef) == pytest.approx(1.0, abs=1e-6) and np.allclose(basis @ coef, base, atol=1e-6):
            return
    pytest.fail("sinusoid1d.npy is not sin(t + phase) * exp(+-linspace(-1, 1))")


def test_batch_h5_layout():
    with h5py.File(SAMPLE / "batch.h5", "r") as f:
        orig = f["orig"]
        assert orig.shape == (16, 32, 32) and orig.dtype == np.float32
        assert orig.chunks == (1, 32, 32)
        o = orig[...]
        for comp in ("sz3", "zfp"):
            for label, bound in BOUNDS.items():
                d = f[f"{comp}/{label}"]
                assert d.shape == orig.shape and d.dtype == np.float32 and d.chunks == (1, 32, 32)
                assert d.attrs["compressor"] == comp
                assert d.attrs["bound"] == bound
                assert d.attrs["bound_kind"] == "abs"
                err = np.abs(d[...].astype(np.float64) - o).max()
                assert err == pytest.approx(d.attrs["max_abs_error"])
                assert 0 < err <= bound


@pytest.mark.skipif(
    importlib.util.find_spec("pysz") is None or importlib.util.find_spec("zfpy") is None,
    reason="regenerating needs the compressors extra",
)
def test_generate_reproduces_identical_bytes(tmp_path):
    subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--out", str(tmp_path)],
        check=True, capture_output=True,
    )
    produced = sorted(p.name for p in tmp_path.iterdir())
    bundled = sorted(p.name for p in SAMPLE.iterdir() if p.suffix in (".npy", ".h5"))
    assert produced == bundled
    for name in produced:
        a = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        b = hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest()
        assert a == b, name
