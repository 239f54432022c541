"""Running a probe battery on one frozen encoder, and setting the result beside reference results.

``probe_encoder`` builds the encoder (random weights under ``torch.manual_seed(0)``, or the given ones),
encodes every split once per input draw (bench/probe/latents.py, cached), runs each probe of the battery
on the cached latents (bench/probe/decoders.py, bench/probe/latent_probes.py) and writes, under
``<results_dir>/probe/<name>-<hash>/``: ``probes/<probe>.json`` (+ its units) as each probe finishes, so that
an interrupted battery resumes at the next probe, then ``scores.csv`` (one row per test shape) and
``result.json`` (a ``RunResult`` of suite "probe", protocol "probe"). ``hash`` is that of the result's
identity (battery and its settings, encoder, weights, dataset revision, data and head settings): a finished
identical result is reused.

``assess`` sets a result beside references of the same battery and dataset revision: the random-weights
result of the same architecture (0) and a jointly trained one (1) give each probe's normalised score and
the generality score (bench/probe/generality.py); every reference gives a paired difference per probe with
its verdict. Both go into the result's ``analysis``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import __version__
from bench._io import stable_hash
from bench.config import BenchConfig
from bench.errors import ConfigError, DataError
from bench.names import RULE, is_safe_name
from bench.probe.battery import CLASSIFICATION_GROUP, DECODER_PROBES, MAIN_METRIC, BatterySpec, get_battery
from bench.probe.outcome import ProbeOutcome, read_outcome, read_units, write_outcome
from bench.probe.weights import EncoderWeights, load_into, state_dict_sha256
from bench.results import (RESULT_FILE, DatasetInfo, EncoderInfo, MetricInfo, RunResult, TrainingInfo, git_info,
                           package_versions, read_result, reference_results_dir, scan_results, write_result)

SUITE = "probe"
PROTOCOL = "probe"
ROLES = ("joint", "random", "reference")
"""What a reference result is for: joint -> the '1' of the normalised scores, random -> the '0', reference -> only
compared with (verdicts), e.g. the default suite's reconstruction-only encoder."""
RANDOM_SEED = 0  # random weights: the encoder as built under torch.manual_seed(0)
RANDOM_SOURCE = f"random:torch.manual_seed({RANDOM_SEED})"
ANALYSIS_SEED = 0
VERDICTS = {"better": "higher", "worse": "lower", "no significant difference": "no significant difference"}
"""A verdict on this result's main score against a reference's (every main score is higher-is-better)."""


# --- the encoder and the result's identity -------------------------------------------------------------------

def build_encoder(encoder_name: str, latent_dim: int, kwargs: dict[str, Any], weights: EncoderWeights | None):
    """(encoder, its weights): ``weights`` loaded strictly, or, when None, random weights as the encoder is
    built under ``torch.manual_seed(0)`` (the "random weights" reference), hashed by ``state_dict_sha256``."""
    import torch

    from bench.models import create_encoder
    from bench.registry import ENCODERS

    if weights is None:
        state = torch.random.get_rng_state()
        torch.manual_seed(RANDOM_SEED)
        try:
            encoder = create_encoder(encoder_name, latent_dim, kwargs)
        finally:
            torch.random.set_rng_state(state)
        own = OrderedDict((k, v.detach().cpu().clone()) for k, v in encoder.state_dict().items())
        return encoder, EncoderWeights(own, state_dict_sha256(own), RANDOM_SOURCE, "")
    encoder = create_encoder(encoder_name, latent_dim, kwargs)
    load_into(encoder, weights, ENCODERS.entry(encoder_name).label("encoder"))
    return encoder, weights


def data_settings(cfg: BenchConfig) -> dict[str, Any]:
    """What of the configuration the probes' numbers depend on, besides the battery: inputs, query points,
    the point decoder and the tasks' evaluation settings."""
    d, m, e = cfg.data, cfg.model, cfg.eval
    return {
        "data": {"n_input_points": d.n_input_points, "input_noise": d.input_noise, "n_query_points": d.n_query_points,
                 "near_surface_share": d.near_surface_share, "views": d.views, "image_size": d.image_size},
        "model": {"decoder": m.decoder, "decoder_hidden": m.decoder_hidden, "decoder_blocks": m.decoder_blocks,
                  "decoder_kwargs": cfg.decoder_kwargs.get(m.decoder, {})},
        "eval": {k: getattr(e, k) for k in ("iou_threshold", "n_iou_points", "max_shapes", "eval_mesh", "mesh_shapes",
                                           "mise_resolution", "mise_upsampling")},
        "task_kwargs": {t: cfg.task_kwargs.get(t, {}) for t in DECODER_PROBES.values() if cfg.task_kwargs.get(t)},
    }


def identity(spec: BatterySpec, encoder_name: str, latent_dim: int, kwargs: dict[str, Any], sha256: str,
             dataset: tuple[str, str], cfg: BenchConfig) -> dict[str, Any]:
    """What makes two probe results the same (hashed into the result folder's name)."""
    return {"battery": {"name": spec.name, "settings": spec.settings()},
            "encoder": {"name": encoder_name, "latent_dim": latent_dim, "kwargs": kwargs},
            "weights": sha256, "dataset": {"name": dataset[0], "revision": dataset[1]},
            "precision": "fp32", **data_settings(cfg)}


def default_name(encoder_name: str, weights: EncoderWeights) -> str:
    """``<encoder>-<sha256[:8]>``, or ``<encoder>-random`` (``module:attr`` encoders by their attribute)."""
    base = encoder_name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return f"{base}-{'random' if weights.source == RANDOM_SOURCE else weights.sha256[:8]}"


# --- running the battery -------------------------------------------------------------------------------------

@dataclass
class _Splits:
    train: Any
    val: Any
    test: Any

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("train", self.train), ("val", self.val), ("test", self.test)) if v is not None}


def _load_splits(info, cfg: BenchConfig, modality: str, spec: BatterySpec) -> _Splits:
    from bench.data.dataset import ShapeStore

    if not info.splits.get("train") or not info.splits.get("test"):
        sizes = ", ".join(f"{k} ({len(v)})" for k, v in info.splits.items()) or "no splits"
        raise DataError(f"{info.root}: the probes train on the train split and score the test split; dataset "
                        f"{info.name} has {sizes}.")
    options = dict(with_parts=info.has_parts and "segmentation" in spec.probes, with_voxels=modality == "voxels",
                   on_bad_shape=cfg.data.on_bad_shape, n_views=cfg.data.views if modality == "image" else -1)
    val = ShapeStore.load(info, "val", **options) if info.splits.get("val") else None
    return _Splits(ShapeStore.load(info, "train", **options), val,
                   ShapeStore.load(info, "test", max_shapes=cfg.eval.max_shapes, stratified=True, **options))


def _run_probe(probe: str, spec: BatterySpec, cfg: BenchConfig, info, splits: _Splits, latents, device,
               encoder_name: str, modality: str, progress: bool) -> ProbeOutcome:
    from bench.probe import latent_probes as L
    from bench.probe.decoders import decoder_probe

    train, test = latents.of("train"), latents.of("test")
    if probe in DECODER_PROBES:
        return decoder_probe(probe, spec.probes.index(probe), cfg, spec, info, splits.train, splits.test, train, test,
                             device, encoder_name, modality, progress)
    if spec.standardise:
        train, test = L.standardised(train, test)
    if probe == "linear":
        return L.linear_probe(train, test, splits.train, splits.test, spec)
    if probe == "knn":
        return L.knn_probe(train, test, splits.train, splits.test, spec)
    if probe == "fewshot":
        return L.fewshot_probe(train, test, splits.train, splits.test, spec)
    if probe == "retrieval":
        return L.retrieval_probe(test, splits.test, spec)
    raise ConfigError(f"battery {spec.name}: unknown probe '{probe}'")


def _main_line(outcome: ProbeOutcome) -> str:
    if not outcome.complete:
        return f"skipped ({outcome.reason})"
    main = MAIN_METRIC[outcome.probe]
    value = outcome.metrics.get(main)
    return f"{main} {'n/a' if value is None else f'{value:.4f}'} ({outcome.seconds:.1f} s)"


def probe_encoder(cfg: BenchConfig, encoder_name: str, weights: EncoderWeights | None, battery: str = "probe-v1",
                  name: str | None = None, results_dir: Path | str | None = None, role: str = "",
                  log: Callable[[str], None] = print, progress: bool = True, *, profile: str = "",
                  rerun: bool = False) -> RunResult:
    """Run ``battery`` on the frozen encoder ``encoder_name`` (built with ``cfg.model.latent_dim`` and its
    ``[encoder_kwargs]``) with ``weights`` (None: random weights under ``torch.manual_seed(0)``), on
    ``cfg``'s dataset; the result (written to ``<results_dir>/probe/<name>-<hash>/``) is returned. A finished
    identical result is reused unless ``rerun``; ``role`` ("", "joint", "random", "reference") labels it as a
    reference."""
    import torch

    from bench.data.dataset import open_dataset
    from bench.models import MultiTaskModel, count_parameters
    from bench.probe.latents import cache_key, cached_latents
    from bench.registry import ENCODERS
    from bench.training.trainer import select_device

    if role and role not in ROLES:
        raise ConfigError(f"role {role!r}: expected one of {', '.join(ROLES)} (or none).")
    t_start = time.time()
    spec = get_battery(battery)
    # recorded as the model the result probed (all_sections), whatever encoder the profile names
    cfg = replace(cfg, model=replace(cfg.model, encoder=encoder_name))
    results_dir = Path(results_dir if results_dir is not None else cfg.output.results_dir)
    latent_dim = cfg.model.latent_dim
    kwargs = dict(cfg.encoder_kwargs.get(encoder_name, {}))
    entry = ENCODERS.entry(encoder_name)
    encoder, weights = build_encoder(encoder_name, latent_dim, kwargs, weights)
    modality = encoder.modality
    info = open_dataset(cfg.data, progress=progress, with_views=modality == "image")
    ident = identity(spec, encoder_name, latent_dim, kwargs, weights.sha256, (info.name, str(info.revision)), cfg)
    ident_hash = stable_hash(ident)
    name = name or default_name(encoder_name, weights)
    if not is_safe_name(name):
        raise ConfigError(f"--name {name!r}: not a valid result name ({RULE}).")
    run_dir = results_dir / SUITE / f"{name}-{ident_hash}"
    if (run_dir / RESULT_FILE).is_file() and not rerun:
        result = read_result(run_dir / RESULT_FILE)
        if result.status == "complete":
            log(f"[probe {name}] reusing {run_dir} (--rerun to run the battery again)")
            return _with_role(result, role)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = select_device(cfg.train.device)
    splits = _load_splits(info, cfg, modality, spec)
    key = cache_key(weights.sha256, encoder_name, latent_dim, kwargs, cfg, (info.name, str(info.revision)), modality,
                    spec)
    holder = MultiTaskModel(encoder, {}, cfg, frozen_encoder=True).to(device)
    latents = cached_latents(holder, encoder_name, splits.as_dict(), cfg, spec, key, results_dir, device, progress, log)
    log(f"[probe {name}] latents {'read from' if latents.reused else 'cached in'} {latents.path}"
        + ("" if latents.reused else f" ({latents.seconds:.1f} s)"))
    outcomes: dict[str, ProbeOutcome] = {}
    for probe in spec.probes:
        done = None if rerun else read_outcome(run_dir, probe, ident_hash)
        if done is not None:
            log(f"[probe {name}] {probe}: done before, {_main_line(done)}")
        else:
            done = _run_probe(probe, spec, cfg, info, splits, latents, device, encoder_name, modality, progress)
            write_outcome(run_dir, done, ident_hash)
            log(f"[probe {name}] {probe}: {_main_line(done)}")
        outcomes[probe] = done
    result = _make_result(spec, cfg, entry, encoder, count_parameters(encoder), weights, info, splits, latents, key,
                          ident_hash, name, role, profile, outcomes, str(device), time.time() - t_start)
    _write_scores(outcomes, splits.test, run_dir)
    write_result(result, run_dir)
    return result


def _with_role(result: RunResult, role: str) -> RunResult:
    """A reused result labelled with ``role`` when it is asked for (written back): the role names what a
    result stands for among references, not what it computed."""
    if role and result.config.get("role") != role:
        result.config["role"] = role
        write_result(result, result.run_dir)
    return result


def _write_scores(outcomes: dict[str, ProbeOutcome], test_store, run_dir: Path) -> None:
    from bench.evaluation.scores import write_scores

    by_shape = {sid: {"shape": sid, "category": test_store.info.categories[int(test_store.category[i])].id}
                for i, sid in enumerate(test_store.ids)}
    for probe, outcome in outcomes.items():
        for row in outcome.rows:
            if row["shape"] in by_shape:
                by_shape[row["shape"]][probe] = {k: v for k, v in row.items() if k not in ("shape", "category")}
    write_scores(list(by_shape.values()), run_dir)


def _make_result(spec, cfg, entry, encoder, params, weights, info, splits, latents, key, ident_hash, name, role,
                 profile, outcomes, device, total_s) -> RunResult:
    """result.json of a finished battery: one task per probe that ran (skipped ones under
    ``config.skipped_probes``)."""
    done = {p: o for p, o in outcomes.items() if o.complete}
    timings = {"latents_s": round(latents.seconds, 2), **{f"{p}_s": round(o.seconds, 2) for p, o in outcomes.items()},
               "train_s": round(sum((o.training or {}).get("seconds", 0.0) for o in outcomes.values()), 2),
               "total_s": round(total_s, 2)}
    config = {
        "battery": {"name": spec.name, "settings": spec.settings()},
        "encoder": {"name": entry.name, "latent_dim": encoder.latent_dim,
                    "kwargs": cfg.encoder_kwargs.get(entry.name, {})},
        "weights": weights.describe(), **data_settings(cfg), "latent_cache": key, "identity": ident_hash, "role": role,
        "skipped_probes": {p: o.reason for p, o in outcomes.items() if not o.complete},
        "profile": profile, "encoder_kwargs": cfg.encoder_kwargs.get(entry.name, {}),
        "all_sections": cfg.section_dicts(),
    }
    return RunResult(
        suite=SUITE, run_name=name, config_hash=ident_hash, config=config, status="complete", protocol=PROTOCOL,
        tasks=list(done), encoder=EncoderInfo(name=entry.name, value=entry.value, package=entry.package, params=params,
                                              modality=encoder.modality, trainable=False),
        dataset=DatasetInfo(name=info.name, revision=str(info.revision), train=len(splits.train),
                            val=len(splits.val) if splits.val is not None else 0, test=len(splits.test),
                            skipped=[{"shape": s, "reason": r} for st in splits.as_dict().values()
                                     for s, r in st.skipped]),
        metrics={p: o.metrics for p, o in done.items()},
        per_category={p: o.per_category for p, o in done.items() if o.per_category},
        intervals={p: o.intervals for p, o in done.items()},
        metric_info={p: MetricInfo.from_dict(o.metric_info) for p, o in done.items()},
        seed=spec.seed, steps=0, timings=timings,
        training=TrainingInfo(first_loss=None, history=[], world_size=1, precision="fp32"),
        device=device, packages=package_versions(), git=git_info(), bench_version=__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


# --- references, generality and verdicts ---------------------------------------------------------------------

def _architecture(r: RunResult) -> tuple:
    enc = r.config.get("encoder", {}) if isinstance(r.config.get("encoder"), dict) else {}
    return (enc.get("name"), enc.get("latent_dim"), stable_hash(enc.get("kwargs", {})))


def comparable(a: RunResult, b: RunResult) -> bool:
    """Probe results of the same battery on the same dataset revision (their scores can be set side by side)."""
    def key(r: RunResult):
        battery = r.config.get("battery", {}) if isinstance(r.config.get("battery"), dict) else {}
        return battery.get("name"), r.dataset.name, str(r.dataset.revision)

    return a.suite == b.suite == SUITE and a.protocol == b.protocol == PROTOCOL and key(a) == key(b)


def find_references(result: RunResult, folders: list[Path]) -> list[RunResult]:
    """The finished results with a role (joint, random, reference) under ``folders`` that are comparable with
    ``result`` (same battery, same dataset revision), ``result`` itself left out, each once."""
    found: dict[Path, RunResult] = {}
    for folder in folders:
        for r in scan_results(Path(folder)):
            where = Path(r.run_dir).resolve()
            if (r.status == "complete" and r.config.get("role") in ROLES and comparable(result, r)
                    and r.config_hash != result.config_hash and where not in found):
                found[where] = r
    return sorted(found.values(), key=lambda r: (r.config.get("role"), r.run_name, r.created))


def _pick(result: RunResult, candidates: list[RunResult]) -> RunResult | None:
    """The same architecture first, then the most recent."""
    if not candidates:
        return None
    same = [r for r in candidates if _architecture(r) == _architecture(result)]
    return max(same or candidates, key=lambda r: r.created)


def _label(r: RunResult) -> str:
    return f"{r.suite}/{r.run_name}"


def _ref(r: RunResult) -> dict[str, Any]:
    return {"run": _label(r), "config_hash": r.config_hash, "role": r.config.get("role", ""),
            "encoder": r.encoder.name}


def _paired_units(results: list[RunResult], probe: str) -> tuple[list[np.ndarray], int] | None:
    """Each result's per-unit scores of ``probe``'s main metric on the units every one of them scored (shape
    ids; episodes for few-shot), in one order; None when one of them has none."""
    main = MAIN_METRIC[probe]
    series = [read_units(Path(r.run_dir), probe, main) for r in results]
    if any(s is None for s in series):
        return None
    values = _aligned(series)
    return values, len(values[0])


def _aligned(series: list[pd.Series]) -> list[np.ndarray]:
    """Series indexed by unit -> their values on the units every one of them has, none NaN, in one order."""
    frame = pd.concat([s.rename(str(k)) for k, s in enumerate(series)], axis=1, join="inner").dropna()
    return [frame[str(k)].to_numpy(float) for k in range(len(series))]


def assess(result: RunResult, references: list[RunResult], random_result: RunResult | None = None,
           n_boot: int | None = None, seed: int = ANALYSIS_SEED) -> dict[str, Any]:
    """The generality score of ``result`` and its verdicts against every reference (its ``analysis``).

    Generality: each probe's main score normalised between the random-weights result of the same
    architecture (0; ``random_result``, else a reference with role "random" of the same architecture) and a
    jointly trained reference (1; role "joint", the same architecture first), on the units all three scored,
    and the mean over probes, with paired bootstrap intervals. Verdicts: each probe's paired difference of
    main scores (this result - the reference) with its interval, against every reference and the random one."""
    from bench.probe.generality import generality, paired_difference

    battery = result.config.get("battery", {}).get("settings", {})
    n_boot = int(n_boot if n_boot is not None else battery.get("n_bootstrap", 1000))
    zero = random_result or _pick(result, [r for r in references if r.config.get("role") == "random"
                                           and _architecture(r) == _architecture(result)])
    one = _pick(result, [r for r in references if r.config.get("role") == "joint"])
    out: dict[str, Any] = {"n_bootstrap": n_boot, "seed": seed, "generality": None, "verdicts": []}
    if zero is None or one is None:
        missing = " and ".join(w for w, r in (("a random-weights result of this architecture", zero),
                                             ("a jointly trained reference (role joint)", one)) if r is None)
        out["generality_note"] = f"no generality score: it needs {missing} of battery " \
                                 f"{battery and result.config['battery'].get('name')} on this dataset revision"
    else:
        units, left_out = {}, {}
        for probe in result.tasks:
            if probe not in zero.tasks or probe not in one.tasks:
                left_out[probe] = "not run by a reference"
                continue
            paired = _paired_units([result, zero, one], probe)
            if paired is None or paired[1] == 0:
                left_out[probe] = "no per-unit scores shared by the three results"
                continue
            units[probe] = tuple(paired[0])
        if units:
            g = generality(units, n_boot, seed)
            out["generality"] = {"zero": _ref(zero), "one": _ref(one), "per_probe": dict(g.per_probe),
                                 "per_probe_interval": {p: list(v) for p, v in g.per_probe_interval.items()},
                                 "mean": g.mean, "interval": list(g.interval), "left_out": left_out}
        else:
            out["generality_note"] = "no generality score: no probe has per-unit scores in all three results"
    own_random = random_result is not None and random_result.config_hash != result.config_hash
    compared = [random_result] if own_random else []
    compared += [r for r in references if all(r.config_hash != c.config_hash for c in compared)]
    for ref in compared:
        for probe in result.tasks:
            if probe not in ref.tasks:
                continue
            paired = _paired_units([result, ref], probe)
            if paired is None or paired[1] == 0:
                continue
            (mine, theirs), _ = paired
            d = paired_difference(theirs, mine, n_boot, seed)  # b - a: this result - the reference
            out["verdicts"].append({"reference": _label(ref), "role": ref.config.get("role", ""), "probe": probe,
                                    "metric": MAIN_METRIC[probe], "difference": d.mean, "low": d.low, "high": d.high,
                                    "n": d.n, "verdict": VERDICTS[d.verdict(True)]})
        group = _group_units([result, ref], CLASSIFICATION_GROUP)
        if group is not None:
            (mine, theirs), probes = group
            d = paired_difference(theirs, mine, n_boot, seed)
            out["verdicts"].append({"reference": _label(ref), "role": ref.config.get("role", ""),
                                    "probe": "classification", "metric": f"accuracy, mean of {', '.join(probes)}",
                                    "difference": d.mean, "low": d.low, "high": d.high, "n": d.n,
                                    "verdict": VERDICTS[d.verdict(True)]})
    return out


def _group_units(results: list[RunResult], probes: tuple[str, ...]) -> tuple[list[np.ndarray], list[str]] | None:
    """Each result's per-shape mean of the main scores of ``probes`` (those all of them ran, at least two), on the
    shapes every one of them scored for every such probe, in one order; None when fewer than two probes qualify."""
    series: list[list[pd.Series]] = [[] for _ in results]
    used = []
    for probe in probes:
        if not all(probe in r.tasks for r in results):
            continue
        got = [read_units(Path(r.run_dir), probe, MAIN_METRIC[probe]) for r in results]
        if any(s is None for s in got):
            continue
        used.append(probe)
        for k, s in enumerate(got):
            series[k].append(s.rename(probe))
    if len(used) < 2:
        return None
    values = _aligned([pd.concat(s, axis=1, join="inner").dropna().mean(axis=1) for s in series])
    return (values, used) if len(values[0]) else None


def store_analysis(result: RunResult, analysis: dict[str, Any]) -> None:
    """Write ``analysis`` into the result's result.json (its ``analysis`` field)."""
    result.analysis = analysis
    write_result(result, result.run_dir)


@dataclass
class ProbeReport:
    """What `bench probe` prints: the result, the random-weights result it was set against (if any), the
    references found and the analysis (also stored in the result)."""

    result: RunResult
    random_result: RunResult | None
    references: list[RunResult]
    analysis: dict[str, Any]


def probe_and_assess(cfg: BenchConfig, encoder_name: str, weights: EncoderWeights | None, battery: str = "probe-v1",
                     name: str | None = None, results_dir: Path | str | None = None,
                     references_dir: Path | None = None, role: str = "", with_random: bool = True,
                     rerun: bool = False, log: Callable[[str], None] = print, progress: bool = True,
                     profile: str = "") -> ProbeReport:
    """``probe_encoder``, then the random-weights result of the same architecture (computed unless
    ``with_random`` is False; with random ``weights`` it is the result itself), the references (role joint or
    random) in ``references_dir`` (default ``<repo>/results/reference``) and in the results folder's own
    ``probe/``, and ``assess`` against them, stored in result.json."""
    results_dir = Path(results_dir if results_dir is not None else cfg.output.results_dir)
    common = dict(battery=battery, results_dir=results_dir, log=log, progress=progress, profile=profile, rerun=rerun)
    result = probe_encoder(cfg, encoder_name, weights, name=name, role=role or ("random" if weights is None else ""),
                           **common)
    random_result = result if weights is None else None
    if weights is not None and with_random:
        random_result = probe_encoder(cfg, encoder_name, None, role="random", **{**common, "rerun": False})
    folders = [references_dir if references_dir is not None else reference_results_dir(), results_dir / SUITE]
    references = find_references(result, folders)
    analysis = assess(result, references, random_result)
    store_analysis(result, analysis)
    return ProbeReport(result, random_result, references, analysis)
