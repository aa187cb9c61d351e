"""Mixtures of MSE and DSL on the bundled shallow-water simulation (paper section 4.3, Figure 5).

A small 3-D convolutional autoencoder (two strided Conv3d layers each side, ReLU between them) is
trained on space-time crops of ``sample_data/shallow_water.npy`` (one simulation, 8 snapshots of a
64 x 64 basin) with the loss ``(1 - w) * MSE + w * DSL`` for w = 0, 0.1, ..., 1, from the same initial
weights and the same mini-batches, and every metric of the held-out crops is plotted against w.

    python examples/shallow_water_mixture.py                 # defaults: a few minutes on 2 CPU cores
    python examples/shallow_water_mixture.py --steps 40 --weights 0 0.5 1   # a smoke run

Writes, under ``--out`` (default ``examples/output``): ``shallow_water_mixture.md`` (the table),
``shallow_water_mixture.json`` and ``shallow_water_figure5.png``.

Data.  The bundled sample is a single simulation of shape (8, 64, 64) = time x y x x, too few samples
for training, so the model is trained on crops of shape (8, C, C) (all 8 snapshots, a C x C window;
C = 16 by default) from the left part of the basin (x < 40), augmented with the 8 symmetries of the
square (the basin and its reflective walls are symmetric), and evaluated on crops from the right part
(x >= 44, no overlap with any training crop).  Values are standardised with the training crops' mean
and standard deviation for training; metrics are computed in the original units.

Metrics (mean over held-out crops): MSE (per value), DSL (normalized, tanh, the training sharpness),
exact DSL (number of mismatching step directions per crop, out of 3 axes of differences), and the
1-Wasserstein distance between the 0-D persistence diagrams of the sublevel and of the superlevel sets
(full 26-neighbour connectivity) -- all computed with topoeval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import topoeval as te

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent / "sample_data" / "shallow_water.npy"
METRICS = ("MSE", "DSL", "Exact DSL", "Persistence (sublevel)", "Persistence (superlevel)")


@dataclass
class MixtureConfig:
    weights: tuple = tuple(round(0.1 * i, 1) for i in range(11))
    steps: int = 300
    batch_size: int = 32
    crop: int = 16
    train_x_end: int = 40  # training crops lie in x < train_x_end
    test_x_start: int = 44  # held-out crops lie in x >= test_x_start
    test_stride: int = 4
    channels: tuple = (16, 8)
    lr: float = 1e-3
    sharpness: float = 16.0
    seed: int = 0
    threads: int = 1


@dataclass
class MixtureResult:
    config: MixtureConfig
    rows: list  # one dict per DSL weight: {"dsl_weight": w, metric: value, ...}
    data_shape: tuple
    n_train_crops: int
    n_test_crops: int
    train_seconds: float
    histories: dict = field(default_factory=dict)


def make_crops(field_: np.ndarray, cfg: MixtureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training crops (with the 8 symmetries of the square) and held-out crops, float32 (n, T, C, C)."""
    t, ny, nx = field_.shape
    c = cfg.crop
    if cfg.train_x_end < c or nx - cfg.test_x_start < c or ny < c:
        raise ValueError(
            f"crop {c} does not fit: the data are {field_.shape}, training crops need x < {cfg.train_x_end} "
            f"and held-out crops x >= {cfg.test_x_start}; pass a smaller --crop"
        )
    train = [field_[:, y:y + c, x:x + c] for y in range(ny - c + 1) for x in range(cfg.train_x_end - c + 1)]
    train = np.stack(train)
    sym = []
    for k in range(4):
        r = np.rot90(train, k, axes=(2, 3))
        sym += [r, r[:, :, :, ::-1]]
    train = np.concatenate(sym)
    s = cfg.test_stride
    test = [field_[:, y:y + c, x:x + c] for y in range(0, ny - c + 1, s) for x in range(cfg.test_x_start, nx - c + 1, s)]
    return np.ascontiguousarray(train, dtype=np.float32), np.ascontiguousarray(np.stack(test), dtype=np.float32)


def build_autoencoder(channels=(16, 8)):
    """Conv3d(1, c1, 3, stride 2) - ReLU - Conv3d(c1, c2, 3, stride 2) | mirror with ConvTranspose3d.

    Each stride-2 layer halves time and space, so a (8, 16, 16) crop becomes a (c2, 2, 4, 4) latent
    (c2 = 8: 256 numbers for 2048 values, 8x smaller, as the paper's 32768 -> 4096).  PyTorch's default
    (He-uniform) initialisation.
    """
    from torch import nn

    c1, c2 = channels
    return nn.Sequential(
        nn.Conv3d(1, c1, 3, stride=2, padding=1), nn.ReLU(), nn.Conv3d(c1, c2, 3, stride=2, padding=1),
        nn.ConvTranspose3d(c2, c1, 4, stride=2, padding=1), nn.ReLU(), nn.ConvTranspose3d(c1, 1, 4, stride=2, padding=1),
    )


def train_one(dsl_weight: float, train_data, cfg: MixtureConfig) -> tuple:
    import torch
    from torch.nn import functional as F

    from topoeval.torch import DirectionalSignLoss

    torch.manual_seed(cfg.seed)  # the same initial weights for every mixture
    model = build_autoencoder(cfg.channels)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    dsl = DirectionalSignLoss(sharpness=cfg.sharpness)
    gen = torch.Generator().manual_seed(cfg.seed + 1)  # the same batches for every mixture
    history = []
    every = max(1, cfg.steps // 10)
    for step in range(cfg.steps):
        idx = torch.randint(0, train_data.shape[0], (cfg.batch_size,), generator=gen)
        batch = train_data[idx]
        out = model(batch)
        # samples are (1, T, C, C): the channel axis has length 1, so its weight does not matter
        loss = (1.0 - dsl_weight) * F.mse_loss(out, batch) + dsl_weight * dsl(out, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % every == 0 or step == cfg.steps - 1:
            history.append(float(loss.detach()))
    return model, history


def evaluate(recon: np.ndarray, orig: np.ndarray, sharpness: float, scale: float) -> dict:
    """Metrics in the original units (``scale`` = the standardisation's std, for the DSL's sharpness)."""
    orig = orig.astype(np.float64)
    recon = recon.astype(np.float64)
    out = {
        "MSE": float(np.mean((recon - orig) ** 2)),
        # DSL in the original units with the sharpness used in training on standardised data
        "DSL": float(te.dsl(recon, orig, sharpness=sharpness / scale, batch_axis=0)),
        "Exact DSL": float(te.exact_dsl(recon, orig, batch_axis=0)),
    }
    for filt in ("sublevel", "superlevel"):
        out[f"Persistence ({filt})"] = float(np.mean([
            te.wasserstein_distance(te.persistence_diagram(o, filtration=filt), te.persistence_diagram(r, filtration=filt))
            for o, r in zip(orig, recon)
        ]))
    return out


def run(cfg: MixtureConfig, data_path=DEFAULT_DATA, out_dir=None, *, verbose: bool = True) -> MixtureResult:
    import torch

    torch.set_num_threads(cfg.threads)
    field_ = np.asarray(te.load_array(str(data_path)), dtype=np.float64)
    if field_.ndim != 3:
        raise ValueError(f"{data_path} holds shape {field_.shape}; expected (time, y, x)")
    train_np, test_np = make_crops(field_, cfg)
    mean, std = float(train_np.mean()), float(train_np.std())
    train_t = torch.from_numpy((train_np - mean) / std).unsqueeze(1)  # (n, 1, T, C, C)
    test_t = torch.from_numpy((test_np - mean) / std).unsqueeze(1)
    rows, histories = [], {}
    t0 = time.perf_counter()
    recon_examples = {}
    for w in cfg.weights:
        t1 = time.perf_counter()
        model, histories[str(w)] = train_one(float(w), train_t, cfg)
        with torch.no_grad():
            recon = model(test_t).squeeze(1).numpy().astype(np.float64) * std + mean
        row = {"dsl_weight": float(w), **evaluate(recon, test_np, cfg.sharpness, std)}
        rows.append(row)
        recon_examples[float(w)] = recon[len(recon) // 2]
        if verbose:
            print(f"w={w:.1f}: {time.perf_counter() - t1:.1f} s  " +
                  "  ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "dsl_weight"), file=sys.stderr)
    result = MixtureResult(cfg, rows, tuple(field_.shape), len(train_np), len(test_np),
                           time.perf_counter() - t0, histories)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "shallow_water_mixture.md").write_text(format_table(rows) + "\n")
        d = asdict(result)
        d["mean"], d["std"] = mean, std
        (out / "shallow_water_mixture.json").write_text(json.dumps(d, indent=2) + "\n")
        save_figure(out / "shallow_water_figure5.png", rows, test_np[len(test_np) // 2], recon_examples)
    return result


def format_table(rows: list) -> str:
    head = "| DSL weight w (loss = (1-w) MSE + w DSL) | " + " | ".join(METRICS) + " |"
    rule = "|---:|" + "---:|" * len(METRICS)
    best = {m: min(range(len(rows)), key=lambda i: rows[i][m]) for m in METRICS}
    lines = [head, rule]
    for i, r in enumerate(rows):
        cells = [(f"**{r[m]:.4g}**" if best[m] == i else f"{r[m]:.4g}") for m in METRICS]
        lines.append(f"| {r['dsl_weight']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_figure(path: Path, rows: list, original: np.ndarray, recons: dict) -> None:
    """Figure 5: each metric (scaled to its maximum) against the DSL weight; plus one held-out crop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = np.array([r["dsl_weight"] for r in rows])
    shown = [k for k in (0.0, 0.5, 1.0) if k in recons] or list(recons)[:3]
    fig = plt.figure(figsize=(12, 4.6), constrained_layout=True)
    gs = fig.add_gridspec(2, 1 + len(shown) + 1, width_ratios=[3.2] + [1] * (len(shown) + 1))
    ax = fig.add_subplot(gs[:, 0])
    for m, marker in zip(METRICS, "osD^v"):
        v = np.array([r[m] for r in rows])
        ax.plot(w, v / v.max(), marker=marker, label=f"{m} (max {v.max():.3g})")
    ax.set(xlabel="DSL weight w in (1 - w) MSE + w DSL", ylabel="metric / its maximum",
           title="Held-out metrics against the loss mixture")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    times = (original.shape[0] // 2, original.shape[0] - 1)  # the wave has reached the crop by then
    vmin, vmax = float(original.min()), float(original.max())
    panels = [("original", original)] + [(f"w = {k:.1f}", recons[k]) for k in shown]
    for j, (title, a) in enumerate(panels):
        for i, t in enumerate(times):
            axi = fig.add_subplot(gs[i, 1 + j])
            axi.imshow(a[t], vmin=vmin, vmax=vmax, cmap="viridis")
            axi.set_xticks([])
            axi.set_yticks([])
            axi.set_title(f"{title}, t={t}", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    d = MixtureConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="(time, y, x) array (default: the bundled sample)")
    p.add_argument("--weights", type=float, nargs="+", default=list(d.weights), help="DSL weights w to train with")
    p.add_argument("--steps", type=int, default=d.steps, help="training steps per weight")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--crop", type=int, default=d.crop, help="crop width C (crops are 8 x C x C)")
    p.add_argument("--sharpness", type=float, default=d.sharpness,
                   help="DSL sharpness on the standardised data (paper: 16)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--out", default=str(HERE / "output"), help="output folder ('' writes nothing)")
    a = p.parse_args(argv)
    if any(not (0.0 <= w <= 1.0) for w in a.weights):
        p.error("--weights must lie in [0, 1]")
    if a.steps < 1 or a.batch_size < 1 or a.crop < 4 or a.threads < 1:
        p.error("--steps, --batch-size, --threads must be positive and --crop at least 4")
    if not (math.isfinite(a.sharpness) and a.sharpness > 0):
        p.error("--sharpness must be a positive number")
    cfg = MixtureConfig(weights=tuple(a.weights), steps=a.steps, batch_size=a.batch_size, crop=a.crop,
                        sharpness=a.sharpness, seed=a.seed, threads=a.threads)
    return cfg, a.data, (a.out or None)


def main(argv=None) -> int:
    cfg, data, out = parse_args(argv)
    result = run(cfg, data, out)
    print(f"{result.n_train_crops} training crops (with symmetries), {result.n_test_crops} held-out crops "
          f"of shape (8, {cfg.crop}, {cfg.crop}); {cfg.steps} steps per weight, {result.train_seconds:.0f} s in all")
    print(format_table(result.rows))
    if out:
        print(f"\nwrote {out}/shallow_water_mixture.md, shallow_water_mixture.json, shallow_water_figure5.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
