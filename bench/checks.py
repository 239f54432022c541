"""`bench check-encoder`: run an encoder plugin on a tiny batch and report every contract violation;
`bench data check`: read every file of every shape of a dataset and report every broken one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError, DataError

if TYPE_CHECKING:  # imported where used: `bench data check` has no use for torch's two seconds of import
    import torch
    from bench.data.format import DatasetInfo


@dataclass
class Check:
    name: str
    passed: bool | None  # None: information only
    detail: str


def tiny_batch(modality: str, batch: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """A small input of each modality: (B, 300, 3) points | (B, 3, 224, 224) image | (B, 32, 32, 32) voxels."""
    import torch

    g = generator or torch.Generator().manual_seed(0)
    if modality == "pointcloud":
        return torch.randn(batch, 300, 3, generator=g) * 0.3
    if modality == "image":
        return torch.rand(batch, 3, 224, 224, generator=g)
    if modality == "voxels":
        return (torch.rand(batch, 32, 32, 32, generator=g) > 0.7).float()
    raise ValueError(modality)


def check_encoder(name: str, latent_dim: int = 32, kwargs: dict[str, Any] | None = None,
                  devices: tuple[str, ...] | None = None) -> list[Check]:
    """The checks, in order; a failed build stops early (nothing else can run)."""
    import torch

    from bench.models import count_parameters, create_encoder

    checks: list[Check] = []
    try:
        encoder = create_encoder(name, latent_dim, kwargs)
    except BenchError as exc:
        return [Check("builds and declares modality/latent_dim", False, str(exc))]
    checks.append(Check("builds and declares modality/latent_dim", True,
                        f"modality={encoder.modality}, latent_dim={encoder.latent_dim}"))
    x = tiny_batch(encoder.modality)
    b = x.shape[0]
    encoder.train()
    try:
        z = encoder(x)
    except Exception as exc:  # noqa: BLE001 - the plugin's bug, reported to its author
        checks.append(Check("forward runs", False, f"forward({tuple(x.shape)}) raised {type(exc).__name__}: {exc}"))
        return checks
    ok_shape = isinstance(z, torch.Tensor) and tuple(z.shape) == (b, latent_dim)
    got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
    checks.append(Check("output shape (B, latent_dim)", ok_shape,
                        f"got {got} for input {tuple(x.shape)}" + ("" if ok_shape else
                        f"; forward must return a tensor of shape ({b}, {latent_dim}), one latent per input")))
    if not ok_shape:
        return checks
    finite = bool(torch.isfinite(z).all())
    checks.append(Check("finite values", finite, "all finite" if finite else
                        f"{int((~torch.isfinite(z)).sum())} NaN/inf values; check divisions, logs and norms"))
    params = [(n, p) for n, p in encoder.named_parameters() if p.requires_grad]
    encoder.zero_grad(set_to_none=True)
    z.float().square().mean().backward()
    unreached = [n for n, p in params if p.grad is None]
    checks.append(Check("gradients reach every parameter", not unreached and bool(params),
                        "no trainable parameters" if not params else
                        (f"{len(params)} tensors receive gradients" if not unreached else
                         f"no gradient for {', '.join(unreached[:5])}{' ...' if len(unreached) > 5 else ''}: "
                         "a detach(), a no_grad block or an unused layer cuts them off")))
    encoder.eval()
    with torch.no_grad():
        z_all = encoder(x)
        z_one = encoder(x[:1])
    err = float((z_all[:1] - z_one).abs().max())
    scale = float(z_all.abs().max()) + 1e-6
    indep = err <= 1e-4 * max(1.0, scale)
    checks.append(Check("batch-size independence (eval mode)", indep,
                        f"max |z(batch)[0] - z(single)| = {err:.2e}" + ("" if indep else
                        "; in eval mode an input's latent must not depend on the rest of the batch "
                        "(batch statistics used at eval time?)")))
    checks.append(Check("parameters", None, f"{count_parameters(encoder):,}"))
    with torch.no_grad():
        times = []
        for _ in range(3):
            t = time.perf_counter()
            encoder(x)
            times.append(time.perf_counter() - t)
    checks.append(Check("forward time (cpu, eval)", None, f"{sorted(times)[1] * 1e3:.1f} ms for batch {b}"))
    for device in devices if devices is not None else (("cuda",) if torch.cuda.is_available() else ()):
        try:
            enc_d = encoder.to(device)
            z_d = enc_d(x.to(device))
            same_device = z_d.device.type == device
            close = torch.allclose(z_d.float().cpu(), z_all, atol=1e-3, rtol=1e-2)
            checks.append(Check(f"runs on {device}", same_device and close,
                                f"output on {z_d.device}, max diff to cpu {float((z_d.float().cpu() - z_all).abs().max()):.2e}"
                                + ("" if same_device else "; the output must stay on the input's device")))
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"runs on {device}", False, f"{type(exc).__name__}: {exc} (tensors created on the "
                                "wrong device? use x.device / register_buffer)"))
        finally:
            encoder.to("cpu")
    return checks


# -- bench data check -----------------------------------------------------------------------------------

def _check_shape(shape_dir: Path, sid: str, info: DatasetInfo, voxel_sizes: dict,
                 view_sizes: dict) -> list[tuple[str, str]]:
    """Every problem of one shape: its points, surface and parts, and the voxels and views it has
    (``*_sizes`` collect their array shapes, to find the odd ones out across shapes)."""
    from bench.data.format import has_views, has_voxels, read_shape, read_views, read_voxels

    found = []
    try:
        read_shape(shape_dir, len(info.part_names), with_parts=info.has_parts)
    except DataError as exc:
        found.append((sid, str(exc)))
    # views: the image size only; shapes may hold more views than a run asks for (the first are used)
    for has, read, sizes, first in ((has_voxels, read_voxels, voxel_sizes, 0), (has_views, read_views, view_sizes, 1)):
        if has(shape_dir):
            try:
                sizes[sid] = read(shape_dir).shape[first:]
            except DataError as exc:
                found.append((sid, str(exc)))
    return found


def _odd_sizes(root: Path, sizes: dict[str, tuple[int, ...]], what: str, fix: str) -> list[tuple[str, str]]:
    """The shapes whose voxels/views differ in size from most: ShapeStore cannot stack them with the rest."""
    from bench.data.format import odd_ones

    if not sizes:
        return []
    common, odd = odd_ones(list(sizes.values()), list(sizes))
    return [(sid, f"{root / sid}: {what} {size}, most shapes' are {common}; they cannot be batched together: {fix}.")
            for sid, size in odd]


def check_dataset(info: DatasetInfo, progress: bool = True) -> tuple[list[str], list[tuple[str, str]]]:
    """(every shape id, (shape id, problem) for every problem found), reading every file of every shape:
    points, surface and parts, and voxels and views where the dataset has them. Nothing is written."""
    from bench.data.format import has_voxels
    from bench.progress import progress_bar

    root = Path(info.root)
    ids = sorted({s for v in info.splits.values() for s in v})
    broken: list[tuple[str, str]] = []
    voxel_sizes: dict[str, tuple[int, ...]] = {}
    view_sizes: dict[str, tuple[int, ...]] = {}
    with progress_bar(f"checking {info.name}", len(ids), enabled=progress) as advance:
        for sid in ids:
            broken += _check_shape(root / sid, sid, info, voxel_sizes, view_sizes)
            advance()
    with_voxels = {sid for sid in ids if has_voxels(root / sid)}
    if with_voxels:  # the dataset has voxels: a shape without them is left out of every voxel-encoder run
        broken += [(sid, f"{root / sid}: no voxels.npz or model.binvox, while {len(with_voxels)} other shapes have "
                    "them; the voxel encoder would skip this shape: prepare it again.")
                   for sid in ids if sid not in with_voxels]
    broken += _odd_sizes(root, voxel_sizes, "voxel grid is", "prepare it again at the common resolution")
    # views missing altogether are not a fault: they are rendered on first use (data.views)
    broken += _odd_sizes(root, view_sizes, "views are (H, W, 3) =",
                         "delete its views.npz and they are rendered again on first use")
    return ids, sorted(broken, key=lambda item: item[0])
