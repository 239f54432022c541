"""Names that become path components (suites, runs): one rule, checked where they are read (bench.toml,
result files), so that no name from a file can lead a path out of the folder it belongs in."""

from __future__ import annotations

import re
from typing import Any

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,127}")
RULE = "letters, digits and _ . + = -, starting with a letter or digit, at most 128 characters"


def is_safe_name(value: Any) -> bool:
    """One path component: no separator, no leading dot (so never '.' or '..'), no space or markup."""
    return isinstance(value, str) and SAFE_NAME.fullmatch(value) is not None
