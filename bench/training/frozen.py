"""Where a frozen run's encoder comes from when it is not an earlier run of its suite: a run folder of another
suite or results folder, a weights file, or the encoder plugin itself (docs/design.md, "Protocols").

A source is resolved when the suite is planned: the weights' content hash is part of the run's config hash,
and weights that do not fit the encoder fail then, before any run starts. The run loads them when it is
built, and checks that they are still the weights that were planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch

from bench.config import BenchConfig, RunSpec, frozen_source_kind
from bench.errors import BenchError, ConfigError, PluginContractError
from bench.probe.weights import (EncoderWeights, file_sha256, fit_problems, load_into, plugin_weights,
                                 read_weights)
from bench.results import RESULT_FILE, read_result

MODEL_FILE = "model.pt"  # bench.training.checkpoint.MODEL, named here so that planning needs no checkpoint code


@dataclass(frozen=True)
class FrozenSource:
    """A frozen run's encoder weights from outside its suite, as planned (no tensors held)."""

    kind: Literal["file", "folder", "plugin"]
    source: str
    """``file:<path>`` | ``run:<run folder>`` | ``plugin:<encoder name>`` (EncoderWeights.source)."""
    sha256: str
    """EncoderWeights.sha256: of the file's bytes (file, folder: its model.pt), of the state dict (plugin)."""
    prefix: str = ""
    path: str = ""
    """The file the weights are read from: the weights file, or the run folder's model.pt; '' for a plugin."""
    origin: dict[str, Any] = field(default_factory=dict)
    """For a run folder: the suite, run name and config hash of the run that trained the encoder."""

    def identity(self) -> dict[str, str]:
        """What enters the config hash: the content and the keys taken, not where the file lies."""
        return {"sha256": self.sha256, "prefix": self.prefix}

    def record(self) -> dict[str, Any]:
        """result.json's ``encoder_from``."""
        return {"source": self.source, "sha256": self.sha256, "prefix": self.prefix, **self.origin}


def uses_outside_source(spec: RunSpec, earlier_runs: set[str] | dict[str, Any]) -> bool:
    """Whether a run's frozen encoder comes from outside its suite (not an earlier run of it)."""
    if spec.protocol != "frozen":
        return False
    return bool(spec.encoder_weights) or frozen_source_kind(spec.encoder_from, earlier_runs) != "run"


def _encoder_label(cfg: BenchConfig, where: str) -> str:
    return f"{where}: encoder {cfg.model.encoder}"


def _check_fits(cfg: BenchConfig, weights: EncoderWeights, where: str) -> None:
    """Fail now (at plan time) when ``weights`` do not load into the run's encoder."""
    from bench.models import create_encoder

    m = cfg.model
    encoder = create_encoder(m.encoder, m.latent_dim, cfg.encoder_kwargs.get(m.encoder, {}))
    problem = fit_problems(encoder, weights, _encoder_label(cfg, where))
    if problem is not None:
        raise ConfigError(problem)


def _folder_encoder(folder: Path, cfg: BenchConfig, spec: RunSpec, where: str) -> tuple[BenchConfig, dict[str, Any]]:
    """``cfg`` with the encoder family, latent_dim and encoder_kwargs of the finished run in ``folder`` (as a
    probe of an earlier run of the suite takes them), and that run's identity."""
    what = f"{where}: encoder_from = {spec.encoder_from!r}"
    if not folder.is_dir():
        raise ConfigError(f"{what}: {folder} is not a folder. Give the folder of a finished run (it holds "
                          f"{RESULT_FILE} and {MODEL_FILE}), or a weights file as encoder_weights.")
    try:
        result = read_result(folder / RESULT_FILE)
    except BenchError as exc:
        raise ConfigError(f"{what}: {exc} A run folder holds the {RESULT_FILE} and {MODEL_FILE} of a finished "
                          f"run (results/<suite>/<run>-<hash>).") from exc
    if result.status != "complete" or not (folder / MODEL_FILE).is_file():
        raise ConfigError(f"{what}: the run in {folder} did not finish (status {result.status}"
                          f"{'' if (folder / MODEL_FILE).is_file() else f', no {MODEL_FILE}'}); finish it first.")
    config = result.config
    sections = config.get("all_sections") if isinstance(config.get("all_sections"), dict) else config
    model = sections.get("model", {}) if isinstance(sections.get("model"), dict) else {}
    encoder, latent_dim = model.get("encoder"), model.get("latent_dim")
    kwargs = config.get("encoder_kwargs", {})
    if (not isinstance(encoder, str) or not encoder or isinstance(latent_dim, bool) or not isinstance(latent_dim, int)
            or not isinstance(kwargs, dict)):
        raise ConfigError(f"{what}: {folder / RESULT_FILE} does not say which encoder it trained (model.encoder, "
                          f"model.latent_dim, encoder_kwargs).")
    if ":" in encoder and encoder != cfg.model.encoder:  # a result file is data: it never picks code to import
        raise ConfigError(f"{what}: its {RESULT_FILE} names the encoder as code to import ({encoder!r}); bench "
                          f"imports only code your configuration names. Add model = {{ encoder = \"{encoder}\" }} to "
                          f"this run if you trust it.")
    cfg = replace(cfg, model=replace(cfg.model, encoder=encoder, latent_dim=latent_dim),
                  encoder_kwargs={**cfg.encoder_kwargs, encoder: kwargs})
    return cfg, {"suite": result.suite, "run": result.run_name, "config_hash": result.config_hash}


def resolve_source(spec: RunSpec, cfg: BenchConfig, where: str) -> tuple[BenchConfig, FrozenSource]:
    """The run's config (with a run folder's encoder settings) and its planned weights; ``where`` names the
    run in errors. A weights file or folder is read and checked against the encoder; a plugin is built once."""
    if spec.encoder_weights:
        path = Path(spec.encoder_weights).expanduser().resolve()
        weights = read_weights(path, spec.weights_prefix)
        _check_fits(cfg, weights, where)
        return cfg, FrozenSource("file", weights.source, weights.sha256, weights.prefix, str(path))
    if frozen_source_kind(spec.encoder_from, ()) == "plugin":
        return cfg, _plugin_source(cfg, where)
    folder = Path(spec.encoder_from).expanduser().resolve()
    cfg, origin = _folder_encoder(folder, cfg, spec, where)
    weights = replace(read_weights(folder / MODEL_FILE), source=f"run:{folder}")
    _check_fits(cfg, weights, where)
    return cfg, FrozenSource("folder", weights.source, weights.sha256, "", str(folder / MODEL_FILE), origin)


def _plugin_source(cfg: BenchConfig, where: str) -> FrozenSource:
    """The weights the run's encoder plugin loads itself; it must declare ``provides_weights = True``."""
    from bench.models import create_encoder
    from bench.registry import ENCODERS

    name = cfg.model.encoder
    factory = ENCODERS.load(name)
    if not getattr(factory, "provides_weights", False):
        raise ConfigError(
            f"{where}: encoder_from = \"plugin\": {ENCODERS.entry(name).label('encoder')} does not declare that it "
            f"loads its own trained weights. Its author declares it with the class attribute provides_weights = True "
            f"on what is registered (docs/plugins.md, \"Frozen weights from anywhere\"); otherwise give a weights "
            f"file as encoder_weights = \"<path>\".")
    encoder = create_encoder(name, cfg.model.latent_dim, cfg.encoder_kwargs.get(name, {}))
    weights = plugin_weights(encoder, name)
    return FrozenSource("plugin", weights.source, weights.sha256)


def _changed(label: str, source: FrozenSource, now: str) -> ConfigError:
    return ConfigError(f"{label}: {source.path} changed since the suite was planned (sha256 {source.sha256[:12]}... "
                       f"then, {now[:12]}... now); run the suite again to plan it with the new file.")


def load_source(encoder: torch.nn.Module, source: FrozenSource, label: str) -> None:
    """Load the planned weights into ``encoder`` (a plugin's are already in it), after checking that they are
    the weights that were planned: the config hash names them."""
    if source.kind == "plugin":
        weights = plugin_weights(encoder, source.source.removeprefix("plugin:"))
        if weights.sha256 != source.sha256:
            raise PluginContractError(
                f"{label}: the plugin declares provides_weights, but built other weights than when the suite was "
                f"planned (sha256 {source.sha256[:12]}... then, {weights.sha256[:12]}... now): a plugin that "
                f"provides its weights must load the same ones each time it is built, not initialise them at random.")
        return
    try:  # first, so that a changed file says so rather than what no longer fits in it
        now = file_sha256(source.path)
    except OSError:
        now = None  # gone or unreadable: read_weights says which
    if now is not None and now != source.sha256:
        raise _changed(label, source, now)
    weights = read_weights(source.path, source.prefix)
    if weights.sha256 != source.sha256:  # replaced between the two reads
        raise _changed(label, source, weights.sha256)
    load_into(encoder, replace(weights, source=source.source), label)
