"""DPPO's pieces: GAE, the PPO clip, its schedule, gradient flow, reward scaling, the trainer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.common.ppo import (
    RunningRewardScaler,
    clip_coef_schedule,
    gae,
    gaussian_entropy,
    ppo_policy_loss,
)
from baselines.dppo.config import DPPOConfig
from baselines.dppo.ppo import DPPOTrainer
from benchmark.errors import TrainingError


def test_gae_matches_a_hand_computed_case():
    # one env, 3 decisions; the episode terminates at t=1, a new one starts at t=2
    r = np.array([[1.0], [2.0], [3.0]])
    v = np.array([[0.5], [1.0], [2.0]])
    next_v = np.array([[1.0], [0.0], [4.0]])  # V(s1); terminal -> 0; bootstrap V(s3)=4
    done = np.array([[0.0], [1.0], [0.0]])
    g, lam = 0.9, 0.5
    d0 = 1 + 0.9 * 1.0 - 0.5  # 1.4
    d1 = 2 + 0.0 - 1.0  # 1.0
    d2 = 3 + 0.9 * 4.0 - 2.0  # 4.6
    a2 = d2
    a1 = d1  # the trace is cut at the episode end
    a0 = d0 + g * lam * a1  # 1.4 + 0.45 = 1.85
    adv, ret = gae(r, v, next_v, done, g, lam)
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2])
    np.testing.assert_allclose(ret[:, 0], [a0 + 0.5, a1 + 1.0, a2 + 2.0])


def test_gae_with_lambda_one_is_the_discounted_return_minus_value():
    r = np.array([[1.0], [1.0], [1.0]])
    v = np.zeros((3, 1))
    adv, _ = gae(r, v, np.zeros((3, 1)), np.array([[0.0], [0.0], [1.0]]), 0.5, 1.0)
    np.testing.assert_allclose(adv[:, 0], [1.75, 1.5, 1.0])


def test_ppo_clip_removes_gradient_beyond_the_clip():
    old = torch.zeros(4)
    # ratios 1.5 (A>0: clipped), 0.5 (A>0: not clipped), 1.5 (A<0: not clipped), 0.5 (A<0: clipped)
    new = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5])).requires_grad_()
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])
    loss, info = ppo_policy_loss(new, old, adv, 0.2)
    expected = -(1.2 * 1 + 0.5 * 1 - 1.5 - 0.8) / 4
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    grad = new.grad.numpy()
    assert grad[0] == 0 and grad[3] == 0  # clipped terms carry no gradient
    assert grad[1] != 0 and grad[2] != 0
    assert info["clipfrac"] == pytest.approx(1.0)


def test_clip_schedule_runs_from_base_to_coef():
    c = clip_coef_schedule(5, 0.01, 0.001, 3.0)
    assert c[0] == pytest.approx(0.001) and c[-1] == pytest.approx(0.01)
    assert np.all(np.diff(c) > 0)
    assert clip_coef_schedule(1, 0.01, 0.001, 3.0).tolist() == [0.01]


def test_gaussian_entropy_closed_form():
    std = torch.tensor([1.0, 2.0])
    expected = 0.5 * np.log(2 * np.pi * np.e * np.array([1.0, 4.0]))
    np.testing.assert_allclose(gaussian_entropy(std).numpy(), expected, rtol=1e-6)


def test_running_reward_scaler_divides_by_return_std():
    scaler = RunningRewardScaler(2, gamma=0.0)
    rewards = np.tile(np.array([[2.0, -2.0]]), (50, 1))
    scaled = scaler(rewards, np.zeros_like(rewards))
    # gamma=0: the tracked return is the reward itself, std 2 -> scaled to +-1
    np.testing.assert_allclose(np.abs(scaled[-1]), 1.0, rtol=0.05)


def test_only_the_last_k_denoising_steps_receive_gradients(tiny_policy):
    import copy

    policy = copy.deepcopy(tiny_policy)
    cfg = DPPOConfig(ft_denoising_steps=2, critic_hidden_dims=(16,))
    trainer = DPPOTrainer(policy, cfg)
    model = policy.model
    assert all(not p.requires_grad for p in model.actor.parameters())
    # which net each DDIM index uses
    n = model.cfg.ddim_steps
    assert [model.is_ft_index(i) for i in range(n)] == [False] * (n - 2) + [True] * 2
    cond = torch.zeros(3, 4)
    x, chain = model.sample(cond, torch.randn(3, model.flat_dim), deterministic=False,
                            return_chain=True)
    assert chain.shape == (3, 3, model.flat_dim)
    lp = trainer.chain_logprobs(cond, chain)
    assert lp.shape == (3, 2)
    lp.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.actor_ft.parameters() if p.dim() > 1)
    assert all(p.grad is None for p in model.actor.parameters())
    # a step outside the fine-tuned window cannot be scored with a tensor index
    with pytest.raises(ValueError, match="fine-tuned"):
        model.p_mean_std(x, torch.zeros(3, dtype=torch.long), cond, 1.0)


def test_the_base_actor_drives_the_early_steps(tiny_policy):
    """Changing actor_ft changes the output; the frozen early steps still use actor."""
    import copy

    policy = copy.deepcopy(tiny_policy)
    DPPOTrainer(policy, DPPOConfig(ft_denoising_steps=1, critic_hidden_dims=(16,)))
    model = policy.model
    cond, x = torch.zeros(2, 4), torch.randn(2, model.flat_dim)
    mu_base, _ = model.p_mean_std(x, 0, cond, 0.0)
    with torch.no_grad():
        for p in model.actor_ft.parameters():
            p.add_(1.0)
    mu_after, _ = model.p_mean_std(x, 0, cond, 0.0)
    torch.testing.assert_close(mu_base, mu_after)  # index 0 is not fine-tuned
    last = model.cfg.ddim_steps - 1
    a, _ = model.p_mean_std(x, last, cond, 0.0)
    b, _ = model.p_mean_std(x, last, cond, 0.0, use_base_policy=True)
    assert not torch.allclose(a, b)


def test_nan_ppo_loss_raises_training_error(tiny_policy):
    import copy

    from baselines.dppo.ppo import Rollout

    policy = copy.deepcopy(tiny_policy)
    trainer = DPPOTrainer(policy, DPPOConfig(ft_denoising_steps=2, critic_hidden_dims=(16,)))
    s, n, k = 2, 3, 2
    flat = policy.model.flat_dim
    batch = Rollout(
        obs=np.zeros((s, n, 4), np.float32),
        chains=np.random.default_rng(0).normal(size=(s, n, k + 1, flat)).astype(np.float32),
        rewards=np.full((s, n), np.nan), intrinsic=np.zeros((s, n)),
        terminated=np.zeros((s, n)), dones=np.zeros((s, n)), firsts=np.zeros((s, n)),
        next_obs=np.zeros((s, n, 4), np.float32))
    with pytest.raises(TrainingError, match="non-finite"):
        trainer.update(batch, None, train_actor=True)


def test_learned_eta_stays_in_bounds_and_starts_at_eta():
    from baselines.dppo.ppo import Eta

    cfg = DPPOConfig(learn_eta=True, eta=1.0, min_eta=0.1, max_eta=2.0)
    eta = Eta(cfg, flat_dim=8, act_dim=2)
    torch.testing.assert_close(eta(), torch.ones(8))
    with torch.no_grad():
        eta.logit.fill_(100.0)
    assert float(eta().detach().max()) <= 2.0 + 1e-6
    with pytest.raises(ValueError):
        DPPOConfig(learn_eta=True, eta=1.0, max_eta=1.0)
    assert math.isclose(float(Eta(DPPOConfig(), 8, 2)()), 1.0)
