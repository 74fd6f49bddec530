"""entropy-rl: a k-NN soft-RL reward that reaches the denoiser."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from baselines.entropy_rl import EntropyRLConfig
from baselines.entropy_rl.trainer import EntropyRLTrainer, knn_entropy, knn_log_distance


def test_a_collapsed_policy_scores_lower_entropy_than_a_multimodal_one():
    g = torch.Generator().manual_seed(0)
    collapsed = 0.05 * torch.randn(1, 64, 2, generator=g) + torch.tensor([0.7, 0.5])
    centres = torch.tensor([[0.7, 0.5], [-0.7, 0.5], [0.0, -0.7], [0.7, -0.5]])
    multimodal = centres.repeat(16, 1)[None] + 0.05 * torch.randn(1, 64, 2, generator=g)
    assert knn_entropy(collapsed) < knn_entropy(multimodal) - 1.0


def test_a_rare_action_earns_more_than_a_common_one():
    samples = torch.cat([torch.zeros(1, 7, 2), torch.full((1, 1, 2), 1.0)], dim=1)
    common, rare = torch.zeros(1, 2), torch.full((1, 2), 0.9)
    assert knn_log_distance(rare, samples) > knn_log_distance(common + 0.01, samples)


def test_eta_is_bounded_by_the_ddpm_posterior():
    with pytest.raises(ValueError, match="eta <= 1"):
        EntropyRLConfig(eta=1.5)


def test_the_entropy_reward_changes_the_denoiser_update(tiny_policy):
    """Version 1's Gaussian-transition bonus had no gradient w.r.t. the denoiser: the same
    update with or without it. The k-NN reward changes what DPPO does to actor_ft."""
    from tests.baselines.test_dppo import _rollout

    deltas = []
    for alpha in (0.0, 1.0):
        policy = copy.deepcopy(tiny_policy)
        cfg = EntropyRLConfig(ft_denoising_steps=2, critic_hidden_dims=(16,), alpha=alpha,
                              entropy_samples=4, target_kl=None, update_epochs=1)
        trainer = EntropyRLTrainer(policy, cfg, seed=0)
        before = copy.deepcopy(policy.model.actor_ft.state_dict())
        batch = _rollout(policy, k=2)
        batch.rewards[:] = 0.0
        trainer.after_collect(batch)
        if alpha:
            assert np.abs(batch.intrinsic).sum() > 0
        trainer.update(batch, None, train_actor=True)
        deltas.append(torch.cat([(v - before[k]).flatten()
                                 for k, v in policy.model.actor_ft.state_dict().items()]))
    assert deltas[1].abs().sum() > 0
    assert not torch.allclose(deltas[0], deltas[1]), "the bonus did not reach the denoiser"
