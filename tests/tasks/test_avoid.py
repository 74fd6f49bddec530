"""The avoid task: env contract, determinism, expert, perturbations, dataset."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from task_helpers import assert_reset_seed_fixes_the_rollout
from task_helpers import rollout as _rollout

from benchmark.datasets import collect_demonstrations, load_dataset
from benchmark.errors import DatasetError
from benchmark.registry import get_task
from tasks.avoid import MODES

TASK = get_task("avoid")


def test_env_passes_gymnasium_checker():
    check_env(TASK.make_env().unwrapped, skip_render_check=True)


@pytest.mark.parametrize("level", ["nominal", "obs_noise_0.1", "drag_x2.0"])
def test_same_seed_same_rollout(level):
    actions = np.random.default_rng(0).uniform(-1, 1, size=(80, 2)).astype(np.float32)
    assert_reset_seed_fixes_the_rollout(TASK, level, actions)


def test_final_info_has_success_and_mode():
    env = TASK.make_env()
    obs, info = _rollout(env, 0, [np.array([0.0, 1.0], np.float32)] * 80)
    assert set(info) >= {"success", "mode"}
    assert info["success"] is False  # straight up hits the first obstacle
    assert info["mode"] == ""


def test_expert_succeeds_in_every_mode():
    env = TASK.make_env()
    rng = np.random.default_rng(0)
    ok = {m: 0 for m in MODES}
    for i, mode in enumerate(MODES * 5):
        obs, _ = env.reset(seed=i)
        expert = TASK.make_expert(env, mode, rng)
        for _ in range(TASK.spec.max_episode_steps):
            obs, r, te, tr, info = env.step(expert(obs))
            if te or tr:
                break
        ok[mode] += bool(info["success"] and info["mode"] == mode)
    assert all(v >= 4 for v in ok.values()), ok  # >= 90 % overall, every mode reachable
    assert sum(ok.values()) >= 0.9 * len(MODES) * 5


def test_modes_have_different_path_lengths():
    """The shortest mode is cheaper: a pure reward maximiser has a reason to prefer it."""
    env = TASK.make_env()
    lengths = {}
    for mode in ("LLL", "LRL"):
        ls = []
        for i in range(5):
            obs, _ = env.reset(seed=i)
            expert = TASK.make_expert(env, mode, np.random.default_rng(i))
            steps = 0
            while True:
                obs, r, te, tr, info = env.step(expert(obs))
                steps += 1
                if te or tr:
                    break
            ls.append(steps)
        lengths[mode] = np.mean(ls)
    assert lengths["LLL"] < lengths["LRL"]


def test_dynamics_perturbations_change_the_motion():
    actions = [np.array([0.5, 0.5], np.float32)] * 5
    nominal, _ = _rollout(TASK.make_env(), 3, actions)
    for name in ("drag_x2.0", "mass_x2.0", "gain_x0.5"):
        perturbed, _ = _rollout(TASK.make_env(TASK.spec.perturbation(name)), 3, actions)
        assert np.linalg.norm(perturbed[-1, :2]) < np.linalg.norm(nominal[-1, :2]), name


def test_unknown_perturbation_parameter_is_refused():
    from benchmark.spec import PerturbationLevel

    with pytest.raises(ValueError, match="unknown perturbation"):
        TASK.make_env(PerturbationLevel("x", "dynamics", {"gravity": 2.0}))


def test_demonstrations_cover_every_mode_in_the_spec_proportions():
    buffers, stats = collect_demonstrations(TASK, 32)
    assert stats["kept"] == 32
    assert stats["mode_counts"] == {m: 4 for m in MODES}


def test_dataset_build_load_verify(avoid_dataset):
    ds = load_dataset(TASK)
    assert len(ds) == TASK.spec.dataset_episodes
    assert ds.content_hash == avoid_dataset.content_hash
    if TASK.spec.dataset_hash is not None:
        assert ds.content_hash == TASK.spec.dataset_hash
    assert ds.observations[0].shape[1] == TASK.spec.obs_dim
    assert len(ds.observations[0]) == len(ds.actions[0]) + 1
    sub = ds.subset(64)
    assert len(sub) == 64 and set(sub.modes) == set(MODES)


def test_dataset_is_a_real_minari_dataset(avoid_dataset, _session_datasets, monkeypatch):
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(_session_datasets))
    ds = minari.load_dataset(TASK.spec.dataset_id)
    assert ds.total_episodes == TASK.spec.dataset_episodes
    assert ds.storage.metadata["code_permalink"].startswith("git:")


def test_hash_mismatch_is_refused_with_a_fix(avoid_dataset):
    import dataclasses

    from tasks.avoid import AvoidTask

    wrong = AvoidTask(dataclasses.replace(TASK.spec, dataset_hash="0123456789abcdef"))
    with pytest.raises(DatasetError, match="bench datasets build --task avoid-v0 --force"):
        load_dataset(wrong)


def test_dataset_of_another_size_is_refused(avoid_dataset):
    import dataclasses

    from tasks.avoid import AvoidTask

    other = AvoidTask(dataclasses.replace(TASK.spec, dataset_episodes=600))
    with pytest.raises(DatasetError, match="has 500 episodes, task avoid-v0 specifies 600"):
        load_dataset(other)
