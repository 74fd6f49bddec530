"""The runner: determinism, failure handling, pretraining cache, mode selection."""

import pytest

from benchmark import schema, tracking
from benchmark.errors import AdapterError, TrainingError
from benchmark.registry import get_method_class, register_method, unregister_method
from benchmark.runner import EvalRequest, evaluate


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
    evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke",
                         options={"pretrained_sampler": "ddim"}))
    evaluate(EvalRequest(method="bc", task="avoid", seeds=(0,), tier="smoke"))
    results = read_results(tracking.tracking_uri()).results
    assert sorted(row_label(r) for r in results) == ["bc", "bc [pretrained_sampler=ddim]"]
    # the sampler really changed: the two runs' configs (and so their policies) differ
    assert len({r.config_hash for r in results}) == 2
