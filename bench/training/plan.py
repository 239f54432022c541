"""Resolving a suite into concrete runs: effective config, config hash, run folder, stage-one links."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench._io import stable_hash
from bench.config import BenchConfig, RunSpec, SuiteSpec
from bench.errors import ConfigError, did_you_mean
from bench.results import RESULT_FILE, run_dir_for
from bench.training.frozen import FrozenSource, resolve_source, uses_outside_source
from bench.training.precision import planned_precision

# Options that change how fast a run goes, not what it computes: left out of the config hash.
NON_SEMANTIC = {"train": ("device", "threads", "compile"), "data": ("data_dir", "on_bad_shape"), "output": ("results_dir",)}
# Settings added after runs were recorded, with the value that reproduces what those runs computed: left out of
# the config hash (and the semantic config recorded in result.json; `all_sections` still shows them) while they
# hold it, so that the recorded runs keep their hashes; any other value is hashed. A new setting goes here when
# its default keeps the old behaviour.
NEW_AT_DEFAULT: dict[tuple[str, str], Any] = {
    ("data", "noise_frame"): "cube", ("data", "eval_noise"): True, ("data", "test_view"): -1,
    ("data", "generator_seed"): 0, ("train", "select"): "mean",
}


def drop_new_at_default(sections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``sections`` (``BenchConfig.section_dicts()``) without the settings of NEW_AT_DEFAULT that hold their
    default, in place; returns it."""
    for (section, key), default in NEW_AT_DEFAULT.items():
        values = sections.get(section, {})
        if key in values and type(values[key]) is type(default) and values[key] == default:
            del values[key]
    return sections


@dataclass
class ResolvedRun:
    suite: str
    spec: RunSpec
    cfg: BenchConfig
    config_hash: str
    run_dir: Path
    stage_one: ResolvedRun | None = None
    step_limited: bool = False
    profile: str = ""
    precision: str = "fp32"
    """bf16 | fp32: what ``train.amp`` resolves to on this machine (bench/training/precision.py)."""
    weights: FrozenSource | None = None
    """A frozen run's encoder weights from outside the suite (a run folder, a weights file, the plugin)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def encoder_source(self) -> str:
        """Where a frozen run's encoder comes from, in words ('' for other runs): the run, or the source."""
        if self.stage_one is not None:
            return self.stage_one.name
        return self.weights.source if self.weights is not None else ""

    def lambdas(self) -> dict[str, float]:
        return {t: float(self.spec.lambdas.get(t, 1.0)) for t in self.spec.tasks}

    def semantic_config(self) -> dict[str, Any]:
        """What the run computes, and nothing else: the input of the config hash."""
        sections = self.cfg.section_dicts()
        for section, keys in NON_SEMANTIC.items():
            for key in keys:
                sections.get(section, {}).pop(key, None)
        sections.pop("output", None)
        drop_new_at_default(sections)
        # The precision the run trains in, not the setting: "auto" is bf16 on one machine and fp32 on another.
        sections["train"]["amp"] = self.precision
        semantic = {
            "tasks": list(self.spec.tasks),
            "protocol": self.spec.protocol,
            "lambdas": self.lambdas(),
            **sections,
            "encoder_kwargs": self.cfg.encoder_kwargs.get(self.cfg.model.encoder, {}),
            "stage_one": self.stage_one.config_hash if self.stage_one else None,
        }
        if self.weights is not None:  # only for sources outside the suite, so that in-suite probes keep their hashes
            semantic["encoder_weights"] = self.weights.identity()
        decoder_kwargs = self.cfg.decoder_kwargs.get(self.cfg.model.decoder, {})
        if decoder_kwargs:  # only when set, so that the hashes of runs made before decoder_kwargs existed hold
            semantic["decoder_kwargs"] = decoder_kwargs
        task_kwargs = self.cfg.own_task_kwargs(self.spec.tasks)  # the moved [eval] / [model] keys are in sections
        if task_kwargs:  # only when set, as decoder_kwargs
            semantic["task_kwargs"] = task_kwargs
        return semantic

    def full_config(self) -> dict[str, Any]:
        """Everything resolved (recorded in result.json)."""
        return {**self.semantic_config(), "run": dataclasses.asdict(self.spec), "suite": self.suite,
                "profile": self.profile, "all_sections": self.cfg.section_dicts()}


def check_plugin_names(cfg: BenchConfig, spec: RunSpec) -> None:
    """Every plugin a run names exists (from entry-point metadata: nothing is imported), so a misspelt
    encoder, decoder, dataset or task fails before any run starts, with a did-you-mean."""
    from bench.registry import DATASETS, DECODERS, ENCODERS, TASKS

    ENCODERS.entry(cfg.model.encoder)
    DECODERS.entry(cfg.model.decoder)
    DATASETS.entry(cfg.data.name)
    for task in spec.tasks:
        TASKS.entry(task)


def find_cached(results_dir: Path, run_name: str, config_hash: str) -> Path | None:
    """A finished run with this hash anywhere under results_dir (stage-one encoders are shared across suites)."""
    for path in sorted(Path(results_dir).glob(f"*/*-{config_hash}/{RESULT_FILE}")):
        return path.parent
    return None


def resolve_suite(cfg: BenchConfig, suite_name: str, cli_overrides: dict[str, dict[str, Any]] | None = None,
                  step_limited: bool = False, profile: str | None = None, seeds: int = 1) -> list[ResolvedRun]:
    """Runs of a suite with their effective configs: base < suite profile < run overrides < command line.

    ``seeds`` > 1 repeats the whole suite with train.seed, seed + 1, ...; a probe of seed k probes the
    stage-one encoder of seed k.
    """
    if suite_name not in cfg.suites:
        raise ConfigError(f"No suite named '{suite_name}' in {cfg.source}.{did_you_mean(suite_name, cfg.suites)} "
                          f"Suites: {', '.join(cfg.suites) or 'none'}.")
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: need at least one seed.")
    suite: SuiteSpec = cfg.suites[suite_name]
    profile = profile if profile is not None else suite.profile
    if profile and profile not in cfg.profiles:
        raise ConfigError(f"No profile '{profile}' in {cfg.source}.{did_you_mean(profile, cfg.profiles)}")
    base = cfg.with_overrides(cfg.profiles[profile], f"{cfg.source} (profile {profile})") if profile else cfg
    cli_overrides = cli_overrides or {}
    out: list[ResolvedRun] = []
    sources: dict[tuple, tuple[BenchConfig, FrozenSource]] = {}  # each outside source read once, not once per seed
    for k in range(seeds):
        resolved: dict[str, ResolvedRun] = {}
        for spec in suite.runs:
            where = f"{cfg.source} (suites.{suite_name}, run '{spec.name}')"
            run_cfg = base.with_overrides(spec.overrides, where).with_overrides(cli_overrides, "command line")
            if k:
                run_cfg = replace(run_cfg, train=replace(run_cfg.train, seed=run_cfg.train.seed + k))
            stage_one, weights = None, None
            if uses_outside_source(spec, resolved):
                key = (spec.encoder_from, spec.encoder_weights, spec.weights_prefix,
                       stable_hash([run_cfg.model.encoder, run_cfg.model.latent_dim, run_cfg.encoder_kwargs]))
                if key not in sources:
                    sources[key] = resolve_source(spec, run_cfg, where)
                source_cfg, weights = sources[key]
                enc = source_cfg.model  # a run folder's encoder family, size and kwargs; else the run's own
                run_cfg = replace(run_cfg, model=replace(run_cfg.model, encoder=enc.encoder, latent_dim=enc.latent_dim),
                                  encoder_kwargs=source_cfg.encoder_kwargs)
            elif spec.protocol == "frozen":
                stage_one = resolved[spec.encoder_from]
                # The probe uses the stage-one encoder as it was trained: same family, size and kwargs.
                enc = stage_one.cfg.model
                run_cfg = replace(run_cfg, model=replace(run_cfg.model, encoder=enc.encoder, latent_dim=enc.latent_dim),
                                  encoder_kwargs={**run_cfg.encoder_kwargs,
                                                  enc.encoder: stage_one.cfg.encoder_kwargs.get(enc.encoder, {})})
            check_plugin_names(run_cfg, spec)
            precision = planned_precision(run_cfg.train.amp, run_cfg.train.device).name
            run = ResolvedRun(suite_name, spec, run_cfg, "", Path(), stage_one, step_limited, profile or "", precision,
                              weights)
            run.config_hash = stable_hash(run.semantic_config())
            run.run_dir = run_dir_for(run_cfg.output.results_dir, suite_name, spec.name, run.config_hash)
            resolved[spec.name] = run
        out += resolved.values()
    return out


def select_runs(runs: list[ResolvedRun], names: list[str] | None = None, shard: tuple[int, int] = (0, 1)) -> list[ResolvedRun]:
    """The runs to do here: those named (plus the stage-one runs they probe), then this shard's share.

    Sharding keeps a probe with the run whose encoder it probes: runs linked by ``encoder_from`` form one
    group, and shard i of n takes groups i, i + n, ... in suite order, so no shard waits on another and the
    union of all shards is the whole suite (their results merge in the results folder)."""
    if names:
        known = {r.name for r in runs}
        for name in names:
            if name not in known:
                raise ConfigError(f"--runs {name}: no such run in suite '{runs[0].suite}'.{did_you_mean(name, known)} "
                                  f"Runs: {', '.join(sorted(known))}.")
        wanted: set[str] = set()
        for r in runs:
            if r.name in names:
                node: ResolvedRun | None = r
                while node is not None:
                    wanted.add(node.config_hash)
                    node = node.stage_one
        runs = [r for r in runs if r.config_hash in wanted]
    index, count = shard
    if count == 1:
        return runs
    group_of: dict[str, int] = {}
    groups: list[list[ResolvedRun]] = []
    for r in runs:
        if r.stage_one is not None and r.stage_one.config_hash in group_of:
            g = group_of[r.stage_one.config_hash]
        else:
            g = len(groups)
            groups.append([])
        group_of[r.config_hash] = g
        groups[g].append(r)
    return [r for g in groups[index::count] for r in g]
