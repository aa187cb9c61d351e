"""Regenerate the bundled sample data (seeded: a second run writes identical bytes).

Usage (needs the ``compressors`` extra: ``pip install -e '.[compressors]'``)::

    python sample_data/generate.py            # writes next to this script
    python sample_data/generate.py --out DIR  # writes into DIR

What it writes is described in ``sample_data/README.md``:

* ``shallow_water.npy``  (8, 64, 64) float32, time x y x x: surface height of a
  shallow-water simulation of a Gaussian bump (paper section 4.3);
* ``smooth2d.npy``       (128, 128) float32: Gaussian-filtered white noise scaled to [0, 1];
* ``sinusoid1d.npy``     (2048,) float32: the paper's section 3.3 sinusoid;
* ``<name>_<sz3|zfp>_<1e-2|1e-3>.npy``: their SZ3 / ZFP reconstructions at absolute error
  bounds 1e-2 and 1e-3;
* ``batch.h5``: ``/orig`` (16, 32, 32) float32 (16 independent shallow-water runs, one
  snapshot each; first axis = sample) and ``/sz3/1e-2``, ``/sz3/1e-3``, ``/zfp/1e-2``,
  ``/zfp/1e-3``, each sample compressed on its own, chunked one sample per chunk, with
  attributes ``compressor``, ``bound``, ``bound_kind`` and ``max_abs_error``.

The shallow-water solver is the two-step (Richtmyer) Lax-Wendroff scheme for the
conservative 2-D shallow-water equations

    h_t + (hu)_x + (hv)_y = 0
    (hu)_t + (hu^2/h + g h^2/2)_x + (huv/h)_y = 0
    (hv)_t + (huv/h)_x + (hv^2/h + g h^2/2)_y = 0

on a square basin of n x n cells (dx = dy = 1, g = 9.8, dt = 0.05, CFL about 0.17),
with reflective walls (ghost cells copy h and the tangential momentum and negate
the normal momentum), as in C. Moler's "waterwave" demo.  Initially the water is
at rest with depth 1 plus a Gaussian bump of height 0.5 and standard deviation
n/16 cells at a seeded random position; snapshots are taken every 40 steps
(2 time units), the first at t = 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SEED = 20250406
BOUNDS = {"1e-2": 1e-2, "1e-3": 1e-3}
G = 9.8


def _flux_x(h, hu, hv):
    return hu, hu * hu / h + 0.5 * G * h * h, hu * hv / h


def _flux_y(h, hu, hv):
    return hv, hu * hv / h, hv * hv / h + 0.5 * G * h * h


def _reflect(U):
    """Fill the ghost cells of U = (h, hu, hv), shape (3, n+2, n+2), axes (q, y, x)."""
    U[:, 0, :] = U[:, 1, :]
    U[:, -1, :] = U[:, -2, :]
    U[:, :, 0] = U[:, :, 1]
    U[:, :, -1] = U[:, :, -2]
    U[2, 0, :] = -U[2, 1, :]  # hv is normal to the y walls
    U[2, -1, :] = -U[2, -2, :]
    U[1, :, 0] = -U[1, :, 1]  # hu is normal to the x walls
    U[1, :, -1] = -U[1, :, -2]


def shallow_water(n: int, n_snapshots: int, rng: np.random.Generator, *, dt: float = 0.05,
                  steps_per_snapshot: int = 40) -> np.ndarray:
    """Surface height snapshots, float64 (n_snapshots, n, n) = time x y x x."""
    y, x = np.mgrid[0:n, 0:n] + 0.5
    cy, cx = rng.uniform(0.2 * n, 0.8 * n, size=2)
    sigma = n / 16.0
    U = np.zeros((3, n + 2, n + 2))
    U[0, 1:-1, 1:-1] = 1.0 + 0.5 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    out = np.empty((n_snapshots, n, n))
    r = dt  # dt / dx with dx = 1
    for k in range(n_snapshots):
        out[k] = U[0, 1:-1, 1:-1]
        for _ in range(steps_per_snapshot):
            _reflect(U)
            # half step on the x faces (interior rows) and on the y faces (interior columns)
            L, R = U[:, 1:-1, :-1], U[:, 1:-1, 1:]
            Ux = 0.5 * (L + R) - 0.5 * r * (np.array(_flux_x(*R)) - np.array(_flux_x(*L)))
            B, T = U[:, :-1, 1:-1], U[:, 1:, 1:-1]
            Uy = 0.5 * (B + T) - 0.5 * r * (np.array(_flux_y(*T)) - np.array(_flux_y(*B)))
            Fx = np.array(_flux_x(*Ux))  # (3, n, n+1)
            Fy = np.array(_flux_y(*Uy))  # (3, n+1, n)
            U[:, 1:-1, 1:-1] -= r * (Fx[:, :, 1:] - Fx[:, :, :-1]) + r * (Fy[:, 1:, :] - Fy[:, :-1, :])
    if not np.isfinite(out).all():  # pragma: no cover - the scheme is stable at this CFL
        raise RuntimeError("shallow-water simulation blew up")
    return out


def smooth2d(rng: np.random.Generator, n: int = 128, sigma: float = 8.0) -> np.ndarray:
    """Gaussian-filtered (periodic) white noise scaled to [0, 1], float64 (n, n)."""
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")
    return (f - f.min()) / (f.max() - f.min())


def sinusoid1d(rng: np.random.Generator, n: int = 2048) -> np.ndarray:
    """One cycle of sin from a random phase, scaled by exp over [-1, 1] or [1, -1] (paper 3.3)."""
    t = np.linspace(0.0, 2 * np.pi, n)
    phase = rng.uniform(0.0, 2 * np.pi)
    ramp = np.linspace(-1.0, 1.0, n)
    if rng.uniform() < 0.5:
        ramp = ramp[::-1]
    return np.sin(t + phase) * np.exp(ramp)


def _roundtrip(name: str, a: np.ndarray, bound: float) -> np.ndarray:
    from topoeval.compressors import get_compressor

    recon, _ = get_compressor(name).roundtrip(a, bound)
    return recon


def main(argv=None) -> dict:
    import h5py

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    fields = {
        "shallow_water": shallow_water(64, 8, rng).astype(np.float32),
        "smooth2d": smooth2d(rng).astype(np.float32),
        "sinusoid1d": sinusoid1d(rng).astype(np.float32),
    }
    achieved: dict[str, float] = {}
    for name, a in fields.items():
        np.save(out / f"{name}.npy", a)
        for comp in ("sz3", "zfp"):
            for label, bound in BOUNDS.items():
                recon = _roundtrip(comp, a, bound)
                err = float(np.abs(recon.astype(np.float64) - a).max())
                assert err <= bound, (name, comp, label, err)
                achieved[f"{name}_{comp}_{label}.npy"] = err
                np.save(out / f"{name}_{comp}_{label}.npy", recon)

    # the HDF5 batch: 16 independent runs on a 32 x 32 basin, one snapshot each (at t = 2 .. 8)
    n_samples, n = 16, 32
    orig = np.empty((n_samples, n, n), dtype=np.float32)
    for i in range(n_samples):
        k = int(rng.integers(1, 5))
        orig[i] = shallow_water(n, k + 1, rng)[k]
    path = out / "batch.h5"
    tmp = path.with_suffix(".h5.tmp")
    with h5py.File(tmp, "w", libver="earliest", track_order=False) as f:
        kw = dict(chunks=(1, n, n), track_times=False)
        d = f.create_dataset("orig", data=orig, **kw)
        d.attrs["description"] = "shallow-water surface height, 16 runs, one snapshot each"
        for comp in ("sz3", "zfp"):
            for label, bound in BOUNDS.items():
                recon = np.stack([_roundtrip(comp, s, bound) for s in orig])
                err = float(np.abs(recon.astype(np.float64) - orig).max())
                assert err <= bound, (comp, label, err)
                achieved[f"batch.h5:/{comp}/{label}"] = err
                d = f.create_dataset(f"{comp}/{label}", data=recon, **kw)
                d.attrs["compressor"] = comp
                d.attrs["bound"] = bound
                d.attrs["bound_kind"] = "abs"
                d.attrs["max_abs_error"] = err
    tmp.replace(path)
    return achieved


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
