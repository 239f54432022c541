"""The probe batteries: named, versioned, frozen sets of settings (docs/metrics.md, "Probe battery").

A battery's name is its identity: two results are compared only when they ran the same battery, so a
battery's settings never change once published; a change is a new name (``probe-v2``). ``probe-v1-tiny``
is a different battery (a handful of steps, for tests and smoke checks), never compared with ``probe-v1``.
Every setting is recorded in result.json (``dataclasses.asdict``) and is part of the result's identity.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError, did_you_mean

PROBES = ("reconstruction", "segmentation", "mlp", "linear", "knn", "fewshot", "retrieval")
"""Every probe a battery can run, in the order they run: the three that train heads, then the four that
read the latents alone."""

DECODER_PROBES = {"reconstruction": "reconstruction", "segmentation": "segmentation", "mlp": "classification"}
"""Probes that train a bench task's own head on the cached latents: probe -> the registered task."""

MAIN_METRIC = {"reconstruction": "iou", "segmentation": "miou", "mlp": "accuracy", "linear": "accuracy",
               "knn": "accuracy", "fewshot": "accuracy", "retrieval": "map"}
"""Each probe's main score (all higher-is-better): the one the profile, the generality score and the
verdicts read."""


CLASSIFICATION_GROUP = ("mlp", "linear", "knn")
"""The classification probes scored per test shape: their per-shape mean is one more verdict, "classification"
(MTEB-style averaging within a task type), which pools their evidence on small test splits."""


@dataclass(frozen=True)
class BatterySpec:
    """Every setting of a battery. Splits: heads are trained on the train split, scored on the test split."""

    name: str
    version: int = 1
    probes: tuple[str, ...] = PROBES
    # cached latents: draw d of split s encodes ShapeDataset.inputs(idx, default_rng([draw_seed, d, s]))
    draws: int = 4
    """Input draws K per shape (noise and point sampling): latents are (K, S, D) per split."""
    draw_seed: int = 0
    encode_batch: int = 16
    """Shapes encoded at once (the draws' random stream is consumed batch by batch, so it is fixed)."""
    seed: int = 0
    """Seed of the heads' initialisation and of their training batches."""
    # decoder probes (reconstruction, segmentation): the config's point decoder on frozen latents
    decoder_steps: int = 250
    """Adam steps of each decoder probe: sized so that probe-v1 takes about 2 minutes on 2 CPU cores on the
    default dataset and profile (a decoder step there: ~0.1 s; docs/metrics.md, "Probe battery")."""
    decoder_batch: int = 32
    decoder_lr: float = 1e-3
    decoder_schedule: str = "cosine"
    # the MLP probe: the classification task's own head
    mlp_steps: int = 1000
    mlp_batch: int = 32
    mlp_lr: float = 1e-3
    mlp_schedule: str = "cosine"
    # latent-only probes: features standardised with the train latents' mean and std (all draws)
    standardise: bool = True
    linear_l2: float = 1e-2
    linear_max_iter: int = 500
    knn_k: int = 5
    knn_metric: str = "cosine"
    fewshot_ways: tuple[int, ...] = (5, 10)
    fewshot_shots: tuple[int, ...] = (1, 5, 10)
    fewshot_folds: int = 10
    fewshot_l2: float = 1e-2
    fewshot_query: int = 0
    """Query shapes per class of an episode; 0: every test shape of the episode's classes."""
    retrieval_k: int = 10
    n_bootstrap: int = 1000
    """Bootstrap resamples of every interval (over test shapes; over episodes for few-shot)."""

    def settings(self) -> dict[str, Any]:
        """Every setting as plain JSON (recorded in result.json and hashed into the result's identity)."""
        return dataclasses.asdict(self)

    def fewshot_settings(self) -> list[tuple[int, int]]:
        """(way, shot) pairs, ways outer."""
        return [(w, s) for w in self.fewshot_ways for s in self.fewshot_shots]


BATTERIES: dict[str, BatterySpec] = {
    "probe-v1": BatterySpec(name="probe-v1"),
    "probe-v1-tiny": BatterySpec(
        name="probe-v1-tiny", draws=2, decoder_steps=4, decoder_batch=4, mlp_steps=6, mlp_batch=4,
        linear_max_iter=50, knn_k=3, fewshot_ways=(2,), fewshot_shots=(1,), fewshot_folds=2, retrieval_k=3,
        n_bootstrap=50),
}


def get_battery(name: str) -> BatterySpec:
    """The battery called ``name``, or a ConfigError listing the known ones (with a did-you-mean)."""
    if name not in BATTERIES:
        raise ConfigError(f"unknown probe battery '{name}'.{did_you_mean(name, BATTERIES)} "
                          f"Batteries: {', '.join(BATTERIES)}.")
    return BATTERIES[name]


def fewshot_metric(way: int, shot: int) -> str:
    """The few-shot metric of one setting: ``5way_1shot`` (its spread over folds: ``5way_1shot_std``)."""
    return f"{way}way_{shot}shot"
