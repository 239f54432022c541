"""Training one resolved run, in stages: build the run, prepare the loop (resuming a checkpoint), train
(bench/training/loop.py), keep the selected weights, evaluate on the test split, and make result.json."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import torch

from bench import __version__
from bench.data.dataset import ShapeDataset
from bench.errors import TrainingError
from bench.evaluation.evaluator import Evaluation, evaluate
from bench.evaluation.predictor import Predictor
from bench.data.sampling import stratified_sample
from bench.evaluation.scores import write_scores
from bench.models import count_parameters, create_tasks
from bench.registry import ENCODERS
from bench.results import (DatasetInfo, EncoderInfo, MetricInfo, RunResult, TrainingInfo, git_info, metric_directions,
                           package_versions, write_result)
from bench.training import distributed as D
from bench.training.build import BuiltRun, build_run
from bench.training.checkpoint import LAST, MODEL, load_checkpoint, load_model_state, plain_keys, save_checkpoint
from bench.training.loop import Interrupted, Loop, lr_lambda, train_loop  # noqa: F401 - Interrupted: the runner's
from bench.training.plan import ResolvedRun
from bench.training.precision import resolve_precision
from bench.training.state import TrainState
from bench.training.trainlog import TensorBoardLog


def select_device(name: str) -> torch.device:
    """``train.device`` (already one of auto | cpu | cuda | mps, checked at load) -> a torch device here."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device is visible to torch; use --device auto or cpu.")
    if name == "mps" and not mps:
        raise TrainingError("--device mps: MPS is not available here; use --device auto or cpu.")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _device(cfg, ctx: D.DistContext) -> torch.device:
    device = select_device(cfg.train.device)
    if ctx.active and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    return device


def compile_heads(model) -> None:
    """torch.compile the decoders in place (nn.Module.compile): the module keeps its state-dict keys, where
    the torch.compile wrapper would add '_orig_mod.' to them and a resume with train.compile toggled would
    not load. Checkpoints are also saved and loaded without that prefix, so ones written by a wrapped model
    (bench before this change, or torch < 2.2) load either way."""
    if hasattr(model.point_heads, "compile"):
        model.point_heads.compile()
    else:  # torch < 2.2: the wrapper; bench.training.checkpoint maps its keys
        model.point_heads = torch.compile(model.point_heads)


def stale_checkpoint(ckpt: dict, info, last) -> str | None:
    """Why the resumable checkpoint must not be resumed (its dataset is not the one on disk now), or None."""
    saved = ckpt.get("dataset_revision")
    if saved == info.revision:
        return None
    if saved is None:
        return f"{last} does not record its dataset revision (written by an older bench)"
    return f"{last} was trained on revision {saved} of dataset {info.name}, which is now at revision {info.revision}"


def resume(loop: Loop, model, optimizer, scheduler, device, log) -> TrainState:
    """The state saved in the run's last.pt, loaded into the model, optimiser and scheduler; a fresh state
    when there is none, or when it was trained on another revision of the dataset (that file is left to be
    overwritten by the first checkpoint: deleting it here would race the other ranks reading it)."""
    run = loop.run
    if not loop.last.is_file():
        return TrainState()
    ckpt = load_checkpoint(loop.last, map_location=device)
    why = stale_checkpoint(ckpt, loop.built.info, loop.last)
    if why is not None:
        log(f"[{run.name}] not resuming: {why}; training from step 0")
        return TrainState()
    load_model_state(model, ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    state = TrainState.from_payload(ckpt["state"])
    loop.saved_step = state.step
    if loop.tensorboard is not None:
        loop.tensorboard.written = len(state.log)  # the events of those rows were written before the stop
    log(f"[{run.name}] resuming from step {state.step} ({loop.last})")
    return state


def prepare_loop(run: ResolvedRun, built: BuiltRun, device: torch.device, ctx: D.DistContext, log) -> tuple[Loop, TrainState]:
    """The loop of a built run and its state: fresh, or resumed from the run's last checkpoint."""
    cfg = run.cfg
    model = built.model.to(device)
    if cfg.train.compile and model.point_heads is not None:
        compile_heads(model)
    train_store = built.load_split("train")
    val_store = (built.load_split("val", max_shapes=cfg.eval.val_shapes, stratified=True)
                 if built.info.splits.get("val") else None)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.train.lr_schedule, cfg.train.max_steps))
    run.run_dir.mkdir(parents=True, exist_ok=True)
    precision = resolve_precision(cfg.train.amp, device)
    log(f"[{run.name}] {precision.name} on {device} ({precision.reason})")
    # Validation scores the same kinds of points as the test, fewer of them (IoU and mIoU on the same ones).
    val_cfg = replace(cfg, eval=replace(cfg.eval, n_iou_points=cfg.eval.val_points))
    loop = Loop(run, built, create_tasks(run.spec.tasks, built.info, val_cfg), D.wrap(model, ctx, device), optimizer, scheduler,
                ShapeDataset(train_store, cfg.data, built.modality, seed=cfg.train.seed), train_store, val_store,
                Predictor(model, device, precision, cfg.model.encoder), last=run.run_dir / LAST, ctx=ctx)
    if cfg.output.log == "tensorboard" and ctx.main:
        loop.tensorboard = TensorBoardLog(run.run_dir)
    return loop, resume(loop, model, optimizer, scheduler, device, log)


def final_evaluation(loop: Loop) -> tuple[Evaluation, int, list[tuple[str, str]]]:
    """Test-split scores of the selected weights, the number of test shapes, and the shapes skipped while
    loading any split."""
    cfg = loop.run.cfg
    test_store = loop.built.load_split(cfg.eval.split, max_shapes=cfg.eval.max_shapes, stratified=True)
    meshed = stratified_sample(test_store.category, cfg.eval.mesh_shapes) if cfg.eval.eval_mesh else []
    final = evaluate(loop.predictor, loop.built.tasks, test_store, cfg.data, loop.built.modality, mesh_indices=meshed,
                     n_bootstrap=cfg.eval.n_bootstrap)
    skipped = loop.train_store.skipped + (loop.val_store.skipped if loop.val_store else []) + test_store.skipped
    return final, len(test_store), skipped


def train_and_evaluate(run: ResolvedRun, progress: bool = True, log=print, ctx: D.DistContext = D.SINGLE) -> RunResult | None:
    """Train and evaluate one run; under DDP every rank trains its slice and rank 0 alone returns the result."""
    cfg = run.cfg
    t_start = time.time()
    seed_everything(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = _device(cfg, ctx)
    frozen_from = run.stage_one.run_dir / MODEL if run.stage_one is not None else None
    built = build_run(cfg, run.spec.tasks, frozen_from, progress=progress, ctx=ctx, weights=run.weights)
    loop, state = prepare_loop(run, built, device, ctx, log)
    try:
        state = train_loop(loop, state, progress)
    finally:
        if loop.tensorboard is not None:
            loop.tensorboard.close()
    if state.best_state is not None:
        load_model_state(loop.model, state.best_state)
    if not ctx.main:
        return None  # rank 0 evaluates and writes; the runner broadcasts its result
    save_checkpoint(run.run_dir / MODEL, {"encoder": plain_keys(loop.model.encoder.state_dict()),
                                          "model": plain_keys(loop.model.state_dict()), "step": state.best_step})
    t_eval = time.time()
    final, n_test, skipped = final_evaluation(loop)
    write_scores(final.rows, run.run_dir)
    timings = {"train_s": round(state.train_seconds, 2), "eval_s": round(time.time() - t_eval, 2),
               "total_s": round(time.time() - t_start, 2), "best_step": state.best_step,
               "params_total": count_parameters(loop.model)}
    return make_result(loop, state, final, n_test, skipped, timings)


def encoder_from(run: ResolvedRun) -> dict | None:
    """result.json's ``encoder_from``: the stage-one run and its hash for an in-suite probe; the source, the
    weights' sha256 and the key prefix for weights from outside the suite; None for a trained encoder."""
    if run.stage_one is not None:
        return {"run": run.stage_one.name, "config_hash": run.stage_one.config_hash}
    return run.weights.record() if run.weights is not None else None


def make_result(loop: Loop, state: TrainState, final: Evaluation, n_test: int, skipped: list, timings: dict) -> RunResult:
    """result.json of a finished run."""
    run, built = loop.run, loop.built
    entry = ENCODERS.entry(run.cfg.model.encoder)
    metric_info = {}
    for name, task in built.tasks.items():
        info = task.metric_info()  # the task's own keys, in its order, then what bench adds
        metric_info[name] = MetricInfo.from_dict({**info, "directions": metric_directions(info),
                                                  "conventions": task.conventions()})
    return RunResult(
        suite=run.suite, run_name=run.name, config_hash=run.config_hash, config=run.full_config(),
        status="complete", protocol=run.spec.protocol, tasks=list(run.spec.tasks),
        encoder=EncoderInfo(name=entry.name, value=entry.value, package=entry.package,
                            params=count_parameters(built.model.encoder), modality=built.modality,
                            trainable=run.spec.protocol != "frozen"),
        dataset=DatasetInfo(name=built.info.name, revision=built.info.revision, train=len(loop.train_store),
                            val=len(loop.val_store) if loop.val_store else 0, test=n_test,
                            skipped=[{"shape": s, "reason": r} for s, r in skipped]),
        metrics=final.metrics, per_category=final.per_category, intervals=final.intervals, metric_info=metric_info,
        encoder_from=encoder_from(run),
        seed=run.cfg.train.seed, steps=state.step, step_limited=run.step_limited, timings=timings,
        training=TrainingInfo(first_loss=state.first_loss, history=state.history, world_size=loop.ctx.world,
                              precision="bf16" if loop.amp else "fp32"),
        device=str(loop.device), packages=package_versions(), git=git_info(), bench_version=__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def finish(run: ResolvedRun, result: RunResult) -> None:
    """Write result.json (atomically), then drop the resumable state: the run is done. A failed write
    raises and keeps last.pt, so the run resumes next time."""
    write_result(result, run.run_dir)
    try:
        (run.run_dir / LAST).unlink(missing_ok=True)
    except OSError:  # the result is written and is what counts; a leftover last.pt only costs disk space
        pass
