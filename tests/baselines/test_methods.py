"""The built-in adapters: protocol, shared pretraining, options, and fine-tuning on ``avoid``."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from baselines.bc import BCMethod
from baselines.dppo import DPPOMethod
from baselines.dppo.config import DPPOConfig
from baselines.entropy_rl import EntropyRLConfig, EntropyRLMethod
from baselines.steer import BMDMethod, DSRLMethod, RESBMDMethod, RESMethod
from benchmark.adapter import RunContext, validate_method_class
from benchmark.errors import UsageError
from benchmark.options import apply_options, configure_method
from benchmark.progress import SILENT
from tests.baselines.conftest import TINY, synthetic_demos

METHODS = (BCMethod, DPPOMethod, EntropyRLMethod, DSRLMethod, RESMethod, BMDMethod,
           RESBMDMethod)
STEERED = (DSRLMethod, RESMethod, BMDMethod, RESBMDMethod)


def test_adapters_satisfy_the_protocol():
    for cls in METHODS:
        validate_method_class(cls, cls.name)


def test_adapter_modules_do_not_import_torch():
    code = ("import sys, baselines.bc, baselines.dppo, baselines.entropy_rl, baselines.steer; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_all_methods_share_one_pretraining_key():
    keys = {cls().pretrain_key(None) for cls in METHODS}  # type: ignore[arg-type]
    assert len(keys) == 1
    other = BCMethod(diffusion=TINY).pretrain_key(None)  # type: ignore[arg-type]
    assert other not in keys


def test_options_override_typed_fields_and_reject_unknown_ones():
    (cfgs, applied) = apply_options({"finetune": DPPOConfig()}, {
        "actor_lr": "3e-4", "learn_eta": "true", "max_eta": "2", "eta": 0.5,
        "target_kl": "none", "update_epochs": 2})
    cfg = cfgs["finetune"]
    assert cfg.actor_lr == 3e-4 and cfg.learn_eta is True and cfg.target_kl is None
    assert cfg.update_epochs == 2 and cfg.max_eta == 2.0
    assert applied["max_eta"] == 2.0 and isinstance(applied["max_eta"], float)
    with pytest.raises(UsageError, match="unknown option"):
        apply_options({"finetune": DPPOConfig()}, {"nope": 1})
    with pytest.raises(UsageError, match="expected int"):
        apply_options({"finetune": DPPOConfig()}, {"update_epochs": "many"})


@pytest.mark.parametrize("method_id, options, message", [
    ("bmd", {"n_latent": 0}, "n_latent must be >= 2"),
    ("bmd", {"lam": float("nan")}, "finite"),
    ("dsrl", {"lam": 0.2}, "unknown option 'lam'"),  # no regulariser: lam changes nothing
    ("res", {"noise_bound": -1.0}, "noise_bound must be > 0"),
    ("dppo", {"actor_lr": -1}, "actor_lr must be > 0"),
    ("dppo", {"actor_lr": "abc"}, "expected float"),
    ("dppo", {"unknown_key": 1}, "unknown option 'unknown_key'"),
    ("bc", {"unknown_key": 1}, "unknown option 'unknown_key'"),
    ("bc", {"pretrained_sampler": "bogus"}, "pretrained_sampler must be"),
    ("bc", {"actor_lr": 3e-4}, "unknown option 'actor_lr'"),  # bc does not fine-tune
    ("bc", {"pretrained_sampler": "ddpm"}, "is the default"),  # changes nothing
    ("dppo", {"randn_clip_value": 2.0}, "ambiguous"),
    ("bc", {"hidden_dims": "abc"}, "expected tuple"),
])
def test_every_builtin_method_validates_its_options(method_id, options, message):
    from benchmark.registry import get_method_class

    with pytest.raises(UsageError, match=message) as info:
        configure_method(get_method_class(method_id)(), method_id, options)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("method_id", ["bc", "dppo", "entropy-rl", "dsrl", "res", "bmd", "dppo-bmd",
                                       "res-bmd"])
def test_every_builtin_method_applies_its_options(method_id):
    from benchmark.registry import get_method_class

    method, applied = configure_method(get_method_class(method_id)(), method_id, {
        "diffusion.ddim_steps": 5, "diffusion.hidden_dims": "64x64"})
    assert method.config() != get_method_class(method_id)().config()
    assert method.diffusion.ddim_steps == 5 and method.diffusion.hidden_dims == (64, 64)
    assert applied == {"diffusion.ddim_steps": 5, "diffusion.hidden_dims": (64, 64)}



def test_a_tuple_option_applies_again_from_what_was_applied():
    """Bug: ``bench evaluate -o diffusion.hidden_dims=512,512,512`` failed with "expected
    tuple": the applied value, already a tuple, is applied again downstream and was
    coerced through ``str()``."""
    from benchmark.registry import get_method_class

    first, applied = configure_method(get_method_class("bc")(), "bc",
                                      {"diffusion.hidden_dims": "512,512,512"})
    again, applied_again = configure_method(get_method_class("bc")(), "bc", applied)
    assert again.diffusion == first.diffusion and applied_again == applied
    assert configure_method(get_method_class("bc")(), "bc", {
        "diffusion.hidden_dims": [64, 64]})[0].diffusion.hidden_dims == (64, 64)
    with pytest.raises(UsageError, match="expected tuple"):
        configure_method(get_method_class("bc")(), "bc", {"diffusion.hidden_dims": (64, "a")})

def test_entropy_rl_is_dppo_with_a_bonus():
    cfg = EntropyRLMethod().config().finetune
    assert isinstance(cfg, EntropyRLConfig) and isinstance(cfg, DPPOConfig)
    assert cfg.alpha > 0 and not cfg.learn_eta and cfg.eta <= 1
    assert DPPOMethod().config().finetune.ent_coef == 0


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
def avoid_policy(avoid_ctx):
    """A tiny policy with avoid's chunk shape (horizon 8, act_steps 4)."""
    import torch

    from baselines.common.pretrain import pretrain_policy

    torch.set_num_threads(1)
    obs, act = synthetic_demos(n=16, t=20)
    chunk = avoid_ctx.spec.chunk
    return pretrain_policy(obs, act, horizon=chunk.horizon, act_steps=chunk.act_steps,
                           cfg=TINY, steps=20, batch_size=32, seed=0)


@pytest.mark.parametrize("cls", [BCMethod, DPPOMethod, EntropyRLMethod])
def test_finetune_save_load_and_act_on_avoid(cls, avoid_ctx, avoid_policy, tmp_path):
    import torch

    method = cls(diffusion=TINY)
    if cls is not BCMethod:
        method = cls(diffusion=TINY, finetune=cls.config_class(critic_hidden_dims=(16,)))
    # the pretrained stage written by bc is read by every method
    BCMethod(diffusion=TINY).save(avoid_policy, tmp_path / "pre")
    pre = method.load(tmp_path / "pre", avoid_ctx)
    before = copy.deepcopy(pre.model.actor.state_dict())
    tuned = method.finetune(pre, avoid_ctx)
    obs = np.zeros((3, 4), np.float32)
    out = tuned.act(obs)
    assert out.shape == (3, 4, 2) and np.all(np.abs(out) <= 1)
    for k, v in tuned.model.actor.state_dict().items():  # the base actor stays frozen
        assert torch.equal(v, before[k])
    if cls is BCMethod:
        assert tuned is pre and tuned.model.actor_ft is None
        return
    changed = any(not torch.equal(v, before[k])
                  for k, v in tuned.model.actor_ft.state_dict().items())
    assert changed, "fine-tuning did not update actor_ft"
    method.save(tuned, tmp_path / "ft")
    again = method.load(tmp_path / "ft", avoid_ctx)
    torch.manual_seed(9)
    a = tuned.act(obs)
    torch.manual_seed(9)
    b = again.act(obs)
    np.testing.assert_array_equal(a, b)
    trainer = method.last_trainer
    assert trainer.env_steps > 0 and len(trainer.history) == avoid_ctx.budget.finetune_iterations
