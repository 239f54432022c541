"""Naming the plugin to blame. The harness calls plugin code through ``blame`` (or builds a plugin with
``build_plugin``) wherever a plugin's bug would otherwise surface as a traceback from deep inside the harness:
building any plugin, a dataset's prepare and render, a shape head's build_head, the encoder's and decoders'
forward on the first batch (bench/training/loop.py), a task's scoring methods (bench/task_adapter.py). An
exception inside the plugin then comes out as a BenchError that says which plugin raised, doing what, and
what it raised.

A BenchError passes untouched: it already says what is wrong and where (e.g. a plugin that calls back into
the harness and gets a configuration error). ``BaseException``s that are not ``Exception``s (KeyboardInterrupt,
SystemExit) pass too: they are not the plugin's bug to report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bench.errors import BenchError, ConfigError, PluginContractError, PluginLoadError

Label = str | Callable[[], str]
"""A plugin's label (e.g. ``"encoder plugin 'pointnet' (...)"``), or a function giving it: labels come from
registry look-ups, which a call on the hot path (every shape, every task) makes only on failure."""


def label_of(label: Label) -> str:
    return label() if callable(label) else label


@contextmanager
def blame(label: Label, doing: str = "forward", error: type[BenchError] = PluginContractError,
          hint: str = "") -> Iterator[None]:
    """Run the block; an exception raised in it, other than a BenchError, is re-raised as ``error``:
    ``"<label> raised in <doing>: <Type>: <message><hint>"``, chained to the original (``raise ... from``)."""
    try:
        yield
    except BenchError:
        raise
    except Exception as exc:
        raise error(f"{label_of(label)} raised in {doing}: {type(exc).__name__}: {exc}{hint}") from exc


def build_plugin(label: Label, factory: Callable[..., Any], args: tuple = (), kwargs: Mapping[str, Any] | None = None,
                 *, given: str, fix: str, type_error: type[BenchError] = ConfigError) -> Any:
    """``factory(*args, **kwargs)``: a plugin's constructor, with its errors mapped.

    A TypeError (the plugin does not take the arguments it is given) is a ``type_error``:
    ``"<label>: could not be built with <given>: <message>. <fix>"``, where ``fix`` says what to check (the
    plugin's [*_kwargs.NAME] table, the constructor's contract). Any other exception is a PluginLoadError
    ``"<label>: raised while being built: <Type>: <message>"``; a BenchError passes untouched."""
    try:
        return factory(*args, **(kwargs or {}))
    except BenchError:
        raise
    except TypeError as exc:
        raise type_error(f"{label_of(label)}: could not be built with {given}: {exc}. {fix}") from exc
    except Exception as exc:
        raise PluginLoadError(f"{label_of(label)}: raised while being built: {type(exc).__name__}: {exc}") from exc
