"""Dataset adapters that prepare raw sources with `bench prepare`'s pipeline into the cache, once:
ModelNet40 (.off meshes), ShapeNetPart (labelled points + ShapeNetCore meshes), any folder of meshes.
Shape ids come from file and folder names, which can be anything: every id is made safe (``safe_name``) and
checked (``check_shape_id``), and ids that two sources share are refused, so that no source can write outside
the output folder or overwrite another one's shape."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

from bench._io import stable_hash
from bench.config import DataConfig
from bench.data.cache import cache_dir, dataset_complete, render_missing_views
from bench.data.format import Category, DatasetInfo, check_shape_id
from bench.data.meshio import MESH_SUFFIXES
from bench.data.prepare import (MeshItem, PrepareParams, PrepareReport, finalise, hashed_params, prepare_items,
                                 render_prepared)
from bench.errors import ConfigError, DataError


def _split_of(name: str) -> str:
    """Deterministic 80/10/10 split from the name, for sources without official splits."""
    h = int(stable_hash(name, 8), 16) % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_name(name: str) -> str:
    """``name`` as one safe id component, deterministically: unchanged when it is letters, digits, '_', '-',
    '.' and not only dots; else accents dropped, other characters replaced by '_' and a hash of the original
    appended ('a b' -> 'a_b-<hash>', '..' -> '_-<hash>'), so that a sanitised name never meets a real one."""
    name = unicodedata.normalize("NFC", name)  # macOS hands out decomposed names: the same id on every system
    clean = _UNSAFE.sub("_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii"))
    if not clean.strip("."):  # '', '.', '..', '...' name no folder inside the dataset
        clean = "_"
    return name if clean == name else f"{clean}-{stable_hash(name, 8)}"


def source_item(category: str, name: str, mesh: Path, split: str | None = None, **extra) -> MeshItem:
    """The item of one source shape with a safe id; an id that check_shape_id still refuses is kept as a
    refused item (logged as a failure, never prepared). ``split`` None: the 80/10/10 split of the id."""
    sid = f"{safe_name(category)}/{safe_name(name)}"
    try:
        check_shape_id(sid, str(mesh))
        why = ""
    except DataError as exc:
        why = f"{exc} Rename the file or folder."
    return MeshItem(sid, split or _split_of(sid), str(mesh), skip=why, **extra)


def unique_items(items: list[MeshItem]) -> list[MeshItem]:
    """One item per shape id, in order. An id that several sources map to (x.obj next to x.ply, one name in
    train and test) is refused for all of them: keeping either would be an arbitrary, silent choice, and
    keeping both would overwrite one shape with the other."""
    groups: dict[str, list[MeshItem]] = {}
    for it in items:
        groups.setdefault(it.shape_id, []).append(it)
    out = []
    for sid, group in groups.items():
        if len(group) > 1:
            sources = ", ".join(f"{it.mesh} ({it.split})" for it in group)
            group[0] = replace(group[0], skip=f"{len(group)} sources map to the shape id {sid}: {sources}; none of "
                                              "them was prepared. Rename or remove all but one, then run again.")
        out.append(group[0])
    return out


def unique_categories(cats: list[Category]) -> list[Category]:
    """The first category of each id (two folder names can make one safe id)."""
    first: dict[str, Category] = {}
    for c in cats:
        first.setdefault(c.id, c)
    return list(first.values())


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
        key = stable_hash({"source": str(self.source.resolve()), "params": hashed_params(params), "extra": self.extra_key()})
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
            files = {s: sorted(f for f in (cls / s).glob("*.off") if not f.is_dir()) for s in ("train", "test")}
            if not any(files.values()):
                continue
            cats.append(Category(safe_name(cls.name), cls.name))
            n_val = len(files["train"]) // 10
            for k, f in enumerate(files["train"]):
                items.append(source_item(cls.name, f.stem, f, "val" if k >= len(files["train"]) - n_val else "train"))
            items += [source_item(cls.name, f.stem, f, "test") for f in files["test"]]
        return unique_items(items), unique_categories(cats), []


class MeshFolder(_PreparedSource):
    """Any folder of meshes (.off/.obj/.ply/.stl/.glb), optionally one subfolder per class; 80/10/10 splits."""

    name = "meshes"

    def listing(self):
        items, cats = [], []
        subdirs = sorted(p for p in self.source.iterdir() if p.is_dir())
        groups = [(d.name, d) for d in subdirs] or [("shape", self.source)]
        for cls, folder in groups:
            # not folders ('parts.obj/'); FIFOs and devices stay in, to be refused by name and logged as failures
            files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in MESH_SUFFIXES and not f.is_dir())
            if not files:
                continue
            cats.append(Category(safe_name(cls), cls))
            for f in files:
                parts = f.relative_to(folder).with_suffix("").parts
                items.append(source_item(cls, "_".join(safe_name(p) for p in parts), f))
        return unique_items(items), unique_categories(cats), []


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

    def _synsets(self) -> dict[str, str]:
        """synset -> category name from synsetoffset2category.txt ('<name> <synset>' per line)."""
        mapping = self.source / "synsetoffset2category.txt"
        if not mapping.is_file():
            raise DataError(f"{mapping}: missing; is data.path the ShapeNetPart folder?")
        synsets = {}
        for n, line in enumerate(_read_text(mapping).splitlines(), 1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 2:
                raise DataError(f"{mapping}:{n}: expected '<category name> <synset id>' (2 fields), got "
                                f"{len(tokens)}: {line.strip()!r}. Fix that line (the original file has one "
                                "tab-separated pair per line).")
            name, synset = tokens
            _check_name(synset, f"{mapping}:{n}", "synset id")
            synsets[synset] = name
        return synsets

    def _split_entries(self, lst: Path) -> list[tuple[str, str]]:
        """(synset, model) of each 'shape_data/<synset>/<model>' entry of one split list."""
        try:
            entries = json.loads(_read_text(lst))
        except ValueError as exc:
            raise DataError(f"{lst}: not valid JSON ({exc}); restore the file from the ShapeNetPart download.") from exc
        if not isinstance(entries, list):
            raise DataError(f"{lst}: expected a JSON list of 'shape_data/<synset>/<model>' strings.")
        out = []
        for k, entry in enumerate(entries):
            where = f"{lst} (entry {k})"
            if not isinstance(entry, str) or entry.count("/") < 1:
                raise DataError(f"{where}: {entry!r} is not a 'shape_data/<synset>/<model>' string; fix the entry.")
            synset, model = entry.split("/")[-2:]
            _check_name(model, where, "model id")  # the model names files to read: '..' would leave the source
            out.append((synset, model))
        return out

    def _pts_offset(self, name: str, synset: str) -> int:
        """What turns a .seg file's local labels 1..k of category ``name`` into global part indices."""
        if name not in SHAPENETPART_PARTS:
            raise DataError(f"{self.source / 'synsetoffset2category.txt'}: category {name!r} (synset {synset}) is not "
                            f"one of ShapeNetPart's 16 ({', '.join(SHAPENETPART_PARTS)}), so the local labels of its "
                            ".seg files cannot be mapped to global parts; use the standard category name.")
        return SHAPENETPART_PARTS[name][0] - 1

    def listing(self):
        synsets = self._synsets()
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
            for synset, model in self._split_entries(lst):
                if synset not in synsets:
                    continue
                txt = self.source / synset / f"{model}.txt"
                pts = self.source / synset / "points" / f"{model}.pts"
                # exists(), not is_file(): a FIFO .txt is then refused by name when it is read (never opened)
                labelled, offset = (txt, 0) if txt.exists() else (pts, self._pts_offset(synsets[synset], synset))
                items.append(MeshItem(f"{synset}/{model}", split, str(self._mesh_file(synset, model)),
                                      labelled_points=str(labelled), label_offset=offset))
        return unique_items(items), cats, part_names


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); restore the file from the dataset download.") from exc


def _check_name(name: str, where: str, what: str) -> None:
    """A ShapeNetPart synset or model id names folders and files: it must be a safe id component."""
    try:
        check_shape_id(f"{name}/{name}", where)
    except DataError:
        raise DataError(f"{where}: the {what} {name!r} is not a plain name (letters, digits, '_', '-', '.'; not "
                        "'.' or '..'), so it could point outside the dataset folder; fix it.") from None
