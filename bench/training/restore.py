"""Rebuild a finished run's model from its result.json and model.pt (for export and re-evaluation).

A result folder is data, possibly from someone else: restoring never imports code that the file names
(a ``module:attr`` encoder, decoder, task or dataset needs ``trust_plugins``, the user's explicit opt-in;
registered names load the plugins installed here) and never reads or writes where the file points
(the dataset's location comes from the user's configuration, not from the file).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench.config import BenchConfig, DataConfig
from bench.errors import BenchError, ResultError
from bench.evaluation.predictor import Predictor
from bench.results import RESULT_FILE, RunResult, read_result
from bench.training.build import BuiltRun
from bench.training.checkpoint import MODEL, load_checkpoint, load_model_state

# Keys of the data section that are places on disk: taken from the user's configuration, never the file.
DATA_LOCATIONS = ("path", "mesh_path", "data_dir")


@dataclass
class RestoredRun:
    result: RunResult
    built: BuiltRun

    def predictor(self, device: str = "cpu") -> Predictor:
        """Inference with the restored model, moved to ``device``, in float32 (what export and renders use)."""
        return Predictor(self.built.model.to(device), device, False, self.built.cfg.model.encoder)


def plugins_named(result: RunResult) -> list[tuple[str, str]]:
    """(kind, name) of every plugin the run was built from, as its result.json says."""
    sections = result.config.get("all_sections", {})
    model, data = sections.get("model", {}), sections.get("data", {})
    named = [("encoder", model.get("encoder", "")), ("decoder", model.get("decoder", "")),
             ("dataset", data.get("name", ""))] + [("task", t) for t in result.tasks]
    return [(kind, name if isinstance(name, str) else repr(name)) for kind, name in named if name]


def check_no_code_named(result: RunResult, trust_plugins: bool) -> None:
    """A ``module:attr`` from a result file is code to import: refused unless the user opted in."""
    if trust_plugins:
        return
    for kind, name in plugins_named(result):
        if ":" in name:
            raise ResultError(
                f"{result.suite}/{result.run_name}: its result.json names the {kind} as code to import ({name!r}); "
                f"bench restores runs only from plugins installed and registered here, by name. Register the "
                f"plugin (an entry point, docs/plugins.md), or pass --trust-plugins if you trust this results folder.")


def config_of(result: RunResult, data_locations: DataConfig | None = None) -> BenchConfig:
    """The run's configuration from its result.json (its sections and the encoder's, decoder's and tasks' own
    keyword arguments), with the dataset's places on disk from ``data_locations`` (the user's configuration;
    default: the built-in defaults, i.e. the user's cache)."""
    sections = {k: dict(v) for k, v in result.config.get("all_sections", {}).items()
                if k in ("data", "model", "train", "eval") and isinstance(v, dict)}
    here = data_locations or DataConfig()
    sections.setdefault("data", {}).update({k: getattr(here, k) for k in DATA_LOCATIONS})
    model = sections.get("model", {})
    overrides = {**sections, "encoder_kwargs": {model.get("encoder", ""): result.config.get("encoder_kwargs", {})}}
    if result.config.get("decoder_kwargs"):
        overrides["decoder_kwargs"] = {model.get("decoder", ""): result.config["decoder_kwargs"]}
    if result.config.get("task_kwargs"):  # {task: its own settings}: a third-party task keeps them
        overrides["task_kwargs"] = result.config["task_kwargs"]
    return BenchConfig().with_overrides(overrides, f"{result.run_dir or result.run_name}/result.json")


def data_locations_for(user_cfg: BenchConfig, result: RunResult) -> DataConfig:
    """Where the user's bench.toml keeps the dataset of this run: the same suite and run when it has them
    (e.g. table4's ModelNet40 path), else its [data] section."""
    from bench.training.plan import resolve_suite

    if result.suite in user_cfg.suites:
        try:
            for run in resolve_suite(user_cfg, result.suite):
                if run.name == result.run_name:
                    return run.cfg.data
        except BenchError:
            pass  # the user's suite no longer resolves (e.g. a plugin is gone): fall back to [data]
    return user_cfg.data


def restore_run(run_dir: Path, progress: bool = False, trust_plugins: bool = False,
                user_cfg: BenchConfig | None = None, data_path: str | Path | None = None) -> RestoredRun:
    """The model of the finished run in ``run_dir``, on CPU, in eval mode. ``user_cfg``: the user's
    configuration, which says where datasets live (default: built-in defaults); ``data_path``: the dataset's
    folder, over what the configuration says."""
    from bench.training.build import build_run

    run_dir = Path(run_dir)
    result = read_result(run_dir / RESULT_FILE)
    if result.status != "complete" or not (run_dir / MODEL).is_file():
        raise ResultError(f"{run_dir}: the run did not finish (status {result.status}); nothing to restore.")
    check_no_code_named(result, trust_plugins)
    locations = data_locations_for(user_cfg, result) if user_cfg is not None else DataConfig()
    if data_path is not None:
        locations = replace(locations, path=str(data_path))
    built = build_run(config_of(result, locations), result.tasks, progress=progress)
    if built.info.revision != result.dataset.get("revision"):
        raise ResultError(f"{run_dir}: trained on dataset revision {result.dataset.get('revision')}, but "
                          f"{built.info.name} is now at {built.info.revision}.")
    load_model_state(built.model, load_checkpoint(run_dir / MODEL)["model"])  # compiled or plain: same keys
    built.model.eval()
    return RestoredRun(result, built)

