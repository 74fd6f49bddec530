"""Per-episode noise streams (baselines/common/episode_noise) and the policies that use them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.common.episode_noise import EpisodeStreams
from tests.baselines.conftest import TINY, synthetic_demos

KEYS = np.arange(6, dtype=np.int64) + 2_000_000_000


def _run(streams: EpisodeStreams, keys: list[int], n_decisions: int, size: int = 5):
    """Draws of ``keys`` (all running side by side) over ``n_decisions``: {key: (n, size)}."""
    out: dict[int, list[torch.Tensor]] = {k: [] for k in keys}
    for d in range(n_decisions):
        draws = streams.normal(np.array(keys), np.full(len(keys), d), size)
        for k, row in zip(keys, draws, strict=True):
            out[k].append(row)
    return {k: torch.stack(v) for k, v in out.items()}


def test_an_episodes_draws_do_not_depend_on_the_episodes_beside_it():
    alone = _run(EpisodeStreams(), [int(KEYS[2])], 4)
    together = _run(EpisodeStreams(), KEYS.tolist(), 4)
    reordered = _run(EpisodeStreams(), KEYS[::-1].tolist(), 4)
    assert torch.equal(alone[int(KEYS[2])], together[int(KEYS[2])])
    for k in KEYS.tolist():
        assert torch.equal(together[k], reordered[k])
    # distinct episodes and distinct decisions get distinct draws
    assert not torch.equal(together[int(KEYS[0])], together[int(KEYS[1])])
    assert not torch.equal(together[int(KEYS[0])][0], together[int(KEYS[0])][1])


def test_a_stream_restarts_at_decision_zero_and_differs_from_the_global_generator():
    streams = EpisodeStreams()
    first = _run(streams, KEYS.tolist(), 3)
    again = _run(streams, KEYS.tolist(), 3)  # the same keys evaluated again (e.g. z forced)
    for k in KEYS.tolist():
        assert torch.equal(first[k], again[k])
    torch.manual_seed(int(KEYS[0]))  # the runner seeds the global generator with such numbers
    assert not torch.equal(torch.randn(5), first[int(KEYS[0])][0])


def test_an_episode_joining_mid_evaluation_gets_its_own_stream():
    streams = EpisodeStreams()
    a, b = int(KEYS[0]), int(KEYS[1])
    streams.normal(np.array([a]), np.array([0]), 3)
    late = streams.normal(np.array([a, b]), np.array([1, 0]), 3)
    alone = EpisodeStreams().normal(np.array([b]), np.array([0]), 3)
    assert torch.equal(late[1], alone[0])


@pytest.mark.parametrize("keys, decisions, match", [
    ([5, 5], [0, 0], "repeat"),
    ([5], [1], "decision 1 asked for"),
    ([-1], [0], "outside"),
    ([2**32], [0], "outside"),
    ([5, 6], [0], "decision indices"),
])
def test_bad_keys_and_decisions_out_of_order_are_refused(keys, decisions, match):
    with pytest.raises(ValueError, match=match):
        EpisodeStreams().normal(np.array(keys), np.array(decisions), 3)


def test_a_skipped_decision_is_refused():
    streams = EpisodeStreams()
    streams.normal(np.array([7]), np.array([0]), 3)
    with pytest.raises(ValueError, match="stream is at decision 1"):
        streams.normal(np.array([7]), np.array([2]), 3)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("deterministic", [True, False])
def test_a_diffusion_policys_row_acts_as_it_would_alone(tiny_policy, sampler, deterministic):
    import copy
    import dataclasses

    policy = copy.deepcopy(tiny_policy)
    policy.model.cfg = dataclasses.replace(policy.model.cfg, pretrained_sampler=sampler)
    obs = np.random.default_rng(0).normal(size=(len(KEYS), policy.obs_dim)).astype(np.float32)
    batch = policy.act_episodes(obs, KEYS, np.zeros_like(KEYS), deterministic)
    for i in (0, 3, 5):
        alone = copy.deepcopy(tiny_policy)
        alone.model.cfg = policy.model.cfg
        row = alone.act_episodes(obs[i:i + 1], KEYS[i:i + 1], np.zeros(1, np.int64),
                                 deterministic)
        # equal up to the network's batched arithmetic (BLAS kernels depend on the batch)
        np.testing.assert_allclose(row[0], batch[i], atol=1e-5)
    # the rows are not one draw repeated: the policy is stochastic per episode
    assert not np.allclose(batch[0], batch[1])


def test_a_generator_policys_row_acts_as_it_would_alone():
    from baselines.pretrain.config import FlowConfig
    from baselines.pretrain.policy import train_generator

    torch.set_num_threads(1)
    obs, act = synthetic_demos()
    policy = train_generator("bc-flow", FlowConfig(hidden_dims=(16,)), obs, act, horizon=4,
                             act_steps=2, steps=5, batch_size=16, seed=0)
    o = np.random.default_rng(1).normal(size=(len(KEYS), 4)).astype(np.float32)
    batch = policy.act_episodes(o, KEYS, np.zeros_like(KEYS))
    row = policy.act_episodes(o[2:3], KEYS[2:3], np.zeros(1, np.int64))
    np.testing.assert_allclose(row[0], batch[2], atol=1e-5)


def test_bc_evaluation_does_not_depend_on_the_number_of_envs():
    """The bug this module fixes: with one generator for the batch, the number of envs
    decided which noise each evaluation episode got, and so the metrics."""
    from baselines.common.pretrain import pretrain_policy
    from benchmark.registry import get_task
    from benchmark.rollout import evaluate_policy
    from benchmark.seeding import seed_everything

    task = get_task("avoid")
    chunk = task.spec.chunk
    torch.set_num_threads(1)
    obs, act = synthetic_demos(n=16, t=20)
    policy = pretrain_policy(obs, act, horizon=chunk.horizon, act_steps=chunk.act_steps,
                             cfg=TINY, steps=20, batch_size=32, seed=0)
    nominal = task.spec.perturbation("nominal")
    runs = []
    for n_envs in (2, 5, 12):
        seed_everything(n_envs)  # the global generator's state must not matter either
        recs = evaluate_policy(policy, task, nominal, 0, n_episodes=12, n_envs=n_envs)
        runs.append([(r.success, r.mode, r.length, round(r.ret, 4)) for r in recs])
    assert runs[0] == runs[1] == runs[2]
    assert len({r[2] for r in runs[0]}) > 1 or len({r[3] for r in runs[0]}) > 1
