"""How the harness calls a task's evaluation methods, whichever task contract the task was written for.

Contract 2 (``bench.contracts.CONTRACT_VERSION``) scores one shape from its ``ShapeView``, with indices into
that shape's points. Contract 1 gave the task the split's whole ``ShapeStore``, the shape's position ``i`` and
flat indices into ``store.points``. A task is called the contract-1 way when it does not declare
``contract_version = 2``, or when it (or a class between it and ``Task``) still overrides a contract-1
method: a subclass written against contract 1 of a task that was since ported, whose override may call
``super()`` the contract-1 way (``Task``'s contract-1 methods answer from the contract-2 ones). Such a task
gets a DeprecationWarning naming it and what to change.

The harness works in flat indices into ``store.points`` (it decodes the union of all point tasks' points of
a shape in one pass); this module converts, and is the only one that knows both contracts.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bench.blame import blame
from bench.contracts import CONTRACT_VERSION, Task, view_indices
from bench.errors import PluginContractError

# contract 1's methods: their signatures, and what replaces them in contract 2
CONTRACT_1 = {"eval_indices": "eval_indices(store, i)", "score_shape": "score_shape(logits, store, i, indices)",
              "score_mesh": "score_mesh(mesh, store, i)"}
CONTRACT_2 = {"eval_indices": "eval_points(view)", "score_shape": "shape_scores(logits, view, idx)",
              "score_mesh": "mesh_scores(mesh, view)"}
KNOWN_VERSIONS = (1, CONTRACT_VERSION)


def overrides(cls: type, method: str) -> bool:
    """Whether ``cls`` or a class before ``Task`` in its MRO defines ``method``."""
    for klass in cls.__mro__:
        if klass is Task:
            return False
        if method in vars(klass):
            return True
    return False


def contract_of(cls: type) -> int:
    """The contract the harness calls a task class by: 2 when it declares it and overrides no contract-1 method."""
    declared = getattr(cls, "contract_version", 1)
    return CONTRACT_VERSION if declared == CONTRACT_VERSION and not legacy_methods(cls) else 1


def legacy_methods(cls: type) -> list[str]:
    return [m for m in CONTRACT_1 if overrides(cls, m)]


def check_task_class(cls: type, label: str) -> None:
    """Before a task is built: a contract version this harness knows, the scoring methods its kind needs, and
    a DeprecationWarning for a task called the contract-1 way."""
    declared = getattr(cls, "contract_version", 1)
    if type(declared) is not int or declared not in KNOWN_VERSIONS:
        raise PluginContractError(f"{label}: contract_version = {declared!r} is not a task contract this bench knows "
                                  f"({', '.join(map(str, KNOWN_VERSIONS))}; docs/plugins.md).")
    if not overrides(cls, "shape_scores") and not overrides(cls, "score_shape"):  # was abstract in contract 1
        raise PluginContractError(f"{label} implements neither shape_scores(logits, view, idx) (task contract "
                                  f"{CONTRACT_VERSION}) nor score_shape (task contract 1); docs/plugins.md, 'Tasks'.")
    if contract_of(cls) == 1:
        warnings.warn(deprecation_message(cls, label), DeprecationWarning, stacklevel=2)


def deprecation_message(cls: type, label: str) -> str:
    legacy = legacy_methods(cls)
    how = "docs/plugins.md, 'Migrating from task contract 1'"
    if not legacy:
        return (f"{label} does not declare contract_version = {CONTRACT_VERSION}, so it is called by task contract 1, "
                f"which is deprecated and will be removed: set contract_version = {CONTRACT_VERSION} on {cls.__name__} "
                f"({how}).")
    methods = ", ".join(CONTRACT_1[m] for m in legacy)
    replacements = ", ".join(CONTRACT_2[m] for m in legacy)
    if getattr(cls, "contract_version", 1) == CONTRACT_VERSION:
        start = (f"{label} declares contract_version = {CONTRACT_VERSION} but still overrides {methods} of task "
                 f"contract 1, so it is called by contract 1")
        change = f"replace them with {replacements}"
    else:
        start = f"{label} is written against task contract 1: it overrides {methods}"
        change = f"set contract_version = {CONTRACT_VERSION} and implement {replacements} instead"
    return (f"{start}; they get the split's whole store and flat indices into store.points. Task contract 1 is "
            f"deprecated and will be removed: {change}, which get one shape's ShapeView and indices into "
            f"view.points ({how}).")


def task_label(name: str) -> str:
    from bench.registry import TASKS

    return TASKS.entry(name).label("task")


class TaskScorer:
    """The evaluation methods of one task, called in the harness's terms: the split's store, the shape's
    position ``i`` in it, flat indices into ``store.points``. A failure is blamed on the task plugin."""

    def __init__(self, name: str, task: Task):
        self.name, self.task, self.version = name, task, contract_of(type(task))

    def eval_indices(self, store, i: int) -> np.ndarray:
        """Flat (M,) int64 indices into ``store.points`` of the points shape i is scored on."""
        if self.version == 1:
            return np.asarray(self._call("eval_indices", store, i, self.task.eval_indices, store, i), np.int64)
        view = store.view(i)
        picked = self._call("eval_points", store, i, self.task.eval_points, view)
        try:
            return int(store.p_off[i]) + view_indices(picked, view)
        except ValueError as exc:
            raise PluginContractError(f"{task_label(self.name)}: eval_points gave no usable points on shape "
                                      f"{store.ids[i]}: {exc}.") from None

    def score_points(self, logits: np.ndarray, store, i: int, indices: np.ndarray) -> dict[str, Any]:
        """Scores of shape i from (M, C) logits at the flat ``indices`` that ``eval_indices`` gave."""
        if self.version == 1:
            return self._call("score_shape", store, i, self.task.score_shape, logits, store, i, indices)
        return self._call("shape_scores", store, i, self.task.shape_scores, logits, store.view(i),
                          indices - int(store.p_off[i]))

    def score_latent(self, logits: np.ndarray, store, i: int) -> dict[str, Any]:
        """Scores of shape i from the (C,) logits of a shape task's head."""
        if self.version == 1:
            return self._call("score_shape", store, i, self.task.score_shape, logits, store, i, None)
        return self._call("shape_scores", store, i, self.task.shape_scores, logits, store.view(i))

    def score_mesh(self, mesh, store, i: int) -> dict[str, Any]:
        """Scores of the mesh extracted for shape i (``scores_mesh`` tasks)."""
        if self.version == 1:
            return self._call("score_mesh", store, i, self.task.score_mesh, mesh, store, i)
        return self._call("mesh_scores", store, i, self.task.mesh_scores, mesh, store.view(i))

    def _call(self, method: str, store, i: int, fn, *args):
        with blame(lambda: task_label(self.name), f"{method} on shape {store.ids[i]}"):
            return fn(*args)
