"""Result files: a typed RunResult with a schema version, written atomically, validated when read.

The parts of a result that readers look into (the encoder, the dataset, the training and each task's
metric info) are typed records, read once when a result is made (from a file or by the writer); the file's
JSON layout is exactly the one the records were read from, so third-party scripts that read result.json
see no difference."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from bench import __version__
from bench._io import atomic_write_json
from bench.errors import ResultError
from bench.names import RULE, is_safe_name

SCHEMA_VERSION = 2  # 2: intervals (95 % bootstrap CIs), category means of every metric, scores.csv beside
RESULT_FILE = "result.json"
SCORES_FILE = "scores.csv"  # one row per evaluated shape: shape, category, <task>.<metric>...
STATUSES = ("complete", "failed")
CLASS_MEAN = "_class_mean"  # suffix of a metric's category mean in result.json (``iou`` -> ``iou_class_mean``)
MEANS = ("category", "instance")

R = TypeVar("R", bound="Record")


@dataclass(eq=False)
class Record(Mapping):
    """A typed part of a result.json. Its known keys are fields (absent keys read as the field's default);
    keys that a newer bench or a third-party writer added are kept in ``extra``; ``recorded`` names the
    keys the record holds, in the file's order, so that ``to_dict()`` gives back exactly what was read
    (a failed run's encoder holds only its name). Built from fields, a record holds every field.

    Reading by key (``info["main"]``, ``info.get("main")``) still answers, for code written against the
    dict records of earlier versions; new code reads the fields."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)
    recorded: tuple[str, ...] | None = field(default=None, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        if self.recorded is None:
            self.recorded = (*self.known_keys(), *(k for k in self.extra if k not in self.known_keys()))

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name not in ("extra", "recorded"))

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record of a JSON object (already type-checked, see _check_types); unknown keys go to ``extra``."""
        known = cls.known_keys()
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known}, recorded=tuple(data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this record: the recorded keys, in their order."""
        return {k: copy.deepcopy(self[k]) for k in self.recorded}

    def __eq__(self, other: object) -> bool:
        """Records are equal when they write the same JSON object (a dict compares as that object)."""
        if isinstance(other, Record):
            return type(self) is type(other) and self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dicts they replace

    def __getitem__(self, key: str) -> Any:
        if key not in self.recorded:
            raise KeyError(key)
        return getattr(self, key) if key in self.known_keys() else self.extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.recorded)

    def __len__(self) -> int:
        return len(self.recorded)


@dataclass(eq=False)
class EncoderInfo(Record):
    """The encoder a run trained: registered name, its ``module:attr`` value, package, parameter count."""

    name: str | None = None
    value: str | None = None
    package: str | None = None
    params: int | None = None
    modality: str | None = None
    trainable: bool | None = None

    @classmethod
    def named(cls, name: str) -> EncoderInfo:
        """What a run that failed before building its encoder records: the name only."""
        return cls(name=name, recorded=("name",))


@dataclass(eq=False)
class DatasetInfo(Record):
    """The dataset a run trained on: name, revision, split sizes and the shapes it skipped."""

    name: str | None = None
    revision: str | None = None
    train: int | None = None
    val: int | None = None
    test: int | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {shape, reason}

    @classmethod
    def named(cls, name: str) -> DatasetInfo:
        """What a run that failed before opening its dataset records: the name only."""
        return cls(name=name, recorded=("name",))


@dataclass(eq=False)
class TrainingInfo(Record):
    """How a run trained: its first loss, validation history, world size and precision (bf16 | fp32)."""

    first_loss: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    world_size: int | None = None
    precision: str | None = None

    @classmethod
    def none(cls) -> TrainingInfo:
        """A run that did not train (it failed first): an empty record."""
        return cls(recorded=())


@dataclass(eq=False)
class MetricInfo(Record):
    """A task's metric info as its result records it: the task's own ``metric_info()`` (main score,
    directions with the category means added, labels...) and the conventions its metrics followed."""

    main: str | None = None
    directions: dict[str, str] = field(default_factory=dict)  # metric -> "higher" | "lower"
    labels: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    scores_mesh: bool = False
    labels_points: bool = False
    conventions: dict[str, Any] = field(default_factory=dict)

    def direction(self, metric: str, default: str | None = None) -> str | None:
        return self.directions.get(metric, default)


def metric_directions(info: Mapping[str, Any]) -> dict[str, str]:
    """A task's metric_info directions with its category means added (same direction)."""
    directions = dict(info.get("directions", {}))
    directions.update({m + CLASS_MEAN: d for m, d in list(directions.items()) if not m.endswith(CLASS_MEAN)})
    return directions


def _record(cls: type[R], value: R | Mapping[str, Any]) -> R:
    """``value`` as a record of ``cls``: a dict (a hand-made result's) is read as a file's object is."""
    return value if isinstance(value, cls) else cls.from_dict(value)


@dataclass
class RunResult:
    """Everything a run produced; the leaderboard reads these and nothing else. ``encoder``, ``dataset``,
    ``training`` and the values of ``metric_info`` are records; given as dicts (a hand-made result), they
    are read as a file's objects are."""

    suite: str
    run_name: str
    config_hash: str
    config: dict[str, Any]
    status: str  # complete | failed (a step-limited run is complete and flagged by step_limited)
    protocol: str
    tasks: list[str]
    encoder: EncoderInfo
    dataset: DatasetInfo
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    per_category: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    intervals: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    """task -> metric -> [low, high]: 95 % percentile-bootstrap interval over the evaluated shapes."""
    metric_info: dict[str, MetricInfo] = field(default_factory=dict)
    encoder_from: dict[str, Any] | None = None
    seed: int = 0
    steps: int = 0
    step_limited: bool = False
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    training: TrainingInfo = field(default_factory=TrainingInfo.none)
    device: str = "cpu"
    packages: dict[str, str] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    bench_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    created: str = ""
    analysis: dict[str, Any] = field(default_factory=dict)
    """What was worked out from this result together with others after it finished (`bench probe`: the
    generality score and the verdicts against reference results); written only when not empty, so results
    without it keep their layout."""
    run_dir: Path | None = field(default=None, compare=False, repr=False)
    """Where this result was read from (or written to): never stored in the file, never taken from it."""

    RECORDS: ClassVar[dict[str, type[Record]]] = {"encoder": EncoderInfo, "dataset": DatasetInfo,
                                                 "training": TrainingInfo}

    def __post_init__(self) -> None:
        for name, cls in self.RECORDS.items():
            setattr(self, name, _record(cls, getattr(self, name)))
        self.metric_info = {task: _record(MetricInfo, info) for task, info in self.metric_info.items()}

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of result.json (the records as the objects they were read from)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "run_dir" or (f.name == "analysis" and not value):
                continue
            if isinstance(value, Record):
                value = value.to_dict()
            elif f.name == "metric_info":
                value = {task: info.to_dict() for task, info in value.items()}
            out[f.name] = copy.deepcopy(value)
        return out

    @property
    def precision(self) -> str:
        """bf16 | fp32 as the run trained; "unknown" for results that predate the record."""
        value = self.training.precision
        return value if isinstance(value, str) and value else "unknown"

    def task_info(self, task: str) -> MetricInfo:
        """The metric info of ``task`` (an empty record when the result has none)."""
        return self.metric_info.get(task) or MetricInfo(recorded=())

    def summary(self, task: str, metric: str, mean: str = "category") -> float | None:
        """The summary number of ``task``'s ``metric``: with ``mean="category"`` its category mean (the
        unweighted mean of per-category means, as the paper averages), else, for results that predate
        category means, its instance mean; with ``mean="instance"`` the instance mean. None without one."""
        if mean not in MEANS:
            raise ValueError(f"mean must be one of {', '.join(MEANS)}, not {mean!r}")
        values = self.metrics.get(task) or {}
        if mean == "category" and values.get(metric + CLASS_MEAN) is not None:
            return values[metric + CLASS_MEAN]
        return values.get(metric)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "<dict>") -> RunResult:
        if not isinstance(data, dict):
            raise ResultError(f"{where}: a result must be a JSON object.")
        data = _upgrade(data, where)
        names = {f.name for f in fields(cls)} - {"run_dir"}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ResultError(f"{where}: missing keys {', '.join(missing)}.")
        if data["status"] not in STATUSES:
            raise ResultError(f"{where}: status {data['status']!r} is not one of {', '.join(STATUSES)}.")
        _check_types(data, where)
        return cls(**{k: v for k, v in data.items() if k in names})  # the records are read in __post_init__

    @property
    def ranked(self) -> bool:
        return self.status == "complete" and not self.step_limited


def _upgrade(data: dict[str, Any], where: str) -> dict[str, Any]:
    """A result file of an earlier schema as the current schema reads it (the one place upgrades happen)."""
    version = data.get("schema_version")
    if version == 1:  # 1 -> 2 added fields only (intervals); everything of a version-1 file still holds
        data = {**data, "schema_version": SCHEMA_VERSION}
        version = SCHEMA_VERSION
    if version != SCHEMA_VERSION:
        raise ResultError(
            f"{where}: schema_version {version!r} is not supported by bench {__version__} "
            f"(expects {SCHEMA_VERSION})."
        )
    return data


# A result file is data from anywhere (a colleague's folder, a download): every value that later becomes a
# path, a table cell or a loop bound is checked here, once, so that readers can trust the types.
CONFIG_HASH = re.compile(r"[0-9a-f]{1,64}")
_NUMBER = (int, float)


def check_name(value: Any, what: str, where: str) -> str:
    """``value`` if it is a safe suite or run name, else a ResultError naming the field."""
    if not is_safe_name(value):
        raise ResultError(f"{where}: {what} {value!r} is not a valid name ({RULE}).")
    return value


def _is_num(v: Any) -> bool:
    return v is None or (isinstance(v, _NUMBER) and not isinstance(v, bool))


def _expect(value: Any, tp: type | tuple[type, ...], path: str, where: str, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, tp) or (tp in (int, _NUMBER) and isinstance(value, bool)):
        names = "/".join(t.__name__ for t in (tp if isinstance(tp, tuple) else (tp,)))
        raise ResultError(f"{where}: '{path}' must be {'null or ' if optional else ''}{names}, "
                          f"got {type(value).__name__} ({str(value)[:40]!r}).")


def _nested_numbers(value: Any, depth: int, path: str, where: str) -> None:
    """``depth`` levels of objects whose leaves are numbers or null (metrics: 2, per_category: 3)."""
    _expect(value, dict, path, where)
    for key, inner in value.items():
        if depth > 1:
            _nested_numbers(inner, depth - 1, f"{path}.{key}", where)
        elif not _is_num(inner):
            raise ResultError(f"{where}: '{path}.{key}' must be a number or null, got {inner!r}.")


def _check_types(data: dict[str, Any], where: str) -> None:
    check_name(data["suite"], "suite", where)
    check_name(data["run_name"], "run_name", where)
    if not isinstance(data["config_hash"], str) or not CONFIG_HASH.fullmatch(data["config_hash"]):
        raise ResultError(f"{where}: config_hash {data['config_hash']!r} is not a hexadecimal hash.")
    for key in ("config", "encoder", "dataset"):
        _expect(data[key], dict, key, where)
    for key in ("metric_info", "timings", "training", "packages", "git", "intervals", "analysis"):
        _expect(data.get(key, {}), dict, key, where)
    _expect(data["protocol"], str, "protocol", where)
    _expect(data["tasks"], list, "tasks", where)
    if not all(isinstance(t, str) for t in data["tasks"]):
        raise ResultError(f"{where}: 'tasks' must be a list of task names.")
    _nested_numbers(data["metrics"], 2, "metrics", where)
    _nested_numbers(data.get("per_category", {}), 3, "per_category", where)
    for task, values in data.get("intervals", {}).items():
        _expect(values, dict, f"intervals.{task}", where)
        for metric, pair in values.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(_is_num(v) for v in pair)):
                raise ResultError(f"{where}: 'intervals.{task}.{metric}' must be [low, high], got {pair!r}.")
    for task, info in data.get("metric_info", {}).items():
        _check_metric_info(info, f"metric_info.{task}", where)
    for key in ("seed", "steps", "schema_version"):
        _expect(data.get(key, 0), int, key, where)
    _expect(data.get("step_limited", False), bool, "step_limited", where)
    for key in ("device", "bench_version", "created"):
        _expect(data.get(key, ""), str, key, where)
    _expect(data.get("error"), str, "error", where, optional=True)
    _expect(data.get("encoder_from"), dict, "encoder_from", where, optional=True)
    _expect(data["encoder"].get("name", ""), str, "encoder.name", where)
    _expect(data["dataset"].get("name", ""), str, "dataset.name", where)
    skipped = data["dataset"].get("skipped", [])
    _expect(skipped, list, "dataset.skipped", where)
    if not all(isinstance(s, dict) for s in skipped):
        raise ResultError(f"{where}: 'dataset.skipped' must be a list of {{shape, reason}} objects.")
    _expect(data["config"].get("profile", ""), str, "config.profile", where)
    _expect(data["config"].get("all_sections", {}), dict, "config.all_sections", where)
    _expect(data.get("training", {}).get("precision", ""), str, "training.precision", where)


def _check_metric_info(info: Any, path: str, where: str) -> None:
    """A task's metric info: an object whose keys that readers look into have their types."""
    _expect(info, dict, path, where)
    _expect(info.get("main"), str, f"{path}.main", where, optional=True)
    for key in ("directions", "labels", "conventions"):
        _expect(info.get(key, {}), dict, f"{path}.{key}", where)


def run_dir_for(results_dir: Path | str, suite: str, run_name: str, config_hash: str) -> Path:
    """The folder of a run: results/<suite>/<run-name>-<config-hash>/ (docs/design.md)."""
    return Path(results_dir) / suite / f"{run_name}-{config_hash}"


def locate_run_dir(result: RunResult, results_dir: Path | str | None = None) -> Path:
    """The folder of a finished run: the one its result.json was read from (or written to); else its place
    under ``results_dir`` (default results/). Never a folder named inside the file: a results folder someone
    sent you must not send bench reading elsewhere (a suite that wrote its runs to results/modelnet40 is
    found there when the user scans results/, because the result then carries the folder it was read from)."""
    if result.run_dir is not None:
        return Path(result.run_dir)
    where = f"result of {result.suite!r}/{result.run_name!r}"
    check_name(result.suite, "suite", where)
    check_name(result.run_name, "run_name", where)
    return run_dir_for(results_dir or "results", result.suite, result.run_name, result.config_hash)


def write_result(result: RunResult, run_dir: Path) -> Path:
    path = Path(run_dir) / RESULT_FILE
    atomic_write_json(path, result.to_dict())
    result.run_dir = Path(run_dir)
    return path


def read_result(path: Path) -> RunResult:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResultError(f"{path}: no such result file.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultError(f"{path}: not valid JSON ({exc}).") from exc
    result = RunResult.from_dict(data, str(path))
    result.run_dir = path.parent
    return result


def reference_results_dir() -> Path:
    """``<bench checkout>/results/reference``: the reference results shipped with bench (`bench probe`'s battery on
    the default suite's encoders), read by `bench probe` and `bench leaderboard --with-reference`."""
    return Path(__file__).resolve().parent.parent / "results" / "reference"


def scan_results(root: Path) -> list[RunResult]:
    """Every valid result.json under ``root``; invalid ones are skipped with a warning naming them.

    Only complete files exist on disk (atomic writes), so a folder being written is safe to scan.
    """
    out = []
    root = Path(root)
    if not root.exists():
        return out
    for path in sorted(root.rglob(RESULT_FILE)):
        try:
            out.append(read_result(path))
        except ResultError as exc:
            warnings.warn(f"skipping {exc}", stacklevel=2)
    return out


def git_info(cwd: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the checkout bench runs from; empty values outside git."""
    cwd = cwd or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd, capture_output=True, text=True, timeout=5,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty if commit else None}


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "numpy", "trimesh", "pykdtree", "scikit-image", "pandas"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
