"""The runner: determinism, failure handling, pretraining cache, mode selection."""

import numpy as np
import pytest

from benchmark import schema, tracking
from benchmark.errors import AdapterError, TrainingError, UsageError
from benchmark.registry import get_method_class, register_method, unregister_method
from benchmark.runner import LATENT_LEVEL_PREFIX, EvalRequest, evaluate


def _flat(result):
    return {k: (v.value, v.ci_low, v.ci_high) for k, v in result.aggregates.items()}


def test_same_command_same_seeds_identical_metrics(avoid_dataset, tmp_path, monkeypatch):
    req = EvalRequest(method="bc", task="avoid", seeds=(0, 1), tier="smoke")
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache-a"))
    a = evaluate(req)
    # a fresh cache: the second run trains again from scratch
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache-b"))
    b = evaluate(req)
    assert _flat(a) == _flat(b)
    assert [r.records for r in a.seeds] == [r.records for r in b.seeds]
    assert a.spec_hash == b.spec_hash and a.dataset_hash == b.dataset_hash


def test_pretrained_checkpoint_is_cached_and_shared(avoid_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke", track=False))
    entries = list((tmp_path / "cache" / "pretrained").glob("*/COMPLETE"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke", track=False))
    assert entries[0].stat().st_mtime_ns == stamp  # loaded, not rebuilt


@pytest.fixture
def exploding_method():
    bc = get_method_class("bc")

    class Exploding(bc):
        name = "exploding"
        description = "bc whose fine-tuning diverges (test only)"

        def finetune(self, policy, ctx):
            raise TrainingError("loss is NaN at iteration 3; lower the learning rate")

    register_method("exploding", Exploding)
    yield "exploding"
    unregister_method("exploding")


def test_a_failed_run_is_marked_failed_never_finished(avoid_dataset, exploding_method):
    with pytest.raises(TrainingError, match="NaN"):
        evaluate(EvalRequest(method=exploding_method, task="avoid", seeds=(0,), tier="smoke"))
    c = tracking.client()
    runs = c.search_runs([tracking.experiment_id(c)])
    assert len(runs) == 2
    assert {r.info.status for r in runs} == {"FAILED"}
    seed_run = next(r for r in runs if r.data.tags[schema.TAG_KIND] == "seed")
    assert "loss is NaN" in seed_run.data.tags[schema.TAG_ERROR]


def test_mode_selection_needs_a_mode_selectable_method(avoid_dataset):
    with pytest.raises(AdapterError, match="no selectable modes"):
        evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke", mode=1,
                             track=False))


def test_options_are_logged_and_make_their_own_leaderboard_row(avoid_dataset, tmp_path,
                                                               monkeypatch):
    from leaderboard.compile import row_label
    from leaderboard.records import read_results

    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    ddim = evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke",
                                options={"pretrained_sampler": "ddim"}))
    ddpm = evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke"))
    # issue 11: bc ignored every option; the sampler must change the episodes
    assert ddim.seeds[0].records != ddpm.seeds[0].records
    # ... without training the same weights twice: a sampler is not part of the checkpoint
    assert len(list((tmp_path / "cache" / "pretrained").glob("*/COMPLETE"))) == 1
    results = read_results(tracking.tracking_uri()).results
    assert sorted(row_label(r) for r in results) == ["bc", "bc [pretrained_sampler=ddim]"]
    # the sampler really changed: the two runs' configs (and so their policies) differ
    assert len({r.config_hash for r in results}) == 2


@pytest.mark.parametrize("method", ["bc", "bc-flow", "bc-cvae", "bc-mlp", "dppo", "entropy-rl",
                                    "dsrl", "res", "bmd", "res-bmd", "dppo-bmd"])
def test_cold_and_warm_caches_give_the_same_result(method, avoid_dataset, tmp_path,
                                                   monkeypatch):
    """Issue 11: on a cold cache a fine-tuning method logged the pretrained policy's episodes
    (the runner reused the reference episodes when ``finetune`` returned the same object)."""
    req = EvalRequest(method=method, task="avoid", seeds=(0,), tier="smoke", track=False)
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    cold = evaluate(req)
    warm = evaluate(req)  # checkpoint and reference distribution now come from the cache
    assert cold.seeds[0].records == warm.seeds[0].records
    assert _flat(cold) == _flat(warm)
    assert cold.seeds[0].pretrain_distribution == warm.seeds[0].pretrain_distribution


def test_a_fine_tuned_result_is_not_the_pretrained_one(avoid_dataset, tmp_path, monkeypatch):
    """dppo fine-tunes in place and returns the same object: its episodes are still its own."""
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    dppo = evaluate(EvalRequest(method="dppo", task="avoid", seeds=(0,), tier="smoke",
                                track=False))
    bc = evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke",
                              track=False))
    # same checkpoint, same evaluation seeds; the fine-tuned DDIM policy acts differently
    assert [r.seed for r in dppo.seeds[0].records] == [r.seed for r in bc.seeds[0].records]
    assert dppo.seeds[0].records != bc.seeds[0].records


@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "bc", "options": {"unknown_key": 1}}, "UsageError", "unknown option"),
    ({"method": "dppo", "options": {"actor_lr": -1.0}}, "UsageError", "actor_lr must be > 0"),
    ({"method": "bmd", "options": {"n_latent": 0}}, "UsageError", "n_latent must be >= 2"),
    ({"method": "bmd", "mode": 99}, "UsageError", r"--mode 99 is out of range.*\[0, 7\]"),
    ({"method": "bc", "mode": 1}, "AdapterError", "no selectable modes"),
    ({"method": "bc", "device": "gpu"}, "UsageError", "unknown device 'gpu'"),
    ({"method": "bc", "perturbations": ("all", "bogus")}, "UnknownIdError", "bogus"),
])
def test_bad_input_is_refused_before_any_work(kwargs, error, message, tmp_path, monkeypatch):
    """Refused before the dataset is loaded: no dataset folder, no checkpoint, no run."""
    from benchmark import errors

    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path / "no-datasets"))
    req = EvalRequest(task="avoid", seeds=(0,), tier="smoke", **kwargs)
    with pytest.raises(getattr(errors, error), match=message) as info:
        evaluate(req)
    assert info.value.exit_code == 2
    assert not (tmp_path / "no-datasets").exists() and not (tmp_path / "cache").exists()
    assert tracking.client().search_runs([tracking.experiment_id(tracking.client())]) == []


@pytest.mark.parametrize("bad, message", [
    (lambda obs: np.zeros((len(obs), 2)), r"shape \(\d+, 2\).*\(B, act_steps, act_dim\)"),
    (lambda obs: np.full((len(obs), 4, 2), 3.0), r"magnitude 3.*\[-1, 1\]"),
])
def test_a_plugin_policy_with_unusable_actions_is_named(bad, message, avoid_dataset):
    """Issue 11: a wrong shape surfaced as a raw ValueError from a reshape in the wrappers."""
    bc = get_method_class("bc")

    class BadPolicy:
        def act(self, obs, deterministic=True):
            return bad(obs)

    class BadActions(bc):
        name = "bad-actions"
        description = "returns unusable actions (test only)"

        def finetune(self, policy, ctx):
            return BadPolicy()

    register_method("bad-actions", BadActions)
    try:
        with pytest.raises(AdapterError, match=message) as info:
            evaluate(EvalRequest(method="bad-actions", task="avoid", seeds=(0,), tier="smoke",
                                 track=False))
    finally:
        unregister_method("bad-actions")
    assert "method 'bad-actions'" in str(info.value) and "BadPolicy" in str(info.value)


def test_checkpoint_stability_leaves_the_training_untouched(avoid_dataset, tmp_path,
                                                            monkeypatch):
    """The 50 % checkpoint is evaluated without moving the training's random streams."""
    from benchmark import runner

    req = EvalRequest(method="dppo", task="avoid", seeds=(0,), tier="smoke", track=False)
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    with_ckpt = evaluate(req)
    monkeypatch.setattr(runner, "CHECKPOINT_FRACTIONS", ())
    without = evaluate(req)
    assert with_ckpt.seeds[0].records == without.seeds[0].records
    value = with_ckpt.seeds[0].metrics[schema.CHECKPOINT_STABILITY]
    assert 0.0 <= value <= 1.0
    assert schema.CHECKPOINT_STABILITY not in without.seeds[0].metrics
    bc = evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke", track=False))
    assert schema.CHECKPOINT_STABILITY not in bc.seeds[0].metrics  # nothing was fine-tuned


def test_bmd_smoke_logs_the_papers_metrics_and_its_latent_modes(avoid_dataset):
    import json

    result = evaluate(EvalRequest(method="bmd", task="avoid", seeds=(0, 1), tier="smoke"))
    c = tracking.client()
    seed_runs = [r for r in c.search_runs([tracking.experiment_id(c)])
                 if r.data.tags[schema.TAG_KIND] == "seed"]
    assert len(seed_runs) == 2
    for run in seed_runs:
        m = run.data.metrics
        for name in (schema.SRM, schema.MODES_COVERED, schema.SUCCESS_WILSON_LOW,
                     schema.SUCCESS_WILSON_HIGH, schema.LATENT_SRM):
            assert name in m, name
        # defined unless no stage (pretrained, 50 %, final) had a successful episode
        assert 0.0 <= m.get(schema.CHECKPOINT_STABILITY, 0.0) <= 1.0
        assert m[schema.SUCCESS_WILSON_LOW] <= m[schema.SUCCESS_RATE] <= m[
            schema.SUCCESS_WILSON_HIGH]
        latent = json.loads(run.data.tags[schema.TAG_LATENT_COUNTS])
        assert sorted(latent, key=int) == [str(k) for k in range(8)]
        assert len(json.loads(run.data.tags[schema.TAG_LATENT_MAP])) == 8
    # forced-z episodes are in the artifact but never in the nominal metrics
    levels = {r.level for r in result.seeds[0].records}
    assert "nominal" in levels and f"{LATENT_LEVEL_PREFIX}0" in levels
    assert sum(r.level == "nominal" for r in result.seeds[0].records) == 16
    assert all(len(s.latent_map) == 8 for s in result.seeds)
    mapped = all(any(m is not None for m in s.latent_map) for s in result.seeds)
    # across seeds only when both seeds' codes reached a mode (a smoke policy may not)
    assert (schema.LATENT_MAP_AGREEMENT in result.aggregates) == mapped


def test_fine_tuning_is_measured_against_the_pretrained_policy_under_its_own_sampler(
        avoid_dataset):
    """Issue 15: bc samples with 20-step ancestral DDPM, most fine-tuned methods with their
    DDIM chain: 'success gained' mixed the algorithm with the sampler. (dppo samples as bc
    does since it is evaluated as DPPO evaluates; dppo-bmd keeps eta = 0.)"""
    import copy

    from baselines.common.policy import DiffusionPolicy
    from benchmark.options import configure_method
    from benchmark.registry import get_task

    result = evaluate(EvalRequest(method="dppo", task="avoid", seeds=(0,), tier="smoke",
                                  track=False))
    m = result.seeds[0].metrics
    assert m[schema.SUCCESS_GAIN] == pytest.approx(m[schema.SUCCESS_RATE]
                                                   - m[schema.REFERENCE_SUCCESS])
    method, _ = configure_method(get_method_class("dppo")(), "dppo", {},
                                 get_task("avoid").spec)
    from baselines.common.diffusion import Diffusion
    from baselines.common.normalizer import MinMaxNormalizer
    from tests.baselines.conftest import TINY

    norm = MinMaxNormalizer.fit(np.zeros((2, 4), np.float32) + [[0], [1]])
    pre = DiffusionPolicy(Diffusion(4, 8, 2, TINY), norm,
                          MinMaxNormalizer.fit(np.array([[-1.0, -1.0], [1.0, 1.0]])), 4)
    ref = method.reference_policy(copy.deepcopy(pre), None)
    # dppo is evaluated as DPPO evaluates its DDPM chain: ancestrally, bc's own sampler
    assert ref.uses_ancestral_sampling and ref.model.cfg.ddim_steps == TINY.ddim_steps
    # dppo-bmd evaluates the DDPM chain it tunes with eta = 0 (its noise selects the chunk)
    bmd, _ = configure_method(get_method_class("dppo-bmd")(), "dppo-bmd", {},
                              get_task("avoid").spec)
    ref = bmd.reference_policy(copy.deepcopy(pre), None)
    assert not ref.uses_ancestral_sampling  # the DDIM chain, eta 0
    assert ref.model.cfg.ddim_steps == TINY.denoising_steps  # the DDPM chain it tunes
    bc = evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke",
                              track=False))
    assert schema.REFERENCE_SUCCESS not in bc.seeds[0].metrics  # bc is its own reference


def test_checkpoint_stability_is_undefined_without_any_success(avoid_dataset, tmp_path,
                                                                monkeypatch):
    """With no successful episode at any stage there are no modes to compare: 0.000 read as
    'maximally unstable' (seen on kitchen, where the base policy still fails)."""
    from benchmark import runner

    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    calls = []
    original = runner.metrics.mode_stability

    def spy(dists):
        calls.append(dists)
        return original(dists)

    monkeypatch.setattr(runner.metrics, "mode_stability", spy)
    never = lambda labels, successes: {}  # noqa: E731 - every stage without success
    monkeypatch.setattr(runner.metrics, "mode_distribution", never)
    result = evaluate(EvalRequest(method="dppo", task="avoid", seeds=(0,), tier="smoke",
                                  track=False))
    assert schema.CHECKPOINT_STABILITY not in result.seeds[0].metrics and not calls


@pytest.mark.parametrize("method", ["dppo", "bmd"])
def test_fine_tuners_log_learning_curves_that_the_leaderboard_draws(method, avoid_dataset,
                                                                     tmp_path, monkeypatch):
    """Issue 17: per-iteration metrics of fine-tuning were not logged, so no learning curve
    could be drawn. Each iteration's training episodes give one point, read back by both
    readers and drawn on the task page."""
    import dataclasses

    from benchmark.registry import get_task
    from leaderboard.compile import compile_leaderboard
    from leaderboard.records import read_results_client, read_results_sqlite
    from leaderboard.site import build_site, slug

    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    result = evaluate(EvalRequest(method=method, task="avoid", seeds=(0,), tier="smoke"))
    iterations = get_task("avoid").spec.budget("smoke").finetune_iterations
    uri = tracking.tracking_uri()
    (fast,) = read_results_sqlite(uri.removeprefix("sqlite:///")).results
    (slow,) = read_results_client(uri).results
    assert fast.curves == slow.curves
    steps = [s for s, _ in fast.curves[schema.CURVE_SUCCESS]]
    assert steps == list(range(iterations))
    assert all(0.0 <= v <= 1.0 for _, v in fast.curves[schema.CURVE_SUCCESS])
    assert all(0.0 <= v <= 1.0 for _, v in fast.curves.get(schema.CURVE_MODE_ENTROPY, ()))
    # the curves are not mistaken for evaluation metrics
    assert schema.CURVE_SUCCESS not in result.seeds[0].metrics
    lb = compile_leaderboard([fast])
    build_site(lb, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / f"{slug('avoid-v0')}.html").read_text()
    assert "Learning curves" in page
    assert (tmp_path / "site" / "plots" / "avoid-v0-smoke-curves.svg").is_file()
    # a row without curves (bc) draws none
    bc = dataclasses.replace(fast, curves={}, method="bc", run_id="other")
    build_site(compile_leaderboard([bc]), tmp_path / "site2")
    assert "Learning curves" not in (tmp_path / "site2" / "tasks"
                                     / f"{slug('avoid-v0')}.html").read_text()


@pytest.mark.parametrize("method", ["bmd", "dppo"])
def test_checkpoint_stability_starts_from_the_pretrained_policy_under_the_methods_sampler(
        method, avoid_dataset, tmp_path, monkeypatch):
    """The 0 % stage of checkpoint stability was the pretrained policy under bc's ancestral
    sampler while the 50 % and 100 % stages, and mode retention's reference, ran the method's
    own sampler (bmd: the steered DDIM chain), so stability mixed sampler with training. The
    0 % stage is now the reference evaluation, and the pretrained policy is evaluated once
    instead of twice (a 96-episode kitchen evaluation, ~2 min, on a cold cache)."""
    import json

    from benchmark import runner

    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    calls = []
    original = runner._evaluate_levels

    def count(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "_evaluate_levels", count)
    result = evaluate(EvalRequest(method=method, task="avoid", seeds=(0,), tier="smoke",
                                  track=False))
    # the reference, the 50 % checkpoint and the final policy: three evaluations
    assert len(calls) == 3
    (ref_file,) = (tmp_path / "cache" / "pretrained").glob("*/reference-*.json")
    reference = json.loads(ref_file.read_text())
    assert result.seeds[0].pretrain_distribution == reference["dist"]


def test_a_new_method_version_does_not_reuse_the_cached_evaluation_of_the_checkpoint(
        avoid_dataset, tmp_path, monkeypatch):
    """The pretrained checkpoint's evaluations (mode distribution, reference) were cached by
    spec and config hash alone: a method version that draws its evaluation noise otherwise
    would have been served the old version's numbers from a warm cache."""
    from baselines.bc import BCMethod

    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    req = EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke", track=False)
    evaluate(req)
    cached = sorted((tmp_path / "cache" / "pretrained").glob("*/nominal_mode_distribution-*"))
    assert len(cached) == 1
    monkeypatch.setattr(BCMethod, "version", "99")
    evaluate(req)
    again = sorted((tmp_path / "cache" / "pretrained").glob("*/nominal_mode_distribution-*"))
    assert len(again) == 2 and any("-v99-" in p.name for p in again)


def test_the_number_of_evaluation_envs_changes_no_metric(avoid_dataset, tmp_path, monkeypatch):
    """MODEBENCH_EVAL_ENVS is an execution setting: every built-in policy draws its
    evaluation noise per episode, so the batch does not decide an episode's noise."""
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))
    req = EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke", track=False)
    default = evaluate(req).seeds[0]
    monkeypatch.setenv("MODEBENCH_EVAL_ENVS", "3")
    fewer = evaluate(req).seeds[0]
    assert [(r.success, r.mode, r.length) for r in default.records] == \
           [(r.success, r.mode, r.length) for r in fewer.records]
    assert default.metrics == pytest.approx(fewer.metrics)
    monkeypatch.setenv("MODEBENCH_EVAL_ENVS", "0")
    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cold"))
    with pytest.raises(UsageError, match="MODEBENCH_EVAL_ENVS must be a positive integer"):
        evaluate(req)
    assert not (tmp_path / "cold" / "pretrained").exists()  # refused before training
