"""Training one resolved run: single, joint or frozen protocol; validation, model selection, checkpoints,
resume, NaN guard, graceful SIGINT/SIGTERM; then the final evaluation and result.json."""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from bench import __version__
from bench.data.dataset import ShapeDataset, ShapeStore, open_dataset
from bench.errors import TrainingError
from bench.evaluation.evaluator import evaluate
from bench.models import MultiTaskModel, count_parameters, create_encoder, create_tasks
from bench.registry import ENCODERS
from bench.results import RunResult, git_info, package_versions, write_result
from bench.training import distributed as D
from bench.training.checkpoint import LAST, MODEL, load_checkpoint, save_checkpoint
from bench.training.plan import ResolvedRun


class Interrupted(TrainingError):
    """Training stopped by SIGINT/SIGTERM after saving a checkpoint."""


def select_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device is visible to torch; use --device auto or cpu.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise TrainingError("--device mps: MPS is not available here; use --device auto or cpu.")
    if name not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"--device {name}: expected auto, cpu, cuda or mps.")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def stop_on_signals():
    """Turn the first SIGINT/SIGTERM into a flag checked between steps (a step is never cut in half);
    a second SIGINT interrupts at once."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _lr_lambda(schedule: str, max_steps: int):
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "cosine":
        return lambda step: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step, max_steps) / max(1, max_steps)))
    raise TrainingError(f"train.lr_schedule: '{schedule}' is not constant or cosine.")


def _selection_score(metrics: dict[str, dict[str, Any]], tasks) -> float:
    """Model selection: the mean of the trained tasks' main scores (lower-is-better ones negated)."""
    scores = []
    for name, task in tasks.items():
        value = metrics[name].get(task.main_score)
        if value is None:
            continue
        higher = task.metric_info()["directions"][task.main_score] == "higher"
        scores.append(value if higher else -value)
    return float(np.mean(scores)) if scores else -math.inf


def _encode_checked(model, inputs: torch.Tensor, encoder_name: str) -> torch.Tensor:
    """The encoder's forward, checked against the contract before training starts; any error names the
    plugin and its package (a wrong shape would otherwise surface deep inside a decoder). Runs in eval
    mode, so that the check leaves no trace in batch-norm statistics."""
    was_training = model.encoder.training
    model.encoder.eval()
    try:
        z = model.encode(inputs)
    except Exception as exc:
        entry = ENCODERS.entry(encoder_name)
        raise TrainingError(f"{entry.label('encoder')} raised in forward: "
                            f"{type(exc).__name__}: {exc}. `bench check-encoder {entry.name}` runs it on a tiny batch.") from exc
    finally:
        model.encoder.train(was_training)
    expected = (inputs.shape[0], model.encoder.latent_dim)
    if not isinstance(z, torch.Tensor) or tuple(z.shape) != expected:
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise TrainingError(f"{ENCODERS.entry(encoder_name).label('encoder')} returned {got} "
                            f"for inputs {tuple(inputs.shape)}; the contract is (B, latent_dim) = {expected}.")
    return z


def train_and_evaluate(run: ResolvedRun, progress: bool = True, log=print, ctx: D.DistContext = D.SINGLE) -> RunResult | None:
    """Train and evaluate one run; under DDP every rank trains its slice and rank 0 alone returns the result."""
    cfg = run.cfg
    t_start = time.time()
    seed_everything(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = select_device(cfg.train.device)
    if ctx.active and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    progress = progress and ctx.main
    encoder = create_encoder(cfg.model.encoder, cfg.model.latent_dim, cfg.encoder_kwargs.get(cfg.model.encoder, {}))
    modality = encoder.modality
    if not ctx.main:
        D.barrier(ctx)  # rank 0 generates or prepares the data first; the others then read its cache
    info = open_dataset(cfg.data, progress=progress, with_views=modality == "image")
    if ctx.main:
        D.barrier(ctx)
    tasks = create_tasks(run.spec.tasks, info, cfg)
    frozen = run.spec.protocol == "frozen"
    if frozen:
        stage = load_checkpoint(run.stage_one.run_dir / MODEL)
        encoder.load_state_dict(stage["encoder"], strict=True)
    model = MultiTaskModel(encoder, tasks, cfg, frozen_encoder=frozen).to(device)
    if cfg.train.compile and model.point_heads is not None:
        model.point_heads = torch.compile(model.point_heads)
    train_model = D.wrap(model, ctx, device)

    need_parts = any(t.needs_parts for t in tasks.values())
    load = dict(with_parts=need_parts, with_voxels=modality == "voxels", on_bad_shape=cfg.data.on_bad_shape,
                n_views=cfg.data.views if modality == "image" else -1)
    train_store = ShapeStore.load(info, "train", progress=False, **load)
    val_store = ShapeStore.load(info, "val", max_shapes=cfg.eval.val_shapes, **load) if info.splits.get("val") else None
    train_data = ShapeDataset(train_store, cfg.data, modality, seed=cfg.train.seed)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.train.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg.train.lr_schedule, cfg.train.max_steps))
    state: dict[str, Any] = {"step": 0, "best_score": -math.inf, "best_step": -1, "best_state": None,
                             "stale_evals": 0, "history": [], "train_seconds": 0.0, "first_loss": None}
    run.run_dir.mkdir(parents=True, exist_ok=True)
    last = run.run_dir / LAST
    if last.is_file():
        ckpt = load_checkpoint(last, map_location=device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        state = ckpt["state"]
        log(f"[{run.name}] resuming from step {state['step']} ({last})")

    def checkpoint() -> None:
        if not ctx.main:
            return
        save_checkpoint(last, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "state": state})

    def validate() -> dict[str, dict[str, Any]]:
        # Every rank validates (same data, same weights); rank 0's numbers decide, so all ranks agree.
        if val_store is None:
            return {}
        ev = evaluate(model, tasks, val_store, cfg.data, cfg.eval, device, modality,
                      max_points=cfg.eval.val_points, amp=cfg.train.amp)
        model.train()
        return ev.metrics

    lambdas = run.lambdas()
    amp = cfg.train.amp and device.type == "cuda"
    max_steps, eval_every = cfg.train.max_steps, cfg.train.eval_every or cfg.train.max_steps
    model.train()
    from bench.progress import progress_bar

    t_segment = time.time()
    checked = False
    with stop_on_signals() as stop, progress_bar(f"{run.suite}/{run.name}", max_steps, enabled=progress) as advance:
        advance(state["step"])
        while state["step"] < max_steps:
            step = state["step"]
            rng = np.random.default_rng([cfg.train.seed, step])  # the batch of a step depends on the step only
            idx = rng.integers(0, len(train_store), cfg.train.batch_size)
            batch = D.shard(train_data.batch(idx, rng), ctx)  # every rank draws the global batch, keeps its slice
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                if not checked:
                    with torch.no_grad():
                        _encode_checked(model, batch["inputs"], cfg.model.encoder)
                    checked = True
                out = train_model(batch["inputs"], batch["points"])
                losses = {t: tasks[t].loss(out[t].float(), batch) for t in tasks}
                loss = sum(lambdas[t] * losses[t] for t in tasks)
            if D.any_rank(not bool(torch.isfinite(loss)), ctx):
                detail = ", ".join(f"{t} {v.item():.4g}" for t, v in losses.items())
                kept = f"the last good checkpoint is kept at {last}" if last.is_file() else "no checkpoint was written yet"
                raise TrainingError(f"[{run.name}] loss became {loss.item()} at step {step} ({detail}); {kept}. "
                                    "Lower train.lr, or check the data with `bench data check`.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            state["step"] = step + 1
            fields: dict[str, Any] = {"loss": float(loss.item())}
            if step == 0:
                state["first_loss"] = D.mean_over_ranks(float(loss.item()), ctx)
            done = state["step"] >= max_steps
            if state["step"] % eval_every == 0 or done:
                metrics = validate()
                score = D.broadcast(_selection_score(metrics, tasks) if metrics else -math.inf, ctx)
                state["history"].append({"step": state["step"], "loss": float(loss.item()), "val_score": score})
                if score > state["best_score"] or state["best_state"] is None:
                    state.update(best_score=score, best_step=state["step"], stale_evals=0,
                                 best_state={k: v.detach().clone() for k, v in model.state_dict().items()})
                else:
                    state["stale_evals"] += 1
                fields["val"] = score
                if cfg.train.early_stop and state["stale_evals"] >= cfg.train.early_stop:
                    done = True
            stop_now = D.any_rank(stop["stop"], ctx)
            if state["step"] % cfg.train.checkpoint_every == 0 or done or stop_now:
                state["train_seconds"] += time.time() - t_segment
                t_segment = time.time()
                checkpoint()
            advance(1, **fields)
            if stop_now:
                raise Interrupted(f"[{run.name}] interrupted at step {state['step']}; checkpoint saved to {last}. "
                                  "Run the same command again to resume.")
            if done:
                break

    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    if not ctx.main:
        return None  # rank 0 evaluates and writes; the runner broadcasts its result
    save_checkpoint(run.run_dir / MODEL, {"encoder": model.encoder.state_dict(), "model": model.state_dict(),
                                          "step": state["best_step"]})
    t_eval = time.time()
    test_store = ShapeStore.load(info, cfg.eval.split, max_shapes=cfg.eval.max_shapes, **load)
    mesh_shapes = (cfg.eval.mesh_shapes or len(test_store)) if cfg.eval.eval_mesh else 0
    final = evaluate(model, tasks, test_store, cfg.data, cfg.eval, device, modality,
                     mesh_shapes=mesh_shapes, amp=cfg.train.amp)
    entry = ENCODERS.entry(cfg.model.encoder)
    skipped = train_store.skipped + (val_store.skipped if val_store else []) + test_store.skipped
    return RunResult(
        suite=run.suite, run_name=run.name, config_hash=run.config_hash, config=run.full_config(),
        status="complete", protocol=run.spec.protocol, tasks=list(run.spec.tasks),
        encoder={"name": entry.name, "value": entry.value, "package": entry.package,
                 "params": count_parameters(model.encoder), "modality": modality,
                 "trainable": not frozen},
        dataset={"name": info.name, "revision": info.revision, "train": len(train_store),
                 "val": len(val_store) if val_store else 0, "test": len(test_store),
                 "skipped": [{"shape": s, "reason": r} for s, r in skipped]},
        metrics=final.metrics, per_category=final.per_category,
        metric_info={n: {**t.metric_info(), "conventions": t.conventions()} for n, t in tasks.items()},
        encoder_from={"run": run.stage_one.name, "config_hash": run.stage_one.config_hash} if run.stage_one else None,
        seed=cfg.train.seed, steps=state["step"], step_limited=run.step_limited,
        timings={"train_s": round(state["train_seconds"], 2), "eval_s": round(time.time() - t_eval, 2),
                 "total_s": round(time.time() - t_start, 2), "best_step": state["best_step"],
                 "params_total": count_parameters(model)},
        training={"first_loss": state.get("first_loss"), "history": state["history"], "world_size": ctx.world},
        device=str(device), packages=package_versions(), git=git_info(), bench_version=__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def finish(run: ResolvedRun, result: RunResult) -> None:
    """Write result.json (atomically), then drop the resumable state: the run is done."""
    write_result(result, run.run_dir)
    (run.run_dir / LAST).unlink(missing_ok=True)
