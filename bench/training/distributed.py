"""Multi-process training with torch.distributed (DDP), launched by `torchrun ... -m bench.cli run`.

Every rank draws the same global batch of a step and trains on its slice of it (rank::world), so the
averaged gradient equals the single-process one for models without batch norm. On CUDA batch norm
becomes SyncBatchNorm; on the CPU (gloo) SyncBatchNorm is not available in torch, so each process
normalises over its own slice. Rank 0 takes every decision that touches the disk (reuse, lock,
checkpoints, result.json) and broadcasts it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from bench.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


SINGLE = DistContext()


_SINGLE_HINT = "launch with torchrun, or unset WORLD_SIZE, RANK and LOCAL_RANK to run one process"


def _env_int(name: str, default: str | None = None) -> int:
    """An integer environment variable of torchrun's, or a ConfigError naming it (not a bare ValueError)."""
    text = os.environ.get(name, default)
    if text is None:
        raise ConfigError(f"environment variable {name} is not set, but WORLD_SIZE > 1 asks for several "
                          f"processes; {_SINGLE_HINT}.")
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name}={text!r} is not an integer; {_SINGLE_HINT}.") from None


def _check_env(world: int) -> tuple[int, int]:
    """(rank, local rank) from the environment, checked here because torch.distributed's own errors for
    them are bare ValueErrors from deep inside the rendezvous."""
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK", "0")
    if not 0 <= rank < world:
        raise ConfigError(f"environment variable RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world}); "
                          f"{_SINGLE_HINT}.")
    if local_rank < 0:
        raise ConfigError(f"environment variable LOCAL_RANK={local_rank} is negative; {_SINGLE_HINT}.")
    return rank, local_rank


def _check_rendezvous(world: int) -> None:
    """init_process_group("env://") needs these; without them it raises a bare ValueError."""
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(name):
            raise ConfigError(f"environment variable {name} is not set, but WORLD_SIZE={world}; {_SINGLE_HINT}.")
    _env_int("MASTER_PORT")


def from_env(device: str = "auto") -> DistContext:
    """Join the process group that torchrun describes in the environment (WORLD_SIZE > 1), else single."""
    world = _env_int("WORLD_SIZE", "1")
    if world <= 1:
        return SINGLE
    _, local_rank = _check_env(world)
    import torch.distributed as dist

    if not dist.is_initialized():
        _check_rendezvous(world)
        use_nccl = torch.cuda.is_available() and device in ("auto", "cuda")
        dist.init_process_group("nccl" if use_nccl else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank)


def broadcast(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.active:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank if it is True on any (a NaN or a stop signal must stop all ranks together)."""
    if not ctx.active:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(value: float, ctx: DistContext) -> float:
    if not ctx.active:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        import torch.distributed as dist

        dist.barrier()


def shard(batch: dict[str, torch.Tensor], ctx: DistContext) -> dict[str, torch.Tensor]:
    """This rank's slice of a global batch (every tensor's first dimension)."""
    if not ctx.active:
        return batch
    return {k: v[ctx.rank::ctx.world] for k, v in batch.items()}


def wrap(model: torch.nn.Module, ctx: DistContext, device: torch.device) -> torch.nn.Module:
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)
