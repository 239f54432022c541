"""Rebuild a finished run's model from its result.json and model.pt (for export and re-evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.config import BenchConfig
from bench.errors import ResultError
from bench.results import RESULT_FILE, RunResult, read_result
from bench.training.build import BuiltRun
from bench.training.checkpoint import MODEL, load_checkpoint


@dataclass
class RestoredRun:
    result: RunResult
    built: BuiltRun


def config_of(result: RunResult) -> BenchConfig:
    sections = dict(result.config.get("all_sections", {}))
    model = sections.get("model", {})
    overrides = {**sections, "encoder_kwargs": {model.get("encoder", ""): result.config.get("encoder_kwargs", {})}}
    if result.config.get("decoder_kwargs"):
        overrides["decoder_kwargs"] = {model.get("decoder", ""): result.config["decoder_kwargs"]}
    return BenchConfig().with_overrides(overrides, f"{result.run_name} result.json")


def restore_run(run_dir: Path, progress: bool = False) -> RestoredRun:
    from bench.training.build import build_run

    run_dir = Path(run_dir)
    result = read_result(run_dir / RESULT_FILE)
    if result.status != "complete" or not (run_dir / MODEL).is_file():
        raise ResultError(f"{run_dir}: the run did not finish (status {result.status}); nothing to restore.")
    built = build_run(config_of(result), result.tasks, progress=progress)
    if built.info.revision != result.dataset.get("revision"):
        raise ResultError(f"{run_dir}: trained on dataset revision {result.dataset.get('revision')}, but "
                          f"{built.info.name} is now at {built.info.revision}.")
    built.model.load_state_dict(load_checkpoint(run_dir / MODEL)["model"])
    built.model.eval()
    return RestoredRun(result, built)
