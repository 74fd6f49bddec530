import dataclasses

import pytest

from benchmark.spec import NOMINAL, ChunkSpec, PerturbationLevel, TaskSpec, TierBudget, config_hash
from tasks.avoid import SPEC_V0


def _spec(**changes) -> TaskSpec:
    return dataclasses.replace(SPEC_V0, **changes)


def test_hash_is_stable_and_canonical():
    assert SPEC_V0.hash() == _spec().hash()
    assert len(SPEC_V0.hash()) == 16
    text = SPEC_V0.canonical_json()
    assert " " not in text.split('"description"')[0]  # no whitespace outside strings
    reordered = dict(reversed(list(SPEC_V0.env_kwargs.items())))
    assert text == _spec(env_kwargs=reordered).canonical_json()


@pytest.mark.parametrize("change", [
    {"version": 1},
    {"env_kwargs": {"horizon": 81, "time_cost": 0.02}},
    {"chunk": ChunkSpec(horizon=8, act_steps=2)},
    {"dataset_hash": "0" * 16},
    {"extra": {"obs_scale": [0.1, 0.35, 0.3, 0.3]}},
])
def test_any_behaviour_change_changes_the_hash(change):
    assert _spec(**change).hash() != SPEC_V0.hash()


def test_pretrain_hash_ignores_fine_tuning_and_evaluation_budgets_only():
    def tier(**changes) -> TaskSpec:
        return _spec(tiers={**SPEC_V0.tiers,
                            "small": dataclasses.replace(SPEC_V0.tiers["small"], **changes)})

    base = SPEC_V0.pretrain_hash("small")
    for unused in ({"finetune_iterations": 1}, {"finetune_steps_per_iter": 1}, {"n_envs": 1},
                   {"eval_episodes": 1}):
        assert tier(**unused).pretrain_hash("small") == base
        assert tier(**unused).hash() != SPEC_V0.hash()  # still a different spec
    for used in ({"pretrain_steps": 1}, {"batch_size": 1}, {"n_demos": 1}):
        assert tier(**used).pretrain_hash("small") != base
    assert _spec(chunk=ChunkSpec(horizon=8, act_steps=2)).pretrain_hash("small") != base
    assert SPEC_V0.pretrain_hash("smoke") != base


def test_id_and_lookups():
    assert SPEC_V0.id == "avoid-v0"
    assert SPEC_V0.perturbation("nominal") is NOMINAL
    with pytest.raises(KeyError, match="obs_noise_0.05"):
        SPEC_V0.perturbation("nope")
    with pytest.raises(KeyError, match="smoke"):
        SPEC_V0.budget("huge")


def test_invalid_specs_are_refused():
    with pytest.raises(ValueError, match="nominal"):
        _spec(perturbations=(PerturbationLevel("x", "obs_noise", {"obs_noise": 0.1}),))
    with pytest.raises(ValueError, match="tiers missing"):
        _spec(tiers={"smoke": SPEC_V0.tiers["smoke"]})
    with pytest.raises(ValueError, match="mode_weights"):
        _spec(mode_weights=(1.0,))
    big = dict(SPEC_V0.tiers)
    big["paper"] = dataclasses.replace(big["paper"], n_demos=10**6)
    with pytest.raises(ValueError, match="more demos"):
        _spec(tiers=big)
    with pytest.raises(ValueError, match="NaN"):
        _spec(extra={"x": float("nan")}).hash()


def test_config_hash_depends_on_values():
    @dataclasses.dataclass(frozen=True)
    class C:
        a: int = 1
        b: float = 0.5

    assert config_hash(C()) == config_hash(C())
    assert config_hash(C()) != config_hash(C(b=0.25))
    assert isinstance(TierBudget(1, 1, 1, 1, 1, 1, 1), TierBudget)
