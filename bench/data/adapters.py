"""Dataset adapters that prepare raw sources with `bench prepare`'s pipeline into the cache, once:
ModelNet40 (.off meshes), ShapeNetPart (labelled points + ShapeNetCore meshes), any folder of meshes."""

from __future__ import annotations

import json
from pathlib import Path

from bench._io import stable_hash
from bench.config import DataConfig
from bench.data.cache import cache_dir, dataset_complete, render_missing_views
from bench.data.format import Category, DatasetInfo
from bench.data.meshio import MESH_SUFFIXES
from bench.data.prepare import MeshItem, PrepareParams, PrepareReport, finalise, prepare_items, render_prepared
from bench.errors import ConfigError, DataError


def _split_of(name: str) -> str:
    """Deterministic 80/10/10 split from the name, for sources without official splits."""
    h = int(stable_hash(name, 8), 16) % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


class _PreparedSource:
    """Base: list items from ``data.path``, prepare them into the cache, return the prepared folder."""

    name = "?"

    def __init__(self, cfg: DataConfig, seed: int = 0):
        if not cfg.path:
            raise ConfigError(f"data.path: the '{self.name}' dataset needs the folder of its raw data; "
                              f"pass --set data.path=/path/to/it (see the README's Datasets section).")
        self.cfg, self.source = cfg, Path(cfg.path).expanduser()
        self.set_params(PrepareParams(seed=seed))

    def set_params(self, params: PrepareParams) -> None:
        """Preparation settings; the cache folder follows them, so other settings never reuse it."""
        self.params = params
        key = stable_hash({"source": str(self.source.resolve()), "params": params.__dict__, "extra": self.extra_key()})
        self.root = cache_dir(self.cfg) / f"{self.name}-{key}"

    def extra_key(self) -> str:
        return ""

    def listing(self) -> tuple[list[MeshItem], list[Category], list[str]]:  # pragma: no cover - interface
        raise NotImplementedError

    def render(self, info: DatasetInfo, n_views: int, size: int, progress: bool = True) -> None:
        """Render views of the prepared shapes from their source meshes (cached in views.npz)."""
        items = {it.shape_id: it for it in self.listing()[0]}

        def args_of(shape_id: str) -> tuple:
            if shape_id not in items:
                raise DataError(f"{self.source}: shape {shape_id} of the prepared dataset {self.root} is no longer in "
                                f"the source, so its views cannot be rendered; restore it or delete {self.root} to "
                                "prepare the dataset again.")
            return items[shape_id], self.root, n_views, size, self.params.seed

        render_missing_views(self.root, info, n_views, size, render_prepared, args_of, progress)

    def build(self, root: Path | None = None, workers: int = 0, shard: tuple[int, int] = (0, 1),
              progress: bool = True) -> tuple[PrepareReport, DatasetInfo | None]:
        """Prepare this shard's unfinished shapes into ``root`` (default: the cache) and write dataset.json
        once every shard is done (else the info is None)."""
        root = Path(root or self.root)
        if not self.source.is_dir():
            raise DataError(f"{self.source}: {self.name} source folder not found (data.path).")
        items, categories, part_names = self.listing()
        if not items:
            raise DataError(f"{self.source}: no shapes found for {self.name}; check the folder layout in the README.")
        report = prepare_items(items, root, self.params, workers=workers, shard=shard, progress=progress)
        return report, finalise(items, root, self.name, categories, part_names, self.params, str(self.source))

    def prepare(self, progress: bool = True, workers: int = 0, shard: tuple[int, int] = (0, 1)) -> Path:
        if dataset_complete(self.root):
            return self.root
        _, info = self.build(workers=workers, shard=shard, progress=progress)
        if info is None:
            raise DataError(f"{self.root}: not every shard is finished yet; run the remaining --shard jobs, then again.")
        return self.root


class ModelNet40(_PreparedSource):
    """ModelNet40 from its raw .off meshes (<class>/{train,test}/*.off); 10% of train held out as val."""

    name = "modelnet40"

    def listing(self):
        items, cats = [], []
        for cls in sorted(p for p in self.source.iterdir() if p.is_dir()):
            files = {s: sorted((cls / s).glob("*.off")) for s in ("train", "test")}
            if not any(files.values()):
                continue
            cats.append(Category(cls.name, cls.name))
            n_val = len(files["train"]) // 10
            for k, f in enumerate(files["train"]):
                items.append(MeshItem(f"{cls.name}/{f.stem}", "val" if k >= len(files["train"]) - n_val else "train", str(f)))
            items += [MeshItem(f"{cls.name}/{f.stem}", "test", str(f)) for f in files["test"]]
        return items, cats, []


class MeshFolder(_PreparedSource):
    """Any folder of meshes (.off/.obj/.ply/.stl/.glb), optionally one subfolder per class; 80/10/10 splits."""

    name = "meshes"

    def listing(self):
        items, cats = [], []
        subdirs = sorted(p for p in self.source.iterdir() if p.is_dir())
        groups = [(d.name, d) for d in subdirs] or [("shape", self.source)]
        for cls, folder in groups:
            files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in MESH_SUFFIXES)
            if not files:
                continue
            cats.append(Category(cls, cls))
            for f in files:
                stem = "_".join(f.relative_to(folder).with_suffix("").parts)
                items.append(MeshItem(f"{cls}/{stem}", _split_of(f"{cls}/{stem}"), str(f)))
        return items, cats, []


# ShapeNetPart's 16 categories and 50 global part indices (the standard seg_classes table).
SHAPENETPART_PARTS = {
    "Airplane": [0, 1, 2, 3], "Bag": [4, 5], "Cap": [6, 7], "Car": [8, 9, 10, 11], "Chair": [12, 13, 14, 15],
    "Earphone": [16, 17, 18], "Guitar": [19, 20, 21], "Knife": [22, 23], "Lamp": [24, 25, 26, 27],
    "Laptop": [28, 29], "Motorbike": [30, 31, 32, 33, 34, 35], "Mug": [36, 37], "Pistol": [38, 39, 40],
    "Rocket": [41, 42, 43], "Skateboard": [44, 45, 46], "Table": [47, 48, 49],
}


class ShapeNetPart(_PreparedSource):
    """ShapeNetPart labelled points (data.path) + ShapeNetCore meshes (data.mesh_path); official splits, 16 categories / 50 parts."""

    name = "shapenetpart"

    def __init__(self, cfg: DataConfig, seed: int = 0):
        super().__init__(cfg, seed)
        if not cfg.mesh_path:
            raise ConfigError("data.mesh_path: shapenetpart needs the ShapeNetCore meshes for occupancy; "
                              "pass --set data.mesh_path=/path/to/ShapeNetCore")
        self.meshes = Path(cfg.mesh_path).expanduser()

    def extra_key(self) -> str:
        return str(Path(self.cfg.mesh_path).expanduser().resolve())

    def _mesh_file(self, synset: str, model: str) -> Path:
        for rel in (f"{synset}/{model}/models/model_normalized.obj", f"{synset}/{model}/model.obj"):
            if (self.meshes / rel).is_file():
                return self.meshes / rel
        return self.meshes / f"{synset}/{model}/models/model_normalized.obj"  # missing: logged as a failure

    def listing(self):
        mapping = self.source / "synsetoffset2category.txt"
        if not mapping.is_file():
            raise DataError(f"{mapping}: missing; is data.path the ShapeNetPart folder?")
        synsets = {}
        for line in mapping.read_text().splitlines():
            if line.strip():
                name, synset = line.split()
                synsets[synset] = name
        cats = [Category(s, n, SHAPENETPART_PARTS.get(n, [])) for s, n in synsets.items()]
        part_names = [""] * 50
        for n, ids in SHAPENETPART_PARTS.items():
            for k, i in enumerate(ids):
                part_names[i] = f"{n}/{k}"
        items = []
        for split in ("train", "val", "test"):
            lst = self.source / "train_test_split" / f"shuffled_{split}_file_list.json"
            if not lst.is_file():
                continue
            for entry in json.loads(lst.read_text()):
                synset, model = entry.split("/")[-2:]
                if synset not in synsets:
                    continue
                txt = self.source / synset / f"{model}.txt"
                pts = self.source / synset / "points" / f"{model}.pts"
                labelled, offset = (txt, 0) if txt.is_file() else (pts, SHAPENETPART_PARTS[synsets[synset]][0] - 1)
                items.append(MeshItem(f"{synset}/{model}", split, str(self._mesh_file(synset, model)),
                                      labelled_points=str(labelled), label_offset=offset))
        return items, cats, part_names
