"""TrainConfig: nanoGPT's defaults, TOML files, key=value overrides, errors."""

import math

import pytest

from model.cli.main import main
from grid_dsl.language.diagnostics import UserError
from model.network.config import TrainConfig


def test_defaults_are_nanogpts_small_cpu_configuration():
    c = TrainConfig()
    assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.batch_size, c.dropout) == (4, 4, 128, 64, 12, 0.0)
    assert (c.learning_rate, c.max_iters, c.weight_decay, c.beta1, c.beta2, c.grad_clip) == (1e-3, 2000, 0.1, 0.9, 0.99, 1.0)
    assert (c.warmup_iters, c.grad_accum, c.bias, c.fusion) == (100, 1, False, "sum")
    assert c.lr_at(c.max_iters) == pytest.approx(1e-4)  # cosine decay to lr/10


def test_schedule_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    c = TrainConfig(learning_rate=1.0, warmup_iters=9, max_iters=109, min_lr_fraction=0.1)
    assert [c.lr_at(s) for s in (0, 4, 8)] == pytest.approx([0.1, 0.5, 0.9])
    assert c.lr_at(9) == pytest.approx(1.0)
    assert c.lr_at(59) == pytest.approx(0.55)  # halfway through the decay
    assert c.lr_at(109) == c.lr_at(5000) == pytest.approx(0.1)
    fixed = c.replace(lr_decay_iters=209)  # the decay no longer follows max_iters
    assert fixed.lr_at(109) == pytest.approx(0.55)


def test_toml_file_then_overrides(tmp_path):
    file = tmp_path / "tiny.toml"
    file.write_text('# small\nn_layer = 2\nlearning_rate = 3e-3\nfusion = "concat"\ncompile = false\ndropout = 0\n')
    c = TrainConfig.load(file, ["n_layer=3", "bias=true", "dropout=0.25", "device=cpu"])
    assert (c.n_layer, c.learning_rate, c.fusion, c.compile, c.bias, c.dropout, c.device) == (
        3, 3e-3, "concat", False, True, 0.25, "cpu")
    assert isinstance(c.dropout, float)
    base = TrainConfig(n_layer=6, n_head=2).to_dict()
    assert TrainConfig.load(None, ["max_iters=7"], base=base).n_layer == 6


@pytest.mark.parametrize("override, message", [
    ("n_layers=2", "unknown key 'n_layers'; did you mean 'n_layer'?"),
    ("learnin_rate=1", "did you mean 'learning_rate'?"),
    ("zzz=1", "unknown key 'zzz'; the keys are: n_layer, n_head"),
    ("n_layer=two", "n_layer expects a whole number, got 'two'"),
    ("n_layer=2.5", "n_layer expects a whole number, got '2.5'"),
    ("compile=maybe", "compile expects true or false, got 'maybe'"),
    ("dropout=lots", "dropout expects a number, got 'lots'"),
    ("n_layer", "expected key=value"),
    ("n_embd=130", "n_embd (130) must be a multiple of n_head (4)"),
    ("fusion=mean", "fusion must be one of sum, concat, cross, got 'mean'"),
    ("device=tpu", "device must be auto, cpu, mps, cuda or cuda:N, got 'tpu'"),
    ("dtype=float16", "dtype must be one of auto, float32, bfloat16"),
    ("n_layer=0", "n_layer must be at least 1, got 0"),
    ("dropout=1.5", "dropout must be at most 1, got 1.5"),
    ("learning_rate=nan", "learning_rate must be a finite number >= 0, got nan"),
])
def test_bad_overrides_say_what_and_how(override, message):
    with pytest.raises(UserError) as err:
        TrainConfig.load(None, [override])
    assert message in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("n_layers = 2\n", "unknown key 'n_layers'; did you mean 'n_layer'?"),
    ("n_layer = 2.0\n", "n_layer expects a whole number, got 2.0"),
    ("n_layer = true\n", "n_layer expects a whole number, got True"),
    ("compile = 1\n", "compile expects true or false, got 1"),
    ("fusion = 3\n", "fusion expects a string, got 3"),
    ("[model]\nn_layer = 2\n", "[model] is a table; a config file is a flat list"),
    ("n_layer = \n", "is not valid TOML"),
])
def test_bad_toml_files(tmp_path, text, message):
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(UserError) as err:
        TrainConfig.load(file)
    assert message in str(err.value)
    assert "bad.toml" in str(err.value)


def test_ints_are_accepted_for_floats_and_kept_as_floats(tmp_path):
    file = tmp_path / "c.toml"
    file.write_text("learning_rate = 1\n")
    c = TrainConfig.load(file)
    assert c.learning_rate == 1.0 and isinstance(c.learning_rate, float)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        TrainConfig.load(tmp_path / "nope.toml")


def test_round_trip_through_a_dict():
    c = TrainConfig(n_layer=2, fusion="cross", learning_rate=5e-4)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert all(isinstance(v, (int, float, str, bool)) for v in c.to_dict().values())
    assert math.isfinite(c.lr_at(10))


def test_cli_reports_an_unknown_key_with_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", str(tmp_path / "no-dataset"), "--out", str(out), "n_layr=2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "multigrid: error: override 'n_layr=2': unknown key 'n_layr'; did you mean 'n_layer'?" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_steps_is_the_step_budget_and_cannot_be_given_twice(tmp_path, capsys):
    import argparse

    from model.network.config import overrides_of

    assert overrides_of(argparse.Namespace(overrides=["n_layer=2"], steps=7)) == ["n_layer=2", "max_iters=7"]
    assert overrides_of(argparse.Namespace(overrides=["max_iters=3"], steps=None)) == ["max_iters=3"]
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "5", "max_iters=4"])
    err = capsys.readouterr().err
    assert code == 2 and "--steps 5 and max_iters=... both set the step budget; give one of them" in err
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "0"]) == 2
    assert "--steps: must be at least 1, got 0" in capsys.readouterr().err


def test_a_configuration_that_cannot_fit_is_refused_with_the_estimate():
    from grid_dsl.language.diagnostics import UserError
    from model.network.config import TrainConfig

    small = TrainConfig()
    assert 10e6 < small.memory_bytes(65) < 200e6  # nanoGPT's CPU configuration: tens of MB of tensors
    small.check_memory(65, 0, available=8e9)
    huge = TrainConfig(n_layer=48, n_head=32, n_embd=4096, block_size=4096, batch_size=64)
    with pytest.raises(UserError, match=r"needs about [\d,.]+ GB to train, and this machine has 24.0 GB; make the model"):
        huge.check_memory(65, 0, available=24e9)


def test_train_refuses_an_impossible_configuration_before_allocating(tmp_path, capsys):
    from grid_dsl import loads_spec
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.synthetic import synthetic_corpus

    compile_corpus(loads_spec("group w = words\n"), synthetic_corpus(stories=2), tmp_path / "d")
    code = main(["train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "r"), "n_layer=96", "n_embd=8192",
                 "n_head=64", "block_size=8192", "batch_size=512"])
    err = capsys.readouterr().err
    assert code == 2 and "GB to train, and this machine has" in err and not (tmp_path / "r").exists()
