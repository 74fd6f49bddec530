"""Shared fixtures: a tiny diffusion policy trained for a few steps on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.common.config import DiffusionConfig

TINY = DiffusionConfig(hidden_dims=(32, 32), time_dim=8, denoising_steps=10, ddim_steps=5,
                       lr_warmup_steps=2)


def synthetic_demos(n: int = 12, t: int = 10, seed: int = 0):
    """Bimodal 2-D demos: constant action (+-0.7, 0.5), observations drifting in y."""
    rng = np.random.default_rng(seed)
    obs, act = [], []
    for i in range(n):
        o = np.zeros((t + 1, 4), np.float32)
        o[:, 1] = np.linspace(0, 1, t + 1)
        o[:, 0] = rng.normal(0, 0.01)
        obs.append(o)
        act.append(np.tile(np.array([[0.7 if i % 2 else -0.7, 0.5]], np.float32), (t, 1)))
    return obs, act


@pytest.fixture(scope="session")
def tiny_policy():
    """A tiny pretrained policy (horizon 4, act_steps 2)."""
    import torch

    from baselines.common.pretrain import pretrain_policy

    torch.set_num_threads(1)
    obs, act = synthetic_demos()
    return pretrain_policy(obs, act, horizon=4, act_steps=2, cfg=TINY, steps=30, batch_size=32,
                           seed=0)
