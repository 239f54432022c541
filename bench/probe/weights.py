"""Encoder weights from anywhere: a plain ``torch.save(model.state_dict())`` file, a training checkpoint (a
prefix picks the encoder's keys out of it), a bench run's ``model.pt``, or what a plugin loaded itself.

Files are read with ``torch.load(..., weights_only=True)``: bench never unpickles code. Every problem is one
ConfigError that names the file (or the encoder) and says what to do. ``EncoderWeights.sha256`` is the content
hash that enters a frozen run's config hash (docs/design.md, "Protocols").
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import ConfigError, did_you_mean

SHOWN = 10  # keys listed per group in an error; the rest are counted
_CHUNK = 1 << 20
_GLOBAL = re.compile(r"GLOBAL (\S+) was not an allowed global")
_SAVE_HINT = "save the encoder's weights with torch.save(encoder.state_dict(), path) instead"


@dataclass(frozen=True)
class EncoderWeights:
    """An encoder's state dict (keys as ``encoder.state_dict()`` has them) and where it came from."""

    state: OrderedDict[str, torch.Tensor] = field(repr=False, compare=False)
    sha256: str
    """sha256 of the weights file's bytes; for weights a plugin or a module holds, ``state_dict_sha256(state)``."""
    source: str
    """``file:<path>`` | ``run:<run folder>`` | ``plugin:<encoder name>``."""
    prefix: str = ""
    """The key prefix that was stripped ('' when none)."""

    def describe(self) -> dict[str, str]:
        """What result.json records of the weights: ``{"sha256", "source", "prefix"}``."""
        return {"sha256": self.sha256, "source": self.source, "prefix": self.prefix}


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    """The raw bytes of a tensor's values, in row-major order, for any dtype numpy lacks too (bfloat16)."""
    t = t.detach().cpu()
    if t.layout != torch.strided:  # sparse: hash the values it stands for
        t = t.to_dense()
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def state_dict_sha256(state: Mapping[str, Any]) -> str:
    """sha256 over the sorted keys of ``state`` and, per key, the tensor's dtype, shape and bytes: the same
    weights give the same hash whatever the order of the dict or the device they sit on."""
    digest = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        digest.update(key.encode("utf-8") + b"\0")
        if isinstance(value, torch.Tensor):
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode() + b"\0")
            digest.update(_tensor_bytes(value))
        else:  # a module's extra state: rare, hashed by its text
            digest.update(f"{type(value).__name__}:{value!r}".encode("utf-8") + b"\0")
    return digest.hexdigest()


def _load(path: Path, data: bytes) -> Any:
    """The object in a torch file's ``data``, loaded without running code; one clear error otherwise."""
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        if found:
            raise ConfigError(
                f"{path}: the file holds a pickled Python object ({found.group(1)}), not a state dict; bench never "
                f"unpickles code (it loads weights with weights_only=True): {_SAVE_HINT}.") from exc
        raise ConfigError(
            f"{path}: not a torch weights file that can be read without running code (a plain pickle, or a format "
            f"torch's weights_only loader refuses); {_SAVE_HINT}.") from exc
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file fails in many ways (zip, EOF, seek, key)
        first = (str(exc).splitlines() or [""])[0][:200]
        raise ConfigError(
            f"{path}: truncated, or not a torch file ({type(exc).__name__}: {first}). Copy the file again, or "
            f"{_SAVE_HINT}.") from exc


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _nested_dicts(obj: Mapping[str, Any], path: str = "") -> list[str]:
    """The prefixes (``model.``, ``state_dict.``) of the dicts of tensors nested in a checkpoint."""
    out = []
    for key, value in obj.items():
        if isinstance(value, Mapping):
            here = f"{path}{key}."
            out += [here] if _is_tensor_dict(value) else _nested_dicts(value, here)
    return out


def _key_prefixes(keys: Iterable[str]) -> list[str]:
    """The distinct first parts (``encoder.``, ``decoder.``) of dotted keys, in order."""
    return list(dict.fromkeys(k.split(".")[0] + "." for k in keys if "." in k))


def _listed(items: list[str], n: int = SHOWN) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _with_metadata(selected: OrderedDict, source: Mapping[str, Any], prefix: str) -> OrderedDict:
    """``selected`` with the ``_metadata`` of ``source`` (module versions, which batch norm's loading reads),
    its module paths under ``prefix`` re-rooted."""
    meta = getattr(source, "_metadata", None)
    if meta is not None:
        root = prefix[:-1]
        selected._metadata = OrderedDict(  # type: ignore[attr-defined]
            (k if not prefix else "" if k == root else k[len(prefix):], v) for k, v in meta.items()
            if not prefix or k == root or k.startswith(prefix))
    return selected


def _select(obj: Any, prefix: str, path: Path) -> OrderedDict:
    """The encoder's state dict inside a loaded file (see ``read_weights``)."""
    if not isinstance(obj, Mapping):
        raise ConfigError(f"{path}: holds a {type(obj).__name__}, not a dict of tensors (a state dict); "
                          f"{_SAVE_HINT}.")
    node: Mapping[str, Any] = obj
    if not prefix:
        if isinstance(obj.get("encoder"), Mapping) and isinstance(obj.get("model"), Mapping):
            node = obj["encoder"]  # a bench run's model.pt: {"encoder": ..., "model": ..., "step": ...}
        elif not _is_tensor_dict(obj):
            nested = _nested_dicts(obj)
            hint = (f"; the dicts of tensors in it are under {_listed([repr(n) for n in nested])}: pass the one "
                    f"of the encoder as the key prefix (--key-prefix, or weights_prefix in a suite), e.g. "
                    f"{nested[0]!r}" if nested else f". {_SAVE_HINT[0].upper()}{_SAVE_HINT[1:]}")
            raise ConfigError(f"{path}: not a plain state dict (top-level keys: {_listed(list(map(str, obj)))})"
                              f"{hint}.")
        return _with_metadata(OrderedDict(node.items()), node, "")
    rest = prefix
    while rest:  # walk nested dicts on dots as far as they go ("model.encoder." -> obj["model"], then "encoder.")
        head, _, tail = rest.partition(".")
        if not isinstance(node.get(head), Mapping):
            break
        node, rest = node[head], tail
    keys = [k for k in node if isinstance(k, str) and k.startswith(rest)]
    if not keys:
        walked = prefix[:len(prefix) - len(rest)]
        where = f"under {walked!r}" if walked else "at the top level"
        found = _key_prefixes(map(str, node)) or list(map(str, node))
        raise ConfigError(
            f"{path}: no key starts with the prefix {rest!r} {where} (given prefix {prefix!r}); the keys found "
            f"{where} start with {_listed([repr(f) for f in found])}.{did_you_mean(rest, found)} Give one of "
            f"them as the key prefix (--key-prefix, or weights_prefix in a suite).")
    selected = OrderedDict((k[len(rest):], node[k]) for k in keys)
    return _with_metadata(selected, node, rest)


def read_weights(path: str | Path, prefix: str = "") -> EncoderWeights:
    """The encoder weights in a torch file, read with ``weights_only=True``.

    The file may hold (a) a plain state dict (``torch.save(model.state_dict(), path)``); (b) a checkpoint
    holding more (``{"model": sd, "optimizer": ...}``), with ``prefix`` selecting the encoder's keys:
    ``"encoder."`` keeps the keys that start with it and strips it, and a prefix may name nested dicts too
    (``"model.encoder."`` for ``{"model": {"encoder.x": ...}}``: nested dicts are walked on dots as far as
    they go, the rest is stripped as a key prefix); (c) a bench run's ``model.pt``, whose ``"encoder"`` dict
    is taken when no prefix is given. A trailing dot on ``prefix`` is optional.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        hint = f" (a bench run folder: give {path / 'model.pt'})" if (path / "model.pt").is_file() else ""
        raise ConfigError(f"{path}: is a folder, not a weights file{hint}.")
    try:
        data = path.read_bytes()  # hashed and loaded from the same bytes: the hash is of what was loaded
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: weights file not found. Check the path (relative paths start from the "
                          f"folder bench runs in, {Path.cwd()}).") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: weights file cannot be read ({exc.strerror or exc}).") from exc
    prefix = prefix.strip()
    prefix = prefix + "." if prefix and not prefix.endswith(".") else prefix
    state = _select(_load(path, data), prefix, path)
    bad = [f"{k} ({type(v).__name__})" for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConfigError(f"{path}: not a dict of tensors: {_listed(bad)} "
                          f"{'is not a tensor' if len(bad) == 1 else 'are not tensors'}"
                          f"{f' (under the prefix {prefix!r})' if prefix else ''}; {_SAVE_HINT}.")
    if not state:
        raise ConfigError(f"{path}: holds no weights (an empty dict); {_SAVE_HINT}.")
    return EncoderWeights(state, hashlib.sha256(data).hexdigest(), f"file:{path}", prefix)


def _prefix_fix(unexpected: list[str], expected: Mapping[str, Any]) -> str | None:
    """The shortest module prefix shared by every unexpected key that, stripped, turns them all into the
    encoder's keys (``backbone.`` for ``backbone.fc.weight`` against ``fc.weight``); None when there is none."""
    first = unexpected[0]
    for i, char in enumerate(first):
        if char != ".":
            continue
        candidate = first[:i + 1]
        if all(k.startswith(candidate) and k[i + 1:] in expected for k in unexpected):
            return candidate
    return None


def fit_problems(encoder: torch.nn.Module, weights: EncoderWeights, label: str) -> str | None:
    """Why ``weights`` do not load into ``encoder`` strictly (missing keys, unexpected keys, shape
    mismatches, each group capped at SHOWN), as one message naming ``label``; None when they fit."""
    expected = encoder.state_dict()
    state = weights.state
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: weights {tuple(state[k].shape)} vs encoder {tuple(expected[k].shape)}" for k in expected
              if k in state and isinstance(expected[k], torch.Tensor) and state[k].shape != expected[k].shape]
    if not (missing or unexpected or shapes):
        return None
    groups = []
    if missing:
        groups.append(f"{len(missing)} missing keys (in the encoder, not in the weights): {_listed(missing)}")
    if unexpected:
        groups.append(f"{len(unexpected)} unexpected keys (in the weights, not in the encoder): {_listed(unexpected)}")
    if shapes:
        groups.append(f"{len(shapes)} keys of another shape: {_listed(shapes)}")
    fix = _prefix_fix(unexpected, expected) if unexpected else None
    if fix is not None:
        full = weights.prefix + fix
        advice = (f"The unexpected keys all start with {fix!r} and match the encoder without it: pass "
                  f"--key-prefix {full!r} (weights_prefix = \"{full}\" in a suite).")
    else:
        advice = ("Check that the weights were saved from this encoder with these settings (model.encoder, "
                  "latent_dim, encoder_kwargs), or pick the encoder's keys of a checkpoint with --key-prefix "
                  "(weights_prefix in a suite).")
    return (f"{label}: the weights from {weights.source} do not fit: " + "; ".join(groups) + ". " + advice)


def load_into(encoder: torch.nn.Module, weights: EncoderWeights, label: str) -> None:
    """Load ``weights`` into ``encoder`` strictly (parameters and buffers: batch-norm statistics too). Missing
    keys, unexpected keys and shape mismatches are one ConfigError naming ``label`` (e.g. "encoder pointnet")
    that lists all three groups."""
    problem = fit_problems(encoder, weights, label)
    if problem is not None:
        raise ConfigError(problem)
    try:
        encoder.load_state_dict(weights.state, strict=True)
    except RuntimeError as exc:  # what the key and shape check cannot see (e.g. a module's own extra state)
        raise ConfigError(f"{label}: the weights from {weights.source} do not load: {exc}") from exc


def plugin_weights(encoder: torch.nn.Module, name: str) -> EncoderWeights:
    """The weights an encoder plugin loaded itself (a copy on CPU), hashed by ``state_dict_sha256``."""
    state = OrderedDict((k, v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v)
                        for k, v in encoder.state_dict().items())
    return EncoderWeights(state, state_dict_sha256(state), f"plugin:{name}", "")
