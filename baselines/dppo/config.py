"""DPPO's fine-tuning hyper-parameters, named as in DPPO's public configs.

References are to Ren et al. 2024, "Diffusion Policy Policy Optimization", and its code
(``agent/finetune/train_ppo_diffusion_agent.py``, ``model/diffusion/diffusion_ppo.py``,
``cfg/*/finetune/*/ft_ppo_diffusion_mlp*.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DPPOConfig:
    """PPO fine-tuning of the denoising chain (DDIM variant, as DPPO's robomimic configs).

    Per-tier sizes (iterations, envs, decisions per iteration) come from the task's
    ``TierBudget``; everything else is here. The class defaults are DPPO's robomimic values;
    :data:`FAMILY_DEFAULTS` gives each task family the values of the DPPO config closest to
    it, and ``dppo`` uses those (``-o`` options override them).

    Attributes:
        ft_denoising_steps: K', the last steps of the chain that use and train the
            fine-tuned copy ``actor_ft`` (DPPO's state-based configs: 10 of the 20 DDPM steps).
        chain: The sampled (and fine-tuned) chain. ``"ddpm"``: all T training steps with
            eta = 1, where every step is the DDPM posterior, i.e. DPPO's DDPM chain (its
            state-based configs: ``denoising_steps: 20``, ``ft_denoising_steps: 10``, no
            DDIM). ``"ddim"``: the backbone's ``ddim_steps`` chain (DPPO's DDIM configs).
        gamma: Discount over *environment decisions* (one action chunk) for GAE.
        gae_lambda: GAE λ.
        gamma_denoising: Discount over denoising steps: the advantage of denoising step j of
            K' is scaled by ``gamma_denoising ** (K' - j - 1)``.
        clip_ploss_coef: PPO ratio clip at the last denoising step.
        clip_ploss_coef_base: PPO ratio clip at the first fine-tuned step.
        clip_ploss_coef_rate: Exponential rate of the interpolation between the two.
        clip_vloss_coef: Value clipping (None: plain MSE, DPPO's default).
        min_sampling_denoising_std: Lower clip of each stochastic step's std when sampling.
        min_logprob_denoising_std: Lower clip of the std inside log-probabilities.
        randn_clip_value: Clip of the Gaussian draws of every denoising step.
        logprob_min: Lower clip of per-dimension log-probabilities (DPPO: -5).
        logprob_max: Upper clip of per-dimension log-probabilities (DPPO: 2).
        eta: DDIM eta of the stochastic chain (DPPO ``EtaFixed`` with ``base_eta = 1``).
        learn_eta: Learn eta per action dimension (DPPO ``EtaAction``); off by default, as in
            DPPO's configs.
        min_eta: Lower bound of a learned eta.
        max_eta: Upper bound of a learned eta.
        eta_lr: Learning rate of a learned eta.
        actor_lr: Adam learning rate of ``actor_ft`` (constant: DPPO's configs set the
            cosine schedule's ``min_lr`` equal to ``lr``).
        critic_lr: Adam learning rate of the critic.
        critic_hidden_dims: Critic MLP widths (DPPO ``CriticObs``).
        update_epochs: PPO epochs per iteration.
        minibatch_fraction: Decisions per minibatch as a share of the iteration's decisions;
            each minibatch carries all K' denoising steps of its decisions, as DPPO's
            ``train_ppo_diffusion_agent.py`` batches ``n_steps * n_envs`` decisions
            (``batch_size`` = 1/2 of them in the D3IL and robomimic configs, 1/4 in gym's).
        vf_coef: Value-loss weight.
        ent_coef: Entropy-bonus weight (0 for DPPO; ``entropy-rl`` sets it).
        max_grad_norm: Gradient-norm clip of actor and critic.
        target_kl: Stop an iteration's epochs once the approximate KL exceeds it (None: off).
        norm_adv: Normalise advantages per minibatch.
        reward_scale_running: Divide rewards by a running std of the discounted return.
        reward_scale_const: Constant reward multiplier (after running scaling).
        n_critic_warmup_itr: Iterations that train only the critic (capped at
            ``finetune_iterations - 1`` so short tiers still update the actor).
    """

    ft_denoising_steps: int = 10
    chain: str = "ddpm"
    gamma: float = 0.99
    gae_lambda: float = 0.95
    gamma_denoising: float = 0.99
    clip_ploss_coef: float = 0.01
    clip_ploss_coef_base: float = 0.001
    clip_ploss_coef_rate: float = 3.0
    clip_vloss_coef: float | None = None
    min_sampling_denoising_std: float = 0.1
    min_logprob_denoising_std: float = 0.1
    randn_clip_value: float = 3.0
    logprob_min: float = -5.0
    logprob_max: float = 2.0
    eta: float = 1.0
    learn_eta: bool = False
    min_eta: float = 0.1
    max_eta: float = 1.0
    eta_lr: float = 1e-4
    actor_lr: float = 1e-5
    critic_lr: float = 1e-3
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256)
    update_epochs: int = 10
    minibatch_fraction: float = 0.5
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    max_grad_norm: float | None = 1.0
    target_kl: float | None = 1.0
    norm_adv: bool = True
    reward_scale_running: bool = True
    reward_scale_const: float = 1.0
    n_critic_warmup_itr: int = 2

    def __post_init__(self) -> None:
        if self.ft_denoising_steps < 1:
            raise ValueError("ft_denoising_steps must be >= 1")
        if not 0 <= self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError("gamma and gae_lambda must be in [0, 1]")
        if not 0 < self.minibatch_fraction <= 1:
            raise ValueError("minibatch_fraction must be in (0, 1]")
        if self.chain not in ("ddpm", "ddim"):
            raise ValueError("chain must be 'ddpm' or 'ddim'")
        for name in ("actor_lr", "critic_lr", "eta_lr", "update_epochs",
                     "clip_ploss_coef", "clip_ploss_coef_base", "min_sampling_denoising_std",
                     "min_logprob_denoising_std", "randn_clip_value", "reward_scale_const"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("vf_coef", "ent_coef", "n_critic_warmup_itr", "gamma_denoising",
                     "clip_ploss_coef_rate"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if any(d < 1 for d in self.critic_hidden_dims):
            raise ValueError("critic_hidden_dims must be positive widths")
        if self.learn_eta and not self.min_eta < self.eta < self.max_eta:
            raise ValueError("a learned eta must start strictly inside (min_eta, max_eta)")


# DPPO's public configs (irom-lab/dppo, cfg/*/finetune/*/ft_ppo_diffusion_mlp.yaml), per task
# family: the fields that differ from the class defaults (robomimic lift).
_D3IL_AVOID = {  # cfg/d3il/finetune/avoid_m1/ft_ppo_diffusion_mlp.yaml
    "actor_lr": 1e-5, "critic_lr": 1e-3, "n_critic_warmup_itr": 1, "gamma": 0.99,
    "update_epochs": 10, "minibatch_fraction": 0.5, "gamma_denoising": 0.95,
    "clip_ploss_coef": 0.1, "clip_ploss_coef_base": 0.1, "clip_ploss_coef_rate": 1.0,
}
_ROBOMIMIC = {  # cfg/robomimic/finetune/lift/ft_ppo_diffusion_mlp.yaml
    "actor_lr": 1e-5, "critic_lr": 1e-3, "n_critic_warmup_itr": 2, "gamma": 0.999,
    "update_epochs": 10, "minibatch_fraction": 0.5, "gamma_denoising": 0.99,
    "clip_ploss_coef": 0.01, "clip_ploss_coef_base": 0.001, "clip_ploss_coef_rate": 3.0,
}
_GYM = {  # cfg/gym/finetune/hopper-v2/ft_ppo_diffusion_mlp.yaml (locomotion)
    "actor_lr": 1e-4, "critic_lr": 1e-3, "n_critic_warmup_itr": 0, "gamma": 0.99,
    "update_epochs": 5, "minibatch_fraction": 0.25, "gamma_denoising": 0.99,
    "clip_ploss_coef": 0.01, "clip_ploss_coef_base": 0.01, "clip_ploss_coef_rate": 3.0,
}
FAMILY_DEFAULTS: dict[str, dict[str, object]] = {
    "avoid": _D3IL_AVOID,
    "robosuite-lift": _ROBOMIMIC,
    # DPPO has no PPO config for Franka Kitchen; robomimic's is the closest (manipulation,
    # sparse task rewards, long horizons)
    "kitchen": _ROBOMIMIC,
    "anymal": _GYM,
    "anymal-menagerie": _GYM,
}
"""Task family -> DPPO config values (all families: DDPM chain T = 20, K' = 10, randn clip 3,
min sampling/log-prob std 0.1, target KL 1, GAE 0.95, running reward scaling)."""
