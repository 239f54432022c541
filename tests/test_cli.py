import subprocess
import sys

from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()


def test_help_does_not_import_torch():
    code = ("import sys\nsys.argv = ['bench', '--help']\nfrom bench.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('TORCH' if 'torch' in sys.modules else 'NOTORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "Usage" in out.stdout and out.stdout.strip().endswith("NOTORCH"), out.stdout + out.stderr


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and "torch" in res.output and "device" in res.output


def test_user_errors_are_one_line_without_traceback():
    res = runner.invoke(app, ["run", "--suite", "defualt", "--dry-run"])
    assert res.exit_code == 1
    assert "No suite named 'defualt'" in res.output and "Did you mean 'default'" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["run", "--set", "train.lrr=1", "--dry-run"])
    assert res.exit_code == 1 and "Did you mean 'train.lr'" in res.output


def test_dry_run_lists_runs(tmp_path):
    res = runner.invoke(app, ["run", "--suite", "table8", "--dry-run", "-r", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "7 runs" in res.output and "frozen" in res.output


def test_check_encoder_cli():
    ok = runner.invoke(app, ["check-encoder", "pointnet", "--cpu-only"])
    assert ok.exit_code == 0 and "all checks passed" in ok.output
    bad = runner.invoke(app, ["check-encoder", "tests.bad_encoders:WrongShape", "--cpu-only"])
    assert bad.exit_code == 1 and "FAIL" in bad.output


def test_run_smoke_suite_through_the_cli(tmp_path):
    res = runner.invoke(app, ["run", "--suite", "smoke", "-r", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "suite smoke" in res.output
    again = runner.invoke(app, ["run", "--suite", "smoke", "-r", str(tmp_path), "--quiet", "--max-steps", "4"])
    assert again.exit_code == 0
    lb = runner.invoke(app, ["leaderboard", "-r", str(tmp_path), "--format", "csv"])
    assert lb.exit_code == 0 and lb.output.count("\n") == 1 + 8
    assert "step-limited" in lb.output


def test_dry_run_rejects_a_misspelt_choice_at_once():
    res = runner.invoke(app, ["run", "--dry-run", "--set", "model.layout=jiont"])
    assert res.exit_code == 1
    assert "model.layout" in res.output and "'jiont' is not one of parallel, joint" in res.output
    assert "Did you mean 'joint'" in res.output
    res = runner.invoke(app, ["run", "--dry-run", "--set", "model.decoder=cbm"])
    assert res.exit_code == 1 and "No decoder named 'cbm'" in res.output and "Did you mean 'cbn'" in res.output
