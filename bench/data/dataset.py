"""Loading: every shape of a split in flat in-RAM arrays, a torch Dataset over them, and a vectorised
batch sampler (the trainer's fast path: one fancy-index per array per step, no per-point Python loop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.config import DataConfig
from bench.contracts import ShapeView
from bench.data.format import DatasetInfo, odd_ones, read_dataset_info, read_shape
from bench.blame import blame, build_plugin
from bench.errors import ConfigError, DataError, PluginContractError, PluginLoadError, did_you_mean
from bench.registry import DATASETS


def open_dataset(cfg: DataConfig, seed: int = 0, progress: bool = True, with_views: bool = False) -> DatasetInfo:
    """Resolve the dataset plugin named in ``cfg``, let it prepare its folder, and read its info.

    ``with_views``: image input; the plugin renders ``cfg.views`` views per shape unless they exist.
    A ``data.generator_seed`` other than 0 needs a plugin that draws its shapes from it (class attribute
    ``uses_generator_seed = True``, as synthetic has); any other plugin would ignore it silently.
    """
    plugin = DATASETS.load(cfg.name)
    label = DATASETS.entry(cfg.name).label("dataset")
    if cfg.generator_seed != 0 and not getattr(plugin, "uses_generator_seed", False):
        raise ConfigError(f"data.generator_seed = {cfg.generator_seed}: the {label} does not generate its shapes "
                          "from a seed, so another draw of it does not exist; only generated datasets (synthetic) "
                          "take this setting. Remove it (or set it to 0).")
    dataset = build_plugin(label, plugin, (cfg,), {"seed": seed}, given=f"(cfg, seed={seed})",
                           fix="A dataset plugin is called as plugin(cfg, seed=...).", type_error=PluginContractError)
    with blame(label, "prepare", PluginLoadError):
        root = dataset.prepare(progress=progress)
    info = read_dataset_info(root)
    if with_views and cfg.views > 0 and hasattr(dataset, "render"):
        with blame(label, "render", PluginLoadError):
            dataset.render(info, cfg.views, cfg.image_size, progress=progress)
    return info


@dataclass
class ShapeStore:
    """The shapes of one split, concatenated. S shapes; P_i query and S_i surface points for shape i."""

    info: DatasetInfo
    split: str
    ids: list[str]
    category: np.ndarray  # (S,) int64 index into info.categories
    points: np.ndarray  # (sum P_i, 3) float16
    occ: np.ndarray  # (sum P_i,) bool
    p_off: np.ndarray  # (S,) int64
    p_count: np.ndarray  # (S,)
    n_uniform: np.ndarray  # (S,)
    surface: np.ndarray  # (sum S_i, 3) float16
    normals: np.ndarray  # (sum S_i, 3) float16
    s_off: np.ndarray
    s_count: np.ndarray
    labels: np.ndarray | None = None  # (sum P_i,) int16, -1 outside
    surface_labels: np.ndarray | None = None
    voxels: np.ndarray | None = None  # (S, R, R, R) bool
    views: np.ndarray | None = None  # (S, V, H, W, 3) uint8
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def query(self, i: int, uniform_only: bool = False) -> slice:
        n = int(self.n_uniform[i] if uniform_only else self.p_count[i])
        return slice(int(self.p_off[i]), int(self.p_off[i]) + n)

    def surf(self, i: int) -> slice:
        return slice(int(self.s_off[i]), int(self.s_off[i] + self.s_count[i]))

    def view(self, i: int) -> ShapeView:
        """Shape i as a task scores it: read-only views of its rows of the flat arrays (no copy)."""
        q, s = self.query(i), self.surf(i)

        def rows(array: np.ndarray | None, sl: slice) -> np.ndarray | None:
            if array is None:
                return None
            out = array[sl]  # basic slicing: a view
            out.flags.writeable = False  # of this view only; the store's arrays stay writeable
            return out

        return ShapeView(shape_id=self.ids[i], category=int(self.category[i]), index=int(i),
                         points=rows(self.points, q), occ=rows(self.occ, q), n_uniform=int(self.n_uniform[i]),
                         surface=rows(self.surface, s), normals=rows(self.normals, s),
                         labels=rows(self.labels, q), surface_labels=rows(self.surface_labels, s))

    @classmethod
    def load(
        cls, info: DatasetInfo, split: str, with_parts: bool = False, with_voxels: bool = False,
        on_bad_shape: str = "skip", max_shapes: int = 0, progress: bool = False, n_views: int = -1,
        stratified: bool = False,
    ) -> ShapeStore:
        """``n_views`` >= 0 loads rendered views (0: all there are); -1: none. ``max_shapes`` > 0 keeps the
        first shapes of the split, or with ``stratified`` a category-stratified sample of about that many."""
        if split not in info.splits:
            raise DataError(f"{info.root}: no split '{split}'.{did_you_mean(split, info.splits)}")
        if with_parts and not info.has_parts:
            raise DataError(f"{info.root}: dataset {info.name} has no part labels; segmentation needs them.")
        ids = info.splits[split]
        if stratified:
            from bench.data.sampling import category_of, stratified_sample

            ids = [ids[k] for k in stratified_sample([category_of(s) for s in ids], max_shapes)]
        else:
            ids = ids[: max_shapes or None]
        cat_index = {c.id: i for i, c in enumerate(info.categories)}
        loaded, kept, skipped = [], [], []
        from bench.progress import progress_bar

        with progress_bar(f"loading {info.name}/{split}", len(ids), enabled=progress) as advance:
            for sid in ids:
                try:
                    loaded.append(read_shape(Path(info.root) / sid, len(info.part_names), with_parts, with_voxels, n_views))
                    kept.append(sid)
                except DataError as exc:
                    if on_bad_shape == "stop":
                        raise DataError(f"{exc} (set data.on_bad_shape = \"skip\" to skip broken shapes)") from exc
                    skipped.append((sid, str(exc)))
                advance()
        if not loaded:
            detail = f" First problem: {skipped[0][1]}" if skipped else ""
            raise DataError(f"{info.root}: split '{split}' has no loadable shapes.{detail}")
        p_count = np.array([len(s.points) for s in loaded])
        s_count = np.array([len(s.surface) for s in loaded])
        return cls(
            info=info, split=split, ids=kept,
            category=np.array([cat_index[sid.split("/")[0]] for sid in kept], dtype=np.int64),
            points=np.concatenate([s.points for s in loaded]),
            occ=np.concatenate([s.occ for s in loaded]),
            p_off=np.concatenate([[0], np.cumsum(p_count)[:-1]]).astype(np.int64), p_count=p_count,
            n_uniform=np.array([s.n_uniform for s in loaded]),
            surface=np.concatenate([s.surface for s in loaded]),
            normals=np.concatenate([s.normals for s in loaded]),
            s_off=np.concatenate([[0], np.cumsum(s_count)[:-1]]).astype(np.int64), s_count=s_count,
            labels=np.concatenate([s.labels for s in loaded]) if with_parts else None,
            surface_labels=np.concatenate([s.surface_labels for s in loaded]) if with_parts else None,
            voxels=_stack_alike([s.voxels for s in loaded], kept, f"{info.root}: voxel grids",
                                "prepare them again at one resolution") if with_voxels else None,
            views=_stack_alike([s.views for s in loaded], kept, f"{info.root}: views",
                               "delete the odd views.npz files and they are rendered again") if n_views >= 0 else None,
            skipped=skipped,
        )


def _stack_alike(arrays: list[np.ndarray], ids: list[str], what: str, fix: str) -> np.ndarray:
    """np.stack, or a DataError naming the shapes whose array differs in size from most (np.stack's own
    error names neither)."""
    common, odd = odd_ones([a.shape for a in arrays], ids)
    if odd:
        listed = ", ".join(f"{sid} {shape}" for sid, shape in odd[:5])
        listed += f" and {len(odd) - 5} more" if len(odd) > 5 else ""
        raise DataError(f"{what} differ in size between shapes: most are {common}, but {listed}; {fix} "
                        "(`bench data check` lists them all).")
    return np.stack(arrays)


def shape_radii(store: ShapeStore) -> np.ndarray:
    """(S,) float32: per shape, the largest distance of its surface points from their centroid, in the store's
    (unit-cube) frame: the scale that PointNet's normalisation to the unit sphere divides by (0.5 for a ball
    filling the cube, sqrt(3)/2 for the cube itself)."""
    radii = np.empty(len(store), dtype=np.float32)
    for i in range(len(store)):  # one shape at a time: the float32 copy of a whole split would not fit
        pts = store.surface[store.surf(i)].astype(np.float32)
        radii[i] = np.linalg.norm(pts - pts.mean(0), axis=1).max()
    return radii


def _draw(rng: np.random.Generator, offset: np.ndarray, count: np.ndarray, k: int) -> np.ndarray:
    """(B,) offsets and counts -> (B, k) random flat indices into each shape's range (with replacement)."""
    return offset[:, None] + (rng.random((len(offset), k)) * count[:, None]).astype(np.int64)


class ShapeDataset(torch.utils.data.Dataset):
    """Sample dicts (docs/design.md, "Samples") from a ShapeStore, with ONet's input corruption.

    ``dataset[i]`` gives one shape (random draws from ``seed`` and i); ``dataset.batch(idx, rng)`` gives a
    batch in one vectorised pass. Keys: inputs (B, N, 3) | (B, R, R, R) | (B, 3, H, W), points (B, M, 3),
    occ (B, M), part (B, M) when the dataset has parts, category (B,). ``dataset.inputs(idx, rng)`` gives the
    inputs alone, as evaluation needs them: there ``data.test_view`` picks the view and ``data.eval_noise``
    whether the points are corrupted; training batches always take a random view and the noise.
    """

    def __init__(self, store: ShapeStore, cfg: DataConfig, modality: str = "pointcloud", seed: int = 0):
        if modality == "voxels" and store.voxels is None:
            raise DataError("the voxel encoder needs voxels: load the store with with_voxels=True")
        if modality == "image" and store.views is None:
            raise DataError("the image encoder needs rendered views: set data.views (e.g. 24)")
        if modality not in ("pointcloud", "voxels", "image"):
            raise DataError(f"modality '{modality}' is not provided by dataset {store.info.name}; "
                            "it offers pointcloud, voxels and image.")
        if not 0.0 <= cfg.near_surface_share <= 1.0:
            raise ConfigError(f"data.near_surface_share = {cfg.near_surface_share}: a share of the query points, so "
                              "between 0 (uniform in the box only) and 1 (near the surface only).")
        if modality == "image" and cfg.test_view >= store.views.shape[1]:
            raise ConfigError(f"data.test_view = {cfg.test_view}, but {store.info.name} has {store.views.shape[1]} "
                              f"views per shape ({store.split} split): choose 0..{store.views.shape[1] - 1}, or -1 "
                              "for a random view per shape.")
        if cfg.test_view < -1:
            raise ConfigError(f"data.test_view = {cfg.test_view}: -1 (a random view per shape) or a view index >= 0.")
        self.store, self.cfg, self.modality, self.seed = store, cfg, modality, seed
        self._radii: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(i)])
        return {k: v[0] for k, v in self.batch(np.array([i]), rng).items()}

    def batch(self, idx: np.ndarray, rng: np.random.Generator, n_query: int | None = None) -> dict[str, torch.Tensor]:
        """A training batch of shapes ``idx``: their inputs, then ``n_query`` (default data.n_query_points) query
        points each, a share data.near_surface_share of them near the surface, drawn from ``rng`` in that order."""
        st = self.store
        idx = np.asarray(idx, dtype=np.int64)
        out: dict[str, torch.Tensor] = {"category": torch.from_numpy(st.category[idx]),
                                        "inputs": self._draw_inputs(idx, rng)}
        flat = self._draw_queries(idx, rng, self.cfg.n_query_points if n_query is None else n_query)
        out["points"] = torch.from_numpy(st.points[flat].astype(np.float32))
        out["occ"] = torch.from_numpy(st.occ[flat])
        if st.labels is not None:
            out["part"] = torch.from_numpy(st.labels[flat].astype(np.int64))
        return out

    def inputs(self, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """Only the encoder inputs of shapes ``idx`` (what evaluation gives the encoder): (B, N, 3) points |
        (B, R, R, R) voxels | (B, 3, H, W) images in [0, 1]. Drawn from ``rng`` exactly as
        ``batch(idx, rng, n_query=1)`` draws them, and leaving ``rng`` where that leaves it (the one query
        point per shape is drawn and dropped), so that successive batches of an evaluation get the inputs that
        evaluations have always had, and give the same numbers. Two settings apply here only: data.test_view
        >= 0 takes that view of every shape, and data.eval_noise = false leaves the points clean."""
        idx = np.asarray(idx, dtype=np.int64)
        inputs = self._draw_inputs(idx, rng, evaluation=True)
        self._draw_queries(idx, rng, 1)
        return inputs

    def _draw_inputs(self, idx: np.ndarray, rng: np.random.Generator, evaluation: bool = False) -> torch.Tensor:
        """The inputs of ``batch``, with ONet's corruption: data.n_input_points surface points with Gaussian
        noise of data.input_noise (in data.noise_frame) | the voxel grid | one random view per shape.
        ``evaluation``: the inputs of ``inputs``: view data.test_view when it is >= 0, and no noise unless
        data.eval_noise. The random draws are the same either way, so the stream stays where it would be."""
        st, cfg = self.store, self.cfg
        if self.modality == "pointcloud":
            flat = _draw(rng, st.s_off[idx], st.s_count[idx], cfg.n_input_points)
            pts = st.surface[flat].astype(np.float32)
            if cfg.input_noise > 0:
                noise = rng.standard_normal(pts.shape, dtype=np.float32)
                if cfg.eval_noise or not evaluation:
                    pts += noise * self._noise_std(idx)
            return torch.from_numpy(pts)
        if self.modality == "voxels":
            return torch.from_numpy(st.voxels[idx].astype(np.float32))
        view = rng.integers(0, st.views.shape[1], len(idx))  # (B, 3, H, W) in [0, 1]
        if evaluation and cfg.test_view >= 0:
            view = np.full(len(idx), cfg.test_view)
        return torch.from_numpy(st.views[idx, view].transpose(0, 3, 1, 2).astype(np.float32) / 255.0)

    def _noise_std(self, idx: np.ndarray) -> np.float32 | np.ndarray:
        """The std of the input noise of shapes ``idx``: data.input_noise in the unit-cube frame (a scalar), or
        with data.noise_frame = "sphere" input_noise x each shape's radius, (B, 1, 1): PointNet's noise on a
        shape scaled into the unit sphere about its centroid, brought back to the cube frame."""
        if self.cfg.noise_frame == "cube":
            return np.float32(self.cfg.input_noise)
        if self._radii is None:
            self._radii = shape_radii(self.store)
        return (np.float32(self.cfg.input_noise) * self._radii[idx])[:, None, None]

    def _draw_queries(self, idx: np.ndarray, rng: np.random.Generator, m: int) -> np.ndarray:
        """(B, m) flat indices into the store's query points: uniform ones, then near-surface ones (when every
        shape of the batch has some)."""
        st = self.store
        n_near_avail = st.p_count[idx] - st.n_uniform[idx]
        m_near = int(round(m * self.cfg.near_surface_share)) if (n_near_avail > 0).all() else 0
        flat = _draw(rng, st.p_off[idx], st.n_uniform[idx], m - m_near)
        if m_near:
            flat = np.concatenate([flat, _draw(rng, st.p_off[idx] + st.n_uniform[idx], n_near_avail, m_near)], 1)
        return flat
