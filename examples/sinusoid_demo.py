"""The paper's demonstration (Dam, Agarwal & Gopalakrishnan, arXiv 2504.04202, section 3.3, Table 1, Figure 2).

An MLP autoencoder squeezes 2048-point sinusoids through a latent space of 2 numbers.  It is trained
three times from the same initial weights -- with MSE, with the directional sign loss (DSL) only
(s = 32), and with 1 MSE + 128 DSL -- and the held-out reconstructions are scored with MSE, DSL, exact
DSL and the Wasserstein distance between 0-D persistence diagrams (topoeval's own
``persistence_diagram`` and ``wasserstein_distance``).

    python examples/sinusoid_demo.py       # defaults: ~3 min of CPU (2000 steps of 256 per model)
    python examples/sinusoid_demo.py --steps 400 --samples 1024 --test-samples 32 --batch-size 32 --points 256
                                           # the test's size: ~5 s of CPU

It prints the paper's Table 1 and writes, under ``--out`` (default ``examples/output``),
``sinusoid_table.md``, ``sinusoid_results.json`` and ``sinusoid_figure2.png`` (original vs
reconstructions of one held-out sample, and their cumulative signs).

Data (section 3.3): ``sin(linspace(0, 2 pi, 2048) + U(0, 2 pi)) * exp(linspace(-1, 1, 2048))``, the
exponential ramp reversed with probability 1/2.  Model (Table 4): encoder Linear(2048, 32) - ReLU -
Linear(32, 2), decoder Linear(2, 32) - ReLU - Linear(32, 2048), He initialisation (PyTorch's default
He-uniform; ``--init he-normal`` for the ReLU-gain normal one, with which DSL-only training does not
train -- see examples/README.md), Adam lr 1e-3.

Units (as in the paper's Table 1, see examples/README.md): "MSE" is the squared error summed over the
2048 points of a sample and averaged over samples (the paper's values, e.g. 1888 for a reconstruction
near 0, are 2048 times a per-point mean); "DSL" is normalized (a fraction in [0, 1], s = 32); "Exact
DSL" is the number of mismatching step directions out of 2047; "Persistence" is the 1-Wasserstein
distance (Euclidean ground metric) between the sublevel 0-D diagrams, never-dying classes matched (the
JSON also records the 2-Wasserstein distance, which is close to the paper's values).
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

N_POINTS = 2048
SHARPNESS = 32.0
LOSSES = ("MSE", "DSL", "1 MSE + 128 DSL")
METRICS = ("MSE", "DSL", "Exact DSL", "Persistence")
# the paper's Table 1, for the side-by-side print
PAPER_TABLE1 = {
    "MSE": {"MSE": 23.3221, "DSL": 0.5920, "Exact DSL": 968.1504, "Persistence": 0.6992},
    "DSL": {"MSE": 1887.9517, "DSL": 0.1471, "Exact DSL": 194.4619, "Persistence": 2.0775},
    "1 MSE + 128 DSL": {"MSE": 185.3973, "DSL": 0.0944, "Exact DSL": 429.5840, "Persistence": 0.4317},
}


@dataclass
class DemoConfig:
    steps: int = 2000
    samples: int = 8192
    test_samples: int = 256
    batch_size: int = 256
    seed: int = 0
    lr: float = 1e-3
    sharpness: float = SHARPNESS
    dsl_weight: float = 128.0
    hidden: int = 32
    latent: int = 2
    init: str = "he-uniform"
    n_points: int = N_POINTS
    threads: int = 1


@dataclass
class DemoResult:
    config: DemoConfig
    table: dict  # loss name -> metric name -> mean over held-out samples
    train_seconds: dict
    example_index: int
    histories: dict = field(default_factory=dict)


def make_sinusoids(n_samples: int, rng: np.random.Generator, n_points: int = N_POINTS) -> np.ndarray:
    """(n_samples, n_points) float32: one cycle of sin from a random phase times a random exp ramp."""
    t = np.linspace(0.0, 2.0 * np.pi, n_points)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n_samples, 1))
    ramp = np.linspace(-1.0, 1.0, n_points)
    flip = rng.uniform(size=(n_samples, 1)) < 0.5
    scale = np.exp(np.where(flip, ramp[::-1], ramp))
    return (np.sin(t + phase) * scale).astype(np.float32)


INITS = ("he-uniform", "he-normal")


def build_autoencoder(n_points: int = N_POINTS, hidden: int = 32, latent: int = 2, init: str = "he-uniform"):
    """2-layer MLP encoder and decoder with ReLU between the layers, He (Kaiming) initialised.

    ``init="he-uniform"``: PyTorch's default for ``nn.Linear`` (``kaiming_uniform_`` with
    ``a=sqrt(5)``, biases uniform in +-1/sqrt(fan_in)).  ``init="he-normal"``: ``kaiming_normal_``
    with the ReLU gain sqrt(2) and zero biases.  See examples/README.md for why the default matters.
    """
    from torch import nn

    if init not in INITS:
        raise ValueError(f"init={init!r}; use one of {INITS}")
    model = nn.Sequential(
        nn.Linear(n_points, hidden), nn.ReLU(), nn.Linear(hidden, latent),  # encoder
        nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_points),  # decoder
    )
    if init == "he-normal":
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    return model


def sum_squared_error(output, target):
    """The paper's "MSE": squared error summed over a sample's points, averaged over the batch."""
    return ((output - target) ** 2).sum(dim=1).mean()


def make_loss(name: str, sharpness: float, dsl_weight: float):
    from topoeval.torch import DirectionalSignLoss

    dsl = DirectionalSignLoss(sharpness=sharpness)
    if name == "MSE":
        return sum_squared_error
    if name == "DSL":
        return dsl
    if name == "1 MSE + 128 DSL":
        return lambda out, tgt: sum_squared_error(out, tgt) + dsl_weight * dsl(out, tgt)
    raise ValueError(f"unknown loss {name!r}; use one of {LOSSES}")


def train(model, train_data: np.ndarray, loss_name: str, cfg: DemoConfig) -> list[float]:
    """Adam on random mini-batches of the training set; returns the loss every 10% of the steps."""
    import torch

    loss_fn = make_loss(loss_name, cfg.sharpness, cfg.dsl_weight)
    data = torch.from_numpy(train_data)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed + 1)  # same batches for every loss
    history = []
    every = max(1, cfg.steps // 10)
    for step in range(cfg.steps):
        idx = torch.randint(0, data.shape[0], (cfg.batch_size,), generator=gen)
        batch = data[idx]
        loss = loss_fn(model(batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % every == 0 or step == cfg.steps - 1:
            history.append(float(loss.detach()))
    return history


def evaluate(recon: np.ndarray, orig: np.ndarray, sharpness: float = SHARPNESS) -> dict:
    """Table 1's metrics, mean over held-out samples, with topoeval's NumPy functions."""
    orig = orig.astype(np.float64)
    recon = recon.astype(np.float64)
    sse = ((recon - orig) ** 2).sum(axis=1).mean()
    dsl = te.dsl(recon, orig, sharpness=sharpness, batch_axis=0)
    exact = te.exact_dsl(recon, orig, batch_axis=0)
    w1, w2, n_orig, n_recon = [], [], [], []
    for o, r in zip(orig, recon):
        d_o, d_r = te.persistence_diagram(o), te.persistence_diagram(r)
        w1.append(te.wasserstein_distance(d_o, d_r))
        w2.append(te.wasserstein_distance(d_o, d_r, order=2.0))
        n_orig.append(len(d_o.births))
        n_recon.append(len(d_r.births))
    return {
        "MSE": float(sse), "DSL": float(dsl), "Exact DSL": float(exact), "Persistence": float(np.mean(w1)),
        # not in the paper's table (see examples/README.md): 2-Wasserstein, and diagram sizes
        "Persistence W2": float(np.mean(w2)),
        "Diagram points (original)": float(np.mean(n_orig)),
        "Diagram points (reconstruction)": float(np.mean(n_recon)),
    }


def run(cfg: DemoConfig, out_dir: str | os.PathLike | None = None, *, verbose: bool = True) -> DemoResult:
    """Train the three models, evaluate them, and (with ``out_dir``) write table, JSON and figure."""
    import torch

    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    train_data = make_sinusoids(cfg.samples, rng, cfg.n_points)
    test_data = make_sinusoids(cfg.test_samples, rng, cfg.n_points)
    table, seconds, histories, recons = {}, {}, {}, {}
    for name in LOSSES:
        torch.manual_seed(cfg.seed)  # the same initial weights for every loss
        model = build_autoencoder(cfg.n_points, hidden=cfg.hidden, latent=cfg.latent, init=cfg.init)
        t0 = time.perf_counter()
        histories[name] = train(model, train_data, name, cfg)
        seconds[name] = time.perf_counter() - t0
        with torch.no_grad():
            recons[name] = model(torch.from_numpy(test_data)).numpy()
        table[name] = evaluate(recons[name], test_data, cfg.sharpness)
        if verbose:
            print(f"trained {name!r}: {cfg.steps} steps in {seconds[name]:.1f} s, "
                  f"final training loss {histories[name][-1]:.4g}", file=sys.stderr)
    # the figure's example: the held-out sample closest to the median persistence distance of the mixture
    example = _pick_example(recons["1 MSE + 128 DSL"], test_data)
    result = DemoResult(cfg, table, seconds, example, histories)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "sinusoid_table.md").write_text(format_table(table) + "\n")
        (out / "sinusoid_results.json").write_text(json.dumps(_jsonable(result), indent=2) + "\n")
        save_figure(out / "sinusoid_figure2.png", test_data[example], {k: v[example] for k, v in recons.items()})
    return result


def _pick_example(recon: np.ndarray, orig: np.ndarray) -> int:
    d = np.array([
        te.wasserstein_distance(te.persistence_diagram(o.astype(np.float64)), te.persistence_diagram(r.astype(np.float64)))
        for o, r in zip(orig[:32], recon[:32])
    ])
    return int(np.argsort(d)[len(d) // 2])


def _jsonable(result: DemoResult) -> dict:
    d = asdict(result)
    d["paper_table1"] = PAPER_TABLE1
    d["units"] = {
        "MSE": "squared error summed over the 2048 points, mean over held-out samples",
        "DSL": f"normalized DSL, tanh, s={result.config.sharpness}",
        "Exact DSL": "number of mismatching step directions (of 2047), mean over samples",
        "Persistence": "1-Wasserstein distance (internal_p=2) between sublevel 0-D diagrams, mean over samples",
        "Persistence W2": "the same with order 2",
        "Diagram points": "number of pairs in the sublevel 0-D diagram (including the never-dying one), mean",
    }
    return d


def format_table(table: dict, paper: dict | None = PAPER_TABLE1) -> str:
    """Markdown table like the paper's Table 1 (with the paper's values in parentheses)."""
    head = "| Training loss | " + " | ".join(METRICS) + " |"
    rule = "|---|" + "---:|" * len(METRICS)
    best = {m: min(table, key=lambda k: table[k][m]) for m in METRICS}
    rows = []
    for name, values in table.items():
        cells = []
        for m in METRICS:
            v = f"{values[m]:.4f}"
            if best[m] == name:
                v = f"**{v}**"
            if paper is not None and name in paper:
                v += f" ({paper[name][m]:.4f})"
            cells.append(v)
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def check_orderings(table: dict) -> dict:
    """The paper's orderings: MSE wins on MSE, DSL wins on exact DSL, the mixture on persistence."""
    best = {m: min(table, key=lambda k: table[k][m]) for m in METRICS}
    return {
        "MSE training has the smallest MSE": best["MSE"] == "MSE",
        "DSL-only training has the smallest exact DSL": best["Exact DSL"] == "DSL",
        "the mixture has the smallest persistence distance": best["Persistence"] == "1 MSE + 128 DSL",
    }


def save_figure(path: Path, original: np.ndarray, recons: dict) -> None:
    """Figure 2: (a) original vs reconstructions, (b) cumulative signs of the finite differences."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    x = np.arange(original.shape[0])
    styles = {"MSE": "tab:blue", "DSL": "tab:orange", "1 MSE + 128 DSL": "tab:green"}
    ax_a.plot(x, original, color="black", lw=2.0, label="original")
    ax_b.plot(x[1:], np.cumsum(np.sign(np.diff(original))), color="black", lw=2.0, label="original")
    for name, r in recons.items():
        ax_a.plot(x, r, color=styles.get(name), lw=1.0, label=name)
        ax_b.plot(x[1:], np.cumsum(np.sign(np.diff(r))), color=styles.get(name), lw=1.0, label=name)
    ax_a.set(title="(a) original vs reconstructions", xlabel="point", ylabel="value")
    ax_b.set(title="(b) cumulative signs of the finite differences", xlabel="point", ylabel="cumulative sign")
    for ax in (ax_a, ax_b):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None) -> tuple[DemoConfig, str | None]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    d = DemoConfig()
    p.add_argument("--steps", type=int, default=d.steps, help="training steps per model (paper: 20000)")
    p.add_argument("--samples", type=int, default=d.samples, help="training samples (a fixed, seeded set)")
    p.add_argument("--test-samples", type=int, default=d.test_samples, help="held-out samples for the table")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="mini-batch size (paper: 1024)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the data, the initial weights and the batches")
    p.add_argument("--sharpness", type=float, default=d.sharpness, help="DSL sharpness s (paper: 32)")
    p.add_argument("--dsl-weight", type=float, default=d.dsl_weight, help="weight of DSL in the mixture (paper: 128)")
    p.add_argument("--points", type=int, default=d.n_points, help="points per sinusoid (paper: 2048)")
    p.add_argument("--init", choices=INITS, default=d.init, help="weight initialisation (see examples/README.md)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"),
                   help="output folder ('' writes nothing)")
    a = p.parse_args(argv)
    for name in ("steps", "samples", "test_samples", "batch_size", "threads", "points"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer")
    cfg = DemoConfig(steps=a.steps, samples=a.samples, test_samples=a.test_samples, batch_size=a.batch_size,
                     seed=a.seed, sharpness=a.sharpness, dsl_weight=a.dsl_weight, threads=a.threads,
                     n_points=a.points, init=a.init)
    if not math.isfinite(cfg.sharpness) or cfg.sharpness <= 0:
        p.error("--sharpness must be a positive number")
    return cfg, (a.out or None)


def main(argv=None) -> int:
    cfg, out = parse_args(argv)
    result = run(cfg, out)
    print("Table 1 (this run; the paper's values in parentheses):")
    print(format_table(result.table))
    print()
    for claim, ok in check_orderings(result.table).items():
        print(f"  [{'ok' if ok else 'NO'}] {claim}")
    if out:
        print(f"\nwrote {out}/sinusoid_table.md, sinusoid_results.json, sinusoid_figure2.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
