"""Configuration: bench.toml read with tomllib into frozen dataclasses. Nothing in it is executed.

Resolution order for one run: dataclass defaults < bench.toml sections < the suite's profile < the
run's own overrides < command-line overrides (``--set section.key=value`` and the named options).
Unknown keys and wrong types are errors that name the key and the file, with a "did you mean".
"""

from __future__ import annotations

import dataclasses
import sys
import typing
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench.errors import ConfigError, did_you_mean
from bench.names import RULE as NAME_RULE
from bench.names import is_safe_name

ProtocolName = Literal["single", "joint", "frozen"]  # not "Protocol": that is typing.Protocol
PROTOCOLS: tuple[str, ...] = typing.get_args(ProtocolName)


@dataclass(frozen=True)
class DataConfig:
    name: str = "synthetic"
    """Registered dataset name (`bench datasets`)."""
    preset: Literal["tiny", "small", "large"] = "small"
    """Synthetic preset: tiny | small | large."""
    path: str = ""
    """Folder of the dataset (prepared, or the raw source of modelnet40 / shapenetpart / meshes)."""
    mesh_path: str = ""
    """ShapeNetCore meshes for shapenetpart (occupancy comes from them)."""
    data_dir: str = ""
    """Cache of generated datasets; empty = ~/.cache/implicit-bench (or $IMPLICIT_BENCH_CACHE)."""
    n_input_points: int = 300
    """Input points sampled from the surface cloud (ONet: 300)."""
    input_noise: float = 0.005
    """Std of the Gaussian noise added to input points (ONet: 0.005)."""
    n_query_points: int = 2048
    """Query points M sampled per shape and training step."""
    near_surface_share: float = 0.5
    """Share of training query points drawn from the near-surface samples (where the dataset has any), in [0, 1];
    0: uniform in the padded box only (ONet's points_uniform_ratio 1, the paper profiles)."""
    noise_frame: Literal["cube", "sphere"] = "cube"
    """Frame of input_noise: cube -> a std in the unit-cube frame (ONet); sphere -> in the frame that scales each
    shape into the unit sphere about its centroid (PointNet's jitter): the std is input_noise x the shape's radius."""
    eval_noise: bool = True
    """Noise on evaluation inputs too (ONet); false: training inputs only (PointNet's training-time jitter)."""
    views: int = 0
    """Rendered views per shape for image encoders (the paper: 24); rendered and cached on first use."""
    image_size: int = 137
    """Side of rendered views (Choy et al.: 137). What the encoder sees is its own setting: resnet18's
    input_size resizes them (the image profile: 224, as ONet)."""
    test_view: int = -1
    """View an image encoder is evaluated on: -1 -> a seeded random view per shape; k >= 0 -> view k of every
    shape (ONet: its first). Training always draws random views."""
    generator_seed: int = 0
    """Seed of a generated dataset's shapes (synthetic), separate from train.seed: another value is a fresh draw
    of the data, with its own revision and cache folder (a confirmatory evaluation); 0 is the standard draw."""
    on_bad_shape: Literal["skip", "stop"] = "skip"
    """skip: drop a broken shape and count it in the result; stop: fail with its path."""


@dataclass(frozen=True)
class ModelConfig:
    encoder: str = "onet_pointnet"
    """Encoder name (`bench encoders`) or module:attr."""
    latent_dim: int = 512
    """Size D of the latent code z (ONet point-cloud encoder: 512)."""
    decoder: str = "cbn"
    """Point decoder name (`bench decoders`: cbn = ONet conditional batch norm, concat) or module:attr."""
    decoder_hidden: int = 256
    """Hidden width of the point decoder (ONet: 256)."""
    decoder_blocks: int = 5
    """Residual blocks in the point decoder (ONet: 5)."""
    layout: Literal["parallel", "joint"] = "parallel"
    """parallel: one decoder per point task; joint: one decoder, channels sliced per task."""
    classifier_hidden: int = 256
    """Deprecated: [task_kwargs.classification] classifier_hidden. Hidden width of the 2-layer MLP classifier."""


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-4
    """Adam learning rate (the paper's 1e-4)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """constant | cosine (decay to 5% of lr over max_steps)."""
    batch_size: int = 64
    """Shapes per step."""
    max_steps: int = 300000
    """Training steps."""
    eval_every: int = 1000
    """Validate (and select the best model) every K steps; 0 = only at the end."""
    checkpoint_every: int = 500
    """Save a resumable checkpoint every K steps (atomically)."""
    early_stop: int = 0
    """Stop after this many validations without improvement; 0 = off."""
    select: Literal["mean", "iou"] = "mean"
    """Model selection score: mean -> the mean of the run's tasks' main scores; iou -> the reconstruction IoU
    (the mean IoU of the run's tasks that score meshes) where the run reconstructs, else the mean (ONet: IoU)."""
    seed: int = 0
    """Seed of python, numpy, torch and the data order."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """auto | cpu | cuda | mps."""
    amp: Literal["auto", True, False] = "auto"
    """bfloat16 autocast: auto -> on CUDA and on CPUs with native bf16 (AMX or AVX512-BF16), float32 elsewhere;
    true / false force it (bench run --amp / --no-amp). The choice is printed and recorded in result.json."""
    compile: bool = False
    """torch.compile the decoders (first call is slow; pays off on long runs)."""
    threads: int = 0
    """torch intra-op threads on CPU; 0 = torch's default."""


@dataclass(frozen=True)
class EvalConfig:
    split: Literal["test", "val", "train"] = "test"
    """Split the final metrics are computed on."""
    iou_threshold: float = 0.5
    """Occupancy probability threshold for IoU and meshing (Occupancy Networks' published point-cloud and
    image configs use 0.2: the paper profile sets it)."""
    n_iou_points: int = 100000
    """Uniform points per shape for IoU and part mIoU (ONet's points_iou: 100k)."""
    max_shapes: int = 0
    """Evaluate at most this many shapes of the split (a category-stratified sample); 0 = all."""
    val_shapes: int = 64
    """Validation shapes used for model selection (a category-stratified sample, fixed seed); 0 = all."""
    val_points: int = 8192
    """Uniform points per validation shape (IoU and mIoU on the same points, as in the test)."""
    eval_mesh: bool = True
    """Extract meshes (MISE) for Chamfer-L1, normal consistency and F-score."""
    mesh_shapes: int = 8
    """Test shapes meshed (meshing is the slow part): a category-stratified sample, fixed seed, with the same
    count per category (at least one each); 0 = all (the paper profile)."""
    mise_resolution: int = 32
    """MISE start resolution (ONet: 32)."""
    mise_upsampling: int = 2
    """MISE upsampling steps (2: 32^3 -> 128^3)."""
    n_surface_samples: int = 100000
    """Deprecated: [task_kwargs.reconstruction] n_surface_samples. Points sampled on each mesh for Chamfer-L1."""
    fscore_tau: float = 0.01
    """Deprecated: [task_kwargs.reconstruction] fscore_tau. F-score threshold, as a fraction of the box side."""
    miou_absent: Literal["gt", "both"] = "gt"
    """Deprecated: [task_kwargs.segmentation] miou_absent. A part with no ground-truth points: gt -> scores 1
    (the paper); both -> 1 only if also not predicted (PointNet's rule; a predicted absent part scores 0)."""
    seg_points: Literal["uniform", "all"] = "uniform"
    """Deprecated: [task_kwargs.segmentation] seg_points. Points part mIoU is scored on: uniform -> the IoU points
    inside the true shape (the paper's 'same sample points'); all -> every stored query point inside (uniform +
    near-surface)."""
    seg_argmax: Literal["category", "all"] = "category"
    """Deprecated: [task_kwargs.segmentation] seg_argmax. Predicted part: category -> argmax over the parts of the
    shape's true category (ShapeNetPart's protocol; it reads the test label); all -> argmax over every part (the
    paper profile: the paper does not say it restricts)."""
    n_bootstrap: int = 1000
    """Bootstrap resamples for the 95 % confidence intervals over shapes."""


@dataclass(frozen=True)
class OutputConfig:
    results_dir: str = "results"
    """Where runs write result.json and checkpoints."""
    log: Literal["csv", "tensorboard"] = "csv"
    """Training log: csv -> train_log.csv in the run folder (always written); tensorboard -> also TensorBoard
    events in <run folder>/tensorboard (`pip install 'implicit-bench[log]'`)."""
    log_every: int = 10
    """Steps between two rows of the training log."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a suite."""

    name: str
    tasks: tuple[str, ...]
    protocol: ProtocolName = "single"
    encoder_from: str = ""
    """Where a frozen run's encoder comes from (protocol frozen): an earlier run of the suite (its name), a run
    folder of another suite or results folder (a path: it holds result.json and model.pt; the encoder family,
    latent_dim and encoder_kwargs are read from it), or "plugin" (the encoder plugin loads its own weights and
    declares provides_weights = True)."""
    encoder_weights: str = ""
    """A weights file for the run's own encoder (protocol frozen, instead of encoder_from): a plain
    torch.save(encoder.state_dict()) file, a bench model.pt, or a checkpoint with weights_prefix."""
    weights_prefix: str = ""
    """With encoder_weights: the key prefix of the encoder's weights in the file, stripped (e.g. "encoder.";
    "model.encoder." walks into the nested dict "model" first)."""
    lambdas: dict[str, float] = field(default_factory=dict)
    description: str = ""
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    runs: tuple[RunSpec, ...]
    description: str = ""
    profile: str = ""
    dataset_note: str = ""


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "output": OutputConfig,
}
PLUGIN_KWARGS = ("encoder_kwargs", "decoder_kwargs", "task_kwargs")
MOVED_TO_TASK_KWARGS: dict[tuple[str, str], str] = {
    ("eval", "seg_points"): "segmentation", ("eval", "seg_argmax"): "segmentation",
    ("eval", "miou_absent"): "segmentation", ("eval", "fscore_tau"): "reconstruction",
    ("eval", "n_surface_samples"): "reconstruction", ("model", "classifier_hidden"): "classification",
}
"""Built-in tasks' settings that moved from [eval] / [model] to [task_kwargs.TASK] (same key). An old key is still
read, with a DeprecationWarning (``warn_moved_keys``), as a name of the new one: a layer of the configuration
(bench.toml, a profile, a run, the command line) that sets it sets [task_kwargs.TASK] too, unless that layer sets
[task_kwargs.TASK] itself, which wins; either way the old field holds the value in effect too. Records and the
config hash keep these settings at the old key (``BenchConfig.section_dicts``), so that a config moving them to
the new one keeps its hash."""
TOP_LEVEL = (*SECTIONS, *PLUGIN_KWARGS, "profiles", "suites")


@dataclass(frozen=True)
class BenchConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    output: OutputConfig = OutputConfig()
    encoder_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Keyword arguments per encoder name; a plugin gets only its own."""
    decoder_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Keyword arguments per point-decoder name (beyond latent_dim, out_channels, hidden, blocks)."""
    task_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Keyword arguments per task name (beyond info and eval_cfg); a task gets only its own."""
    profiles: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    suites: dict[str, SuiteSpec] = field(default_factory=dict)
    source: str = "<defaults>"

    def section_dicts(self) -> dict[str, dict[str, Any]]:
        """The sections as dicts; a setting of MOVED_TO_TASK_KWARGS shows at its old key, with the value in effect."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    def own_task_kwargs(self, tasks: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
        """The non-empty [task_kwargs.NAME] tables of ``tasks``, less the settings that section_dicts shows."""
        moved = {(task, key) for (_, key), task in MOVED_TO_TASK_KWARGS.items()}
        own = {t: {k: v for k, v in self.task_kwargs.get(t, {}).items() if (t, k) not in moved} for t in tasks}
        return {t: kw for t, kw in own.items() if kw}

    def with_overrides(self, overrides: dict[str, dict[str, Any]], where: str) -> BenchConfig:
        """A copy with ``{section: {key: value}}`` applied and type-checked."""
        changes = {}
        for section, values in overrides.items():
            if section in PLUGIN_KWARGS:
                merged = {k: dict(v) for k, v in changes.get(section, getattr(self, section)).items()}
                for name, kw in _expect_table(values, section, where).items():
                    merged.setdefault(name, {}).update(_expect_table(kw, f"{section}.{name}", where))
                changes[section] = _check_moved_settings(merged, where) if section == "task_kwargs" else merged
                continue
            if section not in SECTIONS:
                raise ConfigError(
                    f"{where}: unknown section '{section}'.{did_you_mean(section, SECTIONS)} "
                    f"Sections: {', '.join(SECTIONS)}."
                )
            current = changes.get(section, getattr(self, section))
            changes[section] = _apply(current, _expect_table(values, section, where), section, where)
        return replace(self, **self._moved_in_step(overrides, changes))

    def _moved_in_step(self, overrides: dict[str, dict[str, Any]], changes: dict[str, Any]) -> dict[str, Any]:
        """``changes`` with each setting of MOVED_TO_TASK_KWARGS that ``overrides`` sets, by either name, at both
        places: its [task_kwargs.TASK] value if given, else its old key's. So the old field (what a task of
        contract 1 may read, and what records and hashes show) always holds the value in effect."""
        new_tables = overrides.get("task_kwargs", {})
        for (section, key), task in MOVED_TO_TASK_KWARGS.items():
            if key in new_tables.get(task, {}):
                value = changes["task_kwargs"][task][key]
            elif key in overrides.get(section, {}):
                value = getattr(changes[section], key)
            else:
                continue
            changes[section] = replace(changes.get(section, getattr(self, section)), **{key: value})
            tables = {k: dict(v) for k, v in changes.get("task_kwargs", self.task_kwargs).items()}
            tables.setdefault(task, {})[key] = value
            changes["task_kwargs"] = tables
        return changes


def _check_moved_settings(task_kwargs: dict[str, dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """The settings of MOVED_TO_TASK_KWARGS in [task_kwargs.TASK], type-checked (and coerced) as at their old key."""
    for (section, key), task in MOVED_TO_TASK_KWARGS.items():
        if key in task_kwargs.get(task, {}):
            checked = _apply(SECTIONS[section](), {key: task_kwargs[task][key]}, f"task_kwargs.{task}", where)
            task_kwargs[task][key] = getattr(checked, key)
    return task_kwargs


def warn_moved_keys(overrides: dict[str, Any], where: str) -> None:
    """A DeprecationWarning for each key of MOVED_TO_TASK_KWARGS set in ``{section: {key: value}}``."""
    for (section, key), task in MOVED_TO_TASK_KWARGS.items():
        values = overrides.get(section)
        if isinstance(values, dict) and key in values:
            warnings.warn(f"{where}: {section}.{key} is deprecated: it is a setting of the {task} task now; set it as "
                          f"{key} in [task_kwargs.{task}] (--set task_kwargs.{task}.{key}=...). [task_kwargs.{task}] "
                          f"wins when both are set.", DeprecationWarning, stacklevel=3)


def _expect_table(value: Any, path: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{path}' must be a table, got {type(value).__name__}.")
    return value


def _type_ok(value: Any, tp: Any) -> tuple[bool, Any]:
    """(ok, coerced value) for the simple annotation types used in the config dataclasses."""
    origin = typing.get_origin(tp)
    if origin is Literal:  # by type too: 1 is not true, and "true" is not true
        return any(type(value) is type(c) and value == c for c in typing.get_args(tp)), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if origin is tuple:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        return ok, tuple(value) if ok else value
    if origin is dict or tp is dict:
        return isinstance(value, dict), value
    return True, value


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if origin is tuple:
        return "list of strings"
    if origin is dict:
        return "table"
    return getattr(tp, "__name__", str(tp))


def _apply(obj: Any, values: dict[str, Any], path: str, where: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in fields(obj)]
    changes = {}
    for key, value in values.items():
        if key not in names:
            suggestion = did_you_mean(key, names)
            suggestion = suggestion.replace("'", f"'{path}.", 1) if suggestion else ""
            raise ConfigError(f"{where}: {path}.{key}: unknown key.{suggestion}")
        ok, coerced = _type_ok(value, hints[key])
        if not ok and typing.get_origin(hints[key]) is Literal:
            choices = [str(c) for c in typing.get_args(hints[key])]
            raise ConfigError(f"{where}: {path}.{key}: {value!r} is not one of {', '.join(choices)}."
                              f"{did_you_mean(str(value), choices)}")
        if not ok:
            raise ConfigError(
                f"{where}: {path}.{key}: expected {_type_name(hints[key])}, got "
                f"{type(value).__name__} ({value!r})."
            )
        changes[key] = coerced
    return replace(obj, **changes)


PLUGIN_SOURCE = "plugin"
"""``encoder_from = "plugin"``: the encoder plugin loads its own trained weights (a reserved word, never a run)."""


def frozen_source_kind(encoder_from: str, earlier_runs: Collection[str]) -> Literal["run", "folder", "plugin"]:
    """What a frozen run's ``encoder_from`` names: "plugin", an earlier run of its suite (a name wins over a
    folder of the same name), else a run folder when it is a path (it has a ``/``) or an existing folder; a
    bare word that is neither is taken for a misspelt run name ("run")."""
    if encoder_from == PLUGIN_SOURCE:
        return "plugin"
    if encoder_from in earlier_runs:
        return "run"
    if "/" in encoder_from or "\\" in encoder_from or Path(encoder_from).expanduser().is_dir():
        return "folder"
    return "run"


def _check_frozen_source(spec: RunSpec, path: str, where: str) -> None:
    """A frozen run names exactly one source of its encoder; other runs name none."""
    if spec.protocol != "frozen":
        given = [k for k in ("encoder_from", "encoder_weights", "weights_prefix") if getattr(spec, k)]
        if given:
            raise ConfigError(f"{where}: {path}: {' and '.join(given)} {'is' if len(given) == 1 else 'are'} only "
                              f"meaningful with protocol = \"frozen\".")
        return
    if spec.encoder_from and spec.encoder_weights:
        raise ConfigError(f"{where}: {path}: a frozen run takes its encoder from one place: give encoder_from or "
                          f"encoder_weights, not both.")
    if not spec.encoder_from and not spec.encoder_weights:
        raise ConfigError(f"{where}: {path}: protocol 'frozen' needs encoder_from = \"<run name>\" (an earlier run "
                          f"of the suite), encoder_from = \"<path to a run folder>\", encoder_from = \"plugin\" (the "
                          f"encoder plugin's own weights), or encoder_weights = \"<weights file>\".")
    if spec.weights_prefix and not spec.encoder_weights:
        raise ConfigError(f"{where}: {path}: weights_prefix selects keys of an encoder_weights file; it does not go "
                          f"with encoder_from. Give encoder_weights = \"<weights file>\", or drop weights_prefix.")


def _parse_run(raw: Any, path: str, where: str) -> RunSpec:
    table = dict(_expect_table(raw, path, where))
    overrides = {k: table.pop(k) for k in list(table) if k in SECTIONS or k in PLUGIN_KWARGS}
    if "name" not in table or "tasks" not in table:
        raise ConfigError(f"{where}: {path}: a run needs 'name' and 'tasks'.")
    if isinstance(table.get("tasks"), str):
        table["tasks"] = [table["tasks"]]
    spec = _apply(RunSpec(name="?", tasks=()), table, path, where)
    spec = replace(spec, overrides=overrides)
    if not is_safe_name(spec.name):  # the run's folder is <suite>/<name>-<hash>
        raise ConfigError(f"{where}: {path}.name: {spec.name!r} is not a valid run name ({NAME_RULE}).")
    _check_frozen_source(spec, path, where)
    if not spec.tasks:
        raise ConfigError(f"{where}: {path}.tasks: at least one task is needed.")
    for task, weight in spec.lambdas.items():
        if task not in spec.tasks:
            raise ConfigError(f"{where}: {path}.lambdas.{task}: not one of the run's tasks "
                              f"({', '.join(spec.tasks)}).{did_you_mean(task, spec.tasks)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ConfigError(f"{where}: {path}.lambdas.{task}: expected a number, got {weight!r}.")
    return spec


def _parse_suites(raw: Any, where: str) -> dict[str, SuiteSpec]:
    suites = {}
    for name, table in _expect_table(raw, "suites", where).items():
        if not is_safe_name(name):  # a suite name is a folder of results/: '../x' must not leave it
            raise ConfigError(f"{where}: suites.{name!r}: not a valid suite name ({NAME_RULE}).")
        table = dict(_expect_table(table, f"suites.{name}", where))
        runs_raw = table.pop("runs", None)
        if not isinstance(runs_raw, list) or not runs_raw:
            raise ConfigError(f"{where}: suites.{name}.runs: a suite needs a non-empty list of runs.")
        runs = tuple(_parse_run(r, f"suites.{name}.runs[{i}]", where) for i, r in enumerate(runs_raw))
        seen = set()
        for run in runs:
            if run.name in seen:
                raise ConfigError(f"{where}: suites.{name}: run name '{run.name}' appears twice.")
            if run.encoder_from == PLUGIN_SOURCE and PLUGIN_SOURCE in seen:
                raise ConfigError(f"{where}: suites.{name}: run '{run.name}': encoder_from = \"plugin\" means the "
                                  f"encoder plugin's own weights, never the run named 'plugin'; rename that run.")
            if run.encoder_from and frozen_source_kind(run.encoder_from, seen) == "run" and run.encoder_from not in seen:
                raise ConfigError(
                    f"{where}: suites.{name}: run '{run.name}' takes its encoder from "
                    f"'{run.encoder_from}', which must be an earlier run of the same suite."
                    f"{did_you_mean(run.encoder_from, seen)} (A run folder is given as a path, e.g. "
                    f"\"results/other/{run.encoder_from}-<hash>\"; a weights file as encoder_weights.)"
                )
            seen.add(run.name)
        suite = _apply(SuiteSpec(name=name, runs=runs), table, f"suites.{name}", where)
        suites[name] = suite
    return suites


def parse_config(raw: dict[str, Any], where: str) -> BenchConfig:
    """Validate a TOML document (as a dict) into a BenchConfig."""
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(f"{where}: {key}: unknown section.{did_you_mean(key, TOP_LEVEL)}")
    sections = {k: v for k, v in raw.items() if k in SECTIONS or k in PLUGIN_KWARGS}
    cfg = BenchConfig(source=where).with_overrides(sections, where)
    warn_moved_keys(sections, where)
    profiles = _expect_table(raw.get("profiles", {}), "profiles", where)
    for pname, overrides in profiles.items():
        BenchConfig().with_overrides(_expect_table(overrides, f"profiles.{pname}", where), where)
        warn_moved_keys(overrides, f"{where} (profiles.{pname})")
    suites = _parse_suites(raw.get("suites", {}), where)
    for suite in suites.values():
        if suite.profile and suite.profile not in profiles:
            raise ConfigError(
                f"{where}: suites.{suite.name}.profile: no profile '{suite.profile}'."
                f"{did_you_mean(suite.profile, profiles)}"
            )
        for run in suite.runs:  # fail now, not half-way through a suite
            cfg.with_overrides(run.overrides, f"{where} (suites.{suite.name}, run '{run.name}')")
            warn_moved_keys(run.overrides, f"{where} (suites.{suite.name}, run '{run.name}')")
    return replace(cfg, profiles=profiles, suites=suites)


def default_config_path() -> Path | None:
    """bench.toml in the working directory, else the one shipped at the repository root."""
    for candidate in (Path.cwd() / "bench.toml", Path(__file__).resolve().parent.parent / "bench.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None = None) -> BenchConfig:
    """Read bench.toml (``path`` or the default one); no file -> built-in defaults, no suites."""
    if path is None:
        path = default_config_path()
        if path is None:
            return BenchConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist. Pass --config PATH to an existing bench.toml.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition; latin-1 files are a common slip
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line}); a TOML file "
                          f"must be UTF-8. Re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8).") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}). Check its permissions, or pass --config PATH.") from exc
    return parse_config(raw, str(path))


def parse_set_options(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["train.lr=1e-3", "encoder_kwargs.dgcnn.k=10"]`` -> nested overrides; values parsed as TOML."""
    out: dict[str, dict[str, Any]] = {}
    given: dict[tuple[str, ...], str] = {}  # key path -> the option that set it (the same path twice: last wins)
    for item in items or []:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) < 2:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set train.lr=1e-3")
        for other_path, other in given.items():  # a.b=1 with a.b.c=2: a.b cannot be a value and a table
            short, long = sorted((tuple(parts), other_path), key=len)
            if short != long and long[:len(short)] == short:
                raise ConfigError(f"--set {other!r} and --set {item!r} clash: '{'.'.join(short)}' cannot be both a "
                                  f"value and a table holding '{'.'.join(long)}'. Keep one of the two options.")
        given[tuple(parts)] = item
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()  # bare words are strings: --set model.encoder=dgcnn
        node = out.setdefault(parts[0], {})
        for part in parts[1:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    warn_moved_keys(out, "--set")
    return out
