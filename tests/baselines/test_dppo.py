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
from benchmark.errors import TrainingError, UsageError


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


def _rollout(policy, k, s=4, n=5, seed=0):
    from baselines.dppo.ppo import Rollout

    rng = np.random.default_rng(seed)
    flat = policy.model.flat_dim
    return Rollout(
        obs=rng.normal(size=(s, n, 4)).astype(np.float32),
        chains=rng.normal(size=(s, n, k + 1, flat)).astype(np.float32),
        rewards=rng.normal(size=(s, n)), intrinsic=np.zeros((s, n)),
        terminated=np.zeros((s, n)), dones=np.zeros((s, n)), firsts=np.zeros((s, n)),
        next_obs=rng.normal(size=(s, n, 4)).astype(np.float32))


def test_a_minibatch_carries_every_denoising_step_of_its_decisions(tiny_policy, monkeypatch):
    """Issue 15: DPPO batches decisions, each with all K' steps; modebench had mixed random
    (decision, step) pairs, splitting a decision's steps over minibatches."""
    import copy
    from collections import Counter

    policy = copy.deepcopy(tiny_policy)
    k = 3
    trainer = DPPOTrainer(policy, DPPOConfig(ft_denoising_steps=k, critic_hidden_dims=(16,),
                                             update_epochs=2, minibatch_fraction=0.25,
                                             target_kl=None))
    calls = []
    original = trainer.logprobs

    def spy(cond, x_prev, x_next, index):
        calls.append((x_prev.detach().clone(), index.clone()))
        return original(cond, x_prev, x_next, index)

    monkeypatch.setattr(trainer, "logprobs", spy)
    batch = _rollout(policy, k)
    trainer.update(batch, None, train_actor=True)
    chains = torch.as_tensor(batch.chains.reshape(-1, k + 1, policy.model.flat_dim))
    n_ddim = policy.model.cfg.ddim_steps
    calls = calls[k:]  # the first K' calls score the old log-probabilities, step by step
    assert len(calls) == 2 * 4  # 2 epochs x (20 decisions / 5 per minibatch)
    for x_prev, index in calls:
        # identify each row's decision by its chain state; every decision appears with
        # exactly the K' fine-tuned steps
        per_decision = Counter()
        for row, idx in zip(x_prev, index, strict=True):
            step = int(idx) - (n_ddim - k)
            match = torch.nonzero(torch.all(chains[:, step] == row, dim=1)).flatten()
            per_decision[int(match[0])] += 1
        assert set(per_decision.values()) == {k}, "a decision's steps were split"
        assert len(per_decision) == 5
    seen = torch.cat(trainer.minibatch_decisions[:4]).tolist()
    assert sorted(seen) == list(range(20))  # one epoch = a partition of the decisions


def test_dppo_takes_dppos_config_for_the_task_family():
    from baselines.dppo.config import FAMILY_DEFAULTS
    from benchmark.options import configure_method
    from benchmark.registry import get_method_class, get_task

    avoid, _ = configure_method(get_method_class("dppo")(), "dppo", {},
                                get_task("avoid").spec)
    cfg = avoid.finetune_config
    # cfg/d3il/finetune/avoid_m1/ft_ppo_diffusion_mlp.yaml
    assert (cfg.actor_lr, cfg.clip_ploss_coef, cfg.gamma_denoising, cfg.update_epochs) == (
        1e-5, 0.1, 0.95, 10)
    assert cfg.chain == "ddpm" and cfg.ft_denoising_steps == 10
    anymal, _ = configure_method(get_method_class("dppo")(), "dppo", {},
                                 get_task("anymal").spec)
    assert anymal.finetune_config.actor_lr == 1e-4  # gym (hopper) config
    assert FAMILY_DEFAULTS["kitchen"] is FAMILY_DEFAULTS["robosuite-lift"]
    # an option overrides the family value, and the family value is "the default"
    tuned, applied = configure_method(get_method_class("dppo")(), "dppo",
                                      {"actor_lr": 3e-4}, get_task("avoid").spec)
    assert tuned.finetune_config.actor_lr == 3e-4 and tuned.finetune_config.clip_ploss_coef == 0.1
    with pytest.raises(UsageError, match="is the default"):
        configure_method(get_method_class("dppo")(), "dppo", {"actor_lr": 1e-5},
                         get_task("avoid").spec)


def test_the_ddpm_chain_is_the_backbones_training_steps(tiny_policy):
    import copy

    policy = copy.deepcopy(tiny_policy)
    DPPOTrainer(policy, DPPOConfig(critic_hidden_dims=(16,)))
    assert policy.model.cfg.ddim_steps == policy.model.cfg.denoising_steps
    assert policy.model.ft_denoising_steps == min(10, policy.model.cfg.denoising_steps)
    # eta = 1 on a chain of all T steps = the DDPM posterior at every step
    x, cond = torch.randn(2, policy.model.flat_dim), torch.zeros(2, 4)
    mu, sigma = policy.model.p_mean_std(x, 0, cond, 1.0, use_base_policy=True)
    t = policy.model.cfg.denoising_steps - 1
    a, a_prev = policy.model.alphas_cumprod[t], policy.model.alphas_cumprod[t - 1]
    torch.testing.assert_close(sigma.squeeze(), ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).sqrt())


def test_every_diffusion_method_takes_the_family_backbone_and_shares_its_checkpoint():
    """Issue 14: kitchen's, robosuite-lift's and anymal's backbone is 512 x 3 residual; every
    built-in diffusion method must take it, or they would stop sharing the pretrained
    checkpoint."""
    from baselines.common.config import DiffusionConfig
    from benchmark.options import configure_method
    from benchmark.registry import get_method_class, get_task

    kitchen, avoid = get_task("kitchen").spec, get_task("avoid").spec
    robosuite, anymal = get_task("robosuite-lift").spec, get_task("anymal").spec
    keys: dict[str, set] = {"kitchen": set(), "robosuite-lift": set(), "anymal": set()}
    for m in ("bc", "dppo", "entropy-rl", "dsrl", "res", "bmd", "res-bmd", "dppo-bmd"):
        for spec in (kitchen, robosuite, anymal):
            method, _ = configure_method(get_method_class(m)(), m, {}, spec)
            assert method.diffusion.hidden_dims == (512, 512, 512) and method.diffusion.residual
            # kitchen's deterministic chain needs its 20 steps (0.28 at 10, 0.60 at 20)
            assert method.diffusion.ddim_steps == (20 if spec is kitchen else 10)
            keys[spec.name].add(method.pretrain_key(None))
        on_avoid, _ = configure_method(get_method_class(m)(), m, {}, avoid)
        assert on_avoid.diffusion.hidden_dims == DiffusionConfig().hidden_dims
    assert [len(k) for k in keys.values()] == [1, 1, 1]
    dppo, _ = configure_method(get_method_class("dppo")(), "dppo", {}, kitchen)
    assert dppo.finetune_config.actor_lr != 0  # the DPPO family config is still applied
    with pytest.raises(UsageError, match="is the default"):
        configure_method(get_method_class("bc")(), "bc", {"diffusion.residual": True}, kitchen)


def test_a_dppo_policy_is_evaluated_as_dppo_evaluates_its_ddpm_chain(tiny_policy):
    """DPPO's ``diffusion_vpg.py`` evaluates a DDPM-chain policy (``deterministic=True``) with
    the posterior noise at every step but the last (std floored at 1e-3, which the cosine
    schedule never reaches), through ``actor`` on the early steps and ``actor_ft`` on the last
    K'. So a policy whose ``actor_ft`` still equals the pretrained ``actor`` acts exactly as
    the pretrained policy's ancestral sampler (``bc``) does, and the evaluation is not DDIM's
    eta = 0 ODE, which the project used before."""
    import copy
    import dataclasses

    from baselines.dppo import DPPOMethod

    pre = copy.deepcopy(tiny_policy)
    pre.model.cfg = dataclasses.replace(pre.model.cfg, pretrained_sampler="ddpm")
    policy = copy.deepcopy(pre)
    cfg = DPPOConfig(critic_hidden_dims=(16,))
    DPPOTrainer(policy, cfg)
    DPPOMethod.set_evaluation_sampler(policy, cfg)
    assert policy.finetuned_sampler == "ddpm" and policy.uses_ancestral_sampling
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    torch.manual_seed(3)
    bc = pre.act(obs)
    torch.manual_seed(3)
    np.testing.assert_array_equal(policy.act(obs), bc)
    # the fine-tuned copy drives the last K' steps of that evaluation
    with torch.no_grad():
        for p in policy.model.actor_ft.parameters():
            p.add_(0.05)
    torch.manual_seed(3)
    assert not np.array_equal(policy.act(obs), bc)
    # the same policy on DDIM's eta = 0 chain (dppo-bmd's evaluation) is another sampler
    policy.finetuned_sampler = "ddim"
    torch.manual_seed(3)
    assert not np.array_equal(policy.act(obs), bc)


def test_a_policy_fine_tuned_on_a_ddim_chain_keeps_eta_zero_evaluation(tiny_policy):
    import copy

    from baselines.dppo import DPPOMethod

    policy = copy.deepcopy(tiny_policy)
    cfg = DPPOConfig(chain="ddim", critic_hidden_dims=(16,))
    DPPOTrainer(policy, cfg)
    DPPOMethod.set_evaluation_sampler(policy, cfg)
    assert policy.finetuned_sampler == "ddim" and not policy.uses_ancestral_sampling
    policy.finetuned_sampler = "ddpm"  # forced onto a chain that is not DDPM's: refused
    with pytest.raises(ValueError, match="DDPM chain"):
        policy.act(np.zeros((2, 4), np.float32))
