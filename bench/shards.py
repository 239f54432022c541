"""Cluster job arrays: ``--shard i/n`` takes the i-th of n disjoint shares of some work (shapes to prepare,
runs of a suite); the n shares together are the whole."""

from __future__ import annotations

from bench.errors import ConfigError


def parse_shard(text: str | None) -> tuple[int, int]:
    """'i/n' -> (i, n), 0 <= i < n; None or '' -> (0, 1), everything."""
    if not text:
        return 0, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError as exc:
        raise ConfigError(f"--shard {text!r}: expected i/n, e.g. 0/4 (the first of four shares)") from exc
    if not 0 <= i < n:
        raise ConfigError(f"--shard {text}: need 0 <= i < n, e.g. 0/4 ... 3/4")
    return i, n
