"""One registry mechanism for every plugin kind (encoders, tasks, datasets, point decoders).

Names come from entry-point metadata, so listing imports nothing. A plugin is imported only when it is
used, each import is guarded, and ``module:attr`` strings are accepted wherever a name is. Built-ins are
declared as entry points in our own pyproject.toml and take the same path as third-party plugins.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata as md
import importlib.util
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from bench.errors import PluginLoadError, UnknownPluginError, did_you_mean

OWN_DISTRIBUTION = "implicit-bench"


@dataclass(frozen=True)
class PluginEntry:
    """One registered plugin, as metadata says; nothing imported."""

    name: str
    value: str  # "module:attr"
    package: str  # distribution that registered it, or "command line"

    @property
    def builtin(self) -> bool:
        return self.package == OWN_DISTRIBUTION

    def label(self, kind: str) -> str:
        """How errors name a plugin: "encoder plugin 'x' (pkg.mod:Attr, from dist)"."""
        return f"{kind} plugin '{self.name}' ({self.value}, from {self.package})"


class PluginCollisionWarning(UserWarning):
    pass


class BrokenPluginWarning(UserWarning):
    pass


def _dist_name(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) or (dist.metadata["Name"] if dist is not None else None)
    return name or "unknown package"


def import_attr(value: str) -> Any:
    """Import ``module:attr`` (attr may be dotted)."""
    module_name, _, attr = value.partition(":")
    obj = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def docstring_without_import(value: str) -> str:
    """First line of the docstring of ``module:attr``, read from source with ``ast``; '' if unknown.

    Reading the source instead of importing keeps ``bench encoders`` cheap and lets it describe a
    plugin that fails to import.
    """
    module_name, _, attr = value.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return ""
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (Exception, SystemExit):  # noqa: BLE001 - best effort, never fatal (find_spec imports the parent package)
        return ""
    target = attr.split(".")[0] if attr else ""
    node: ast.AST = tree
    if target:
        for child in tree.body:
            if isinstance(child, (ast.ClassDef, ast.FunctionDef)) and child.name == target:
                node = child
                break
        else:
            return ""
    doc = ast.get_docstring(node) or ""  # type: ignore[arg-type]
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _import_failure(exc: BaseException) -> str:
    """What went wrong importing a plugin, in words."""
    if isinstance(exc, SystemExit):
        return (f"it called sys.exit({exc.code!r}) while being imported (SystemExit); "
                "fix the plugin or uninstall its package")
    return f"{type(exc).__name__}: {exc}"


class Registry:
    """Plugins of one kind, found in the entry-point ``group``."""

    def __init__(self, group: str, kind: str, check: Callable[[str, Any], None] | None = None):
        self.group = group
        self.kind = kind
        self._check = check

    def entries(self, warn: bool = True) -> dict[str, PluginEntry]:
        """All registered plugins by name; on a name collision the built-in (else the first) wins."""
        found: dict[str, PluginEntry] = {}
        for ep in md.entry_points(group=self.group):
            entry = PluginEntry(ep.name, ep.value, _dist_name(ep))
            other = found.get(ep.name)
            if other is not None and other.value != entry.value:
                keep = other if other.builtin or not entry.builtin else entry
                if warn:
                    warnings.warn(
                        f"{self.kind} name '{ep.name}' is registered twice: by {other.package} "
                        f"({other.value}) and by {entry.package} ({entry.value}); using {keep.package}'s. "
                        f"Pass the module:attr path to pick the other.",
                        PluginCollisionWarning,
                        stacklevel=2,
                    )
                found[ep.name] = keep
            else:
                found[ep.name] = entry
        return dict(sorted(found.items()))

    def names(self) -> list[str]:
        return list(self.entries(warn=False))

    def entry(self, name: str) -> PluginEntry:
        """Resolve a registered name or a ``module:attr`` path."""
        if ":" in name:
            return PluginEntry(name, name, "command line")
        entries = self.entries()
        if name not in entries:
            raise UnknownPluginError(
                f"No {self.kind} named '{name}'.{did_you_mean(name, entries)} "
                f"Run `bench {self.kind}s` to list them, or pass a module:attr path."
            )
        return entries[name]

    def load(self, name: str) -> Any:
        """Import the plugin (class or factory); errors name the plugin and its package."""
        entry = self.entry(name)
        try:
            obj = import_attr(entry.value)
        except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() at import must not end bench
            raise PluginLoadError(f"{entry.label(self.kind)} failed to import: {_import_failure(exc)}") from exc
        if self._check is not None:
            self._check(entry.name, obj)
        return obj

    def try_load(self, name: str) -> tuple[Any | None, str | None]:
        """(plugin, None) or (None, reason), warning once for a broken plugin."""
        try:
            return self.load(name), None
        except PluginLoadError as exc:
            warnings.warn(str(exc), BrokenPluginWarning, stacklevel=2)
            return None, str(exc)

    def describe(self, name: str) -> str:
        return docstring_without_import(self.entry(name).value)


def _check_callable(kind: str) -> Callable[[str, Any], None]:
    def check(name: str, obj: Any) -> None:
        if not callable(obj):
            raise PluginLoadError(
                f"{kind} plugin '{name}' must be a class or factory function, got {type(obj).__name__}."
            )

    return check


ENCODERS = Registry("bench.encoders", "encoder", _check_callable("encoder"))
TASKS = Registry("bench.tasks", "task", _check_callable("task"))
DATASETS = Registry("bench.datasets", "dataset", _check_callable("dataset"))
DECODERS = Registry("bench.decoders", "decoder", _check_callable("decoder"))
REGISTRIES = {"encoder": ENCODERS, "task": TASKS, "dataset": DATASETS, "decoder": DECODERS}
