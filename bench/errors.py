"""Errors a user can act on. The CLI prints one red line for these (``--debug`` shows the traceback)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """Base class: a problem with the user's input, configuration or plugins, not a bug in bench."""


class ConfigError(BenchError):
    """bench.toml (or an override) is invalid."""


class UnknownPluginError(BenchError):
    """A name that no registered plugin answers to."""


class PluginLoadError(BenchError):
    """A plugin failed to import or does not satisfy its contract."""


class PluginContractError(BenchError):
    """A plugin ran but broke its contract (wrong shape, NaN, ...)."""


class DataError(BenchError):
    """A dataset file is missing, corrupt or inconsistent."""


class TrainingError(BenchError):
    """Training cannot continue (NaN loss, missing stage-one encoder, ...)."""


class ResultError(BenchError):
    """A result file is missing or invalid."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest of ``choices``, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
