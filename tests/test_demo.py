"""`multigrid demo`: the whole pipeline, shrunk to seconds (a tiny model,
a few tales, a few steps); the real demo is the same code at full size."""

import json

import pytest

from conftest import run
from grid_dsl.data.inputs import DEMO_SPEC_PATH

TINY = ["--stories", "6", "--steps", "3", "n_layer=1", "n_head=2", "n_embd=16", "block_size=16", "batch_size=4",
        "eval_interval=3", "eval_iters=1", "warmup_iters=1", "sample_interval=3", "device=cpu", "prefix_check=200"]


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # end to end; conftest: tiny models, one thread


def table(out: str) -> dict:
    """The results table: run name -> its cells."""
    lines = out[out.index("scored on every position"):].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("run "))
    rows = {}
    for line in lines[header + 2:]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_demo_compiles_trains_both_models_and_reports_honest_numbers(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    code, out, err = run(capsys, "demo", "--out", out_dir, *TINY)
    assert code == 0, err
    rows = table(out)
    assert set(rows) == {"baseline", "grid"}
    for name in rows:
        metrics = json.loads((out_dir / "runs" / name / "metrics.json").read_text())
        assert metrics["step"] == 3 and not metrics["leaky"] and rows[name][6] == "no"
        assert int(rows[name][4].replace(",", "")) == metrics["parameters"]
    assert rows["baseline"][1] == rows["baseline"][2]  # no axis: bpc_joint is bpc_main
    assert json.loads((out_dir / "runs" / "baseline" / "metrics.json").read_text())["axes"] == []
    grid_axes = json.loads((out_dir / "runs" / "grid" / "metrics.json").read_text())["axes"]
    assert {a["name"]: a["mode"] for a in grid_axes} == {
        "who": "context", "word_pos": "context", "shape_start": "context", "stage": "predict", "speaker": "predict"}
    assert float(rows["grid"][1]) > float(rows["grid"][2])  # predict axes cost bits: joint > main
    assert f"tensorboard --logdir {out_dir / 'runs'}" in out
    assert list((out_dir / "runs" / "grid").glob("events.out.tfevents.*"))


def test_demo_preview_draws_the_planted_axes_of_the_first_tale(tmp_path, capsys):
    code, out, _ = run(capsys, "demo", "--out", tmp_path / "demo", *TINY)
    assert code == 0
    preview = out[:out.index("2. compiling")]
    assert "causal" in preview and "predict" in preview and "context" in preview
    drawn = preview[preview.index("text "):]  # the excerpt under the axis table
    stage_rows = [line for line in drawn.splitlines() if line.startswith("stage ")]
    assert stage_rows and stage_rows[0].split()[1].startswith("OPENING")  # the first tale opens at character 0
    assert any("ROYAL" in line for line in drawn.splitlines() if line.startswith("speaker "))


def test_running_the_demo_again_replaces_its_runs_and_keeps_its_data(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert run(capsys, "demo", "--out", out_dir, *TINY)[0] == 0
    manifest = (out_dir / "data" / "manifest.json").read_bytes()
    code, out, err = run(capsys, "demo", "--out", out_dir, *TINY)
    assert code == 0, err
    assert "up to date" in out.lower() and (out_dir / "data" / "manifest.json").read_bytes() == manifest
    assert json.loads((out_dir / "runs" / "grid" / "metrics.json").read_text())["step"] == 3


def test_demo_refuses_a_directory_it_did_not_make(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    code, _, err = run(capsys, "demo", "--out", tmp_path, *TINY)
    assert code == 2 and "is not empty and was not made by `multigrid demo`" in err
    assert (tmp_path / "mine.txt").read_text() == "keep me" and not (tmp_path / "runs").exists()


def test_demo_spec_is_canonical(capsys):
    assert run(capsys, "fmt", "--check", DEMO_SPEC_PATH)[0] == 0


def test_demo_rejects_an_unknown_config_key(tmp_path, capsys):
    code, _, err = run(capsys, "demo", "--out", tmp_path / "demo", "--steps", "1", "n_layers=1")
    assert code == 2 and "unknown key 'n_layers'" in err and "n_layer" in err
    assert not (tmp_path / "demo").exists()


def test_the_demo_says_up_front_how_long_it_takes_on_a_cpu():
    import torch

    from model.network.config import TrainConfig
    from model.experiments.demo import DEMO_CONFIG, expected_time

    full = TrainConfig(**{**DEMO_CONFIG, "max_iters": 2000})
    assert expected_time(full, torch.device("cpu")) == " (about 5 minutes on a two-core CPU)"
    assert expected_time(full.replace(max_iters=100), torch.device("cpu")) == " (about 1 minute on a two-core CPU)"
    assert expected_time(full, torch.device("meta")) == ""  # not a CPU: no promise
    assert expected_time(full.replace(n_embd=16, n_head=2), torch.device("cpu")) == ""  # another model
