"""pretrain (cached by hash) -> fine-tune -> evaluate -> track.

:func:`run_seed` is the unit of work (one method, task version, training seed and tier; a
seed run in MLflow). :func:`evaluate` runs several seeds under a group run and adds the
across-seed aggregates with bootstrap CIs. Both are what ``bench evaluate`` and
``bench sweep`` call.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import traceback
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import metrics, mode_metrics, schema, tracking
from benchmark.adapter import ModeSelectablePolicy, Policy, RunContext
from benchmark.datasets import DemoDataset, ensure_dataset
from benchmark.envvars import positive_int
from benchmark.errors import AdapterError, BenchError, UnknownIdError, UsageError
from benchmark.paths import cache_root, writable_dir
from benchmark.progress import SILENT, Progress
from benchmark.provenance import git_commit, package_versions, provenance_lock_tags
from benchmark.registry import get_method_class, get_task
from benchmark.rollout import EpisodeRecord, evaluate_policy, make_training_vector_env
from benchmark.seeding import EVAL_BASE, preserved_rng, seed_everything
from benchmark.spec import TIERS, PerturbationLevel, config_hash, short_hash
from benchmark.task import Task


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate.

    Attributes:
        method: Method id (``"bmd"``).
        task: Task id (``"avoid"`` = newest, or ``"avoid-v0"``).
        seeds: Training seeds.
        tier: ``"smoke"``, ``"small"`` or ``"paper"``.
        perturbations: Level names to evaluate besides nominal (``("all",)`` = the ladder).
        mode: Evaluate with this latent mode forced (mode-selectable methods only).
        device: ``"cpu"``, ``"cuda"``, ``"auto"``, or None for the tier's default.
        track: Log to MLflow (False only in benchmarks/tests that do not need the store).
        options: Method options (typed values).
    """

    method: str
    task: str
    seeds: tuple[int, ...] = (0,)
    tier: str = "small"
    perturbations: tuple[str, ...] = ()
    mode: int | None = None
    device: str | None = None
    track: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeedResult:
    """The outcome of one training seed."""

    seed: int
    run_id: str | None
    metrics: dict[str, float]
    mode_distributions: dict[str, dict[str, int]]
    # the pretrained policy's nominal modes: under the method's own sampler (its reference)
    # for a fine-tuning method, as evaluated for bc otherwise
    pretrain_distribution: dict[str, int]
    records: list[EpisodeRecord]
    latent_map: list[str | None] | None = None  # mode-selectable methods: z -> mode


@dataclass
class EvalResult:
    """The outcome of :func:`evaluate`."""

    request: EvalRequest
    task_id: str
    spec_hash: str
    dataset_hash: str
    group_run_id: str | None
    seeds: list[SeedResult]
    aggregates: dict[str, metrics.Estimate]
    tracking_uri: str


def _limit_torch_threads(device: str) -> None:
    """One torch thread per process on CPU unless ``MODEBENCH_TORCH_THREADS`` says otherwise.

    The networks are small MLPs: extra intra-op threads buy little and, on a 2-core machine
    shared with env stepping or other sweep workers, oversubscription made pretraining over
    ten times slower in our measurements.
    """
    if device != "cpu":
        return
    import torch

    torch.set_num_threads(int(os.environ.get("MODEBENCH_TORCH_THREADS", "1")))


def _check_tier(tier: str) -> None:
    if tier not in TIERS:
        raise UnknownIdError(f"unknown tier {tier!r}; known: {', '.join(TIERS)}")


def method_config_dict(method: Any) -> dict[str, Any]:
    """A method instance's config (a frozen dataclass or a mapping) as a plain dict."""
    cfg = method.config()
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg or {})


def options_tag(options: dict[str, Any]) -> dict[str, str]:
    """The ``-o`` overrides as logged (values as text, keys sorted): ``{}`` for defaults."""
    return {k: str(v) for k, v in sorted(options.items())}


def method_config_hash(method: Any, options: dict[str, Any], mode: int | None) -> str:
    """The config hash a seed run is tagged with: method config + options + forced mode.

    ``bench sweep`` computes unit keys with it before dispatch, so it must stay the one
    definition of :data:`benchmark.schema.TAG_CONFIG_HASH`.
    """
    return config_hash({"config": method_config_dict(method), "options": options, "mode": mode})


def check_device(device: str) -> None:
    """Refuse a device string torch would not accept, before anything is trained.

    Raises:
        UsageError: Not ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
    """
    head, _, index = device.partition(":")
    if head in ("cpu", "auto") and not index or head == "cuda" and (not index or index.isdigit()):
        return
    raise UsageError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto")


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    check_device(device)
    if device != "auto":
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise BenchError(f"device {device!r} requested but torch sees no CUDA device")
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_levels(task: Task, names: Sequence[str]) -> list[tuple[int, PerturbationLevel]]:
    """Nominal plus the named levels (``"all"`` = the whole ladder), with ladder indices."""
    spec = task.spec
    wanted = {"nominal", *names} - {"all"}
    for n in wanted:
        try:
            spec.perturbation(n)
        except KeyError as exc:
            raise UnknownIdError(str(exc.args[0])) from None
    if "all" in names:
        return list(enumerate(spec.perturbations))
    return [(i, p) for i, p in enumerate(spec.perturbations) if p.name in wanted]


def prepare(req: EvalRequest) -> tuple[EvalRequest, Task, Any]:
    """Validate a request and configure its method, before any dataset or training.

    Returns:
        The request with its options as the method applied them (typed), the task, and the
        configured method instance.

    Raises:
        UsageError: Unknown ids, bad options, device, levels or an out-of-range ``--mode``.
        AdapterError: ``--mode`` for a method without selectable modes.
    """
    from benchmark.options import configure_method

    _check_tier(req.tier)
    task = get_task(req.task)
    method_cls = get_method_class(req.method)
    resolve_levels(task, req.perturbations)
    check_device(req.device or task.spec.budget(req.tier).device)
    method, applied = configure_method(method_cls(), req.method, req.options, task.spec)
    if req.mode is not None:
        n_modes = method.selectable_modes() if hasattr(method, "selectable_modes") else None
        if hasattr(method, "selectable_modes") and n_modes is None:
            raise AdapterError(f"method {req.method!r} has no selectable modes; --mode works "
                               "with mode-selectable methods such as bmd")
        if req.mode < 0 or n_modes is not None and req.mode >= n_modes:
            limit = "" if n_modes is None else f" in [0, {n_modes - 1}]"
            raise UsageError(f"--mode {req.mode} is out of range: {req.method} has latent "
                             f"modes{limit}")
    return dataclasses.replace(req, options=applied), task, method


def reproduce_command(req: EvalRequest, task_id: str, seeds: Sequence[int]) -> str:
    """The ``bench evaluate`` command line that reproduces a run."""
    cmd = (f"bench evaluate --method {req.method} --task {task_id} "
           f"--seeds {','.join(map(str, seeds))} --tier {req.tier}")
    if req.perturbations:
        cmd += f" --perturbation {','.join(req.perturbations)}"
    if req.mode is not None:
        cmd += f" --mode {req.mode}"
    for k, v in sorted(req.options.items()):
        cmd += f" --option {k}={v}"
    return cmd


@contextmanager
def _file_lock(path: Path):
    from filelock import FileLock

    writable_dir(path.parent, "MODEBENCH_CACHE")
    with FileLock(str(path) + ".lock"):
        yield


def _pretrained(method: Any, dataset: DemoDataset, ctx: RunContext) -> tuple[Policy, Path]:
    """Load the cached pretrained policy or train and cache it (atomically, under a lock).

    The key is the hash of (the spec's pretraining part at this tier, dataset, method's
    pretrain key, seed, device): methods sharing a pretraining stage share the checkpoint,
    and retuning fine-tuning or evaluation budgets does not retrain.
    """
    key = short_hash(json.dumps([ctx.spec.pretrain_hash(ctx.tier), dataset.content_hash,
                                 method.pretrain_key(ctx), ctx.seed, ctx.device]))
    final = cache_root() / "pretrained" / key
    with _file_lock(final):
        if not (final / "COMPLETE").exists():
            if final.exists():  # a crashed writer's leftovers
                shutil.rmtree(final)
            seed_everything(ctx.seed)
            policy = method.pretrain(dataset, ctx)
            tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex}"
            tmp.mkdir(parents=True)
            try:
                method.save(policy, tmp)
                (tmp / "COMPLETE").write_text(key)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return method.load(final, ctx), final


@contextmanager
def _naming_method(method_id: str):
    """Prefix an adapter error raised while evaluating with the method's id."""
    try:
        yield
    except AdapterError as exc:
        raise AdapterError(f"method {method_id!r}: {exc}") from None


def evaluation_envs(budget: Any) -> int:
    """Envs evaluated side by side: ``MODEBENCH_EVAL_ENVS``, default the tier's ``n_envs``.

    An execution setting, like ``MODEBENCH_ENV_WORKERS``: a policy drawing its evaluation
    noise per episode (:class:`benchmark.adapter.EpisodicPolicy`, every built-in method)
    acts on an episode the same whatever the batch, up to the last bits of the network's
    batched arithmetic. More envs batch more rows into each network call (faster where the
    policy dominates) and hold more simulators in memory (kitchen ~75 MB and robosuite
    ~140 MB per env, measured).

    Raises:
        UsageError: Set to anything but a positive integer.
    """
    return positive_int("MODEBENCH_EVAL_ENVS", budget.n_envs)


def _evaluate_levels(policy: Policy, task: Task, levels: list[tuple[int, PerturbationLevel]],
                     budget: Any, progress: Progress) -> list[EpisodeRecord]:
    records: list[EpisodeRecord] = []
    for index, level in levels:
        # a policy that draws from the global generator (one that is not episodic) gets an
        # evaluation stream per level; episodic policies draw per episode
        seed_everything((EVAL_BASE + index) % 2**31)
        records += evaluate_policy(policy, task, level, index, budget.eval_episodes,
                                   evaluation_envs(budget), progress)
    return records


def seed_metrics(task: Task, records: list[EpisodeRecord], levels: list[str],
                 pretrain_dist: dict[str, int] | None) -> tuple[dict[str, float],
                                                               dict[str, dict[str, int]]]:
    """Per-seed metrics (schema names) and per-level mode distributions from episode records.

    A label is a present mode (mode count, retention) when it holds at least
    :func:`benchmark.mode_metrics.mode_threshold` of the successes (a quarter of a uniform
    share over the task's demonstrated modes). Mode count and entropy are left out (undefined)
    at a level without a successful episode. Records of other levels (forced-z episodes) are
    ignored here.
    """
    spec = task.spec
    threshold = mode_metrics.mode_threshold(len(spec.modes))
    out: dict[str, float] = {}
    dists: dict[str, dict[str, int]] = {}
    success: dict[str, float] = {}
    for level in levels:
        recs = [r for r in records if r.level == level]
        succ = [r.success for r in recs]
        dist = metrics.mode_distribution([r.mode for r in recs], succ)
        dists[level] = dist
        success[level] = metrics.success_rate(succ)
        per_mode = mode_metrics.per_mode_success(dist, len(recs), spec.modes, spec.mode_weights)
        values = [
            (schema.SUCCESS_RATE, success[level]),
            (schema.MEAN_RETURN, float(np.mean([r.ret for r in recs]))),
            (schema.SRM, mode_metrics.srm(per_mode)),
            (schema.MODES_COVERED, mode_metrics.modes_covered(per_mode)),
        ]
        if dist:  # without a successful episode there is no mode distribution to describe
            values += [(schema.MODE_COUNT, metrics.mode_count(dist, threshold)),
                       (schema.MODE_ENTROPY, metrics.mode_entropy(dist, len(spec.modes)))]
        for name, value in values:
            out[schema.level_metric(name, level)] = value
            if level == "nominal":
                out[name] = value
        if level == "nominal":
            low, high = mode_metrics.wilson_interval(int(sum(succ)), len(recs))
            out[schema.SUCCESS_WILSON_LOW], out[schema.SUCCESS_WILSON_HIGH] = low, high
    if pretrain_dist is not None:
        out[schema.MODE_RETENTION] = metrics.mode_retention(pretrain_dist, dists["nominal"],
                                                            threshold)
    perturbed = [success[lv] for lv in levels if lv != "nominal"]
    if perturbed:
        out[schema.ROBUSTNESS] = metrics.robustness(success["nominal"], perturbed)
    nominal = [r for r in records if r.level == "nominal"]
    # partial progress (kitchen-style p1..pN): share of episodes completing >= n subtasks
    progress = [r.extras["progress"] for r in nominal if "progress" in r.extras]
    if progress:
        top = max(int(spec.extra.get("n_subtasks", 0)), max(progress))
        for n in range(1, top + 1):
            out[f"p{n}"] = float(np.mean([p >= n for p in progress]))
    return out, dists


CHECKPOINT_FRACTIONS = (0.5,)
"""Fractions of the fine-tuning budget at which a fine-tuner's policy is also evaluated
(with 0 % = the pretrained policy and 100 % = the result: stability across checkpoints)."""

LATENT_LEVEL_PREFIX = "nominal@z="
"""Level name of the episodes run with latent code z forced (``nominal@z=3``)."""


def latent_episodes(budget: Any, n_latent: int) -> int:
    """Episodes per forced latent code: the tier's evaluation episodes shared over the codes,
    at least 4 (avoid small: 100 / 8 -> 12; paper tier 500 / 8 -> 62)."""
    return max(4, budget.eval_episodes // max(n_latent, 1))


def evaluate_latent_modes(policy: Any, task: Task, budget: Any,
                          progress: Progress) -> list[EpisodeRecord]:
    """Run the nominal evaluation episodes once per forced latent code of ``policy``.

    Every code sees the same initial states (the first :func:`latent_episodes` evaluation
    seeds), so codes differ only by the mode they select. Records are relabelled to level
    ``nominal@z=<k>``; the policy is left sampling its mode again (``set_mode(None)``).
    """
    nominal = (0, task.spec.perturbation("nominal"))
    n = latent_episodes(budget, policy.n_modes)
    out: list[EpisodeRecord] = []
    try:
        for k in range(policy.n_modes):
            policy.set_mode(k)
            seed_everything((EVAL_BASE + 7919 * (k + 1)) % 2**31)
            recs = evaluate_policy(policy, task, nominal[1], nominal[0], n,
                                   evaluation_envs(budget), progress)
            out += [dataclasses.replace(r, level=f"{LATENT_LEVEL_PREFIX}{k}") for r in recs]
    finally:
        policy.set_mode(None)
    return out


def latent_metrics(task: Task, records: list[EpisodeRecord], n_latent: int
                   ) -> tuple[dict[str, float], dict[str, Any]]:
    """Controllability of a mode-selectable policy from its forced-z records.

    Returns:
        Metrics (purity, NMI, ARI, SRM and mc@0.8 with forced z) and tags (z -> mode map,
        per-z counts of the successful episodes' labels).
    """
    recs = [r for r in records if r.level.startswith(LATENT_LEVEL_PREFIX)]
    z = [int(r.level[len(LATENT_LEVEL_PREFIX):]) for r in recs]
    labels = [r.mode for r in recs]
    ok = [r.success for r in recs]
    nmi, ari = mode_metrics.latent_nmi_ari(z, labels, ok)
    per_mode = mode_metrics.forced_mode_success(z, labels, ok, n_latent, task.spec.modes)
    out = {
        schema.LATENT_PURITY: mode_metrics.purity(z, labels, ok, n_latent),
        schema.LATENT_NMI: nmi,
        schema.LATENT_ARI: ari,
        schema.LATENT_SRM: mode_metrics.srm(per_mode),
        schema.LATENT_MODES_COVERED: mode_metrics.modes_covered(per_mode),
    }
    counts = {str(k): metrics.mode_distribution(
        [lab for zz, lab in zip(z, labels, strict=True) if zz == k],
        [s for zz, s in zip(z, ok, strict=True) if zz == k]) for k in range(n_latent)}
    tags = {schema.TAG_LATENT_MAP: mode_metrics.latent_mode_map(z, labels, ok, n_latent),
            schema.TAG_LATENT_COUNTS: counts}
    return {k: v for k, v in out.items() if v == v}, tags  # NaN (no success) is left out


def run_seed(req: EvalRequest, seed: int, parent_run_id: str | None = None,
             progress: Progress = SILENT, unit_key: str | None = None) -> SeedResult:
    """Train and evaluate one training seed; log it as one seed run (FAILED if it raises).

    Args:
        req: The request (its ``seeds`` are ignored; ``seed`` is used).
        seed: The training seed.
        parent_run_id: Group run to nest under.
        progress: Progress reporter.
        unit_key: Sweep unit key to tag the run with.

    Returns:
        The seed's metrics, mode distributions and episode records.
    """
    req, task, method = prepare(req)
    spec = task.spec
    method_cls = type(method)
    budget = spec.budget(req.tier)
    device = resolve_device(req.device or budget.device)
    levels = resolve_levels(task, req.perturbations)
    evaluation_envs(budget)  # a malformed MODEBENCH_EVAL_ENVS fails before any training
    dataset = ensure_dataset(task, progress).subset(budget.n_demos)
    spec_hash = spec.hash()
    cfg_dict = method_config_dict(method)
    cfg_hash = method_config_hash(method, req.options, req.mode)

    c = tracking.client() if req.track else None
    run_id = None
    if c is not None:
        tags = {
            schema.TAG_KIND: "seed",
            schema.TAG_METHOD: req.method,
            schema.TAG_METHOD_VERSION: method_cls.version,
            schema.TAG_TASK: spec.id,
            schema.TAG_TASK_FAMILY: spec.name,
            schema.TAG_SPEC_HASH: spec_hash,
            schema.TAG_DATASET_HASH: dataset.content_hash,
            schema.TAG_CONFIG_HASH: cfg_hash,
            schema.TAG_TIER: req.tier,
            schema.TAG_SEED: str(seed),
            schema.TAG_GIT_COMMIT: git_commit(),
            schema.TAG_VERSIONS: tracking.dumps(package_versions()),
            **provenance_lock_tags(),
            schema.TAG_COMMAND: reproduce_command(req, spec.id, [seed]),
            schema.TAG_PERTURBATIONS: tracking.dumps([lv.name for _, lv in levels]),
            schema.TAG_MODE: "" if req.mode is None else str(req.mode),
            schema.TAG_OPTIONS: tracking.dumps(options_tag(req.options)),
        }
        if unit_key:
            tags[schema.TAG_UNIT] = unit_key
        params = {f"method.{k}": v for k, v in cfg_dict.items()}
        params.update({f"budget.{k}": v for k, v in dataclasses.asdict(budget).items()})
        params.update({"device": device, "seed": seed, "n_demos": len(dataset)})
        run_id = tracking.start_run(c, tags, params, f"{req.method}/{spec.id}/s{seed}",
                                    parent_run_id)
    try:
        work = writable_dir(cache_root() / "work" / f"{req.method}-{spec.id}-{req.tier}-s{seed}",
                            "MODEBENCH_CACHE")
        checkpoint_dists: dict[float, dict[str, int]] = {}

        def checkpoint(fraction: float, policy: Any) -> None:
            # evaluated like the final policy, without moving the training's random streams
            with preserved_rng(), _naming_method(req.method):
                recs = _evaluate_levels(policy, task, nominal, budget, progress)
            checkpoint_dists[fraction] = metrics.mode_distribution(
                [r.mode for r in recs], [r.success for r in recs])

        nominal = [lv for lv in levels if lv[1].name == "nominal"]
        curves: dict[str, list[tuple[int, float]]] = {
            schema.CURVE_SUCCESS: [], schema.CURVE_MODE_ENTROPY: []}

        def log_iteration(iteration: int, stats: Any, modes: Any) -> None:
            # learning curves over the training episodes that ended in the iteration; the
            # entropy is undefined (left out) when none succeeded, as for evaluations
            curves[schema.CURVE_SUCCESS].append(
                (iteration, float(stats.get("train_success", math.nan))))
            if sum(modes.values()):
                curves[schema.CURVE_MODE_ENTROPY].append(
                    (iteration, metrics.mode_entropy(dict(modes), len(spec.modes))))

        ctx = RunContext(
            task=task, tier=req.tier, seed=seed, device=device, work_dir=work,
            progress=progress, dataset=dataset, options=dict(req.options),
            make_vector_env=lambda n_envs, seed, perturbation=None: make_training_vector_env(
                task, n_envs, seed, perturbation),
            checkpoint=checkpoint, checkpoint_fractions=CHECKPOINT_FRACTIONS,
            log_iteration=log_iteration,
        )
        _limit_torch_threads(device)
        pretrained, pretrained_dir = _pretrained(method, dataset, ctx)
        fine_tunes = getattr(method, "fine_tunes", True)
        reference: dict[str, Any] | None = None
        pretrain_records: list[EpisodeRecord] | None = None
        if fine_tunes and hasattr(method, "reference_policy"):
            # the pretrained policy under the method's own sampler: what fine-tuning is
            # measured against (bc's sampler would credit the algorithm with the sampler's gain)
            def evaluate_reference() -> dict[str, Any]:
                ref_policy = method.reference_policy(method.load(pretrained_dir, ctx), ctx)
                with _naming_method(req.method):
                    recs = _evaluate_levels(ref_policy, task, nominal, budget, progress)
                return {"success": metrics.success_rate([r.success for r in recs]),
                        "dist": metrics.mode_distribution([r.mode for r in recs],
                                                          [r.success for r in recs])}

            reference = _cached_json(
                pretrained_dir / f"reference-{spec_hash}-{_evaluation_key(method)}.json",
                evaluate_reference)
            # the pretrained stage (0 %) of checkpoint stability, under the sampler of the
            # later stages: the reference's episodes, not a second evaluation under bc's
            pretrain_dist = reference["dist"]
        else:
            with _naming_method(req.method):
                pretrain_dist, pretrain_records = _pretrain_distribution(
                    pretrained, task, nominal, budget, progress, pretrained_dir, spec_hash,
                    _evaluation_key(method))
        if fine_tunes:
            # fine-tune a fresh load, so that what is fine-tuned never depends on the cache's
            # state (a cold cache hands over the object it just trained)
            pretrained = method.load(pretrained_dir, ctx)
        seed_everything(seed)
        policy = method.finetune(pretrained, ctx)
        if req.mode is not None:
            if not isinstance(policy, ModeSelectablePolicy):
                raise AdapterError(f"method {req.method!r} has no selectable modes; "
                                   "--mode works with mode-selectable methods such as bmd")
            if not 0 <= req.mode < policy.n_modes:
                raise UsageError(f"--mode must be in [0, {policy.n_modes - 1}]")
            policy.set_mode(req.mode)
        with _naming_method(req.method):
            reuse = (not fine_tunes and policy is pretrained and req.mode is None
                     and pretrain_records is not None)
            if reuse:
                # a method that declares it does not fine-tune (bc) and returned the policy
                # it was given: its nominal episodes were just run, with the same seeds.
                # Object identity alone is not enough: dppo fine-tunes in place.
                records = pretrain_records + _evaluate_levels(
                    policy, task, [lv for lv in levels if lv[1].name != "nominal"], budget,
                    progress)
            else:
                records = _evaluate_levels(policy, task, levels, budget, progress)
        latent_tags: dict[str, Any] = {}
        level_names = [lv.name for _, lv in levels]
        seed_m, dists = seed_metrics(task, records, level_names,
                                     reference["dist"] if reference else pretrain_dist)
        if reference is not None:
            seed_m[schema.REFERENCE_SUCCESS] = reference["success"]
            seed_m[schema.SUCCESS_GAIN] = seed_m[schema.SUCCESS_RATE] - reference["success"]
        if hasattr(method, "diagnostics") and policy is pretrained:
            seed_m.update(method.diagnostics(policy, dataset, ctx))
        stages = [pretrain_dist, *(checkpoint_dists[f] for f in sorted(checkpoint_dists)),
                  dists["nominal"]]
        if checkpoint_dists and any(sum(d.values()) for d in stages):
            # pretrained (0 %), the checkpoints, and the final policy (100 %); undefined when
            # none of them has a successful episode (no modes to compare)
            seed_m[schema.CHECKPOINT_STABILITY] = metrics.mode_stability(stages)
        if isinstance(policy, ModeSelectablePolicy) and req.mode is None:
            with _naming_method(req.method):
                records += evaluate_latent_modes(policy, task, budget, progress)
            latent_m, latent_tags = latent_metrics(task, records, policy.n_modes)
            seed_m.update(latent_m)
        if c is not None and run_id is not None:
            tracking.log_text_artifact(c, run_id, schema.EPISODES_ARTIFACT,
                                       tracking.episodes_csv(r.row() for r in records))
            tracking.log_curves(c, run_id, curves)
            tracking.log_metrics(c, run_id, seed_m, tags={
                schema.TAG_MODE_DISTRIBUTION: tracking.dumps(dists),
                schema.TAG_PRETRAIN_MODE_DISTRIBUTION: tracking.dumps(pretrain_dist),
                **{k: tracking.dumps(v) for k, v in latent_tags.items()},
            })
            tracking.end_run(c, run_id, "FINISHED")
        return SeedResult(seed, run_id, seed_m, dists, pretrain_dist, records,
                          latent_tags.get(schema.TAG_LATENT_MAP))
    except BaseException as exc:
        if c is not None and run_id is not None:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            try:
                tracking.end_run(c, run_id, status, detail)
            except Exception:
                pass  # the original error matters more than a failed status write
        raise


def _evaluation_key(method: Any) -> str:
    """What an evaluation of the pretrained checkpoint depends on besides the spec: the
    method's version (how it samples, how it draws its noise) and its default config."""
    return f"v{type(method).version or '0'}-{method_config_hash(method, {}, None)}"


def _pretrain_distribution(policy: Policy, task: Task,
                           nominal: list[tuple[int, PerturbationLevel]], budget: Any,
                           progress: Progress, pretrained_dir: Path, spec_hash: str,
                           sampler_key: str) -> tuple[dict[str, int], list[EpisodeRecord] | None]:
    """Mode distribution of the pretrained policy at nominal (cached beside the checkpoint).

    The cache file is keyed by the full spec hash and the method's version and config
    (``sampler_key``): the checkpoint is shared across evaluation budgets
    (:meth:`TaskSpec.pretrain_hash`), samplers (a sampler option does not retrain) and method
    versions, the distribution is not.

    Returns:
        The distribution, and the nominal episode records when they were run now (None when
        the distribution came from the cache).
    """
    cache = pretrained_dir / f"nominal_mode_distribution-{spec_hash}-{sampler_key}.json"
    ran: list[EpisodeRecord] = []

    def run() -> dict[str, int]:
        ran.extend(_evaluate_levels(policy, task, nominal, budget, progress))
        return metrics.mode_distribution([r.mode for r in ran], [r.success for r in ran])

    dist = _cached_json(cache, run)
    return dist, (ran or None)


def _cached_json(path: Path, compute: Any) -> Any:
    """``compute()``'s JSON-able result, read from ``path`` when an earlier run wrote it there
    (written atomically; an unreadable file is recomputed)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    value = compute()
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(value, sort_keys=True))
    os.replace(tmp, path)
    return value


def aggregate(seeds: list[SeedResult]) -> dict[str, metrics.Estimate]:
    """Across-seed estimates with 95 % bootstrap CIs for every per-seed metric, plus stability."""
    per_episode_only = {schema.SUCCESS_WILSON_LOW, schema.SUCCESS_WILSON_HIGH}
    names = sorted(set().union(*(s.metrics.keys() for s in seeds)) - per_episode_only)
    out: dict[str, metrics.Estimate] = {}
    for name in names:
        values = [s.metrics[name] for s in seeds
                  if name in s.metrics and s.metrics[name] == s.metrics[name]]  # skip NaN
        if values:
            out[name] = metrics.bootstrap_ci(values)
    if len(seeds) >= 2:  # stability across one seed is undefined, not 1
        out[schema.MODE_STABILITY] = metrics.stability_ci(
            [s.mode_distributions["nominal"] for s in seeds])
        maps = [s.latent_map for s in seeds if s.latent_map is not None]
        pairs = [mode_metrics.map_agreement(a, b) for i, a in enumerate(maps)
                 for b in maps[i + 1:]]
        pairs = [p for p in pairs if p == p]
        if pairs:  # pairs of seeds are not independent: no bootstrap interval (NaN)
            out[schema.LATENT_MAP_AGREEMENT] = metrics.Estimate(
                float(np.mean(pairs)), math.nan, math.nan, len(maps))
    return out


def evaluate(req: EvalRequest, progress: Progress = SILENT) -> EvalResult:
    """Run every seed of ``req`` under one group run and aggregate.

    Raises:
        BenchError: Bad input (unknown ids, tiers, levels, options, ``--mode``, device) before
            any dataset is built or anything is trained.
    """
    req, task, _ = prepare(req)
    spec = task.spec
    c = tracking.client() if req.track else None  # an unreachable store fails here, first
    dataset = ensure_dataset(task, progress)
    group_id = None
    if c is not None:
        method_cls = get_method_class(req.method)
        tags = {
            schema.TAG_KIND: "group",
            schema.TAG_METHOD: req.method,
            schema.TAG_METHOD_VERSION: method_cls.version,
            schema.TAG_TASK: spec.id,
            schema.TAG_TASK_FAMILY: spec.name,
            schema.TAG_SPEC_HASH: spec.hash(),
            schema.TAG_DATASET_HASH: dataset.content_hash,
            schema.TAG_TIER: req.tier,
            schema.TAG_SEED: ",".join(map(str, req.seeds)),
            schema.TAG_GIT_COMMIT: git_commit(),
            schema.TAG_VERSIONS: tracking.dumps(package_versions()),
            **provenance_lock_tags(),
            schema.TAG_COMMAND: reproduce_command(req, spec.id, req.seeds),
            schema.TAG_MODE: "" if req.mode is None else str(req.mode),
            schema.TAG_OPTIONS: tracking.dumps(options_tag(req.options)),
        }
        group_id = tracking.start_run(c, tags, {"seeds": ",".join(map(str, req.seeds))},
                                      f"{req.method}/{spec.id}/{req.tier}")
    try:
        results = [run_seed(req, s, group_id, progress) for s in req.seeds]
        agg = aggregate(results)
        if c is not None and group_id is not None:
            flat: dict[str, float] = {}
            for name, est in agg.items():
                flat[name] = est.value
                flat[schema.ci_low(name)] = est.ci_low
                flat[schema.ci_high(name)] = est.ci_high
                flat[f"{name}_n"] = est.n  # seeds behind it (NaN retention drops some)
            tracking.log_metrics(c, group_id, flat)
            tracking.end_run(c, group_id, "FINISHED")
    except BaseException as exc:
        if c is not None and group_id is not None:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            try:
                tracking.end_run(c, group_id, status, f"{type(exc).__name__}: {exc}")
            except Exception:
                pass
        raise
    from benchmark.paths import tracking_uri

    return EvalResult(req, spec.id, spec.hash(), dataset.content_hash, group_id, results, agg,
                      tracking_uri())
