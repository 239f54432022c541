"""Occupancy Networks' preprocessed ShapeNet, read as it is."""

from __future__ import annotations

from pathlib import Path

from bench.config import DataConfig
from bench.errors import ConfigError, DataError


class ONetShapeNet:
    """ShapeNet as preprocessed by Occupancy Networks (13 classes, their splits); set data.path to it."""

    def __init__(self, cfg: DataConfig, seed: int = 0):
        if not cfg.path:
            raise ConfigError(
                "data.path: shapenet-onet needs the folder of ONet's preprocessed ShapeNet "
                "(download: https://github.com/autonomousvision/occupancy_networks#preprocessed-data); "
                "pass --set data.path=/path/to/ShapeNet"
            )
        self.root = Path(cfg.path).expanduser()

    def prepare(self, progress: bool = True) -> Path:
        if not self.root.is_dir():
            raise DataError(f"{self.root}: ONet ShapeNet folder not found (data.path).")
        return self.root
