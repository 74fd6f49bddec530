"""BMD: discovery pieces, noise regions, the discriminator reward, persistence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.bmd.config import BMDConfig
from baselines.bmd.discovery import kmeans, knn_predict, resample_trajectory
from baselines.bmd.policy import BMDPolicy
from baselines.bmd.trainer import intrinsic_reward


def test_resample_trajectory_interpolates_at_even_times():
    traj = np.array([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0]])
    out = resample_trajectory(traj, 5).reshape(5, 2)
    np.testing.assert_allclose(out[:, 0], [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(out[:, 1], [0, 5, 10, 15, 20])
    assert resample_trajectory(traj[:1], 3).shape == (6,)


def test_kmeans_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    x = np.concatenate([c + rng.normal(0, 0.3, size=(30, 2)) for c in centres])
    labels, cent, _ = kmeans(x, 3, restarts=3, iters=50, rng=np.random.default_rng(1))
    for block in range(3):
        assert len(set(labels[block * 30:(block + 1) * 30])) == 1
    assert len(set(labels)) == 3
    assert np.allclose(np.sort(cent[:, 0]), [0, 0, 10], atol=0.3)


def test_knn_predict_majority_vote():
    bank = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    q = torch.tensor([[0.05], [4.9]])
    assert knn_predict(bank, labels, q, k=3, n_modes=2).tolist() == [0, 1]


def test_intrinsic_reward_sign_and_scale():
    log_p = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    # a confident, correct discriminator: log q ~ 0 -> reward alpha * (0 - log p(z)) > 0
    confident = torch.tensor([[20.0, 0.0, 0.0]])
    r = intrinsic_reward(confident, torch.tensor([0]), log_p, alpha=0.1, log_q_min=-5.0)
    assert r.item() == pytest.approx(0.1 * math.log(2), rel=1e-4)
    # chance level (q = p): zero reward
    chance = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    r0 = intrinsic_reward(chance, torch.tensor([1]), log_p, alpha=0.1, log_q_min=-5.0)
    assert r0.item() == pytest.approx(0.0, abs=1e-6)
    # confidently wrong: negative, bounded by the clip
    wrong = intrinsic_reward(confident, torch.tensor([2]), log_p, alpha=0.1, log_q_min=-5.0)
    assert wrong.item() == pytest.approx(0.1 * (-5.0 - math.log(0.25)), rel=1e-4)
    # the scale is linear in alpha
    r2 = intrinsic_reward(confident, torch.tensor([0]), log_p, alpha=0.2, log_q_min=-5.0)
    assert r2.item() == pytest.approx(2 * r.item())


def _bmd_from(tiny_policy, n_modes: int = 2, sampler: str = "knn") -> BMDPolicy:
    import copy

    base = copy.deepcopy(tiny_policy)
    flat = base.model.flat_dim
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(40, flat)).astype(np.float32)
    labels = (bank[:, 0] > 0).astype(np.int64)  # the region of mode 1 is xi_0 > 0
    p_z = np.bincount(labels, minlength=n_modes) / len(labels)
    return BMDPolicy(base.model, base.obs_norm, base.act_norm, base.act_steps, "cpu", bank,
                     labels, p_z, knn_k=3, meta={"note": "test"}, sampler=sampler)


def test_bank_sampler_draws_discovery_noises_of_the_mode(tiny_policy):
    pol = _bmd_from(tiny_policy, sampler="bank")
    torch.manual_seed(0)
    z = torch.tensor([0] * 30 + [1] * 30)
    xi = pol.noise_for(z)
    # every draw is a bank noise, of the requested mode
    dist = torch.cdist(xi, pol.bank)
    assert torch.all(dist.min(1).values < 1e-2)  # cdist is not exact at 0
    assert torch.equal(pol.labels[dist.argmin(1)], z)
    # both members of a mode are used (uniform over the mode's noises)
    assert len(set(dist.argmin(1)[:30].tolist())) > 5


def test_knn_sampler_draws_from_the_chosen_region(tiny_policy):
    pol = _bmd_from(tiny_policy, sampler="knn")
    torch.manual_seed(0)
    z = torch.tensor([0] * 50 + [1] * 50)
    xi = pol.noise_for(z)
    assert (pol.classify_noise(xi) == z).all()
    # the regions follow the bank's labelling rule (xi_0 > 0 for mode 1)
    assert xi[50:, 0].mean() - xi[:50, 0].mean() > 0.8
    pol.set_mode(1)
    assert pol.act(np.zeros((4, 4), np.float32)).shape == (4, 2, 2)
    with pytest.raises(ValueError):
        pol.set_mode(2)


def test_act_episodes_keeps_one_noise_per_episode_whatever_the_batch(tiny_policy):
    pol = _bmd_from(tiny_policy)
    assert not pol.uses_ancestral_sampling  # the noise regions are DDIM's
    obs = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    torch.manual_seed(0)
    both = pol.act_episodes(obs[:2], np.array([10, 11]))
    torch.manual_seed(99)  # the global RNG plays no part
    alone = pol.act_episodes(obs[1:2], np.array([11]))  # episode 10 ended meanwhile
    np.testing.assert_array_equal(both[1], alone[0])
    assert set(pol._episode_noise) == {11}  # ended episodes are forgotten
    again = pol.act_episodes(obs[:2], np.array([10, 11]))  # a key seen again: same noise
    np.testing.assert_array_equal(both, again)
    other = pol.act_episodes(obs[:1], np.array([12]))
    assert not np.array_equal(both[0], other[0])
    # a forced mode: every episode's noise lies in that mode's region
    pol.set_mode(1)
    pol.act_episodes(obs, np.array([20, 21, 22]))
    noises = torch.stack([pol._episode_noise[k] for k in (20, 21, 22)])
    assert (pol.classify_noise(noises) == 1).all()
    with pytest.raises(ValueError, match="episode keys"):
        pol.act_episodes(obs, np.array([1, 2]))


def test_act_episodes_per_chunk_when_noise_per_episode_is_off(tiny_policy):
    pol = _bmd_from(tiny_policy)
    pol.noise_per_episode = False
    obs = np.zeros((2, 4), np.float32)
    torch.manual_seed(5)
    a = pol.act_episodes(obs, np.array([1, 2]))
    torch.manual_seed(5)
    np.testing.assert_array_equal(a, pol.act(obs))  # act's per-chunk draw, keys ignored


def test_bmd_save_load_round_trip_gives_same_actions(tiny_policy, tmp_path):
    from baselines.bmd import BMDMethod

    pol = _bmd_from(tiny_policy)
    pol.set_mode(0)
    BMDMethod().save(pol, tmp_path)

    class Ctx:
        device = "cpu"

    loaded = BMDMethod().load(tmp_path, Ctx())  # type: ignore[arg-type]
    assert isinstance(loaded, BMDPolicy) and loaded.n_modes == 2
    assert loaded.noise_per_episode
    assert loaded.meta == {"note": "test"}
    loaded.set_mode(0)
    obs = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    torch.manual_seed(4)
    a = pol.act(obs)
    torch.manual_seed(4)
    b = loaded.act(obs)
    np.testing.assert_array_equal(a, b)


def test_bmd_config_validates():
    with pytest.raises(ValueError):
        BMDConfig(prior="nope")
    with pytest.raises(ValueError):
        BMDConfig(n_modes=0)
    with pytest.raises(ValueError, match="discovery_episodes"):
        BMDConfig(discovery_episodes=0)


def test_discovery_size_follows_the_fine_tuning_budget():
    from benchmark.spec import TierBudget

    def budget(iters: int, steps: int, envs: int) -> TierBudget:
        return TierBudget(n_demos=10, pretrain_steps=10, batch_size=8, finetune_iterations=iters,
                          finetune_steps_per_iter=steps, n_envs=envs, eval_episodes=4)

    cfg = BMDConfig()  # K = 8
    # avoid small: 60 x 16 x 16 decisions x 4 actions / 80 steps = 768 -> capped at 256
    assert cfg.discovery_episode_count(budget(60, 16, 16), 4, 80) == 256
    # kitchen small: 20 x 16 x 4 x 4 / 700 = 7 -> at least 4 per mode
    assert cfg.discovery_episode_count(budget(20, 16, 4), 4, 700) == 32
    # in between: the budget's worth of full-length episodes
    assert cfg.discovery_episode_count(budget(10, 16, 8), 4, 40) == 128
    assert BMDConfig(discovery_episodes=7).discovery_episode_count(budget(60, 16, 16), 4, 80) == 7
