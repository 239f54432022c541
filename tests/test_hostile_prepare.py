"""Hostile input for `bench prepare` (issue 23): each one gets one clear error or a logged skip, never a raw
traceback, a hang, a write outside the output folder or a half-written file. Real files throughout: .off/.obj
meshes, FIFOs made with os.mkfifo, worker processes that really die."""

import json
import os
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import trimesh

from bench.data.adapters import safe_name
from bench.data.cache import run_shape_jobs
from bench.data.format import check_shape_id
from bench.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
OPTS = ["--points", "500", "--surface", "300", "--workers", "1"]  # tiny samples: each shape takes milliseconds
TOP_LEVEL = {"dataset.json", "README.txt", "failures.jsonl"}  # the only files prepare writes beside shape folders


def off_text(mesh) -> str:
    rows = [" ".join(map(str, v)) for v in mesh.vertices] + ["3 " + " ".join(map(str, f)) for f in mesh.faces]
    return f"OFF\n{len(mesh.vertices)} {len(mesh.faces)} 0\n" + "\n".join(rows) + "\n"


def box_off() -> str:
    return off_text(trimesh.creation.box(extents=(0.6, 0.4, 0.8)))


def box_obj() -> str:
    return trimesh.exchange.obj.export_obj(trimesh.creation.box(), include_normals=False, include_texture=False)


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_fifo()}


def cli(*args):
    from typer.testing import CliRunner

    from bench.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean_exit(res, code: int) -> None:
    """The command ended the way a user error or a success ends: an exit code, never an escaped exception."""
    assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output


def assert_only_inside(tmp_path: Path, before: set[Path], out: Path) -> None:
    """Every new file is in ``out``, at its top level (TOP_LEVEL) or in a shape folder <category>/<shape>
    whose id check_shape_id accepts; no temp file is left behind (nothing half-written)."""
    for p in files_under(tmp_path) - before:
        assert p.is_relative_to(out), f"written outside the output folder: {p}"
        rel = p.relative_to(out)
        assert not rel.name.endswith(".tmp"), f"half-written file left behind: {p}"
        if len(rel.parts) == 1:
            assert rel.name in TOP_LEVEL, f"unexpected file at the top of the output folder: {p}"
        else:
            assert len(rel.parts) == 3, p
            check_shape_id("/".join(rel.parts[:2]), str(p))


# --- 1. failures.jsonl: a torn line is skipped with a warning; appends never glue onto one ----------------

BROKEN_LOG_LINES = {
    "torn": '{"shape": "things/brok',  # a `bench prepare` killed in the middle of its append: no newline
    "not a record": '["things/broken"]\n',  # valid JSON, but not {"shape": ..., "error": ...}
}


@pytest.mark.parametrize("case", list(BROKEN_LOG_LINES))
def test_broken_line_in_failures_log_is_skipped_with_a_warning(tmp_path, case):
    src, out = tmp_path / "src" / "things", tmp_path / "out"
    src.mkdir(parents=True)
    (src / "good.off").write_text(box_off())
    (src / "broken.off").write_text("OFF\n8 12 0\n1 2 3\n")  # truncated: logged as a failure
    res = cli("prepare", "meshes", "--path", tmp_path / "src", "--out", out, *OPTS)
    assert_clean_exit(res, 0)
    log = out / "failures.jsonl"
    log.write_text(BROKEN_LOG_LINES[case])
    (out / "dataset.json").unlink()  # as if that run had died before it wrote dataset.json
    before = files_under(tmp_path)
    res = cli("prepare", "meshes", "--path", tmp_path / "src", "--out", out, *OPTS)
    assert_clean_exit(res, 0)
    assert "failures.jsonl:1: not a failure record" in res.output.replace("\n", "")
    assert "dataset.json written: 1 shapes" in res.output
    lines = log.read_text().splitlines()
    assert lines[0] == BROKEN_LOG_LINES[case].strip()  # kept as it was: the warning names it
    assert [json.loads(x)["shape"] for x in lines[1:]] == ["things/broken"]  # a whole line of its own
    assert json.loads((out / "dataset.json").read_text())["made_by"]["failed"] == ["things/broken"]
    assert_only_inside(tmp_path, before, out)


# --- 2. mesh file names: unsafe names get safe ids, clashing names are skipped and logged ----------------

NAME_CASES = {
    "dots": (["...off"], "things/_-"),  # its stem '..' named the output folder itself
    "space": (["a b.off"], "things/a_b-"),
    "non-ascii": (["stuhl_\u00e4.off"], "things/stuhl_a-"),
    "markup": (["x[red]y.off"], "things/x_red_y-"),  # '[red]' is rich markup: it must print as text
}


@pytest.mark.parametrize("case", list(NAME_CASES))
def test_unsafe_mesh_file_name_gets_a_safe_id_inside_the_output_folder(tmp_path, case):
    names, prefix = NAME_CASES[case]
    src, out = tmp_path / "src" / "things", tmp_path / "out"
    src.mkdir(parents=True)
    (src / "good.off").write_text(box_off())
    for name in names:
        (src / name).write_text(box_off())
    (src / f"broken {names[0]}").write_text("OFF\n8 12 0\n")  # its error message names the hostile file
    before = files_under(tmp_path)
    res = cli("prepare", "meshes", "--path", tmp_path / "src", "--out", out, *OPTS)
    assert_clean_exit(res, 0)
    assert "2 prepared" in res.output and "1 failed" in res.output
    assert f"broken {names[0]}" in res.output.replace("\n", "")  # the skip names the file, as it is called
    ids = sorted(s for v in json.loads((out / "dataset.json").read_text())["splits"].values() for s in v)
    assert len(ids) == 2 and "things/good" in ids
    hostile = next(s for s in ids if s != "things/good")
    assert hostile.startswith(prefix) and (out / hostile / "points.npz").is_file()
    assert_only_inside(tmp_path, before, out)


def test_safe_name_is_deterministic_and_never_meets_a_real_name():
    assert safe_name("chair_01") == "chair_01"  # safe names are kept as they are
    assert safe_name("a b") == safe_name("a b") != "a_b"  # a sanitised name carries a hash of the original
    nfc, nfd = "stuhl_\u00e4", unicodedata.normalize("NFD", "stuhl_\u00e4")
    assert safe_name(nfc) == safe_name(nfd)  # one id whether the file system composes accents or not
    for name in ("..", ".", "...", "", "a/b", "a\\b", "x\x00y", "\u6905\u5b50"):
        check_shape_id(f"c/{safe_name(name)}", "test")


def test_two_meshes_with_one_stem_are_both_skipped_and_logged(tmp_path):
    src, out = tmp_path / "src" / "things", tmp_path / "out"
    src.mkdir(parents=True)
    (src / "good.off").write_text(box_off())
    (src / "x.obj").write_text(box_obj())
    trimesh.creation.icosphere(1, 0.4).export(src / "x.ply")
    before = files_under(tmp_path)
    res = cli("prepare", "meshes", "--path", tmp_path / "src", "--out", out, *OPTS)
    assert_clean_exit(res, 0)
    assert "1 prepared" in res.output and "1 failed" in res.output
    record = json.loads((out / "failures.jsonl").read_text())
    assert record["shape"] == "things/x" and "x.obj" in record["error"] and "x.ply" in record["error"]
    assert not (out / "things" / "x").exists()  # neither mesh was written, so neither overwrote the other
    info = json.loads((out / "dataset.json").read_text())
    assert [s for v in info["splits"].values() for s in v] == ["things/good"]
    assert info["made_by"]["failed"] == ["things/x"]
    assert_only_inside(tmp_path, before, out)


# --- 3. synsetoffset2category.txt and split lists of ShapeNetPart --------------------------------------

MUG = "03797390"
SNP_CASES = {  # (mapping file, split list entry, what the error must name)
    "one token": (f"Mug\t{MUG}\nChair\n", MUG, "synsetoffset2category.txt:2: expected"),
    "three tokens": (f"Mug\t{MUG}\nChair 03001627 extra\n", MUG, "synsetoffset2category.txt:2: expected"),
    "synset ..": (f"Mug\t{MUG}\nChair\t..\n", MUG, "synsetoffset2category.txt:2: the synset id '..'"),
    "model ..": (f"Mug\t{MUG}\n", None, "shuffled_train_file_list.json (entry 1): the model id '..'"),
}


@pytest.mark.parametrize("case", list(SNP_CASES))
def test_bad_shapenetpart_listing_names_file_and_line(tmp_path, case):
    mapping, synset, where = SNP_CASES[case]
    src, meshes, out = tmp_path / "snp", tmp_path / "core", tmp_path / "out"
    (src / "train_test_split").mkdir(parents=True)
    (src / "synsetoffset2category.txt").write_text(mapping)
    entries = [f"shape_data/{MUG}/a1", f"shape_data/{synset}/a2" if synset else f"shape_data/{MUG}/.."]
    (src / "train_test_split" / "shuffled_train_file_list.json").write_text(json.dumps(entries))
    meshes.mkdir()
    before = files_under(tmp_path)
    res = cli("prepare", "shapenetpart", "--path", src, "--mesh-path", meshes, "--out", out, *OPTS)
    assert_clean_exit(res, 1)
    assert where in res.output.replace("\n", ""), res.output
    assert files_under(tmp_path) == before and not out.exists()  # refused before anything was written


# --- 4. FIFOs and devices named by a source: never read, never a hang ------------------------------------

LOAD_TIMEOUT = 60  # seconds; loading a box takes well under one, a FIFO read would block forever

FIFO_SCRIPT = """
import sys
from bench.data.meshio import load_mesh
from bench.data.prepare import read_labelled_points
from bench.errors import DataError
kind, path = sys.argv[1:]
try:
    if kind == "points":
        read_labelled_points(path)
    else:
        print("faces", len(load_mesh(path).faces))
except DataError as exc:
    print("DataError", exc)
"""


def make_fifo_case(folder: Path, case: str) -> tuple[str, Path]:
    """Write the files of one FIFO case; (what to load, the file to load)."""
    if case in ("mtllib fifo", "mtllib /dev/zero"):
        os.mkfifo(folder / "block.mtl")
        target = "block.mtl" if case == "mtllib fifo" else "/dev/zero"
        (folder / "t.obj").write_text(f"mtllib {target}\nusemtl a\n" + box_obj())
        return "mesh", folder / "t.obj"
    if case == "mesh is a fifo":
        os.mkfifo(folder / "t.obj")
        return "mesh", folder / "t.obj"
    (folder / "points").mkdir()
    os.mkfifo(folder / "points" / "m.pts")  # ShapeNetPart v0 labelled points
    return "points", folder / "points" / "m.pts"


@pytest.mark.parametrize("case", ["mtllib fifo", "mtllib /dev/zero", "mesh is a fifo", "points is a fifo"])
def test_fifo_or_device_in_the_source_does_not_hang(tmp_path, case):
    kind, path = make_fifo_case(tmp_path, case)
    # In a subprocess with a timeout: should the guard break again, the test fails instead of hanging.
    proc = subprocess.Popen([sys.executable, "-c", FIFO_SCRIPT, kind, str(path)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=LOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{case}: loading blocked for {LOAD_TIMEOUT} s")
    assert proc.returncode == 0, output
    if case.startswith("mtllib"):
        assert "faces 12" in output  # the geometry, without the material
    else:
        assert "DataError" in output and "is a FIFO, not a regular file" in output and str(path) in output


# --- 5. a worker process that dies: its shape is a failure, the rest of the batch is finished -----------

def _die_for(root: str, shape_id: str) -> None:
    """A per-shape job (module level: spawned workers import it by name) whose worker really dies for two ids."""
    if shape_id == "cup/exit":
        os._exit(3)
    if shape_id == "cup/kill":
        os.kill(os.getpid(), signal.SIGKILL)
    (Path(root) / shape_id.replace("/", "_")).write_text("done")


def test_worker_that_dies_is_recorded_and_the_batch_goes_on(tmp_path):
    ids = ["cup/a", "cup/exit", "cup/b", "cup/kill", "cup/c", "cup/d"]
    jobs = [(sid, (str(tmp_path), sid)) for sid in ids]
    failures = run_shape_jobs(_die_for, jobs, "test", progress=False, workers=2)
    assert [sid for sid, _ in failures] == ["cup/exit", "cup/kill"]  # in batch order
    errors = dict(failures)
    assert errors["cup/exit"].startswith("WorkerDied:") and "exited with code 3" in errors["cup/exit"]
    assert "killed by SIGKILL" in errors["cup/kill"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cup_a", "cup_b", "cup_c", "cup_d"]  # all finished
