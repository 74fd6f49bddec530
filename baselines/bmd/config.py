"""BMD's configuration. Every choice the paper's summary leaves open is a field here, with
its default and the reason for it (Longhini et al., ICML 2026, arXiv 2605.11387; the full
text was not available to the authors of this file, only its abstract and public reading
notes of it)."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.dppo.config import DPPOConfig
from benchmark.spec import TierBudget


@dataclass(frozen=True)
class BMDConfig(DPPOConfig):
    """DPPO fine-tuning + unsupervised mode discovery + a mutual-information reward.

    Attributes:
        n_modes: K, the number of discrete latent modes z. The paper sets it by hand (it
            lists automatic K as future work); 8 matches the largest demonstrated-mode
            count of the built-in tasks and is *not* read from the task spec, so discovery
            stays label-free.
        discovery_episodes: Rollouts of the pretrained policy used for discovery. None
            (default) sizes it from the tier (:meth:`discovery_episode_count`): the
            fine-tuning budget's worth of full-length episodes, clamped to
            [4 * n_modes, 256]. 256 gives ~30 successful episodes per mode at K = 8 on
            ``avoid`` (small tier) while costing ~2 s; a fixed 256 made discovery 35x the
            fine-tuning budget on ``kitchen`` (700-step episodes, ~7 of the 12.6 minutes
            of a small-tier run).
        discovery_successful_only: Cluster only episodes that met the task's success rule
            (a failed episode's trajectory is a crash, not a behaviour); falls back to all
            episodes when fewer than ``4 * n_modes`` succeeded.
        feature_points: Discovery's generic trajectory feature: the (normalised) observation
            trajectory resampled at this many evenly spaced times, flattened and
            standardised. No task knowledge (e.g. which dims are x/y) is used.
        kmeans_restarts: k-means++ restarts (the best inertia is kept).
        kmeans_iters: Lloyd iterations per restart.
        knn_k: Neighbours of the noise-space classifier c(ξ) that maps an initial noise to
            the mode of the trajectory it produced (majority vote). A k-NN is the simplest
            consistent estimator of the noise regions; no training, no tuning. Used by the
            ``"knn"`` sampler only.
        noise_sampler: How a chunk's initial noise is drawn from mode z's region.
            ``"knn"`` (default): ξ ~ N(0, I) restricted to c(ξ) = z by rejection.
            ``"bank"``: one of the discovery noises that produced a mode-z trajectory,
            uniformly. "bank" makes a forced mode more recognisable before fine-tuning (on
            ``avoid``, seed 0, 48 episodes per mode: share of a forced mode's successes in
            its most common task mode 0.52 vs 0.34), but its finite support lets PPO
            specialise the few hundred bank noises on the shortest modes: after small-tier
            fine-tuning (seeds 0-1) mode count 3.5 with "bank" vs 5.5 with "knn".
        train_noise_per_episode: During fine-tuning, draw one noise from z's region per
            episode and reuse it for every chunk (as discovery does), so an episode's
            trajectory is tied to one z and the discriminator sees z-consistent states.
            On ``avoid`` the pretrained policy's forced-mode purity is 0.66 with per-episode
            noise and 0.52 per chunk.
        eval_noise_per_episode: At evaluation, likewise one z and noise per episode (through
            the harness's :class:`~benchmark.adapter.EpisodicPolicy` hook), so the policy is
            evaluated as it was fine-tuned; False draws z and noise per chunk.
        deterministic_base_steps: During fine-tuning, run the denoising steps that are not
            fine-tuned (the first ``ddim_steps - ft_denoising_steps``) with eta = 0, so the
            initial noise (hence z) still decides the coarse shape of the chunk; DPPO
            samples them stochastically. Only the fine-tuned steps need stochasticity for
            the PPO log-probabilities.
        prior: ``"empirical"``: p(z) = the discovered modes' shares. Sampling z ~ p(z) and
            ξ ~ N(0, I) restricted to c(ξ) = z then equals ξ ~ N(0, I), so ``set_mode(None)``
            acts like the unconditioned policy (paper: modes live *in* the noise space).
            (With the ``"bank"`` sampler, z ~ p(z) then a bank noise of z is a uniform draw
            from the whole bank.) ``"uniform"``: p(z) = 1/K (DIAYN's choice), which
            up-weights rare modes.
        alpha: Weight α of the intrinsic reward α (log q_φ(z|s') − log p(z)), added to each
            decision's environment reward before DPPO's reward scaling. 0.1: with a
            discriminator at q = 0.5 and p(z) = 1/8 a decision earns ~0.14, about the
            progress reward of a decision on ``avoid``, and an episode's intrinsic sum
            (~6 decisions) stays near the success bonus (1), so success still dominates.
        log_q_min: Lower clip of log q_φ(z|s') in the reward (a confidently wrong
            discriminator would otherwise give unbounded penalties).
        disc_hidden_dims: Widths of the discriminator MLP q_φ(z | s) on normalised
            observations. The summary allows "trajectory or state"; the state form gives a
            dense per-decision reward (DIAYN-style) and needs no sequence model.
        disc_lr: Adam learning rate of q_φ.
        disc_epochs: Passes over each iteration's (s', z) pairs (20: with 2 the
            discriminator barely moved, ~1 minibatch per iteration at the small tier).
        disc_pretrain_epochs: Passes over the discovery rollouts' (s, cluster) pairs before
            fine-tuning starts, so the first rewards are already informative.
        disc_batch_size: Minibatch size of discriminator training.
    """

    n_modes: int = 8
    discovery_episodes: int | None = None
    discovery_successful_only: bool = True
    feature_points: int = 16
    kmeans_restarts: int = 10
    kmeans_iters: int = 100
    knn_k: int = 5
    noise_sampler: str = "knn"
    train_noise_per_episode: bool = True
    eval_noise_per_episode: bool = True
    deterministic_base_steps: bool = True
    prior: str = "empirical"
    alpha: float = 0.1
    log_q_min: float = -5.0
    disc_hidden_dims: tuple[int, ...] = (128, 128)
    disc_lr: float = 1e-3
    disc_epochs: int = 20
    disc_pretrain_epochs: int = 20
    disc_batch_size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_modes < 1:
            raise ValueError("n_modes must be >= 1")
        if self.discovery_episodes is not None and self.discovery_episodes < 1:
            raise ValueError("discovery_episodes must be >= 1 (or None: from the tier)")
        if self.noise_sampler not in ("bank", "knn"):
            raise ValueError("noise_sampler must be 'bank' or 'knn'")
        if self.prior not in ("empirical", "uniform"):
            raise ValueError("prior must be 'empirical' or 'uniform'")
        if self.alpha < 0:
            raise ValueError("alpha must be >= 0")

    def discovery_episode_count(self, budget: TierBudget, act_steps: int,
                                max_episode_steps: int) -> int:
        """Discovery rollouts for a tier: ``discovery_episodes`` if set, else as many
        full-length episodes as fine-tuning steps the env (``finetune_iterations`` x
        ``finetune_steps_per_iter`` x ``n_envs`` decisions of ``act_steps`` actions),
        clamped to [4 * n_modes, 256] (k-means needs a few episodes per cluster; beyond 256
        discovery stops improving on ``avoid``)."""
        if self.discovery_episodes is not None:
            return self.discovery_episodes
        env_steps = (budget.finetune_iterations * budget.finetune_steps_per_iter
                     * budget.n_envs * act_steps)
        return int(min(256, max(4 * self.n_modes, env_steps // max(max_episode_steps, 1))))
