"""`bench probe`: a frozen encoder through a named, versioned battery of probes on cached latents."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from bench.cli._common import ConfigOption, SetOption, TrustOption, cli_errors, console, err_console
from bench.errors import BenchError, ConfigError, ResultError, did_you_mean

app = typer.Typer()


class ProbeFormat(str, Enum):
    table = "table"
    json = "json"


class Role(str, Enum):
    joint = "joint"
    random = "random"
    reference = "reference"


def _config(config: Path | None, profile: str | None, sets: list[str] | None):
    """The configuration probes run with: bench.toml < the profile (default: the default suite's, so that
    results compare with the shipped references) < --set. Returns (cfg, profile name)."""
    from bench.config import load_config, parse_set_options

    cfg = load_config(config)
    if profile is None:
        profile = cfg.suites["default"].profile if "default" in cfg.suites else ""
    if profile:
        if profile not in cfg.profiles:
            raise ConfigError(f"--profile {profile}: no such profile in {cfg.source}."
                              f"{did_you_mean(profile, cfg.profiles)} Profiles: {', '.join(cfg.profiles) or 'none'}.")
        cfg = cfg.with_overrides(cfg.profiles[profile], f"{cfg.source} (profile {profile})")
    return cfg.with_overrides(parse_set_options(sets), "command line"), profile


def _from_run(run_dir: Path, encoder: str | None, key_prefix: str, trust_plugins: bool, cfg):
    """(encoder name, weights, cfg with the run's latent_dim and encoder kwargs) of a finished run folder."""
    from dataclasses import replace

    from bench.probe.weights import read_weights
    from bench.results import RESULT_FILE, read_result

    if not (run_dir / RESULT_FILE).is_file():
        raise ResultError(f"--from-run {run_dir}: no {RESULT_FILE} there; give the folder of a finished bench run "
                          "(results/<suite>/<run>-<hash>/).")
    result = read_result(run_dir / RESULT_FILE)
    if not (run_dir / "model.pt").is_file():
        raise ResultError(f"--from-run {run_dir}: the run has no model.pt (status {result.status}); only a finished "
                          "run's folder holds the weights to probe.")
    model = result.config.get("all_sections", {}).get("model", {})
    name = model.get("encoder") or result.encoder.name
    if not isinstance(name, str) or not name:
        raise ResultError(f"--from-run {run_dir}: its result.json does not name its encoder.")
    if ":" in name and not trust_plugins:
        raise ResultError(f"--from-run {run_dir}: its result.json names the encoder as code to import ({name!r}); "
                          "bench imports such code only for results you trust: pass --trust-plugins.")
    if encoder is not None and encoder != name:
        raise ConfigError(f"ENCODER {encoder!r} and --from-run {run_dir} disagree: that run trained the encoder "
                          f"{name!r}; leave ENCODER out (it is read from the run).")
    latent_dim = model.get("latent_dim", cfg.model.latent_dim)
    kwargs = result.config.get("encoder_kwargs", {})
    cfg = replace(cfg, model=replace(cfg.model, encoder=name, latent_dim=int(latent_dim)),
                  encoder_kwargs={**cfg.encoder_kwargs, name: dict(kwargs) if isinstance(kwargs, dict) else {}})
    return name, read_weights(run_dir / "model.pt", key_prefix), cfg


@app.command("probe")
@cli_errors
def probe_cmd(
    encoder: str = typer.Argument(None, help="Encoder to probe (a registered name or module:attr)."),
    weights: Path = typer.Option(None, "--weights", "-w", help="Its weights: a torch.save(state_dict) file, a checkpoint (with --key-prefix), or a run's model.pt."),
    key_prefix: str = typer.Option("", "--key-prefix", help="The encoder's keys in a checkpoint start with this (e.g. encoder. or model.encoder.)."),
    from_run: Path = typer.Option(None, "--from-run", help="A finished run folder: the encoder, its settings and weights (model.pt) from it."),
    random_weights: bool = typer.Option(False, "--random", help="Random weights (torch.manual_seed(0)): the '0' of the normalised scores."),
    battery: str = typer.Option("probe-v1", "--battery", "-b", help="Probe battery (probe-v1; probe-v1-tiny for smoke checks)."),
    profile: str = typer.Option(None, "--profile", help="Config profile (default: the default suite's, as the shipped references)."),
    sets: list[str] = SetOption,
    name: str = typer.Option(None, "--name", help="Name of the result (default <encoder>-<sha256[:8]> or <encoder>-random)."),
    results_dir: Path = typer.Option(None, "--results-dir", "-r", help="Where results go (default: output.results_dir, results/)."),
    references: Path = typer.Option(None, "--references", help="Folder of reference probe results (default: results/reference of the bench checkout)."),
    role: Role = typer.Option(None, "--role", help="Record this result as a reference: joint (the '1'), random "
                              "(the '0') or reference (compared with, not an anchor)."),
    no_random: bool = typer.Option(False, "--no-random", help="Do not probe random weights of the same architecture (the '0' is then looked for among the references)."),
    rerun: bool = typer.Option(False, "--rerun", help="Run the battery again even when a finished identical result exists (cached latents are still read)."),
    fmt: ProbeFormat = typer.Option(ProbeFormat.table, "--format", "-f", help="table | json."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or log lines."),
    trust_plugins: bool = TrustOption,
    config: Path = ConfigOption,
) -> None:
    """Probe a frozen encoder with a versioned battery (reconstruction, segmentation, MLP, linear, k-NN,
    few-shot, retrieval) on cached latents; print its profile, its generality score between random weights
    and a jointly trained reference, and paired verdicts against every reference found."""
    from bench.probe.battery import get_battery

    get_battery(battery)  # an unknown battery fails before anything is built
    if weights is not None and from_run is not None:
        raise BenchError("--weights and --from-run both give weights; give one of them.")
    if random_weights and (weights is not None or from_run is not None):
        raise BenchError("--random probes random weights; it does not go with --weights or --from-run.")
    if encoder is None and from_run is None:
        raise BenchError("no encoder given: bench probe ENCODER --weights FILE (or --random), or bench probe "
                         "--from-run RUN_DIR. `bench encoders` lists the registered ones.")
    if from_run is None and weights is None and not random_weights:
        raise BenchError(f"which weights of {encoder}? Give --weights FILE (a torch.save(state_dict) file), "
                         "--from-run RUN_DIR, or --random for random weights.")
    cfg, profile_name = _config(config, profile, sets)
    if from_run is not None:
        encoder, loaded, cfg = _from_run(from_run, encoder, key_prefix, trust_plugins, cfg)
    elif weights is not None:
        from bench.probe.weights import read_weights

        loaded = read_weights(weights, key_prefix)
    else:
        loaded = None
    from bench.probe.profile import generality_line, profile_table, report_json, verdict_table
    from bench.probe.run import probe_and_assess

    # Log lines and progress on stderr: stdout is the profile (or the JSON).
    log = (lambda m: None) if quiet else (lambda m: err_console.print(m, highlight=False))
    report = probe_and_assess(cfg, encoder, loaded, battery=battery, name=name, results_dir=results_dir,
                              references_dir=references, role=role.value if role else "", with_random=not no_random,
                              rerun=rerun, log=log, progress=not quiet and fmt == ProbeFormat.table,
                              profile=profile_name)
    if fmt == ProbeFormat.json:
        from bench._io import to_json_safe

        print(json.dumps(to_json_safe(report_json(report)), indent=2))
        return
    console.print(profile_table(report))
    console.print(generality_line(report), highlight=False)
    table = verdict_table(report)
    if table is not None:
        console.print(table)
    console.print(f"run folder: {report.result.run_dir}", highlight=False)
