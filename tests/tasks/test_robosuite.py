"""The robosuite-lift task: env contract, determinism, perturbations, expert, dataset, runner."""

import subprocess
import sys

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from task_helpers import rollout as _rollout

from benchmark.datasets import build_dataset
from benchmark.registry import get_task
from benchmark.runner import EvalRequest, evaluate
from tasks.robosuite import MODES, OBS_SCALE
from tasks.robosuite.env import OBS_NAMES

TASK = get_task("robosuite-lift-v0")
SPEC = TASK.spec


def _run_expert(env, mode, seed):
    obs, _ = env.reset(seed=seed)
    expert = TASK.make_expert(env, mode, np.random.default_rng(seed))
    for t in range(SPEC.max_episode_steps):
        obs, r, te, tr, info = env.step(expert(obs))
        if te or tr:
            return info, t + 1, r
    raise AssertionError("the episode did not end within the horizon")


def test_spec_is_consistent():
    assert SPEC.id == "robosuite-lift-v0"
    assert get_task("robosuite-lift") is TASK
    assert SPEC.obs_dim == len(OBS_NAMES) == len(OBS_SCALE) == len(SPEC.extra["obs_scale"])
    assert SPEC.modes == MODES == ("red", "green")
    assert SPEC.dataset_hash is not None
    ladders = {p.ladder for p in SPEC.perturbations}
    assert ladders == {"nominal", "obs_noise", "mass", "friction", "gain"}


def test_listing_tasks_does_not_import_robosuite():
    code = ("import sys, tasks.robosuite; from benchmark.registry import get_task; "
            "get_task('robosuite-lift'); assert 'robosuite' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_env_passes_gymnasium_checker():
    env = TASK.make_env()
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (SPEC.obs_dim,)
    assert env.action_space.shape == (SPEC.act_dim,)


@pytest.mark.parametrize(
    "level", ["nominal", "obs_noise_0.1", "mass_x10.0", "friction_x0.1", "gain_x0.25"])
def test_same_seed_same_rollout(level):
    lv = SPEC.perturbation(level)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(25, SPEC.act_dim)).astype(np.float32)
    env_a, env_b = TASK.make_env(lv), TASK.make_env(lv)
    a, _ = _rollout(env_a, 11, actions)
    _rollout(env_a, 99, actions)  # another episode in between must not leak into the next
    a2, _ = _rollout(env_a, 11, actions)
    b, _ = _rollout(env_b, 11, actions)
    c, _ = _rollout(env_b, 12, actions)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], c[0])  # another seed places the cubes elsewhere


def test_idle_episode_truncates_without_success_or_mode():
    env = TASK.make_env()
    zero = np.zeros(SPEC.act_dim, np.float32)
    obs, info = _rollout(env, 3, [zero] * SPEC.max_episode_steps)
    assert len(obs) == SPEC.max_episode_steps + 1
    assert info["success"] is False and info["mode"] == ""


def test_cubes_are_placed_on_their_sides_apart_and_on_the_table():
    env = TASK.make_env().unwrapped
    for seed in range(20):
        env.reset(seed=seed)
        s = env.state()
        red, green = s["cubeA_pos"], s["cubeB_pos"]
        assert np.hypot(*(red[:2] - green[:2])) >= 0.12 - 1e-9
        assert -0.16 <= red[1] <= -0.06 and 0.06 <= green[1] <= 0.16  # red right, green left
        assert abs(red[2] - 0.82) < 2e-3 and abs(green[2] - 0.825) < 2e-3
        assert -np.pi / 4 <= s["cubeA_yaw"] < np.pi / 4


def test_dynamics_perturbations_are_applied():
    def state(level):
        env = TASK.make_env(SPEC.perturbation(level)).unwrapped
        env.reset(seed=0)
        model = env.sim_env.sim.model
        body = env._cube_body["cubeA"]
        pad = model.geom_name2id("gripper0_right_finger1_pad_collision")
        kp = env.robot.part_controllers["right"].kp
        return model.body_mass[body], model.geom_friction[pad, 0], np.asarray(kp)

    mass0, fric0, kp0 = state("nominal")
    assert state("mass_x3.0")[0] == pytest.approx(3 * mass0)
    assert state("friction_x0.3")[1] == pytest.approx(0.3 * fric0)
    np.testing.assert_allclose(state("gain_x0.5")[2], 0.5 * kp0)


def test_bad_perturbations_are_refused():
    from benchmark.spec import PerturbationLevel

    with pytest.raises(ValueError, match="unknown perturbation parameters"):
        TASK.make_env(PerturbationLevel("x", "dynamics", {"gravity_scale": 2.0}, "x", 1))
    with pytest.raises(ValueError, match="mass_scale must be positive"):
        TASK.make_env(PerturbationLevel("x", "dynamics", {"mass_scale": 0.0}, "x", 1))
    with pytest.raises(ValueError, match="modes"):
        env = TASK.make_env()
        env.reset(seed=0)
        TASK.make_expert(env, "blue", np.random.default_rng(0))


def test_obs_noise_perturbs_observations_by_the_spec_scale():
    clean, noisy = TASK.make_env(), TASK.make_env(SPEC.perturbation("obs_noise_0.2"))
    o_clean, _ = clean.reset(seed=4)
    o_noisy, _ = noisy.reset(seed=4)
    z = (o_noisy - o_clean) / (0.2 * np.asarray(OBS_SCALE, dtype=np.float32))
    assert 0.3 < np.std(z) < 3.0  # one standard normal draw per dimension


@pytest.mark.slow
@pytest.mark.parametrize("level", ["nominal", "mass_x10.0", "friction_x0.1", "gain_x0.25"])
def test_expert_lifts_the_chosen_cube(level):
    """Each mode, at nominal and the strongest level of each dynamics ladder."""
    env = TASK.make_env(SPEC.perturbation(level))
    for i, mode in enumerate(MODES * 2):
        info, steps, reward = _run_expert(env, mode, 500 + i)
        assert info["success"] and info["mode"] == mode, (level, mode, info)
        assert reward == 1.0 and steps < SPEC.max_episode_steps


@pytest.fixture(scope="module")
def robosuite_dataset(_session_datasets):
    """The task's real dataset, built once per session by the real expert (~100 episodes)."""
    return build_dataset(TASK)


@pytest.mark.slow
def test_dataset_matches_spec_and_covers_every_mode(robosuite_dataset):
    ds = robosuite_dataset
    assert ds.content_hash == SPEC.dataset_hash  # deterministic build, same data everywhere
    assert len(ds) == SPEC.dataset_episodes
    assert sorted(set(ds.modes)) == sorted(MODES)
    assert ds.modes.count("red") == ds.modes.count("green")  # the spec's 0.5/0.5 weights
    stats = ds.stats
    assert stats["kept"] / stats["attempted"] >= 0.9  # expert success rate over all attempts
    # every prefix a tier uses holds both modes
    assert set(ds.subset(SPEC.budget("smoke").n_demos).modes) == set(MODES)
    for obs, act in zip(ds.observations, ds.actions, strict=True):
        assert obs.shape == (len(act) + 1, SPEC.obs_dim)
        assert np.all(np.abs(act) <= 1.0)


@pytest.mark.slow
def test_smoke_evaluation_with_perturbations(robosuite_dataset):
    levels = ("obs_noise_0.2", "gain_x0.25")
    result = evaluate(EvalRequest(method="bc", task="robosuite-lift", seeds=(0,), tier="smoke",
                                  perturbations=levels))
    assert result.task_id == SPEC.id
    assert result.spec_hash == SPEC.hash() and result.dataset_hash == SPEC.dataset_hash
    records = result.seeds[0].records
    budget = SPEC.budget("smoke")
    assert sorted({r.level for r in records}) == sorted(("nominal", *levels))
    assert len(records) == 3 * budget.eval_episodes
    for r in records:
        assert r.mode in ("", *MODES)
        assert 1 <= r.length <= SPEC.max_episode_steps
        assert r.ret == (1.0 if r.success else 0.0)  # sparse reward: 1 on the success step
    assert result.group_run_id is not None  # tracked in the (per-test) MLflow store
