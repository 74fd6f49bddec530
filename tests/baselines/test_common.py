"""The shared backbone: chunks, normalisation, schedules, sampling, persistence, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.common.chunks import make_chunks
from baselines.common.config import DiffusionConfig
from baselines.common.diffusion import Diffusion, cosine_beta_schedule
from baselines.common.normalizer import MinMaxNormalizer
from baselines.common.policy import DiffusionPolicy
from baselines.common.pretrain import pretrain_policy, update_ema
from benchmark.errors import AdapterError, TrainingError
from tests.baselines.conftest import TINY, synthetic_demos


def test_chunks_pad_with_last_action():
    obs = [np.arange(4, dtype=np.float32).reshape(4, 1)]
    act = [np.array([[1.0], [2.0], [3.0]], dtype=np.float32)]
    o, c = make_chunks(obs, act, horizon=3)
    assert o.shape == (3, 1) and c.shape == (3, 3, 1)
    np.testing.assert_array_equal(c[:, :, 0], [[1, 2, 3], [2, 3, 3], [3, 3, 3]])
    np.testing.assert_array_equal(o[:, 0], [0, 1, 2])


def test_minmax_normalizer_maps_range_and_round_trips():
    data = np.array([[0.0, 5.0, 1.0], [2.0, 7.0, 1.0]], dtype=np.float32)
    norm = MinMaxNormalizer.fit(data)
    np.testing.assert_allclose(norm.normalize(data), [[-1, -1, 0], [1, 1, 0]])
    np.testing.assert_allclose(norm.unnormalize(norm.normalize(data)), data, atol=1e-6)
    again = MinMaxNormalizer.from_json(norm.to_json())
    np.testing.assert_allclose(again.normalize(data), norm.normalize(data))


def test_cosine_schedule_is_a_valid_noise_schedule():
    betas = cosine_beta_schedule(20)
    assert betas.shape == (20,)
    assert np.all(betas > 0) and np.all(betas <= 0.999)
    assert np.all(np.diff(np.cumprod(1 - betas)) < 0)  # signal decays monotonically


def test_ddim_trailing_spacing_starts_at_pure_noise():
    m = Diffusion(4, 4, 2, DiffusionConfig(denoising_steps=20, ddim_steps=5))
    assert m.ddim_t.tolist() == [19, 15, 11, 7, 3]
    assert float(m.ddim_alphas_prev[-1]) == 1.0  # the last step lands on x0
    lead = Diffusion(4, 4, 2, DiffusionConfig(ddim_steps=5, ddim_spacing="leading"))
    assert lead.ddim_t.tolist() == [16, 12, 8, 4, 0]


def test_deterministic_ddim_is_a_function_of_the_initial_noise(tiny_policy):
    cond = torch.zeros(3, 4)
    x = torch.randn(3, tiny_policy.model.flat_dim)
    a, _ = tiny_policy.model.sample(cond, x.clone(), deterministic=True)
    b, _ = tiny_policy.model.sample(cond, x.clone(), deterministic=True)
    torch.testing.assert_close(a, b)
    c, _ = tiny_policy.model.sample(cond, torch.randn_like(x), deterministic=True)
    assert not torch.allclose(a, c)


def _inline_update(cfg, x, eps, alpha, alpha_prev, eta):
    """The update with every schedule factor computed in place (as before issue 18)."""
    sqrt_one_minus_alpha = (1.0 - alpha).sqrt()
    x_recon = (x - sqrt_one_minus_alpha * eps) / alpha.sqrt()
    if cfg.denoised_clip_value is not None:
        x_recon = x_recon.clamp(-cfg.denoised_clip_value, cfg.denoised_clip_value)
        eps = (x - alpha.sqrt() * x_recon) / sqrt_one_minus_alpha
    if cfg.eps_clip_value is not None:
        eps = eps.clamp(-cfg.eps_clip_value, cfg.eps_clip_value)
    eta_t = torch.as_tensor(eta, dtype=x.dtype)
    sigma = (eta_t * ((1 - alpha_prev) / (1 - alpha) * (1 - alpha / alpha_prev)).sqrt()
             ).clamp(min=1e-10)
    dir_coef = (1.0 - alpha_prev - sigma ** 2).clamp(min=0).sqrt()
    return alpha_prev.sqrt() * x_recon + dir_coef * eps, sigma


@pytest.mark.parametrize("cfg", [DiffusionConfig(hidden_dims=(16,)),
                                 DiffusionConfig(hidden_dims=(16,), denoised_clip_value=None,
                                                 eps_clip_value=1.0)])
def test_precomputed_schedule_factors_give_bit_identical_updates(cfg):
    """Issue 18: the schedule's factors are computed once per schedule, not per step; every
    DDPM and DDIM update (int and tensor indices, scalar and per-row eta) stays bit-identical
    to computing them in place."""
    import copy

    m = Diffusion(3, 4, 2, cfg)
    gen = torch.Generator().manual_seed(0)
    x, eps = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    ac = m.alphas_cumprod
    for t in range(cfg.denoising_steps):
        a_prev = ac[t - 1] if t > 0 else torch.ones(())
        got = m._update(x, eps, m.ddpm_coefs.at(t), 1.0)
        for g, w in zip(got, _inline_update(cfg, x, eps, ac[t], a_prev, 1.0), strict=True):
            assert torch.equal(g, w)
    m.actor_ft, m.ft_denoising_steps = copy.deepcopy(m.actor), 3
    index = torch.tensor([7, 8, 9, 9, 8, 7])
    eta = torch.rand(6, 1, generator=gen)
    got = m._update(x, eps, m.ddim_coefs.at(index), eta)
    want = _inline_update(cfg, x, eps, m.ddim_alphas[index][:, None],
                          m.ddim_alphas_prev[index][:, None], eta)
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g, w)


def test_ancestral_step_is_the_ddpm_posterior():
    """Each step of ``sample_ancestral`` draws from q(x_{t-1} | x_t, x0): DDPM's mean/variance."""
    m = Diffusion(4, 4, 2, DiffusionConfig(denoising_steps=20, denoised_clip_value=None))
    ac = m.alphas_cumprod.double()
    gen = torch.Generator().manual_seed(0)
    x0, xt = torch.randn(5, 8, generator=gen).double(), torch.randn(5, 8, generator=gen).double()
    for t in (19, 10, 1):
        a, a_prev = ac[t], ac[t - 1]
        beta = 1 - a / a_prev
        eps = (xt - a.sqrt() * x0) / (1 - a).sqrt()  # the noise that makes x0 the prediction
        mu, sigma = m._update_mean_std(xt, eps, a, a_prev, 1.0)
        want_mu = (a_prev.sqrt() * beta / (1 - a)) * x0 + ((1 - beta).sqrt() * (1 - a_prev)
                                                          / (1 - a)) * xt
        torch.testing.assert_close(mu, want_mu)
        torch.testing.assert_close(sigma, ((1 - a_prev) / (1 - a) * beta).sqrt())


def test_pretrained_sampler_selects_ddpm_or_ddim_and_finetuned_policies_use_ddim(tiny_policy):
    import copy
    import dataclasses

    obs = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)

    def actions(policy):
        torch.manual_seed(5)
        return policy.act(obs)

    ddpm = copy.deepcopy(tiny_policy)
    ddim = copy.deepcopy(tiny_policy)
    ddim.model.cfg = dataclasses.replace(ddim.model.cfg, pretrained_sampler="ddim")
    assert ddpm.uses_ancestral_sampling and not ddim.uses_ancestral_sampling
    assert not np.array_equal(actions(ddpm), actions(ddim))
    ddpm.enable_finetuning(1)  # actor_ft == actor: now the same DDIM chain as ``ddim``
    assert not ddpm.uses_ancestral_sampling
    np.testing.assert_array_equal(actions(ddpm), actions(ddim))
    with pytest.raises(ValueError, match="pretrained_sampler"):
        DiffusionConfig(pretrained_sampler="euler")


def test_a_policy_saved_before_pretrained_sampler_existed_loads_as_ddim(tiny_policy, tmp_path):
    import json

    tiny_policy.save(tmp_path / "p")
    meta_file = tmp_path / "p" / "policy.json"
    meta = json.loads(meta_file.read_text())
    del meta["diffusion_config"]["pretrained_sampler"]
    meta_file.write_text(json.dumps(meta))
    assert DiffusionPolicy.load(tmp_path / "p").model.cfg.pretrained_sampler == "ddim"


def test_act_shape_range_and_bad_input(tiny_policy):
    out = tiny_policy.act(np.zeros((5, 4), np.float32))
    assert out.shape == (5, 2, 2) and out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)
    with pytest.raises(ValueError, match="shape"):
        tiny_policy.act(np.zeros((5, 3), np.float32))


def test_save_load_round_trip_gives_same_actions(tiny_policy, tmp_path):
    tiny_policy.save(tmp_path / "p")
    loaded = DiffusionPolicy.load(tmp_path / "p")
    obs = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    torch.manual_seed(3)
    a = tiny_policy.act(obs)
    torch.manual_seed(3)
    b = loaded.act(obs)
    np.testing.assert_array_equal(a, b)
    assert not list((tmp_path / "p").glob("*.pt")) and not list((tmp_path / "p").glob("*.pkl"))


def test_load_rejects_a_folder_without_a_policy(tmp_path):
    with pytest.raises(AdapterError, match="no diffusion policy"):
        DiffusionPolicy.load(tmp_path)


def test_pretraining_is_deterministic_given_the_seed():
    obs, act = synthetic_demos()
    kw = dict(horizon=4, act_steps=2, cfg=TINY, steps=10, batch_size=16)
    a = pretrain_policy(obs, act, seed=7, **kw).model.actor.state_dict()
    b = pretrain_policy(obs, act, seed=7, **kw).model.actor.state_dict()
    c = pretrain_policy(obs, act, seed=8, **kw).model.actor.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_on_step_sees_each_step_and_its_own_ema_equals_the_saved_one():
    """A diagnosis script's EMA track, kept through ``on_step`` from the raw weights with
    the saved EMA's decay, ends where the saved EMA ends (up to the first step: the track
    starts from the weights after it); the hook changes nothing in the result."""
    obs, act = synthetic_demos()
    kw = dict(horizon=4, act_steps=2, cfg=TINY, steps=300, batch_size=16, seed=3)
    seen: list[int] = []
    track: dict[str, list[torch.Tensor]] = {}

    def on_step(step: int, module: torch.nn.Module) -> None:
        seen.append(step)
        params = [p.detach() for p in module.parameters()]
        track.setdefault("ema", [p.clone() for p in params])
        update_ema(track["ema"], params, TINY.ema_decay, step)

    hooked = pretrain_policy(obs, act, on_step=on_step, **kw).model.actor
    plain = pretrain_policy(obs, act, **kw).model.actor
    assert seen == list(range(300))
    for a, b in zip(hooked.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(track["ema"], hooked.parameters(), strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=1e-3, atol=1e-4)


def test_update_ema_is_a_warm_exponential_average():
    ema, p = [torch.zeros(3)], [torch.ones(3)]
    update_ema(ema, p, 0.99, step=0)  # warm: min(0.99, 1/10) keeps 10 % of the old value
    torch.testing.assert_close(ema[0], torch.full((3,), 0.9))
    update_ema(ema, p, 0.5, step=1000)
    torch.testing.assert_close(ema[0], torch.full((3,), 0.95))


def test_pretraining_learns_the_two_modes():
    """A bimodal action set is reproduced as two clusters, not averaged."""
    obs, act = synthetic_demos(n=40)
    cfg = DiffusionConfig(hidden_dims=(64, 64), time_dim=8, denoising_steps=20, ddim_steps=5)
    pol = pretrain_policy(obs, act, horizon=4, act_steps=2, cfg=cfg, steps=400,
                          batch_size=64, seed=0)
    torch.manual_seed(0)
    x = pol.act(np.repeat(obs[0][:1], 200, 0))[:, 0, 0]
    assert np.mean(np.abs(x) > 0.35) > 0.6  # averaging the modes would put all near 0
    assert 0.2 < np.mean(x > 0) < 0.8  # both modes are used


def test_nan_loss_raises_training_error():
    obs, act = synthetic_demos()
    with pytest.raises(TrainingError, match="non-finite"):
        pretrain_policy(obs, act, horizon=4, act_steps=2,
                        cfg=DiffusionConfig(hidden_dims=(16,), time_dim=8, learning_rate=1e6,
                                            min_lr=1e6, grad_clip=None, lr_warmup_steps=1),
                        steps=50, batch_size=16, seed=0)


def test_nan_demonstrations_raise_training_error():
    obs, act = synthetic_demos()
    act[0][0, 0] = np.nan
    with pytest.raises(TrainingError, match="NaN"):
        pretrain_policy(obs, act, horizon=4, act_steps=2, cfg=TINY, steps=2, batch_size=4,
                        seed=0)
