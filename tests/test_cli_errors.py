"""Bad input on the command line fails with a message that names the problem, and exit != 0."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO, run_command


def bp_train(tmp_path: Path, *args: str):
    return run_command("bp_app.train", [f"hydra.run.dir={tmp_path / 'run'}", *args], REPO)


def test_misspelled_key_on_the_command_line(tmp_path):
    result = bp_train(tmp_path, "trainer.max_epoch=3")
    assert result.returncode != 0
    assert "trainer.max_epoch" in result.stderr
    assert "not in struct" in result.stderr  # Hydra's words: the key does not exist


def test_misspelled_key_in_a_yaml_file(tmp_path):
    # A user's own experiment file, found through Hydra's search path.
    user_conf = tmp_path / "user_conf" / "experiment"
    user_conf.mkdir(parents=True)
    (user_conf / "mine.yaml").write_text("# @package _global_\nmodel:\n  dropuot: 0.1\n")
    result = bp_train(tmp_path, f"hydra.searchpath=[file://{user_conf.parent}]", "experiment=mine")
    assert result.returncode == 2
    assert "model.dropuot" in result.stderr and "Did you mean 'dropout'" in result.stderr
    assert "Traceback" not in result.stderr


def test_misspelled_top_level_key_in_a_yaml_file(tmp_path):
    user_conf = tmp_path / "user_conf" / "experiment"
    user_conf.mkdir(parents=True)
    (user_conf / "mine.yaml").write_text("# @package _global_\nseeed: 3\n")
    result = bp_train(tmp_path, f"hydra.searchpath=[file://{user_conf.parent}]", "experiment=mine")
    assert result.returncode != 0
    assert "seeed" in result.stderr


def test_unknown_option_lists_the_options_that_exist(tmp_path):
    result = bp_train(tmp_path, "model=perceptron")
    assert result.returncode != 0
    assert "Could not find 'model/perceptron'" in result.stderr
    assert "mlp" in result.stderr  # Hydra lists the available options


def test_missing_mnist_says_where_the_files_must_be(tmp_path):
    result = bp_train(tmp_path, "data=mnist", f"data.root={tmp_path / 'nowhere'}")
    assert result.returncode == 2
    assert str((tmp_path / "nowhere" / "MNIST" / "raw").resolve()) in result.stderr
    assert "data.root=" in result.stderr and "data.download=true" in result.stderr
    assert "Traceback" not in result.stderr
