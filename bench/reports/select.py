"""Which runs a report reads, the setups they belong to, and the files beside their results.

A report never mixes setups: ``select_results`` keeps a suite's runs of one dataset revision, one profile and
one precision (or refuses, naming them), and ``split_setups`` splits those into **setups**: the sets of runs
made by one invocation of the suite, seeds included, that the paper's claims may pair. ``find_runs`` resolves
what a user names on the command line (a result folder, a result.json, suite/run or a whole suite). Run folders
are always the ones results were read from (bench/results.py: locate_run_dir), never a folder a result file
names.

**The setup rule.** A result records its resolved configuration (``config``: every section that changes what
it computes, the chosen encoder's, decoder's and tasks' kwargs) and its run's own spec (``config["run"]``,
whose ``overrides`` are the run's own tables of bench.toml). The runs of one suite legitimately differ in
those tables (the default suite's probe trains 600 steps, joint-all has a joint decoder), and in what defines
a run (its tasks, protocol, lambdas, the stage-one run it probes, its seed). So:

- two results of the same run name are seeds of one run when their configurations agree in everything but
  ``train.seed`` (``seed_identity``: the leaderboard's seed groups, bench/reports/leaderboard.py);
- two results of different runs belong to one setup when they share suite, dataset name and revision and
  profile, and every setting both record agrees except the run-level ones (tasks, protocol, lambdas,
  stage-one link, ``train.seed``, ``train.amp``) and the settings that either run's own tables set *to the
  value it has* (a setting that its table sets but that differs from it came from the command line, which wins
  over run tables, and is compared). A frozen probe inherits its encoder (family, ``latent_dim``, kwargs)
  from its stage-one run, so it inherits that run's own settings of them too; and a probe of seed k belongs
  with the very stage-one result it probed (its recorded ``stage_one`` hash);
- a setting recorded by one result and not the other is compared with the other's ``all_sections`` (where a
  setting added later at its default is still recorded), and skipped where that has none either.

Everything the command line changes (``--encoder``, ``--set``, ``--preset``, ...) is therefore part of the
setup; ``train.amp`` is not, because the claims pair runs of one precision and say so when they cannot
(bench/reports/claims.py). Results are grouped greedily: runs with the fewest own settings first (they pin
the most of the setup), each joining the first setup all of whose results it agrees with. Step-limited
results (``--max-steps``) are not comparable with anything and are left to the caller to drop (the claims
and the paper comparison do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.config import MOVED_TO_TASK_KWARGS
from bench.errors import BenchError, ResultError, did_you_mean
from bench.evaluation.scores import read_scores
from bench.results import RESULT_FILE, RunResult, locate_run_dir, read_result, scan_results


def select_results(results: list[RunResult], suite: str, dataset: str | None = None,
                   profile: str | None = None, precision: str | None = None) -> list[RunResult]:
    """The suite's runs of one dataset revision, one profile and one precision (all their seeds, every setup:
    ``split_setups``); refuses to mix others (a bf16 run and an fp32 run differ by more than seed noise can
    hide)."""
    rs = [r for r in results if r.suite == suite
          and (dataset is None or r.dataset.name == dataset)
          and (profile is None or r.config.get("profile", "") == profile)
          and (precision is None or r.precision == precision)]
    groups = sorted({(_or(r.dataset.name, "?"), str(r.dataset.revision), r.config.get("profile", ""), r.precision)
                     for r in rs if r.status == "complete"})
    if len(groups) > 1:
        listing = "; ".join(f"dataset {d} (revision {rev}), profile '{p or 'none'}', {prec}" for d, rev, p, prec in groups)
        raise BenchError(f"suite '{suite}' has runs of {len(groups)} different datasets, profiles or precisions, "
                         f"which a report must not mix: {listing}. Pick one with --dataset NAME, --profile NAME "
                         "and/or --precision bf16|fp32.")
    return rs


def _or(value, default):
    """``value``, or ``default`` where the result does not record it."""
    return default if value is None else value


def find_runs(name: str, results_dir: Path) -> list[RunResult]:
    """The runs ``name`` stands for: a result folder, a result.json, or suite/run (or a whole suite) under
    ``results_dir``."""
    path = Path(name)
    if path.is_file():
        return [read_result(path)]
    if (path / RESULT_FILE).is_file():
        return [read_result(path / RESULT_FILE)]
    every = scan_results(results_dir)
    suite, _, run = name.partition("/")
    found = [r for r in every if r.suite == suite and (not run or r.run_name == run)]
    if not found:
        names = sorted({f"{r.suite}/{r.run_name}" for r in every} | {r.suite for r in every})
        raise ResultError(f"no run or suite '{name}' under {results_dir}.{did_you_mean(name, names)}")
    return found


def scores_of(result: RunResult, results_dir: Path | None) -> pd.DataFrame | None:
    """The run's per-shape scores (scores.csv); None without them, or without a results folder to look in."""
    return None if results_dir is None else read_scores(locate_run_dir(result, results_dir))


def run_images(result: RunResult) -> list[Path]:
    """The PNGs in the run's folder (figures written beside its result)."""
    run_dir = locate_run_dir(result)
    return sorted(run_dir.glob("*.png")) if run_dir.is_dir() else []


# ---------------------------------------------------------------------------------------------------
# Setups: which runs were made together (the rule is in the module docstring)

RUN_LEVEL = ("tasks", "protocol", "lambdas", "stage_one", "encoder_weights", "run", "suite", "all_sections",
             "profile")
"""Keys of ``result.config`` that describe one run of a suite, not the suite's setup (``profile`` is compared
on its own)."""
RUN_LEVEL_SETTINGS = (("train", "seed"), ("train", "amp"))
INHERITED = (("model", "encoder"), ("model", "latent_dim"))
"""What a frozen probe takes from its stage-one run (with that run's ``encoder_kwargs``)."""
_MISSING = object()


def seed_identity(result: RunResult) -> dict[str, Any]:
    """What a run computes apart from its seed: ``result.config`` without the run's spec, suite, every-section
    record and stage-one link (which differs by seed too), and without ``train.seed``. Two results of one run
    name with equal identities are seeds of one run (the leaderboard merges them into one row)."""
    cfg = {k: v for k, v in result.config.items() if k not in ("run", "suite", "all_sections", "stage_one")}
    cfg["train"] = {k: v for k, v in cfg.get("train", {}).items() if k != "seed"}
    return cfg


def _flatten(value: Any, prefix: tuple) -> dict[tuple, Any]:
    if isinstance(value, dict):
        out: dict[tuple, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, (*prefix, str(key))))
        return out
    return {prefix: value}


def _settings(result: RunResult) -> dict[tuple, Any]:
    """The result's recorded settings by path, plugin kwargs under their plugin's name
    (``("encoder_kwargs", "dgcnn", "k")``, as a run's table writes them), run-level ones left out."""
    cfg = result.config
    model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
    out: dict[tuple, Any] = {}
    for key, value in cfg.items():
        if key in RUN_LEVEL:
            continue
        if key == "encoder_kwargs" and isinstance(value, dict):
            out.update(_flatten(value, (key, str(model.get("encoder", result.encoder.name)))))
        elif key == "decoder_kwargs" and isinstance(value, dict):
            out.update(_flatten(value, (key, str(model.get("decoder", "?")))))
        else:
            out.update(_flatten(value, (key,)))
    for path in RUN_LEVEL_SETTINGS:
        out.pop(path, None)
    return out


def _overrides(result: RunResult) -> dict[tuple, Any]:
    """The run's own tables (``config["run"]["overrides"]``) by path, a moved task setting also at the old key
    under which results record it (bench/config.py: MOVED_TO_TASK_KWARGS)."""
    spec = result.config.get("run")
    tables = spec.get("overrides") if isinstance(spec, dict) else None
    out = _flatten(tables, ()) if isinstance(tables, dict) else {}
    moved = {(task, key): section for (section, key), task in MOVED_TO_TASK_KWARGS.items()}
    for path, value in list(out.items()):
        if len(path) == 3 and path[0] == "task_kwargs" and (path[1], path[2]) in moved:
            out.setdefault((moved[path[1], path[2]], path[2]), value)
    return out


def _fallback(result: RunResult, path: tuple) -> Any:
    """A setting from the result's ``all_sections`` (every setting, at its default too), or _MISSING."""
    node: Any = result.config.get("all_sections")
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _value(result: RunResult, settings: dict[tuple, Any], path: tuple) -> Any:
    return settings[path] if path in settings else _fallback(result, path)


class _Run:
    """One result with what the setup rule reads of it, computed once."""

    def __init__(self, result: RunResult, by_suite: bool = True):
        self.result = result
        self.settings = _settings(result)
        self.own = {path for path, value in _overrides(result).items()
                    if _value(result, self.settings, path) == value}
        self.identity = json.dumps(seed_identity(result), sort_keys=True, default=str)
        spec = result.config.get("run") if isinstance(result.config.get("run"), dict) else {}
        self.source = spec.get("encoder_from") or ""
        self.hard = (result.suite if by_suite else "", result.dataset.name, str(result.dataset.revision),
                     result.config.get("profile", ""))

    def inherit(self, stage_one: _Run) -> None:
        """A probe's encoder settings are its stage-one run's: so are that run's own ones of them."""
        self.own |= {p for p in stage_one.own if p in INHERITED or p[0] == "encoder_kwargs"}

    def agrees(self, other: _Run) -> bool:
        """Whether this result and ``other`` can belong to one setup (the module docstring's rule)."""
        a, b = self.result, other.result
        if self.hard != other.hard:
            return False
        if a.run_name == b.run_name:
            return self.identity == other.identity
        for probe, stage in ((self, other), (other, self)):
            if (probe.result.protocol == "frozen" and probe.source == stage.result.run_name
                    and probe.result.seed == stage.result.seed
                    and probe.result.config.get("stage_one") not in (None, stage.result.config_hash)):
                return False
        skip = self.own | other.own
        for path in (set(self.settings) | set(other.settings)) - skip:
            va, vb = _value(a, self.settings, path), _value(b, other.settings, path)
            if va is not _MISSING and vb is not _MISSING and va != vb:
                return False
        return True


@dataclass(frozen=True)
class Setup:
    """One setup's results (every seed), its encoder and its label: the encoder first, then what sets it apart
    from the other setups of the same results (``"dgcnn"``, ``"onet_pointnet, train.lr=0.01"``)."""

    label: str
    encoder: str
    results: tuple[RunResult, ...]


def split_setups(results: list[RunResult], by_suite: bool = True) -> list[Setup]:
    """``results`` split into setups (the module docstring's rule), in the order of their labels. One setup
    when they were all made together; none for no results. ``by_suite=False``: runs of different suites may
    share a setup (a paper table compares runs by name, whichever suite ran them)."""
    runs = [_Run(r, by_suite) for r in results]
    by_hash = {run.result.config_hash: run for run in runs}
    for run in runs:
        stage_one = by_hash.get(run.result.config.get("stage_one") or "")
        if run.result.protocol == "frozen" and stage_one is not None:
            run.inherit(stage_one)
    order = sorted(runs, key=lambda x: (len(x.own), x.result.suite, x.result.run_name, x.result.seed,
                                        x.result.config_hash))
    groups: list[list[_Run]] = []
    for run in order:
        home = next((g for g in groups if all(run.agrees(m) for m in g)), None)
        if home is None:
            groups.append([run])
        else:
            home.append(run)
    labels = _labels(groups)
    setups = [Setup(label, _encoder(g), tuple(m.result for m in sorted(g, key=lambda x: (x.result.run_name,
                                                                                         x.result.seed))))
              for label, g in zip(labels, groups)]
    return sorted(setups, key=lambda s: s.label)


def _suite_settings(group: list[_Run]) -> dict[tuple, Any]:
    """The settings a setup's runs share: each run's recorded ones less its own (the first run's value)."""
    out: dict[tuple, Any] = {("profile",): group[0].result.config.get("profile", ""),
                             ("dataset",): f"{group[0].result.dataset.name} ({group[0].result.dataset.revision})"}
    for run in group:
        for path, value in run.settings.items():
            if path not in run.own:
                out.setdefault(path, value)
    return out


def _encoder(group: list[_Run]) -> str:
    """The setup's encoder: that of its runs that do not choose their own (table1's cls-pointnet does)."""
    names = [str(m.result.encoder.name) for m in group if ("model", "encoder") not in m.own]
    names = names or [str(m.result.encoder.name) for m in group]
    return max(dict.fromkeys(names), key=names.count)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _labels(groups: list[list[_Run]], most: int = 4) -> list[str]:
    """Each setup's label: its encoder, then, against the other setups of the same encoder, its own encoder
    kwargs in brackets and up to ``most`` other settings where they differ (a setting one setup records and
    another does not is read from that one's ``all_sections``)."""
    encoders = [_encoder(g) for g in groups]
    shared = [_suite_settings(g) for g in groups]
    for g, settings in zip(groups, shared):
        for path in {p for s in shared for p in s} - set(settings):
            value = _fallback(g[0].result, path)
            if value is not _MISSING:
                settings[path] = value
    labels = []
    for k, (enc, mine) in enumerate(zip(encoders, shared)):
        others = [s for j, s in enumerate(shared) if j != k and encoders[j] == enc]
        kwargs, differing = [], []
        for path, value in sorted(mine.items()):
            if path == ("model", "encoder") or not any(path in s and s[path] != value for s in others):
                continue
            if path[0] == "encoder_kwargs":
                kwargs.append(f"{'.'.join(path[2:])}={_text(value)}")
            else:
                differing.append(f"{'.'.join(path)}={_text(value)}")
        label = enc + (f" ({', '.join(kwargs)})" if kwargs else "")
        if differing:
            label += ", " + ", ".join(differing[:most]) + (", ..." if len(differing) > most else "")
        labels.append(label)
    seen: dict[str, int] = {}
    plain = list(labels)
    for k, label in enumerate(plain):  # setups that differ only in what no label shows: numbered
        if plain.count(label) > 1:
            seen[label] = seen.get(label, 0) + 1
            labels[k] = f"{label} #{seen[label]}"
    return labels
