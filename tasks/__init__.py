"""Built-in task plugins: reconstruction, classification, segmentation (task contract 2)."""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigError, did_you_mean


def setting(task: str, key: str, value: Any, legacy: Any, choices: tuple[str, ...] = ()) -> Any:
    """A built-in task's setting: its ``[task_kwargs.TASK]`` value when given (not None), else the value of
    the deprecated key it moved from (``legacy``: bench/config.py MOVED_TO_TASK_KWARGS); one of ``choices``."""
    value = legacy if value is None else value
    if choices and value not in choices:
        raise ConfigError(f"[task_kwargs.{task}] {key}: {value!r} is not one of {', '.join(choices)}."
                          f"{did_you_mean(str(value), choices)}")
    return value
