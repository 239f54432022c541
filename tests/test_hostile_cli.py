"""Hostile input for the CLI, its text output, the configuration and the environment (issue 23).

Each hostile input must end in one clear line (a BenchError printed as "error: ...", or a warning) and the
program going on where it can: never a traceback, a hang, or text that silently disappears. The strings
below are chosen to break what they pass through: "[/x]" is a closing tag Rich cannot match (MarkupError),
"[bold]...[/bold]" is a tag Rich would swallow, and "$a_$" is mathtext matplotlib cannot parse.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.results import RunResult

ROOT = Path(__file__).resolve().parent.parent
MARKUP = "[bold]b[/bold] [/x]"  # Rich: "[/x]" raises, "[bold]" vanishes
MATH = "$a_$"  # matplotlib: an unparsable formula
HOSTILE = f"{MARKUP} {MATH}"
runner = CliRunner()


def flat(text: str) -> str:
    """Output with line wrapping undone (Rich wraps at the console width)."""
    return " ".join(text.split())


def assert_one_clear_error(res, *expected: str) -> None:
    """Exit code 1, an "error:" line holding every expected piece literally, and no traceback."""
    out = flat(res.output)
    assert res.exit_code == 1, res.output
    # CliRunner turns an escaping exception (MarkupError, TypeError...) into exit code 1 as well
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output, repr(res.exception)
    assert "error:" in out, res.output
    for piece in expected:
        assert flat(piece) in out, f"{piece!r} missing from:\n{res.output}"


def write_result(results: Path, run: str, status: str = "complete", **changes) -> RunResult:
    """A hand-written result.json (no training) whose free-text fields hold hostile strings."""
    fields = dict(suite="s", run_name=run, config_hash="abc123", config={"profile": ""}, status=status,
                  protocol="single", tasks=["reconstruction"], encoder={"name": f"enc {MARKUP}", "params": 10},
                  dataset={"name": f"data {MARKUP}", "revision": "rev1"},
                  metrics={"reconstruction": {"iou": 0.5}},
                  per_category={"reconstruction": {f"cat {MARKUP} {MATH}": {"iou": 0.4}, "plain": {"iou": 0.6}}},
                  metric_info={"reconstruction": {"main": "iou", "directions": {"iou": "higher"}}})
    fields.update(changes)
    result = RunResult(**fields)
    folder = results / "s" / f"{run}-abc123"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result.to_dict()), encoding="utf-8")
    return result


@pytest.fixture()
def hostile_results(tmp_path):
    results = tmp_path / "results"
    write_result(results, "r1")
    write_result(results, "r2", status="failed", error=f"boom {HOSTILE}", metrics={}, per_category={})
    return results


# 1. Rich markup in paths, names and messages is printed as text --------------------------------------------


def test_markup_in_a_results_path_is_printed_literally(tmp_path):
    hostile = Path(f"{tmp_path}/{MARKUP}{MATH}")
    res = runner.invoke(app, ["report", "-r", str(hostile)])
    assert_one_clear_error(res, f"no results of suite 'default' under {hostile}")


def test_markup_in_an_unknown_plugin_name_is_printed_literally():
    res = runner.invoke(app, ["run", "--dry-run", "--set", f"model.encoder={MARKUP}"])
    assert_one_clear_error(res, f"No encoder named '{MARKUP}'")


def test_markup_in_result_fields_reaches_the_leaderboard_literally(hostile_results, tmp_path):
    res = runner.invoke(app, ["leaderboard", "-r", str(hostile_results)])
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    for text in (f"enc {MARKUP}", f"data {MARKUP}", f"s/r2 failed: boom {HOSTILE}"):
        assert text in out, f"{text!r} missing from:\n{res.output}"
    out_file = Path(f"{tmp_path}/{MARKUP}/lb.md")
    res = runner.invoke(app, ["leaderboard", "-r", str(hostile_results), "-f", "markdown", "-o", str(out_file)])
    assert res.exit_code == 0 and f"wrote {out_file}" in flat(res.output), res.output


def test_markup_in_category_names_reaches_a_table_literally(hostile_results):
    res = runner.invoke(app, ["compare", "s/r1", "s/r1", "--per-category", "-r", str(hostile_results)])
    assert res.exit_code == 0, res.output
    assert f"cat {MARKUP} {MATH}" in flat(res.output), res.output


def test_markup_in_a_data_root_and_category_name_is_printed_literally(tmp_path, tiny_info):
    data_dir = Path(f"{tmp_path}/{MARKUP}")
    root = data_dir / Path(tiny_info.root).name
    shutil.copytree(tiny_info.root, root)
    meta = json.loads((root / "dataset.json").read_text())
    meta["categories"][0]["name"] = f"c{MARKUP}"
    (root / "dataset.json").write_text(json.dumps(meta))
    res = runner.invoke(app, ["data", "info", "--preset", "tiny", "--set", f"data.data_dir={data_dir}"])
    assert res.exit_code == 0, res.output
    assert f"at {root}" in flat(res.output) and f"c{MARKUP}" in res.output, res.output


def test_markup_in_a_progress_description_is_shown_literally(capsys):
    from bench.progress import progress_bar

    with progress_bar(f"loading {MARKUP}", 2) as advance:
        advance(2, loss=0.5, note=MARKUP)
    out = capsys.readouterr().out
    assert f"loading {MARKUP}" in out and f"note {MARKUP}" in out, out


# 2. "$" in labels drawn by matplotlib is text, not mathtext ---------------------------------------------


def test_dollar_in_report_card_labels_is_drawn_as_text(hostile_results, tmp_path):
    out = tmp_path / "card.html"
    res = runner.invoke(app, ["report", "-s", "s", "-r", str(hostile_results), "-f", "html", "--shapes", "0",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "<img alt='reconstruction per category'" in out.read_text()


def test_dollar_in_figure_titles_is_drawn_as_text(tmp_path):
    import numpy as np
    import trimesh

    from bench.reports.figures import mesh_figure, parts_figure

    pts = np.random.default_rng(0).uniform(-0.4, 0.4, (50, 3))
    assert parts_figure([(pts, np.zeros(50, int), HOSTILE)], tmp_path / "parts.png", columns=1).stat().st_size
    assert mesh_figure([(trimesh.creation.box(), None, HOSTILE)], tmp_path / "mesh.png", title=MATH).stat().st_size


# 3. a --set key given both as a value and as a table -----------------------------------------------------


@pytest.mark.parametrize("first, second", [("train.lr=1", "train.lr.x=2"), ("train.lr.x=2", "train.lr=1")])
def test_set_option_as_value_and_table_names_both_options(first, second):
    res = runner.invoke(app, ["run", "--dry-run", "--set", first, "--set", second])
    assert_one_clear_error(res, f"--set '{first}' and --set '{second}'", "'train.lr' cannot be both a value and a table")


# 4. a bench.toml that is not UTF-8 ------------------------------------------------------------------------


def test_non_utf8_config_names_the_file(tmp_path):
    config = tmp_path / "bench.toml"
    config.write_bytes('[data]\nname = "café"\n'.encode("latin-1"))
    res = runner.invoke(app, ["run", "--dry-run", "-c", str(config)])
    assert_one_clear_error(res, str(config), "not UTF-8", "line 2", "must be UTF-8")


# 5. torchrun's variables that are not integers -------------------------------------------------------------


@pytest.mark.parametrize("env, name", [
    ({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc'"),
    ({"WORLD_SIZE": "2", "RANK": "first"}, "RANK='first'"),
    ({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "gpu0"}, "LOCAL_RANK='gpu0'"),
    ({"WORLD_SIZE": "2", "RANK": "7"}, "RANK=7 is outside 0..1"),
])
def test_torchrun_variables_must_be_integers(tmp_path, env, name):
    # a subprocess with a timeout: before the fix LOCAL_RANK was read after joining the process group, which
    # waits for a peer that never comes
    full = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1", **env}
    out = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--suite", "smoke", "-r", str(tmp_path),
                          "--quiet", "--max-steps", "2"], cwd=ROOT, env=full, capture_output=True, text=True,
                         timeout=120)
    text = flat(out.stdout + out.stderr)
    assert out.returncode == 1 and "Traceback" not in text, text
    assert f"error: environment variable {name}" in text and "torchrun" in text, text


# 6. a plugin that calls sys.exit() at import ------------------------------------------------------------


@pytest.fixture()
def exiting_plugins(tmp_path, monkeypatch):
    """An installed-looking distribution whose plugins exit, fail with markup, or document themselves with it."""
    pkg = tmp_path / "hostile_plugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "exits.py").write_text("import sys\nsys.exit(3)\nclass Enc:\n    '''Exits at import.'''\n")
    (pkg / "markup.py").write_text(f"raise ImportError({f'needs {MARKUP}'!r})\n")
    (pkg / "good.py").write_text("class Enc:\n    '''Maps [p, z] to [bold]z[/bold].'''\n")
    exiting_pkg = tmp_path / "hostile_exit_pkg"  # describing reads the source, but finding it imports the package
    exiting_pkg.mkdir()
    (exiting_pkg / "__init__.py").write_text("raise SystemExit('bye')\n")
    (exiting_pkg / "mod.py").write_text("class Enc: pass\n")
    dist = tmp_path / "hostile_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[bench.encoders]\nexit_enc = hostile_plugins.exits:Enc\nmarkup_enc = hostile_plugins.markup:Enc\n"
        "good_enc = hostile_plugins.good:Enc\nexit_pkg_enc = hostile_exit_pkg.mod:Enc\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "hostile-plugins"
    for mod in [m for m in sys.modules if m.startswith(("hostile_plugins", "hostile_exit_pkg"))]:
        del sys.modules[mod]


def test_plugin_calling_sys_exit_is_a_load_error(exiting_plugins):
    from bench.errors import PluginLoadError
    from bench.registry import ENCODERS

    for name, why in (("exit_enc", "sys.exit(3)"), ("exit_pkg_enc", "sys.exit('bye')")):
        with pytest.raises(PluginLoadError) as err:
            ENCODERS.load(name)
        assert name in str(err.value) and exiting_plugins in str(err.value) and why in str(err.value)


def test_cli_lists_plugins_that_exit_or_speak_markup(exiting_plugins):
    res = runner.invoke(app, ["encoders"])
    assert res.exit_code == 0, res.output  # a SystemExit escaping would end the command with code 3
    out = flat(res.output)
    assert "Traceback" not in out
    assert "warning: encoder plugin 'exit_enc' (hostile_plugins.exits:Enc, from hostile-plugins) failed to import: " \
           "it called sys.exit(3)" in out, res.output
    assert f"'markup_enc' (hostile_plugins.markup:Enc, from hostile-plugins) failed to import: ImportError: " \
           f"needs {MARKUP}" in out, res.output
    assert "Maps [p, z] to [bold]z[/bold]." in out and "Exits at import." in out, res.output
    assert "\\[" not in out  # text is not escaped twice: the console reads no markup
    for name in ("exit_enc", "exit_pkg_enc", "markup_enc", "good_enc"):
        assert name in out


# 7. a filesystem without flock ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP], ids=["ENOLCK", "EOPNOTSUPP", "ENOTSUP"])
def test_lock_on_a_filesystem_without_flock_warns_once_and_goes_on(tmp_path, monkeypatch, code):
    from bench.training import lock

    def no_flock(fd, op):
        raise OSError(code, os.strerror(code))

    # Monkeypatched: no filesystem without flock (some NFS, SMB and FUSE mounts) is available to the tests.
    # Any flock call raises, LOCK_UN included, so the lock must not try to release a lock it never took.
    monkeypatch.setattr(lock.fcntl, "flock", no_flock)
    monkeypatch.setattr(lock, "_WARNED_DEVICES", set())
    ran = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for run in ("a", "b"):
            with lock.run_lock(tmp_path / run):
                ran.append(run)
    assert ran == ["a", "b"]
    messages = [str(w.message) for w in caught if issubclass(w.category, lock.UnlockedFolderWarning)]
    assert len(messages) == 1, messages
    assert str(tmp_path / "a") in messages[0] and "not protected" in messages[0]


# 8. files are written with the user's usual permissions ------------------------------------------------------


def _writers(folder: Path):
    """Every kind of file bench writes, each through its usual function."""
    from bench._io import atomic_write_bytes, atomic_write_json, atomic_write_text
    from bench.training.lock import run_lock

    def figure():
        import numpy as np

        from bench.reports.figures import parts_figure

        return parts_figure([(np.zeros((4, 3)), np.zeros(4, int), "t")], folder / "fig.png", columns=1)

    def lock_file():
        with run_lock(folder / "run"):
            pass
        return folder / "run" / ".lock"

    def leaderboard():
        out = folder / "lb.csv"
        write_result(folder / "results", "r1")
        assert runner.invoke(app, ["leaderboard", "-r", str(folder / "results"), "-f", "csv", "-o", str(out)]).exit_code == 0
        return out

    return {"bytes": lambda: (atomic_write_bytes(folder / "x.npz", b"x"), folder / "x.npz")[1],
            "text": lambda: (atomic_write_text(folder / "x.txt", "x"), folder / "x.txt")[1],
            "json": lambda: (atomic_write_json(folder / "x.json", {}), folder / "x.json")[1],
            "figure": figure, "lock": lock_file, "leaderboard --out": leaderboard}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_users_usual_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        for kind, write in _writers(tmp_path).items():
            path = write()
            assert stat.S_IMODE(path.stat().st_mode) == mode, f"{kind}: {oct(path.stat().st_mode)}"
    finally:
        os.umask(old)
    assert not list(tmp_path.rglob("*.tmp"))  # still atomic: no temp file left behind


def test_rewriting_a_private_file_gives_it_the_usual_permissions(tmp_path):
    from bench._io import atomic_write_text

    path = tmp_path / "result.json"
    path.write_text("old")
    path.chmod(0o600)  # as bench wrote every file before
    old = os.umask(0o022)
    try:
        atomic_write_text(path, "new")
    finally:
        os.umask(old)
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o644
