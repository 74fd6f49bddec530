"""BC families on a two-mode toy: losses, samplers, and the failure modes the second paper
describes (a CVAE whose KL dominates collapses; a one-step flow averages the modes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.pretrain import BCCVAEMethod, BCFlowMethod, BCMLPMethod
from baselines.pretrain.config import CVAEConfig, FlowConfig, MLPConfig
from baselines.pretrain.policy import GeneratorPolicy, train_generator
from benchmark.adapter import validate_method_class
from tests.baselines.conftest import synthetic_demos

SMALL = {"hidden_dims": (64, 64), "lr_warmup_steps": 20}


def _train(kind, cfg, steps=1500):
    torch.set_num_threads(1)
    obs, act = synthetic_demos(n=32, t=10)
    return train_generator(kind, cfg, obs, act, horizon=4, act_steps=2, steps=steps,
                           batch_size=64, seed=0)


def _mode_shares(policy: GeneratorPolicy, n: int = 400) -> tuple[float, float, float]:
    """Shares of sampled first actions near +0.7, near -0.7, and in between (a bridge)."""
    torch.manual_seed(1)
    x = policy.act(np.zeros((n, 4), np.float32))[:, 0, 0]
    return float(np.mean(x > 0.4)), float(np.mean(x < -0.4)), float(np.mean(np.abs(x) < 0.3))


@pytest.fixture(scope="module")
def flows():
    return {steps: _train("bc-flow", FlowConfig(steps=steps, **SMALL)) for steps in (1, 20)}


def test_a_many_step_flow_keeps_both_modes_and_a_one_step_flow_averages_them(flows):
    right, left, bridge = _mode_shares(flows[20])
    assert right > 0.25 and left > 0.25 and bridge < 0.15
    # one Euler step from noise lands on E[x | s]: between the modes
    _, _, bridge_1 = _mode_shares(flows[1])
    assert bridge_1 > 0.5


def test_a_cvae_with_a_dominant_kl_collapses_and_a_moderate_one_keeps_both_modes():
    moderate = _train("bc-cvae", CVAEConfig(beta=0.05, **SMALL))
    right, left, _ = _mode_shares(moderate)
    assert right > 0.2 and left > 0.2
    heavy = _train("bc-cvae", CVAEConfig(beta=500.0, **SMALL))
    right, left, _ = _mode_shares(heavy)
    assert min(right, left) < 0.05  # the decoder ignores z: one output for every sample


def test_regression_is_unimodal():
    right, left, bridge = _mode_shares(_train("bc-mlp", MLPConfig(**SMALL), steps=800))
    assert bridge > 0.9 and right == left == 0.0


def test_losses_are_finite_and_decrease():
    obs, act = synthetic_demos(n=16, t=10)
    for kind, cfg in (("bc-flow", FlowConfig(**SMALL)), ("bc-cvae", CVAEConfig(**SMALL)),
                      ("bc-mlp", MLPConfig(**SMALL))):
        from baselines.common.pretrain import normalized_chunks
        from baselines.pretrain.models import MODELS

        o, x, _, _ = normalized_chunks(obs, act, 4)
        model = MODELS[kind](o.shape[1], x.shape[1], cfg)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            before = model.loss(x, o, gen).item()
        trained = _train(kind, cfg, steps=300).model
        with torch.no_grad():
            after = trained.loss(x, o, torch.Generator().manual_seed(0)).item()
        assert np.isfinite(before) and after < before


def test_save_load_round_trip_and_protocol(tmp_path, flows):
    for cls in (BCFlowMethod, BCCVAEMethod, BCMLPMethod):
        validate_method_class(cls, cls.name)
    flows[20].save(tmp_path / "flow")
    again = GeneratorPolicy.load(tmp_path / "flow")
    obs = np.zeros((5, 4), np.float32)
    torch.manual_seed(3)
    a = flows[20].act(obs)
    torch.manual_seed(3)
    np.testing.assert_array_equal(a, again.act(obs))
    assert a.shape == (5, 2, 2) and np.all(np.abs(a) <= 1)


def test_diagnostics_on_maps_with_known_answers():
    from baselines.common.diagnostics import generator_diagnostics

    starts = torch.zeros(4, 3)
    demos = torch.tensor([[0.5, 0.5], [-0.5, -0.5]])
    # a linear map g(w) = 3 w has Lipschitz constant 3 in every direction
    out = generator_diagnostics(lambda c, w: 3.0 * w, 2, starts, demos)
    assert out["lipschitz_p95"] == pytest.approx(3.0, rel=1e-4)
    # always on a demonstrated chunk: never off the support; always between them: always
    on = generator_diagnostics(lambda c, w: demos[(w[:, 0] > 0).long()], 2, starts, demos)
    between = generator_diagnostics(lambda c, w: torch.zeros(len(w), 2), 2, starts, demos)
    assert on["off_support_rate"] == 0.0 and between["off_support_rate"] == 1.0
    assert "lipschitz_p95" not in generator_diagnostics(lambda c, w: torch.zeros(len(c), 2),
                                                        0, starts, demos)
