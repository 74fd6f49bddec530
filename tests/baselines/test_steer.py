"""DSRL steering, residual policies and the BMD regulariser (baselines/steer)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from baselines.bc import BCMethod
from baselines.common.ppo import GaussianActor
from baselines.steer import BMDMethod, DSRLMethod, RESBMDMethod, RESMethod
from baselines.steer.config import BMDConfig, SteerConfig
from baselines.steer.latent import intrinsic_reward
from baselines.steer.policy import LatentSteeredPolicy
from benchmark.adapter import EpisodicPolicy, ModeSelectablePolicy, RunContext
from benchmark.errors import TrainingError
from benchmark.progress import SILENT
from tests.baselines.conftest import TINY, synthetic_demos

SMALL = SteerConfig(hidden_dims=(16,), update_epochs=2, minibatch_size=16)
SMALL_BMD = BMDConfig(n_latent=4, q_hidden_dims=(16,), q_epochs=2)


@pytest.fixture(scope="module")
def avoid_ctx(tmp_path_factory):
    from benchmark.registry import get_task
    from benchmark.rollout import make_training_vector_env

    task = get_task("avoid")
    return RunContext(
        task=task, tier="smoke", seed=0, device="cpu",
        work_dir=tmp_path_factory.mktemp("work"), progress=SILENT,
        make_vector_env=lambda n, seed, perturbation=None: make_training_vector_env(
            task, n, seed, perturbation))


@pytest.fixture(scope="module")
def pretrained_dir(avoid_ctx, tmp_path_factory):
    from baselines.common.pretrain import pretrain_policy

    torch.set_num_threads(1)
    obs, act = synthetic_demos(n=16, t=20)
    chunk = avoid_ctx.spec.chunk
    policy = pretrain_policy(obs, act, horizon=chunk.horizon, act_steps=chunk.act_steps,
                             cfg=TINY, steps=20, batch_size=32, seed=0)
    out = tmp_path_factory.mktemp("pre")
    BCMethod(diffusion=TINY).save(policy, out)
    return out


def _method(cls):
    bmd = SMALL_BMD if cls in (BMDMethod, RESBMDMethod) else None
    steer = cls.default_finetune
    cfg = SteerConfig(steer=steer.steer, residual=steer.residual, hidden_dims=(16,),
                      update_epochs=2, minibatch_size=16)
    return cls(diffusion=TINY, finetune=cfg, bmd=bmd)


def test_the_steering_actor_log_probability_is_the_gaussians():
    actor = GaussianActor(3, 2, (8,), init_log_std=-0.5)
    x, u = torch.randn(5, 3), torch.randn(5, 2)
    mu = actor.mean(x)
    std = math.exp(-0.5)
    expected = (-0.5 * ((u - mu) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(actor.log_prob(x, u), expected.sum(-1))


def test_steered_noise_is_bounded(pretrained_dir, avoid_ctx):
    method = _method(DSRLMethod)
    from baselines.steer.policy import SteeredPolicy

    pol = SteeredPolicy.wrap(method.load(pretrained_dir, avoid_ctx))
    pol.add_actors(True, False, (8,), 0.0, 1.5, 0.2, True)
    w = pol.noise(torch.randn(100, pol.model.flat_dim) * 50)
    assert w.abs().max() <= 1.5


def test_intrinsic_reward_sign_and_scale_by_hand():
    log_q = torch.log(torch.tensor([[0.5, 0.25, 0.125, 0.125], [0.01, 0.97, 0.01, 0.01]]))
    z = torch.tensor([0, 0])
    r = intrinsic_reward(log_q, z, log_p=math.log(0.25), lam=0.1, log_q_min=-3.0)
    # q = 0.5 > p = 0.25: +0.1 ln 2; q = 0.01 < p: 0.1 (max(ln 0.01, -3) - ln 0.25)
    torch.testing.assert_close(r, torch.tensor([0.1 * math.log(2.0),
                                                0.1 * (-3.0 - math.log(0.25))]))
    assert r[0] > 0 > r[1]


def test_stage_switch_and_curriculum_schedule():
    cfg = BMDConfig(discovery_fraction=0.25, curriculum_start=0.25, curriculum_fraction=0.5)
    assert [cfg.stage(i, 8) for i in range(8)] == [1, 1, 2, 2, 2, 2, 2, 2]
    assert cfg.stage(0, 1) == 2  # one iteration: no discovery stage
    hs = [cfg.horizon(i, 8, 40) for i in range(8)]
    assert hs[0] == 10 and hs == sorted(hs) and hs[4:] == [40] * 4


@pytest.mark.parametrize("cls", [DSRLMethod, RESMethod, BMDMethod, RESBMDMethod])
def test_finetune_moves_the_actors_never_the_denoiser_and_round_trips(
        cls, pretrained_dir, avoid_ctx, tmp_path):
    method = _method(cls)
    pre = method.load(pretrained_dir, avoid_ctx)
    frozen = copy.deepcopy(pre.model.actor.state_dict())
    tuned = method.finetune(pre, avoid_ctx)
    for k, v in tuned.model.actor.state_dict().items():
        assert torch.equal(v, frozen[k]), "the frozen denoiser changed"
    assert tuned.model.actor_ft is None
    actor = tuned.steer_actor if tuned.steer_actor is not None else tuned.residual_actor
    init = GaussianActor(actor.mean[0].in_features, actor.log_std.numel(), (16,), -0.5)
    assert not torch.equal(actor.log_std, init.log_std) or any(
        p.abs().max() > 1e-3 for p in actor.mean[-1].parameters()), "PPO did not move it"
    trainer = method.last_trainer
    assert len(trainer.history) == avoid_ctx.budget.finetune_iterations
    method.save(tuned, tmp_path / "ft")
    again = method.load(tmp_path / "ft", avoid_ctx)
    obs = np.random.default_rng(0).uniform(-1, 1, (6, avoid_ctx.spec.obs_dim)).astype(np.float32)
    keys = np.arange(6, dtype=np.int64) + 2_000_000_000
    if isinstance(tuned, LatentSteeredPolicy):
        assert isinstance(tuned, ModeSelectablePolicy) and isinstance(tuned, EpisodicPolicy)
        assert tuned.n_modes == SMALL_BMD.n_latent
        np.testing.assert_array_equal(tuned.act_episodes(obs, keys, np.zeros_like(keys)),
                                      again.act_episodes(obs, keys, np.zeros_like(keys)))
        tuned.set_mode(1)
        again.set_mode(1)
        # --mode reproducible: a forced z gives the same actions on every call
        np.testing.assert_array_equal(tuned.act_episodes(obs, keys, np.zeros_like(keys)),
                                      again.act_episodes(obs, keys, np.zeros_like(keys)))
    else:
        assert not isinstance(tuned, ModeSelectablePolicy)
    torch.manual_seed(3)
    a = tuned.act(obs)
    torch.manual_seed(3)
    np.testing.assert_array_equal(a, again.act(obs))
    assert a.shape == (6, avoid_ctx.spec.chunk.act_steps, avoid_ctx.spec.act_dim)
    assert np.all(np.abs(a) <= 1)


def test_the_inference_model_trains_in_both_stages(pretrained_dir, avoid_ctx):
    method = _method(BMDMethod)
    method.finetune(method.load(pretrained_dir, avoid_ctx), avoid_ctx)
    hist = method.last_trainer.history
    assert {h["stage"] for h in hist} <= {1, 2} and hist[-1]["stage"] == 2
    assert all("q_loss" in h and "intrinsic" in h for h in hist)


def test_a_non_finite_loss_stops_training(pretrained_dir, avoid_ctx, monkeypatch):
    method = _method(DSRLMethod)
    from baselines.steer import trainer as trainer_module

    def nan_loss(*args, **kwargs):
        return torch.tensor(float("nan")), {"approx_kl": 0.0, "clipfrac": 0.0, "ratio": 1.0}

    monkeypatch.setattr(trainer_module, "ppo_policy_loss", nan_loss)
    with pytest.raises(TrainingError, match="non-finite"):
        method.finetune(method.load(pretrained_dir, avoid_ctx), avoid_ctx)


def test_the_horizon_limit_truncates_and_reports_the_final_observation(avoid_ctx):
    from baselines.steer.curriculum import HorizonLimit

    venv = HorizonLimit(avoid_ctx.make_vector_env(2, 0))
    obs, _ = venv.reset(seed=[1, 2])
    venv.horizon = 3
    act = np.zeros((2, avoid_ctx.spec.chunk.act_steps, avoid_ctx.spec.act_dim), np.float32)
    for _ in range(3):
        prev = obs
        obs, _, term, trunc, infos = venv.step(act)
    assert trunc.all() and not term.any()  # cut at 3 decisions (avoid runs far longer)
    assert infos["_final_obs"].all()
    assert not np.allclose(infos["final_obs"][0], obs[0])  # obs is the next episode's start
    assert prev.shape == obs.shape
    venv.close()


def test_dppo_bmd_tunes_the_denoiser_copy_and_the_steering_actor(pretrained_dir, avoid_ctx,
                                                                 tmp_path):
    from baselines.dppo.config import DPPOConfig
    from baselines.steer import DPPOBMDMethod

    method = DPPOBMDMethod(diffusion=TINY, finetune=DPPOConfig(critic_hidden_dims=(16,)),
                           steer=SteerConfig(hidden_dims=(16,), update_epochs=2,
                                             minibatch_size=16), bmd=SMALL_BMD)
    pre = method.load(pretrained_dir, avoid_ctx)
    frozen = copy.deepcopy(pre.model.actor.state_dict())
    tuned = method.finetune(pre, avoid_ctx)
    assert isinstance(tuned, LatentSteeredPolicy) and tuned.model.actor_ft is not None
    for k, v in tuned.model.actor.state_dict().items():
        assert torch.equal(v, frozen[k])
    assert any(not torch.equal(v, frozen[k])
               for k, v in tuned.model.actor_ft.state_dict().items()), "DPPO did not train"
    hist = method.last_trainer.history
    assert all("steer_pg_loss" in h and "q_loss" in h for h in hist)
    method.save(tuned, tmp_path / "ft")
    again = method.load(tmp_path / "ft", avoid_ctx)
    obs = np.zeros((3, avoid_ctx.spec.obs_dim), np.float32)
    keys = np.array([5, 6, 7], dtype=np.int64)
    first = np.zeros_like(keys)
    np.testing.assert_array_equal(tuned.act_episodes(obs, keys, first),
                                  again.act_episodes(obs, keys, first))
