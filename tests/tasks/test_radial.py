"""The radial task: env contract, determinism, goals, bridges, expert, dataset."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from task_helpers import assert_reset_seed_fixes_the_rollout
from task_helpers import rollout as _rollout

from benchmark.datasets import collect_demonstrations
from benchmark.registry import get_task
from tasks.radial import MODES

TASK = get_task("radial")


def test_env_passes_gymnasium_checker():
    check_env(TASK.make_env().unwrapped, skip_render_check=True)


@pytest.mark.parametrize("level", ["nominal", "obs_noise_0.1", "gain_x0.5"])
def test_same_seed_same_rollout(level):
    actions = np.random.default_rng(0).uniform(-1, 1, size=(16, 2)).astype(np.float32)
    assert_reset_seed_fixes_the_rollout(TASK, level, actions)


def test_heading_at_a_goal_succeeds_and_between_two_goals_fails():
    env = TASK.make_env()
    _, info = _rollout(env, 0, [np.array([1.0, 0.0], np.float32)] * 16)
    assert info["success"] is True and info["mode"] == "g00"
    between = np.array([np.cos(np.pi / 16), np.sin(np.pi / 16)], np.float32)  # a bridge
    _, info = _rollout(env, 0, [between] * 16)
    assert info["success"] is False and info["mode"] in ("g00", "g01")
    _, info = _rollout(env, 0, [np.zeros(2, np.float32)] * 16)
    assert info["success"] is False and info["mode"] == ""  # never reached the ring


def test_expert_reaches_every_goal():
    env = TASK.make_env()
    rng = np.random.default_rng(0)
    for i, mode in enumerate(MODES * 2):
        obs, _ = env.reset(seed=i)
        expert = TASK.make_expert(env, mode, rng)
        for _ in range(TASK.spec.max_episode_steps):
            obs, _, te, tr, info = env.step(expert(obs))
            if te or tr:
                break
        assert info["success"] and info["mode"] == mode


def test_demonstrations_cover_every_goal_equally():
    _, stats = collect_demonstrations(TASK, 64)
    assert stats["dropped"] == 0 and set(stats["mode_counts"].values()) == {4}
