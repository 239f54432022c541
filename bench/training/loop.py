"""The training loop of one run: steps, validation and model selection, checkpoints, NaN guards (loss
and gradients), and a graceful stop on SIGINT/SIGTERM. Each concern is a small function over one ``Loop``."""

from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from bench.data.dataset import ShapeDataset, ShapeStore
from bench.blame import blame
from bench.errors import TrainingError
from bench.evaluation.evaluator import evaluate
from bench.evaluation.predictor import Predictor
from bench.registry import DECODERS, ENCODERS
from bench.training import distributed as D
from bench.training.build import BuiltRun
from bench.training.checkpoint import save_checkpoint
from bench.training.plan import ResolvedRun
from bench.training.state import TrainState, checkpoint_payload
from bench.training.trainlog import TensorBoardLog, write_csv

COSINE_FLOOR = 0.05  # the cosine schedule decays to this share of train.lr, not to 0 (late steps still learn)


class Interrupted(TrainingError):
    """Training stopped by SIGINT/SIGTERM after saving a checkpoint."""


@dataclass
class Loop:
    """Everything one run's training loop touches."""

    run: ResolvedRun
    built: BuiltRun
    val_tasks: dict  # the run's tasks, set up for validation (eval.val_points points a shape)
    train_model: torch.nn.Module  # the model, wrapped for DDP when several processes train
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_data: ShapeDataset
    train_store: ShapeStore
    val_store: ShapeStore | None
    predictor: Predictor  # the model (unwrapped) on this run's device, in its precision: validation infers with it
    last: Path  # the resumable checkpoint
    ctx: D.DistContext = D.SINGLE
    checked: bool = False  # the plugins' contracts were checked on the first batch
    tensorboard: TensorBoardLog | None = None
    saved_step: int | None = None  # the step of the checkpoint at ``last`` this run wrote or resumed, if any

    @property
    def model(self):
        return self.built.model

    @property
    def device(self) -> torch.device:
        return self.predictor.device

    @property
    def amp(self) -> bool:
        """bfloat16 autocast on this device (training and validation alike)."""
        return self.predictor.bf16


def lr_lambda(schedule: str, max_steps: int) -> Callable[[int], float]:
    if schedule == "cosine":
        return lambda step: COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (
            1 + math.cos(math.pi * min(step, max_steps) / max(1, max_steps)))
    return lambda step: 1.0


def selection_score(metrics: dict[str, dict[str, Any]], tasks, select: str = "mean") -> float:
    """Model selection (``train.select``) from validation ``metrics`` (``{task: {metric: instance mean}}``).

    ``"mean"``: the mean of the trained tasks' main scores (lower-is-better ones negated), so a joint run keeps
    the weights that are best for all its tasks together, not for one of them. ``"iou"``: ONet's rule, the
    reconstruction IoU: the mean ``iou`` of the tasks that score meshes (``Task.scores_mesh``, the occupancy
    tasks) and report one; a run without such a task (a classification probe) falls back to ``"mean"``.
    No score at all -> -inf."""
    if select == "iou":
        ious = [metrics[name]["iou"] for name, task in tasks.items()
                if getattr(task, "scores_mesh", False) and metrics.get(name, {}).get("iou") is not None]
        if ious:
            return float(np.mean(ious))
    elif select != "mean":
        raise TrainingError(f"train.select = {select!r}: not one of mean, iou.")
    scores = []
    for name, task in tasks.items():
        value = metrics[name].get(task.main_score)
        if value is None:
            continue
        higher = task.metric_info()["directions"][task.main_score] == "higher"
        scores.append(value if higher else -value)
    return float(np.mean(scores)) if scores else -math.inf


def check_forward(model, inputs: torch.Tensor, points: torch.Tensor, encoder_name: str) -> None:
    """The encoder's and decoders' contracts on the first batch, before any step; errors name the plugin
    (a wrong shape would otherwise surface deep inside a decoder or a loss). Runs in eval mode, so that
    the check leaves no trace in batch-norm statistics."""
    was_training = model.training
    model.eval()
    entry = ENCODERS.entry(encoder_name)
    try:
        with torch.no_grad():
            with blame(entry.label("encoder"), "forward", TrainingError,
                       hint=f". `bench check-encoder {entry.name}` runs it on a tiny batch."):
                z = model.encode(inputs)
            expected = (inputs.shape[0], model.encoder.latent_dim)
            if not isinstance(z, torch.Tensor) or tuple(z.shape) != expected:
                got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
                raise TrainingError(f"{entry.label('encoder')} returned {got} for inputs {tuple(inputs.shape)}; "
                                    f"the contract is (B, latent_dim) = {expected}.")
            if model.point_heads is not None:
                with blame(lambda: DECODERS.entry(model.point_heads.decoder_name).label("decoder"), "forward",
                           TrainingError):
                    out = model.point_heads(points, z)
                model.point_heads.check_output(out, points)
    finally:
        model.train(was_training)


def validate(loop: Loop) -> dict[str, dict[str, Any]]:
    """Validation metrics. Every rank validates (same data, same weights); rank 0's numbers decide."""
    if loop.val_store is None:
        return {}
    ev = evaluate(loop.predictor, loop.val_tasks, loop.val_store, loop.run.cfg.data, loop.built.modality)
    loop.model.train()
    return ev.metrics


def train_step(loop: Loop, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One optimiser step on the batch of ``step`` (it depends on the seed and the step only, so a resumed
    run sees the batches an uninterrupted one would)."""
    cfg, tasks = loop.run.cfg, loop.built.tasks
    rng = np.random.default_rng([cfg.train.seed, step])
    idx = rng.integers(0, len(loop.train_store), cfg.train.batch_size)
    batch = D.shard(loop.train_data.batch(idx, rng), loop.ctx)  # every rank draws the global batch, keeps its slice
    batch = {k: v.to(loop.device, non_blocking=True) for k, v in batch.items()}
    if not loop.checked:
        check_forward(loop.model, batch["inputs"], batch["points"], cfg.model.encoder)
        loop.checked = True
    lambdas = loop.run.lambdas()
    with loop.predictor.autocast():
        out = loop.train_model(batch["inputs"], batch["points"])
        losses = {t: tasks[t].loss(out[t].float(), batch) for t in tasks}
        loss = sum(lambdas[t] * losses[t] for t in tasks)
    if D.any_rank(not bool(torch.isfinite(loss)), loop.ctx):
        detail = ", ".join(f"{t} {v.item():.4g}" for t, v in losses.items())
        raise TrainingError(f"[{loop.run.name}] loss became {loss.item()} at step {step} ({detail}); "
                            f"{kept_checkpoint(loop)}. Lower train.lr, or check the data with `bench data check`.")
    loop.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    check_gradients(loop, step, loss)
    loop.optimizer.step()
    loop.scheduler.step()
    return loss, losses


def kept_checkpoint(loop: Loop) -> str:
    """What a stopped run leaves to resume from (the weights were not updated by the bad step)."""
    if loop.saved_step is None:
        return "no checkpoint was written yet"
    return f"the last good checkpoint (step {loop.saved_step}) is kept at {loop.last}"


def nonfinite_gradient_owner(loop: Loop) -> str:
    """The first parameter whose gradient is NaN/inf, and the plugin it belongs to (only called once the
    total norm is non-finite, so the per-parameter scan costs nothing on good steps)."""
    for name, p in loop.model.named_parameters():
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            if name.startswith("encoder."):
                owner = ENCODERS.entry(loop.run.cfg.model.encoder).label("encoder")
            elif name.startswith("point_heads.") and loop.model.point_heads is not None:
                owner = DECODERS.entry(loop.model.point_heads.decoder_name).label("decoder")
            else:
                return f"parameter '{name}'"
            return f"parameter '{name}' of the {owner}"
    return "no single parameter (the total norm overflowed)"


def gradient_norm(model: torch.nn.Module) -> torch.Tensor:
    """The total 2-norm of the gradients: NaN/inf when any gradient is (one fused reduction, no copy)."""
    params = [p for p in model.parameters() if p.grad is not None]
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
        return torch.nn.utils.get_total_norm([p.grad for p in params])
    return torch.nn.utils.clip_grad_norm_(params, math.inf)  # an infinite limit clips nothing


def check_gradients(loop: Loop, step: int, loss: torch.Tensor) -> None:
    """Stop before an optimiser step that would write NaN into the weights: a finite loss can still have
    NaN/inf gradients (a backward at a singular point: sqrt or a norm at 0, a custom autograd Function)."""
    norm = gradient_norm(loop.model)
    if not D.any_rank(not bool(torch.isfinite(norm)), loop.ctx):
        return
    raise TrainingError(
        f"[{loop.run.name}] gradients became non-finite (total norm {norm.item()}) at step {step} while the loss "
        f"was finite ({loss.item():.4g}); first one in {nonfinite_gradient_owner(loop)}. The weights were not "
        f"updated and {kept_checkpoint(loop)}. Some backward pass gave NaN/inf: look in that plugin for sqrt, "
        "norm, log or a division of values that can reach 0 "
        f"(`bench check-encoder {loop.run.cfg.model.encoder}` checks an encoder's gradients).")


def validate_and_select(loop: Loop, state: TrainState, loss: float) -> float:
    """Validate, record the score in the history and keep the best weights."""
    metrics = validate(loop)
    select = loop.run.cfg.train.select
    score = D.broadcast(selection_score(metrics, loop.built.tasks, select) if metrics else -math.inf, loop.ctx)
    state.history.append({"step": state.step, "loss": loss, "val_score": score})
    state.select(score, loop.model)
    return score


def save_progress(loop: Loop, state: TrainState, t_segment: float) -> float:
    """Write the resumable checkpoint and the training log (rank 0); returns the start of the next timed
    segment."""
    now = time.time()
    state.train_seconds += now - t_segment
    if loop.ctx.main:
        save_checkpoint(loop.last, checkpoint_payload(state, loop.model, loop.optimizer, loop.scheduler,
                                                      loop.built.info.revision))
        write_csv(state.log, loop.run.run_dir)
        if loop.tensorboard is not None:
            loop.tensorboard.add(state.log)
    loop.saved_step = state.step
    return now


def log_row(loop: Loop, state: TrainState, loss: torch.Tensor, losses: dict[str, torch.Tensor]) -> None:
    """A row of the training log, every output.log_every steps (and at every validation)."""
    every = loop.run.cfg.output.log_every
    if every and (state.step % every == 0 or state.step == 1):
        state.log.append({"step": state.step, "lr": loop.optimizer.param_groups[0]["lr"], "loss": float(loss.item()),
                          **{f"loss_{t}": float(v.item()) for t, v in losses.items()}})


def train_loop(loop: Loop, state: TrainState, progress: bool = True) -> TrainState:
    """Train from ``state.step`` to train.max_steps (or early stop); a signal saves and raises Interrupted."""
    from bench.progress import progress_bar

    cfg = loop.run.cfg.train
    eval_every = cfg.eval_every or cfg.max_steps
    t_segment = time.time()
    loop.model.train()
    with stop_on_signals() as stop, progress_bar(f"{loop.run.suite}/{loop.run.name}", cfg.max_steps,
                                                 enabled=progress and loop.ctx.main) as advance:
        advance(state.step)
        while state.step < cfg.max_steps:
            loss, losses = train_step(loop, state.step)
            if state.step == 0:
                state.first_loss = D.mean_over_ranks(float(loss.item()), loop.ctx)
            state.step += 1
            log_row(loop, state, loss, losses)
            fields: dict[str, Any] = {"loss": float(loss.item())}
            done = state.step >= cfg.max_steps
            if state.step % eval_every == 0 or done:
                fields["val"] = validate_and_select(loop, state, float(loss.item()))
                if state.log and state.log[-1]["step"] == state.step:
                    state.log[-1]["val_score"] = fields["val"]
                else:
                    state.log.append({"step": state.step, "val_score": fields["val"]})
                done = done or bool(cfg.early_stop and state.stale_evals >= cfg.early_stop)
            stop_now = D.any_rank(stop["stop"], loop.ctx)
            if state.step % cfg.checkpoint_every == 0 or done or stop_now:
                t_segment = save_progress(loop, state, t_segment)
            advance(1, **fields)
            if stop_now:
                raise Interrupted(f"[{loop.run.name}] interrupted at step {state.step}; checkpoint saved to "
                                  f"{loop.last}. Run the same command again to resume.")
            if done:
                break
    return state


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
