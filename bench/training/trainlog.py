"""The training log of a run: train_log.csv beside result.json (what ML users plot), and optionally
TensorBoard events. The CSV is rewritten from the checkpointed state, so a resumed run's log has no gap
and no duplicate rows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from bench._io import atomic_write_text
from bench.errors import ConfigError

LOG_FILE = "train_log.csv"


def write_csv(rows: list[dict[str, Any]], run_dir: Path) -> Path:
    import pandas as pd

    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    path = Path(run_dir) / LOG_FILE
    atomic_write_text(path, buf.getvalue())
    return path


class TensorBoardLog:
    """Scalars of the log rows as TensorBoard events in ``<run folder>/tensorboard``."""

    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("output.log = \"tensorboard\" needs the tensorboard package: "
                              "pip install 'implicit-bench[log]' (or use --log csv).") from exc
        self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        self.written = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Write the rows not written yet (rows are appended by the loop, never changed)."""
        for row in rows[self.written:]:
            for key, value in row.items():
                if key != "step" and value is not None:
                    self.writer.add_scalar(key.replace("_", "/", 1) if key.startswith("loss_") else key, value, row["step"])
        self.written = len(rows)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
