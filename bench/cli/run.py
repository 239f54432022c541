"""`bench run`: train and evaluate a suite of runs, then print its leaderboard."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from bench.cli._common import ConfigOption, SetOption, cli_errors, console, load
from bench.cli._output import render
from bench.reports.claims import check_claims, family_summary
from bench.shards import parse_shard

app = typer.Typer()


@app.command("run")
@cli_errors
def run_cmd(
    suite: str = typer.Option("default", "--suite", "-s", help="Suite of bench.toml to run."),
    encoder: str = typer.Option(None, "--encoder", "-e", help="Evaluate this encoder (name or module:attr) in place of the suite's."),
    dataset: str = typer.Option(None, "--dataset", help="Dataset name (bench datasets)."),
    preset: str = typer.Option(None, "--preset", help="Synthetic preset: tiny | small | large."),
    device: str = typer.Option(None, "--device", help="auto | cpu | cuda | mps."),
    max_steps: int = typer.Option(None, "--max-steps", help="Cap training steps (the run is flagged step-limited)."),
    seed: int = typer.Option(None, "--seed", help="Seed of python, numpy, torch and the data order."),
    seeds: int = typer.Option(1, "--seeds", help="Repeat the suite with this many seeds (seed, seed+1, ...); the leaderboard shows mean ± std."),
    results_dir: Path = typer.Option(None, "--results-dir", "-r", help="Where results go (default: results/)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Cache of generated datasets."),
    amp: bool = typer.Option(None, "--amp/--no-amp", help="Force bfloat16 autocast on or off (default: train.amp = auto: on for CUDA and CPUs with AMX or AVX512-BF16)."),
    profile: str = typer.Option(None, "--profile", help="Config profile to apply (e.g. paper, cpu)."),
    eval_mesh: bool = typer.Option(None, "--eval-mesh/--no-eval-mesh", help="Mesh test shapes for Chamfer-L1 etc."),
    mesh_shapes: int = typer.Option(None, "--mesh-shapes", help="How many test shapes to mesh."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved runs and what would be reused, then exit."),
    rerun: bool = typer.Option(False, "--rerun", help="Retrain even when a finished result exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    runs_only: str = typer.Option(None, "--runs", help="Only these runs of the suite (comma-separated), with the runs whose encoders they probe."),
    shard: str = typer.Option(None, "--shard", help="i/n: this job's share of the suite (a probe stays with the run it probes); n jobs together run it all."),
    log: str = typer.Option(None, "--log", help="Training log: csv (train_log.csv in each run folder, always) or tensorboard (also TensorBoard events; needs implicit-bench[log])."),
    config: Path = ConfigOption,
    sets: list[str] = SetOption,
) -> None:
    """Train task heads on frozen or jointly trained encoders and print the suite's leaderboard.

    Several processes: torchrun --nproc_per_node N -m bench.cli run ... (DDP; gloo on CPU, NCCL on CUDA).
    """
    from bench.training.plan import find_cached, resolve_suite, select_runs  # torch

    cfg, overrides = load(config, sets)
    named = {
        "model": {"encoder": encoder},
        "data": {"name": dataset, "preset": preset, "data_dir": str(data_dir) if data_dir else None},
        "train": {"device": device, "max_steps": max_steps, "seed": seed, "amp": amp},
        "output": {"results_dir": str(results_dir) if results_dir else None, "log": log},
        "eval": {"eval_mesh": eval_mesh, "mesh_shapes": mesh_shapes},
    }
    _add_options(overrides, named)
    runs = resolve_suite(cfg, suite, overrides, step_limited=max_steps is not None, profile=profile, seeds=seeds)
    runs = select_runs(runs, [n.strip() for n in runs_only.split(",")] if runs_only else None, parse_shard(shard))
    if not runs:
        console.print(f"shard {shard} of suite {suite}: no runs fall to this shard (the suite has fewer groups of runs)")
        return
    from bench.training.distributed import from_env  # torch

    ctx = from_env(runs[0].cfg.train.device) if not dry_run else None
    if ctx is None or ctx.main:
        _print_plan(runs, find_cached)
    if dry_run:
        return
    from bench.training.runner import run_suite  # torch

    results = run_suite(runs, rerun=rerun, progress=not quiet, log=lambda m: console.print(m, highlight=False), ctx=ctx)
    if not ctx.main:
        return
    _print_results(results, suite, Path(runs[0].cfg.output.results_dir))


def _add_options(overrides: dict, named: dict[str, dict]) -> None:
    """The options given on the command line (not None) as config overrides, over any --set."""
    for section, values in named.items():
        for key, value in values.items():
            if value is not None:
                overrides.setdefault(section, {})[key] = value


def _print_results(results, suite: str, results_dir: Path) -> None:
    """The suite's leaderboard and the paper's claims on it; exit code 1 if a run failed."""
    render(results, title=f"suite {suite}")
    verdicts = check_claims(results, suite, results_dir)
    for line in [v.line() for v in verdicts] + family_summary(verdicts):
        console.print(line, highlight=False, soft_wrap=True)  # one line each, whole: the terminal wraps it
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _print_plan(runs, find_cached) -> None:
    table = Table(title=f"suite {runs[0].suite}: {len(runs)} runs")
    for col in ("run", "protocol", "tasks", "encoder", "dataset", "steps", "seed", "precision", "config", "status"):
        table.add_column(col)
    for r in runs:
        cached = find_cached(Path(r.cfg.output.results_dir), r.name, r.config_hash)
        status = "reuse" if cached and (cached / "result.json").is_file() else \
            ("resume" if (r.run_dir / "last.pt").is_file() else "train")
        enc = r.cfg.model.encoder + (f" (from {r.encoder_source}, frozen)" if r.spec.protocol == "frozen" else "")
        data = r.cfg.data.name + (f"/{r.cfg.data.preset}" if r.cfg.data.name == "synthetic" else "")
        table.add_row(r.name, r.spec.protocol, "+".join(r.spec.tasks), enc, data, str(r.cfg.train.max_steps),
                      str(r.cfg.train.seed), r.precision, r.config_hash, status)
    console.print(table)
