import pytest

from bench.config import load_config, parse_config, parse_set_options
from bench.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_unknown_key_names_key_file_and_suggestion(tmp_path):
    path = write(tmp_path, "[train]\nlrr = 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and "train.lrr" in msg and "Did you mean 'train.lr'" in msg


def test_wrong_type_names_key(tmp_path):
    path = write(tmp_path, '[train]\nbatch_size = "many"\n')
    with pytest.raises(ConfigError, match=r"train.batch_size: expected int, got str"):
        load_config(path)


def test_bool_is_not_an_int(tmp_path):
    with pytest.raises(ConfigError, match="train.max_steps"):
        load_config(write(tmp_path, "[train]\nmax_steps = true\n"))


def test_int_accepted_for_float(tmp_path):
    cfg = load_config(write(tmp_path, "[train]\nlr = 1\n"))
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)


def test_unknown_section_suggests(tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'train'"):
        load_config(write(tmp_path, "[trian]\nlr = 1\n"))


def test_invalid_toml_names_file(tmp_path):
    path = write(tmp_path, "[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/bench.toml")


def test_suite_validation_encoder_from_must_exist():
    raw = {"suites": {"s": {"runs": [{"name": "probe", "tasks": ["classification"], "protocol": "frozen",
                                      "encoder_from": "onet"}]}}}
    with pytest.raises(ConfigError, match="earlier run"):
        parse_config(raw, "x.toml")


def test_suite_run_overrides_are_checked_at_load():
    raw = {"suites": {"s": {"runs": [{"name": "a", "tasks": ["reconstruction"], "train": {"lr_": 1}}]}}}
    with pytest.raises(ConfigError, match=r"run 'a'.*train.lr_"):
        parse_config(raw, "x.toml")


def test_bad_protocol_suggests():
    raw = {"suites": {"s": {"runs": [{"name": "a", "tasks": ["reconstruction"], "protocol": "jiont"}]}}}
    with pytest.raises(ConfigError, match="Did you mean 'joint'"):
        parse_config(raw, "x.toml")


def test_set_options_parse_toml_values():
    out = parse_set_options(["train.lr=1e-3", "model.encoder=dgcnn", "encoder_kwargs.dgcnn.k=4", "eval.eval_mesh=false"])
    assert out == {"train": {"lr": 1e-3}, "model": {"encoder": "dgcnn"}, "encoder_kwargs": {"dgcnn": {"k": 4}},
                   "eval": {"eval_mesh": False}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_set_options(["lr=1"])


def test_overrides_order(base_config):
    cfg = base_config.with_overrides({"train": {"lr": 0.5}}, "cli")
    assert cfg.train.lr == 0.5 and base_config.train.lr != 0.5  # frozen dataclasses: the original is untouched


def test_shipped_config_loads_with_paper_suites(base_config):
    assert {"default", "table2", "table6", "table8", "smoke"} <= set(base_config.suites)
    assert base_config.suites["table8"].profile == "paper"


def test_lambdas_must_name_the_runs_tasks():
    raw = {"suites": {"s": {"runs": [{"name": "a", "tasks": ["reconstruction", "segmentation"],
                                      "lambdas": {"segmentaton": 0.5}}]}}}
    with pytest.raises(ConfigError, match="Did you mean 'segmentation'"):
        parse_config(raw, "x.toml")
    raw["suites"]["s"]["runs"][0]["lambdas"] = {"segmentation": "half"}
    with pytest.raises(ConfigError, match="expected a number"):
        parse_config(raw, "x.toml")
