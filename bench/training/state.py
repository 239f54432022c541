"""Training progress as a dataclass, saved in every resumable checkpoint (as plain tensors and numbers,
so that ``torch.load(..., weights_only=True)`` reads it back)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from bench.training.checkpoint import plain_keys


@dataclass
class TrainState:
    step: int = 0
    best_score: float = -math.inf
    best_step: int = -1
    best_state: dict[str, torch.Tensor] | None = None
    """The weights with the best validation score so far (model selection)."""
    stale_evals: int = 0
    """Validations since the best one (early stopping)."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """One entry per validation: step, loss, validation score."""
    train_seconds: float = 0.0
    first_loss: float | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    """Every output.log_every steps: step, lr, loss, each task's loss, and the validation score when one
    was computed at that step (train_log.csv is written from it at each checkpoint)."""

    def select(self, score: float, model: torch.nn.Module) -> bool:
        """Keep the model's weights if ``score`` is the best so far; True when it was."""
        if score > self.best_score or self.best_state is None:
            self.best_score, self.best_step, self.stale_evals = score, self.step, 0
            self.best_state = {k: v.detach().clone() for k, v in plain_keys(model.state_dict()).items()}
            return True
        self.stale_evals += 1
        return False

    def to_payload(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict: it deep-copies the weights

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TrainState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in names})


def checkpoint_payload(state: TrainState, model, optimizer, scheduler,
                       dataset_revision: str | None = None) -> dict[str, Any]:
    """Everything a killed run needs to go on exactly where it stopped, and the revision of the dataset it
    trained on (a resume on changed data would mix two datasets in one run)."""
    return {"model": plain_keys(model.state_dict()), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "state": state.to_payload(), "dataset_revision": dataset_revision}
