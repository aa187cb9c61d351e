"""Tests of the examples: the paper's section 3.3 demonstration and the shallow-water mixture sweep.

The scripts in examples/ are imported from their files (examples/ is not a package) and run at small,
seeded sizes.  The slow tests check the orderings the paper reports (Table 1).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import topoeval as te  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_topoeval_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo():
    return _load("sinusoid_demo")


@pytest.fixture(scope="module")
def mixture():
    return _load("shallow_water_mixture")


# ----------------------------------------------------------------------------- sinusoid demo (fast parts)


def test_sinusoid_data_follow_section_3_3(demo):
    rng = np.random.default_rng(0)
    x = demo.make_sinusoids(400, rng)
    assert x.shape == (400, 2048) and x.dtype == np.float32
    t = np.linspace(0.0, 2 * np.pi, 2048)
    ramp = np.linspace(-1.0, 1.0, 2048)
    # each sample is sin(t + phase) * exp(+-ramp) for some phase: recover the phase and check
    n_increasing = 0
    basis = np.stack([np.sin(t), np.cos(t)], axis=1)
    for row in x[:50]:
        for sgn in (1.0, -1.0):
            base = row / np.exp(sgn * ramp)
            (c, d), *_ = np.linalg.lstsq(basis, base, rcond=None)  # sin(t + p) = cos p sin t + sin p cos t
            if np.allclose(base, np.sin(t + np.arctan2(d, c)), atol=1e-3):
                n_increasing += sgn > 0
                break
        else:
            raise AssertionError("a sample is not sin(t + phase) * exp(+-linspace(-1, 1))")
    assert 10 < n_increasing < 40  # the ramp direction is a fair coin
    # one full cycle: the values span roughly [-e, e] in the ramp's large end
    assert 1.0 < np.abs(x).max() <= np.e + 1e-6


def test_autoencoder_architecture(demo):
    model = demo.build_autoencoder()
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(2048, 32), (32, 2), (2, 32), (32, 2048)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in model) == 2
    torch.manual_seed(0)
    he = demo.build_autoencoder(init="he-normal")
    w = he[-1].weight.detach()
    assert abs(w.std().item() - (2 / 32) ** 0.5) < 0.02 and he[-1].bias.abs().max().item() == 0.0
    with pytest.raises(ValueError, match="init"):
        demo.build_autoencoder(init="xavier")


def test_he_normal_init_saturates_tanh(demo):
    """Why the demo uses PyTorch's default (He-uniform) initialisation: see examples/README.md."""
    x = torch.from_numpy(demo.make_sinusoids(32, np.random.default_rng(2)))
    for seed in range(3):
        frac = {}
        for init in demo.INITS:
            torch.manual_seed(seed)
            with torch.no_grad():
                t = torch.tanh(32.0 * torch.diff(demo.build_autoencoder(init=init)(x), dim=1))
            frac[init] = ((1 - t * t) == 0).float().mean().item()  # float32 derivative exactly 0
        assert frac["he-normal"] > 0.7 and frac["he-uniform"] < 0.45, frac


def test_evaluate_uses_the_toolkit_functions(demo):
    rng = np.random.default_rng(1)
    orig = demo.make_sinusoids(4, rng, 256)
    recon = orig + 0.05 * rng.standard_normal(orig.shape).astype(np.float32)
    got = demo.evaluate(recon, orig)
    o, r = orig.astype(np.float64), recon.astype(np.float64)
    assert got["MSE"] == pytest.approx(((r - o) ** 2).sum(axis=1).mean())
    assert got["DSL"] == pytest.approx(te.dsl(r, o, sharpness=32.0, batch_axis=0))
    assert got["Exact DSL"] == pytest.approx(te.exact_dsl(r, o, batch_axis=0))
    want = np.mean([te.wasserstein_distance(te.persistence_diagram(a), te.persistence_diagram(b)) for a, b in zip(o, r)])
    assert got["Persistence"] == pytest.approx(want)
    assert got["Diagram points (reconstruction)"] > got["Diagram points (original)"] >= 1
    # a perfect reconstruction scores 0 on every metric
    assert all(demo.evaluate(orig, orig)[m] == 0.0 for m in (*demo.METRICS, "Persistence W2"))


def test_table_and_orderings(demo):
    table = {
        "MSE": {"MSE": 1.0, "DSL": 0.5, "Exact DSL": 900.0, "Persistence": 0.7},
        "DSL": {"MSE": 90.0, "DSL": 0.1, "Exact DSL": 200.0, "Persistence": 2.0},
        "1 MSE + 128 DSL": {"MSE": 9.0, "DSL": 0.2, "Exact DSL": 400.0, "Persistence": 0.4},
    }
    assert all(demo.check_orderings(table).values())
    text = demo.format_table(table)
    assert "| MSE | **1.0000** (23.3221)" in text and "**0.4000** (0.4317)" in text
    table["DSL"]["Persistence"] = 0.1
    assert demo.check_orderings(table)["the mixture has the smallest persistence distance"] is False


def test_demo_cli_rejects_bad_sizes(demo, capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(["--steps", "0"])
    assert "--steps must be a positive integer" in capsys.readouterr().err
    cfg, out = demo.parse_args(["--steps", "7", "--samples", "9", "--seed", "3", "--out", ""])
    assert (cfg.steps, cfg.samples, cfg.seed, out) == (7, 9, 3, None)


# ----------------------------------------------------------------------------- shallow water (fast parts)


def test_shallow_water_crops_do_not_leak(mixture):
    cfg = mixture.MixtureConfig()
    field = np.arange(8 * 64 * 64, dtype=np.float64).reshape(8, 64, 64)
    train, test = mixture.make_crops(field, cfg)
    assert train.shape[1:] == test.shape[1:] == (8, 16, 16)
    assert train.shape[0] == 8 * (64 - 16 + 1) * (40 - 16 + 1)
    # every value's x position: training crops only see x < 40, held-out crops only x >= 44
    x_of = lambda a: (a.astype(np.int64) % 64)  # noqa: E731
    assert x_of(train).max() < 40 and x_of(test).min() >= 44
    with pytest.raises(ValueError, match="smaller --crop"):
        mixture.make_crops(field, mixture.MixtureConfig(crop=32))


def test_shallow_water_model_shapes(mixture):
    model = mixture.build_autoencoder((16, 8))
    x = torch.zeros(2, 1, 8, 16, 16)
    latent = model[:3](x)
    assert latent.shape == (2, 8, 2, 4, 4)  # 256 numbers for 2048 values
    assert model(x).shape == x.shape


# ----------------------------------------------------------------------------- the runs (slow)


@pytest.mark.slow
def test_sinusoid_demo_reproduces_table1_orderings(demo, tmp_path):
    """MSE training wins on MSE, DSL-only on exact DSL, and 1 MSE + 128 DSL on persistence distance."""
    cfg = demo.DemoConfig(steps=400, samples=1024, test_samples=32, batch_size=32, seed=0, n_points=256)
    result = demo.run(cfg, tmp_path, verbose=False)
    orderings = demo.check_orderings(result.table)
    assert all(orderings.values()), (orderings, result.table)
    # the paper's qualitative description: DSL-only stays near 0 (MSE close to the data's energy)
    # and beats MSE training on DSL; all three learned something
    assert result.table["DSL"]["DSL"] < result.table["MSE"]["DSL"]
    assert (tmp_path / "sinusoid_figure2.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "sinusoid_results.json").read_text())
    assert saved["table"] == result.table and saved["config"]["seed"] == 0
    assert "Exact DSL" in (tmp_path / "sinusoid_table.md").read_text()


@pytest.mark.slow
def test_shallow_water_mixture_runs_and_trends(mixture, tmp_path):
    cfg = mixture.MixtureConfig(weights=(0.0, 1.0), steps=60, batch_size=16, test_stride=8)
    result = mixture.run(cfg, out_dir=tmp_path, verbose=False)
    mse_only, dsl_only = result.rows
    assert mse_only["MSE"] < dsl_only["MSE"]
    assert dsl_only["DSL"] < mse_only["DSL"]
    assert (tmp_path / "shallow_water_figure5.png").stat().st_size > 10_000
    assert "Persistence (sublevel)" in (tmp_path / "shallow_water_mixture.md").read_text()
