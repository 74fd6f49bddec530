"""Names under which results are tracked in MLflow. The leaderboard reads exactly these.

Data model
----------
* A **seed run** (tag ``modebench.kind = "seed"``) is the atomic result: one method trained
  with one training seed on one task version at one tier, evaluated on the evaluation
  episodes of every requested perturbation level. Sweeps make one per unit.
* A **group run** (``modebench.kind = "group"``) is what ``bench evaluate --seeds 0-4`` makes:
  the parent of its seed runs, holding the across-seed aggregates with bootstrap CIs.

Only runs with status FINISHED and all :data:`REQUIRED_TAGS` count as results.
"""

from __future__ import annotations

EXPERIMENT = "modebench"

# tags (strings) on every run
TAG_KIND = "modebench.kind"  # "seed" | "group"
TAG_METHOD = "modebench.method"  # method id, e.g. "bmd"
TAG_METHOD_VERSION = "modebench.method_version"
TAG_TASK = "modebench.task"  # versioned task id, e.g. "avoid-v0"
TAG_TASK_FAMILY = "modebench.task_family"  # e.g. "avoid"
TAG_SPEC_HASH = "modebench.spec_hash"
TAG_DATASET_HASH = "modebench.dataset_hash"
TAG_CONFIG_HASH = "modebench.config_hash"  # hash of the method config + options
TAG_TIER = "modebench.tier"
TAG_SEED = "modebench.seed"  # seed runs: the training seed; group runs: "0,1,2,3,4"
TAG_GIT_COMMIT = "modebench.git_commit"
TAG_VERSIONS = "modebench.versions"  # JSON {package: version}
TAG_LOCK_HASH = "modebench.lock_hash"  # hash of requirements.lock ("none" without one)
TAG_LOCK_DRIFT = "modebench.lock_drift"  # JSON ["name installed (locked v)"]: [] = as locked
TAG_COMMAND = "modebench.command"  # the CLI command that reproduces the run
TAG_PERTURBATIONS = "modebench.perturbations"  # JSON list of the level names evaluated
TAG_MODE = "modebench.mode"  # BMD: the latent mode forced at evaluation ("" = sampled)
TAG_OPTIONS = "modebench.options"  # JSON {key: value as text} of -o overrides ({} = defaults)
TAG_UNIT = "modebench.unit"  # sweep unit key (seed runs)
TAG_PARENT = "mlflow.parentRunId"
TAG_ERROR = "modebench.error"  # first line of the error of a FAILED run
# seed runs: JSON {label: count} of successful nominal episodes, per level
TAG_MODE_DISTRIBUTION = "modebench.mode_distribution"  # JSON {level: {label: count}}
# JSON {label: count}: the pretrained policy at nominal, under the method's own sampler
TAG_PRETRAIN_MODE_DISTRIBUTION = "modebench.pretrain_mode_distribution"
# seed runs of mode-selectable methods: each latent z evaluated with z forced
TAG_LATENT_COUNTS = "modebench.latent_counts"  # JSON {z: {label: successful episodes}}
TAG_LATENT_MAP = "modebench.latent_map"  # JSON [mode of z or null] (z's most frequent mode)

REQUIRED_TAGS = (
    TAG_KIND, TAG_METHOD, TAG_TASK, TAG_SPEC_HASH, TAG_DATASET_HASH, TAG_TIER, TAG_SEED,
    TAG_GIT_COMMIT, TAG_VERSIONS,
)

# metric names (seed runs: values at the nominal level; group runs: means over seeds)
SUCCESS_RATE = "success_rate"
MODE_COUNT = "mode_count"
MODE_ENTROPY = "mode_entropy"
MODE_RETENTION = "mode_retention"  # modes of the reference (see REFERENCE_SUCCESS) kept
MODE_STABILITY = "mode_stability"  # group runs only (across seeds)
CHECKPOINT_STABILITY = "checkpoint_stability"  # seed runs: across 0 %, 50 %, 100 % of tuning
ROBUSTNESS = "robustness"  # summary: mean over levels of perturbed/nominal success, capped at 1
MEAN_RETURN = "mean_return"
# fine-tuned methods: the pretrained policy under the method's own evaluation sampler
REFERENCE_SUCCESS = "reference_success_rate"
SUCCESS_GAIN = "success_gain"  # success - reference success (same sampler, same episodes)
# BC families (baselines/common/diagnostics.py): the second paper's mechanism
OFF_SUPPORT = "off_support_rate"  # sampled first chunks off the demonstrations' support
LIPSCHITZ = "lipschitz_p95"  # 95th percentile of |g(w + eps u) - g(w)| / eps
# the BMD paper's per-mode metrics (benchmark.mode_metrics)
SRM = "srm"  # success averaged over the demonstrated modes
MODES_COVERED = "modes_covered"  # mc@0.8: share of demonstrated modes with success >= 0.8
SUCCESS_WILSON_LOW = "success_rate_wilson_low"  # seed runs: Wilson 95 % over episodes
SUCCESS_WILSON_HIGH = "success_rate_wilson_high"
# mode-selectable methods, from episodes with each z forced (seed runs; group: means)
LATENT_PURITY = "latent_purity"
LATENT_NMI = "latent_nmi"
LATENT_ARI = "latent_ari"
LATENT_SRM = "latent_srm"  # SRM with SR_m from the episodes of the codes attempting m
LATENT_MODES_COVERED = "latent_modes_covered"
LATENT_MAP_AGREEMENT = "latent_map_agreement"  # group runs: pairwise, Hungarian-matched
HEADLINE_METRICS = (SUCCESS_RATE, SRM, MODES_COVERED, MODE_COUNT, MODE_ENTROPY, MODE_RETENTION,
                    MODE_STABILITY, ROBUSTNESS)


def level_metric(name: str, level: str) -> str:
    """Metric name of ``name`` at perturbation level ``level``: ``success_rate/obs_noise_0.1``."""
    return f"{name}/{level}"


def ci_low(name: str) -> str:
    """Lower end of the 95 % CI of ``name`` (group runs)."""
    return f"{name}_ci_low"


def ci_high(name: str) -> str:
    """Upper end of the 95 % CI of ``name`` (group runs)."""
    return f"{name}_ci_high"


EPISODES_ARTIFACT = "episodes.csv"  # one row per evaluation episode
EPISODE_COLUMNS = ("level", "episode", "seed", "success", "return", "length", "mode")

# learning curves: metric histories over fine-tuning iterations (MLflow step = iteration),
# over the training episodes that ended in each iteration
CURVE_SUCCESS = "curve_train_success"
CURVE_MODE_ENTROPY = "curve_train_mode_entropy"
CURVES = (CURVE_SUCCESS, CURVE_MODE_ENTROPY)

