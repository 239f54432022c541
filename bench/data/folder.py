"""Any folder already in the bench format (dataset.json + shape folders), e.g. made by another tool."""

from __future__ import annotations

from pathlib import Path

from bench.config import DataConfig
from bench.data.format import DATASET_FILE
from bench.errors import ConfigError, DataError


class FolderDataset:
    """A prepared dataset folder with dataset.json (data.path); the format of docs/design.md."""

    def __init__(self, cfg: DataConfig, seed: int = 0):
        if not cfg.path:
            raise ConfigError("data.path: the 'folder' dataset needs --set data.path=/path/to/dataset")
        self.root = Path(cfg.path).expanduser()

    def prepare(self, progress: bool = True) -> Path:
        if not (self.root / DATASET_FILE).is_file():
            raise DataError(f"{self.root}: no {DATASET_FILE}; is this a bench dataset folder?")
        return self.root
