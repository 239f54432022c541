import numpy as np

from bench.evaluation.mesh import extract_dense, extract_mise, new_sub_corners
from bench.evaluation.mesh_metrics import chamfer_l1, sample_mesh


def sphere_logits(p):
    return (0.35 - np.linalg.norm(p, axis=1)) * 50.0


def torus_logits(p):
    ring = np.sqrt(p[:, 0] ** 2 + p[:, 2] ** 2) - 0.3
    return (0.1 - np.sqrt(ring**2 + p[:, 1] ** 2)) * 50.0


def test_mise_matches_dense_with_far_fewer_queries():
    for f in (sphere_logits, torus_logits):
        mise = extract_mise(f, resolution0=16, upsampling_steps=2)
        dense = extract_dense(f, resolution=64)
        assert mise.resolution == dense.resolution == 64
        assert len(mise.mesh.faces) > 0
        assert chamfer_l1(mise.mesh.vertices, dense.mesh.vertices) < 1e-3
        assert mise.n_queries < 0.3 * dense.n_queries


def test_mise_sphere_radius_and_orientation():
    mesh = extract_mise(sphere_logits, 32, 2).mesh
    pts, normals = sample_mesh(mesh, 5000)
    assert np.abs(np.linalg.norm(pts, axis=1) - 0.35).max() < 0.01
    assert (np.einsum("ij,ij->i", pts, normals) > 0).mean() > 0.99  # outward normals
    assert mesh.volume > 0


def test_empty_field_gives_empty_mesh():
    mesh = extract_mise(lambda p: -np.ones(len(p)), 8, 1).mesh
    assert len(mesh.faces) == 0
    pts, _ = sample_mesh(mesh, 10)
    assert pts.shape == (0, 3)


def test_new_sub_corners_are_the_unknown_corners_of_the_cells_once_each_in_order():
    rng = np.random.default_rng(0)
    n, half = 17, 2  # a 16^3 final grid refined from cells 4 wide
    cells = rng.integers(0, 4, size=(40, 3)) * 2 * half  # repeats included: neighbours share corners
    known = rng.random((n, n, n)) < 0.3
    expected = sorted({(int(c[0]) + i * half, int(c[1]) + j * half, int(c[2]) + k * half)
                       for c in cells for i in range(3) for j in range(3) for k in range(3)
                       if not known[int(c[0]) + i * half, int(c[1]) + j * half, int(c[2]) + k * half]})
    got = new_sub_corners(cells, half, known)
    assert [tuple(map(int, row)) for row in got] == expected
