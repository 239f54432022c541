"""Cached latents of a frozen encoder: every split encoded once per input draw, then read by every probe.

Draw d of split s (train 0, val 1, test 2) gives the encoder ``ShapeDataset(store, cfg.data,
modality).inputs(idx, np.random.default_rng([draw_seed, d, s]))``, batch after batch of ``encode_batch``
shapes in store order: the same inputs for every encoder. A split's latents are one (K, S, D) float32 array.

They are cached in ``<results_dir>/probe/latents/<key>.npz``; the key hashes everything the latents depend
on (the weights' sha256, the encoder and its settings, the dataset revision, the input settings, the draws
and the precision), so that another encoder, other weights or other inputs never read them. A cache file that
cannot be read (cut short, corrupt, of other shapes) is computed again.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench._io import atomic_write_bytes, stable_hash
from bench.blame import blame
from bench.config import BenchConfig
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.errors import PluginContractError
from bench.evaluation.predictor import Predictor
from bench.probe.battery import BatterySpec
from bench.registry import ENCODERS

SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}
"""The split's index in the draws' seed: the same for every encoder."""
LATENTS_DIR = "latents"  # under <results_dir>/probe/
PRECISION = "fp32"  # encoders and probes run in float32: latents do not depend on the CPU's bf16 support


@dataclass
class Latents:
    """The latents of each split: ``arrays[split]`` (K, S, D) float32, in store order (``ids[split]``)."""

    key: str
    arrays: dict[str, np.ndarray]
    ids: dict[str, list[str]]
    path: Path
    reused: bool = False
    seconds: float = 0.0

    def of(self, split: str) -> np.ndarray:
        return self.arrays[split]


def cache_key(weights_sha256: str, encoder: str, latent_dim: int, encoder_kwargs: Mapping[str, Any],
              cfg: BenchConfig, dataset: tuple[str, str], modality: str, spec: BatterySpec) -> str:
    """What the cached latents depend on, hashed (``bench._io.stable_hash``)."""
    data = cfg.data
    inputs: dict[str, Any] = {"n_input_points": data.n_input_points, "input_noise": data.input_noise}
    if modality == "image":
        inputs.update(views=data.views, image_size=data.image_size)
    return stable_hash({
        "weights": weights_sha256, "encoder": encoder, "latent_dim": latent_dim,
        "encoder_kwargs": dict(encoder_kwargs), "dataset": {"name": dataset[0], "revision": dataset[1]},
        "modality": modality, "inputs": inputs, "max_test_shapes": cfg.eval.max_shapes,
        "draws": spec.draws, "draw_seed": spec.draw_seed, "encode_batch": spec.encode_batch, "precision": PRECISION,
    }, length=16)


def cache_path(results_dir: Path, key: str) -> Path:
    return Path(results_dir) / "probe" / LATENTS_DIR / f"{key}.npz"


def _read(path: Path, stores: Mapping[str, ShapeStore], spec: BatterySpec, latent_dim: int) -> dict[str, np.ndarray]:
    """The arrays of a cache file, checked against the stores (same shapes, same order) and the battery;
    ValueError (and the exceptions np.load raises on a damaged file) when they do not match."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {}
        for split, store in stores.items():
            z = np.asarray(npz[split], dtype=np.float32)
            ids = [str(s) for s in npz[f"{split}_ids"]]
            if ids != list(store.ids) or z.shape != (spec.draws, len(store), latent_dim):
                raise ValueError(f"split {split}: cached {z.shape} for {len(ids)} shapes, expected "
                                 f"{(spec.draws, len(store), latent_dim)} for the {len(store)} shapes loaded now")
            arrays[split] = z
    return arrays


def _write(path: Path, arrays: Mapping[str, np.ndarray], stores: Mapping[str, ShapeStore]) -> None:
    buf = io.BytesIO()
    payload = {}
    for split, z in arrays.items():
        payload[split] = z
        payload[f"{split}_ids"] = np.asarray(list(stores[split].ids), dtype=str)
    np.savez(buf, **payload)
    atomic_write_bytes(path, buf.getvalue())


def encode_split(predictor: Predictor, store: ShapeStore, cfg: BenchConfig, modality: str, spec: BatterySpec,
                 encoder_label: str, advance: Callable[..., None] = lambda n=1, **f: None) -> np.ndarray:
    """(K, S, D) float32 latents of one split: draw d from ``default_rng([draw_seed, d, split index])``."""
    dataset = ShapeDataset(store, cfg.data, modality)
    latent_dim = predictor.model.encoder.latent_dim
    out = np.empty((spec.draws, len(store), latent_dim), np.float32)
    for d in range(spec.draws):
        rng = np.random.default_rng([spec.draw_seed, d, SPLIT_INDEX[store.split]])
        for start in range(0, len(store), spec.encode_batch):
            idx = np.arange(start, min(len(store), start + spec.encode_batch))
            inputs = dataset.inputs(idx, rng)
            with blame(encoder_label, "forward", PluginContractError):
                z = predictor.encode(inputs, [store.ids[i] for i in idx], store.split)
            expected = (len(idx), latent_dim)
            if not isinstance(z, torch.Tensor) or tuple(z.shape) != expected:
                got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
                raise PluginContractError(f"{encoder_label} returned {got} for inputs {tuple(inputs.shape)}; the "
                                          f"contract is (B, latent_dim) = {expected}.")
            out[d, idx] = z.cpu().numpy()
            advance(1)
    return out


def cached_latents(model, encoder_name: str, stores: Mapping[str, ShapeStore], cfg: BenchConfig, spec: BatterySpec,
                   key: str, results_dir: Path, device: torch.device, progress: bool = True,
                   log: Callable[[str], None] = print) -> Latents:
    """The latents of every split in ``stores``: read from the cache file of ``key``, else encoded through
    ``Predictor.encode`` (``model``: a ``MultiTaskModel`` holding the frozen encoder) and cached."""
    import time

    from bench.progress import progress_bar

    path = cache_path(results_dir, key)
    latent_dim = model.encoder.latent_dim
    ids = {split: list(store.ids) for split, store in stores.items()}
    if path.is_file():
        try:
            return Latents(key, _read(path, stores, spec, latent_dim), ids, path, reused=True)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log(f"latent cache {path} is unreadable ({type(exc).__name__}: {exc}); encoding again")
    t0 = time.time()
    model.eval()
    predictor = Predictor(model, device, False, encoder_name)
    label = ENCODERS.entry(encoder_name).label("encoder")
    modality = model.encoder.modality
    batches = sum(spec.draws * -(-len(s) // spec.encode_batch) for s in stores.values())
    arrays = {}
    with progress_bar(f"encoding {len(stores)} splits x {spec.draws} draws", batches, enabled=progress) as advance:
        for split, store in stores.items():
            arrays[split] = encode_split(predictor, store, cfg, modality, spec, label, advance)
    _write(path, arrays, stores)
    return Latents(key, arrays, ids, path, reused=False, seconds=time.time() - t0)
