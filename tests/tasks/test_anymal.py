"""The anymal task: robot model, env contract, determinism, expert, perturbations, runner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from task_helpers import assert_reset_seed_fixes_the_rollout
from task_helpers import rollout as _rollout

from benchmark.datasets import collect_demonstrations
from benchmark.registry import get_task
from benchmark.spec import PerturbationLevel
from benchmark.wrappers import ObservationNoise
from tasks.anymal import MODES, SPEC, AnymalTask, menagerie_tasks
from tasks.anymal.model import (
    DEFAULT_POSE,
    JOINT_NAMES,
    SHIPPED_MJCF,
    ModelNotFoundError,
    file_sha256,
)

TASK = get_task("anymal")


def _expert_episode(task, env, seed: int, mode: str) -> dict:
    obs, _ = env.reset(seed=seed)
    expert = task.make_expert(env, mode, np.random.default_rng(seed))
    info: dict = {}
    for _ in range(task.spec.max_episode_steps):
        obs, r, te, tr, info = env.step(expert(obs))
        if te or tr:
            break
    return info


# ---------------------------------------------------------------- the robot model
def test_model_mass_joints_and_actuators_in_anymal_order():
    import mujoco

    env = TASK.make_env().unwrapped
    m, idx = env.model, env.idx
    assert 45.0 <= m.body_subtreemass[idx.base_body] <= 50.0
    assert m.nu == 12
    names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in range(m.nu)]
    assert tuple(names) == JOINT_NAMES  # LF, RF, LH, RH; HAA, HFE, KFE per leg
    assert list(idx.actuators) == list(range(12))
    assert np.all(idx.signs == 1.0)  # the shipped model is written in the task convention
    np.testing.assert_allclose(m.actuator_forcerange, np.tile([-80.0, 80.0], (12, 1)))
    assert len(set(idx.foot_geoms.tolist())) == 4 and idx.foot_radius == pytest.approx(0.03)


def test_stance_kinematics_match_the_published_figures():
    """Feet of the nominal stance where ANYmal C's URDF puts them: (+-0.453, +-0.301, -0.519)."""
    import mujoco

    env = TASK.make_env().unwrapped
    d = mujoco.MjData(env.model)
    d.qpos[env.idx.free_qpos:env.idx.free_qpos + 7] = [0, 0, 0, 1, 0, 0, 0]
    d.qpos[env.idx.qpos_adr] = DEFAULT_POSE
    mujoco.mj_kinematics(env.model, d)
    feet = d.geom_xpos[env.idx.foot_geoms]
    expected = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]]) * [0.453, 0.301]
    np.testing.assert_allclose(feet[:, :2], expected, atol=0.005)
    np.testing.assert_allclose(feet[:, 2], -0.519, atol=0.005)


def test_nominal_stance_stands_with_feet_on_the_floor():
    env = TASK.make_env().unwrapped
    env.reset(seed=0)
    zero = np.zeros(12, dtype=np.float32)  # action 0 = hold the nominal stance
    for _ in range(50):
        obs, *_ = env.step(zero)
    assert env.foot_contacts().all()
    assert 0.4 < obs[0] < 0.6  # base height
    assert obs[3] < -0.99  # upright: gravity along the base's -z


def test_joint_signs_follow_the_model_axes():
    """A model whose joint axes point the other way (menagerie's do) gets sign -1 there."""
    import mujoco

    from tasks.anymal.model import index_robot

    spec = mujoco.MjSpec.from_file(str(SHIPPED_MJCF))
    for name in ("RF_HAA", "LH_KFE"):
        joint = spec.joint(name)
        joint.axis = -np.asarray(joint.axis)
    idx = index_robot(spec.compile())
    flipped = [JOINT_NAMES[i] for i in np.flatnonzero(idx.signs < 0)]
    assert flipped == ["RF_HAA", "LH_KFE"]


def test_spec_hash_includes_the_model_file_hash():
    assert SPEC.extra["model"] == {"source": "shipped", "sha256": file_sha256(SHIPPED_MJCF)}
    other = dataclasses.replace(SPEC, extra={**SPEC.extra,
                                                "model": {"source": "shipped", "sha256": "x"}})
    assert other.hash() != SPEC.hash()


def test_menagerie_variant_without_checkout_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("MENAGERIE_ROOT", str(tmp_path))  # a folder without the model
    (task,) = menagerie_tasks()
    assert task.spec.id == "anymal-menagerie-v3"
    assert task.spec.extra["model"] == {"source": "menagerie", "sha256": None}
    assert task.spec.hash() != SPEC.hash()
    with pytest.raises(ModelNotFoundError, match="MENAGERIE_ROOT") as err:
        task.make_env()
    assert err.value.exit_code == 3
    assert "MENAGERIE_ROOT" in task.unavailable_reason()
    assert TASK.unavailable_reason() is None  # the shipped model is always there


def test_menagerie_spec_hash_follows_the_model_files(monkeypatch, tmp_path):
    folder = tmp_path / "anybotics_anymal_c"
    folder.mkdir()
    (folder / "scene.xml").write_text("<mujoco/>")
    (folder / "anymal_c.xml").write_text("<mujoco/>")
    monkeypatch.setenv("MENAGERIE_ROOT", str(tmp_path))
    assert menagerie_tasks()[0].unavailable_reason() is None
    first = menagerie_tasks()[0].spec
    (folder / "anymal_c.xml").write_text("<mujoco><!-- edited --></mujoco>")
    second = menagerie_tasks()[0].spec
    assert first.extra["model"]["sha256"] and second.extra["model"]["sha256"]
    assert first.hash() != second.hash()


# ---------------------------------------------------------------- env contract
def test_env_passes_gymnasium_checker():
    check_env(TASK.make_env().unwrapped, skip_render_check=True)


def test_observation_and_action_shapes():
    env = TASK.make_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (TASK.spec.obs_dim,) and obs.dtype == np.float32
    assert env.action_space.shape == (TASK.spec.act_dim,)
    assert len(TASK.spec.extra["obs_scale"]) == TASK.spec.obs_dim


@pytest.mark.parametrize("level", ["nominal", "obs_noise_0.1", "friction_x0.5"])
def test_same_seed_same_rollout(level):
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, size=(40, 12)).astype(np.float32)
    assert_reset_seed_fixes_the_rollout(TASK, level, actions)


def test_a_fall_ends_the_episode_with_success_and_mode():
    env = TASK.make_env()
    # abduct and fold every leg: the base drops below the fall height
    collapse = np.array([1.0, 1.0, -1.0] * 4, np.float32)
    obs, info = _rollout(env, 0, [collapse] * 100)
    assert len(obs) < 100
    assert info["fell"] is True and info["success"] is False and info["mode"] == ""


def test_standing_still_is_truncated_at_the_horizon():
    env = TASK.make_env()
    obs, info = _rollout(env, 0, [np.zeros(12, np.float32)] * (TASK.spec.max_episode_steps + 5))
    assert len(obs) == TASK.spec.max_episode_steps + 1
    assert info["success"] is False and info["mode"] == "" and info["fell"] is False


# ---------------------------------------------------------------- expert and dataset
@pytest.mark.slow
def test_expert_succeeds_in_every_mode():
    env = TASK.make_env()
    ok = {m: 0 for m in MODES}
    n = 10
    for i in range(n):
        for mode in MODES:
            info = _expert_episode(TASK, env, 1000 + i, mode)
            ok[mode] += bool(info["success"] and info["mode"] == mode)
    assert all(v >= 0.9 * n for v in ok.values()), ok


def test_expert_routes_part_in_the_first_30_steps():
    """anymal-v2's expert heads for its commit point first: by step 30 the left and right
    walks from the same starts are >= 8 cm apart (measured 12 cm; v1's expert, which aimed
    at the gate from the start, 4 cm, within the starts' 3 cm spread)."""
    env = TASK.make_env()
    y = {m: [] for m in MODES}
    for i in range(4):
        for mode in MODES:
            obs, _ = env.reset(seed=900 + i)
            expert = TASK.make_expert(env, mode, np.random.default_rng(i))
            for _ in range(30):
                obs, *_ = env.step(expert(obs))
            y[mode].append(env.unwrapped.base_position()[1])
    apart = np.array(y["left"]) - np.array(y["right"])
    assert np.all(apart >= 0.08), apart


def test_expert_refuses_an_unknown_mode():
    env = TASK.make_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown mode"):
        TASK.make_expert(env, "middle", np.random.default_rng(0))


def test_demonstrations_cover_every_mode_in_the_spec_proportions():
    buffers, stats = collect_demonstrations(TASK, 4)
    assert stats["kept"] == 4
    assert stats["mode_counts"] == {"left": 2, "right": 2}
    assert buffers[0].observations.shape[1] == TASK.spec.obs_dim
    again, _ = collect_demonstrations(TASK, 4)  # deterministic: the dataset hash is stable
    for a, b in zip(buffers, again, strict=True):
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)


# ---------------------------------------------------------------- perturbations
def test_ladder_has_every_ladder_with_increasing_severity():
    ladders: dict[str, list[int]] = {}
    for p in TASK.spec.perturbations[1:]:
        ladders.setdefault(p.ladder, []).append(p.severity)
    assert set(ladders) == {"obs_noise", "friction", "payload", "strength", "slope"}
    assert ladders["obs_noise"] == [1, 2, 3]
    assert all(v == [1, 2] for k, v in ladders.items() if k != "obs_noise")


def test_dynamics_levels_change_the_model():
    nominal = TASK.make_env().unwrapped
    m0, idx = nominal.model, nominal.idx
    checks = {
        "friction_x0.5": lambda m: np.allclose(m.geom_friction[idx.foot_geoms, 0],
                                               0.5 * m0.geom_friction[idx.foot_geoms, 0]),
        "payload_5kg": lambda m: np.isclose(m.body_mass[idx.base_body],
                                            m0.body_mass[idx.base_body] + 5.0),
        "strength_x0.92": lambda m: np.allclose(m.actuator_forcerange,
                                                0.92 * m0.actuator_forcerange)
        and np.allclose(m.actuator_gainprm[:, 0], 0.92 * m0.actuator_gainprm[:, 0]),
        "slope_5deg": lambda m: m.opt.gravity[0] < -0.8 and np.isclose(
            np.linalg.norm(m.opt.gravity), np.linalg.norm(m0.opt.gravity)),
    }
    for name, check in checks.items():
        env = TASK.make_env(TASK.spec.perturbation(name)).unwrapped
        assert check(env.model), name
    # the nominal env is untouched by the perturbed ones (each env has its own model)
    assert np.allclose(TASK.make_env().unwrapped.model.opt.gravity, [0, 0, -9.81])


def test_dynamics_perturbations_change_the_motion():
    actions = [np.zeros(12, np.float32)] * 25
    nominal, _ = _rollout(TASK.make_env(), 3, actions)
    for name in ("payload_5kg", "strength_x0.92", "slope_5deg", "friction_x0.25"):
        perturbed, _ = _rollout(TASK.make_env(TASK.spec.perturbation(name)), 3, actions)
        assert not np.allclose(perturbed, nominal), name
    heavy, _ = _rollout(TASK.make_env(TASK.spec.perturbation("payload_5kg")), 3, actions)
    assert heavy[-1, 0] < nominal[-1, 0]  # a heavier base sags lower


def test_observation_noise_levels_wrap_the_env():
    env = TASK.make_env(TASK.spec.perturbation("obs_noise_0.2"))
    assert isinstance(env, ObservationNoise) and env.sigma == 0.2
    clean, _ = TASK.make_env().reset(seed=5)
    noisy, _ = env.reset(seed=5)
    diff = np.abs(noisy - clean) / np.asarray(TASK.spec.extra["obs_scale"])
    assert 0.05 < diff.mean() < 0.4  # about sigma * E|N(0,1)| = 0.16


def test_unknown_perturbation_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown perturbation"):
        TASK.make_env(PerturbationLevel("x", "dynamics", {"wind": 2.0}))


# ---------------------------------------------------------------- the harness end to end
@pytest.mark.slow
def test_smoke_evaluation_with_perturbations_through_the_runner(monkeypatch):
    """bc at the smoke tier on a 20-demo dataset, nominal + a dynamics and a noise level."""
    from benchmark import runner

    smoke = TASK.spec.budget("smoke")
    spec = dataclasses.replace(TASK.spec, dataset_id="modebench/anymal/expert-test-v0",
                               dataset_episodes=smoke.n_demos, dataset_hash=None,
                               tiers={t: smoke for t in TASK.spec.tiers})
    small = AnymalTask(spec)
    monkeypatch.setattr(runner, "get_task", lambda task_id: small)
    req = runner.EvalRequest(method="bc", task="anymal", seeds=(0,), tier="smoke",
                             perturbations=("friction_x0.5", "obs_noise_0.1"))
    result = runner.evaluate(req)
    (seed,) = result.seeds
    assert {r.level for r in seed.records} == {"nominal", "friction_x0.5", "obs_noise_0.1"}
    per_level = spec.budget("smoke").eval_episodes
    assert len(seed.records) == 3 * per_level
    assert all(r.mode in ("", *MODES) for r in seed.records)
    assert all(0 < r.length <= spec.max_episode_steps for r in seed.records)
    for level in ("nominal", "friction_x0.5", "obs_noise_0.1"):
        assert 0.0 <= seed.metrics[f"success_rate/{level}"] <= 1.0
    assert result.spec_hash == spec.hash() and result.group_run_id is not None


@pytest.mark.parametrize("old", ["anymal-v0", "anymal-v1", "anymal-v2", "anymal-menagerie-v0",
                                 "anymal-menagerie-v1", "anymal-menagerie-v2"])
def test_retired_versions_are_refused_naming_the_new_one(old):
    """Issue 14: v0's strength ladder went to x0.8, where the expert itself succeeds in
    0.2 of the episodes; v1 kept v0's env and demonstrations with the rungs x0.95 and x0.9;
    v2 keeps v1's env and ladder with demonstrations whose routes part early (the expert's
    commit point) and its own dataset; v3 keeps v2's env and demonstrations and ends the
    payload, strength and slope ladders at rungs the expert solves on both routes (v2's
    10 kg, x0.9 and 6 deg: right route 0.41, 0.73, 0.59 over 100 episodes)."""
    from benchmark.errors import UnknownIdError

    family = old.rsplit("-v", 1)[0]
    with pytest.raises(UnknownIdError, match=f"{family}-v3"):
        get_task(old)
    spec = get_task(family).spec
    assert spec.version == 3
    ladders = {name: [lv.name for lv in spec.perturbations if lv.ladder == name]
               for name in ("payload", "strength", "slope")}
    assert ladders == {"payload": ["payload_2.5kg", "payload_5kg"],
                       "strength": ["strength_x0.95", "strength_x0.92"],
                       "slope": ["slope_3deg", "slope_5deg"]}
    assert spec.dataset_id == f"modebench/{spec.name}/expert-v1"
