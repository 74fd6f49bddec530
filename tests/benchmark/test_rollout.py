"""Batched evaluation rollouts and the chunked-action wrapper."""

import numpy as np
import pytest

from benchmark.errors import TrainingError
from benchmark.registry import get_task
from benchmark.rollout import evaluate_policy, make_chunked_env, make_training_vector_env
from benchmark.seeding import eval_seed

TASK = get_task("avoid")
NOMINAL = TASK.spec.perturbation("nominal")


class ArcPolicy:
    """Goes up, veering left: a deterministic batched policy that counts its calls."""

    def __init__(self):
        self.batch_sizes = []

    def act(self, obs, deterministic=True):
        self.batch_sizes.append(len(obs))
        a = np.zeros((len(obs), TASK.spec.chunk.act_steps, 2), np.float32)
        a[..., 0] = np.where(obs[:, 1:2] < 0.8, -0.6, 0.6)
        a[..., 1] = 0.8
        return a


def test_records_are_ordered_seeded_and_deterministic():
    p1, p2 = ArcPolicy(), ArcPolicy()
    r1 = evaluate_policy(p1, TASK, NOMINAL, 0, n_episodes=10, n_envs=4)
    r2 = evaluate_policy(p2, TASK, NOMINAL, 0, n_episodes=10, n_envs=3)
    assert [r.episode for r in r1] == list(range(10))
    assert [r.seed for r in r1] == [eval_seed(0, e) for e in range(10)]
    # results do not depend on how episodes are batched
    assert [(r.success, r.length, r.mode, round(r.ret, 9)) for r in r1] == \
           [(r.success, r.length, r.mode, round(r.ret, 9)) for r in r2]
    assert max(p1.batch_sizes) == 4 and min(p1.batch_sizes) >= 1
    # one policy call per decision for all running envs
    decisions = sum(int(np.ceil(r.length / TASK.spec.chunk.act_steps)) for r in r1)
    assert sum(p1.batch_sizes) == decisions


def test_levels_use_disjoint_seed_blocks():
    r = evaluate_policy(ArcPolicy(), TASK, TASK.spec.perturbation("drag_x2.0"), 5, 3, 3)
    assert [x.seed for x in r] == [eval_seed(5, e) for e in range(3)]
    assert all(x.level == "drag_x2.0" for x in r)


def test_an_episodic_policy_gets_each_rows_episode_key_and_decision_index():
    class KeyedArcPolicy(ArcPolicy):
        """Records the episode keys and decision indices it is given with each row's obs."""

        def __init__(self):
            super().__init__()
            self.calls = []
            self.decisions = []

        def act(self, obs, deterministic=True):
            raise AssertionError("an EpisodicPolicy is called through act_episodes")

        def act_episodes(self, obs, episodes, decisions, deterministic=True):
            self.calls.append((obs.copy(), np.asarray(episodes).copy()))
            self.decisions.append(np.asarray(decisions).copy())
            return ArcPolicy.act(self, obs, deterministic)

    pol = KeyedArcPolicy()
    recs = evaluate_policy(pol, TASK, NOMINAL, 2, n_episodes=5, n_envs=2)
    keys = np.concatenate([k for _, k in pol.calls])
    assert set(keys.tolist()) == {eval_seed(2, e) for e in range(5)}  # the reset seeds
    for _, k in pol.calls:
        assert len(set(k.tolist())) == len(k)  # one row per running episode
    # an episode's key appears in consecutive calls only: it starts, runs, then ends
    for key in set(keys.tolist()):
        seen = [i for i, (_, k) in enumerate(pol.calls) if key in k]
        assert seen == list(range(seen[0], seen[-1] + 1))
    # and once per decision of its episode, numbered 0, 1, 2, ...
    steps = np.concatenate(pol.decisions)
    for r in recs:
        decisions = int(np.ceil(r.length / TASK.spec.chunk.act_steps))
        assert steps[keys == r.seed].tolist() == list(range(decisions))


def test_non_finite_actions_are_an_error():
    class NaNPolicy:
        def act(self, obs, deterministic=True):
            return np.full((len(obs), TASK.spec.chunk.act_steps, 2), np.nan, np.float32)

    with pytest.raises(TrainingError, match="non-finite"):
        evaluate_policy(NaNPolicy(), TASK, NOMINAL, 0, 2, 2)


def test_chunked_env_executes_the_chunk_and_stops_at_episode_end():
    env = make_chunked_env(TASK)
    assert env.action_space.shape == (TASK.spec.chunk.act_steps, 2)
    env.reset(seed=0)
    _, r, te, tr, info = env.step(np.zeros((TASK.spec.chunk.act_steps, 2), np.float32))
    assert info["env_steps"] == TASK.spec.chunk.act_steps and not (te or tr)
    total = 0
    for _ in range(100):
        _, r, te, tr, info = env.step(np.tile([0.0, 1.0], (TASK.spec.chunk.act_steps, 1)))
        total += info["env_steps"]
        if te or tr:
            break
    assert te and "success" in info and info["env_steps"] <= TASK.spec.chunk.act_steps


def test_training_vector_env_autoresets_on_the_same_step():
    venv = make_training_vector_env(TASK, 2, seed=0)
    obs, _ = venv.reset()
    ended = False
    for _ in range(40):
        act = np.tile([0.0, 1.0], (2, TASK.spec.chunk.act_steps, 1)).astype(np.float32)
        obs, r, te, tr, infos = venv.step(act)
        if (te | tr).any():
            ended = True
            i = int(np.argmax(te | tr))
            assert infos["_final_obs"][i]
            assert "success" in infos["final_info"] and "env_steps" in infos
            assert obs[i][1] == 0.0  # already the next episode's reset observation
            break
    assert ended
    venv.close()


@pytest.mark.parametrize("workers", [2, 3])
def test_envs_in_worker_processes_give_the_same_episodes(workers):
    """Issue 18: stepping the evaluation envs in worker processes must not change a number
    (noise levels draw from each env's own generator, so they are the test)."""
    level = next(lv for lv in TASK.spec.perturbations if lv.ladder == "obs_noise")
    here = evaluate_policy(ArcPolicy(), TASK, level, 1, n_episodes=9, n_envs=4, workers=1)
    there = evaluate_policy(ArcPolicy(), TASK, level, 1, n_episodes=9, n_envs=4,
                            workers=workers)
    assert [r.row() for r in there] == [r.row() for r in here]


def test_worker_processes_are_stopped_when_the_policy_fails():
    import multiprocessing

    class NaNPolicy:
        def act(self, obs, deterministic=True):
            return np.full((len(obs), TASK.spec.chunk.act_steps, 2), np.nan, np.float32)

    before = len(multiprocessing.active_children())
    with pytest.raises(TrainingError, match="non-finite"):
        evaluate_policy(NaNPolicy(), TASK, NOMINAL, 0, 4, 4, workers=2)
    assert len(multiprocessing.active_children()) == before


def test_the_env_worker_count_comes_from_the_environment(monkeypatch):
    from benchmark.envslots import env_workers
    from benchmark.errors import UsageError

    assert env_workers() == 1
    monkeypatch.setenv("MODEBENCH_ENV_WORKERS", "2")
    assert env_workers() == 2
    monkeypatch.setenv("MODEBENCH_ENV_WORKERS", "0")
    with pytest.raises(UsageError, match="MODEBENCH_ENV_WORKERS"):
        env_workers()
