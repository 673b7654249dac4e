"""What the loop and expansion cost (model/experiments/costs.py): `multigrid equal-compute`
on a tiny finished loop, `multigrid expansion-cost` on real and made-up runs,
and their bad input."""

import json

import pytest

from conftest import run, run_metrics
from model.experiments import improve_state
from model.experiments.costs import equal_compute, expansion_cost, loop_steps
from model.network.metrics import EvalSetup

START = "main chars\ngroup words = words\nposition word_pos = words (max=8)\nfeed word_pos as context\n"
GROWN = START + "tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])\nfeed shape as context\n"
TINY = ["prefix_check=200", "n_layer=1", "n_head=2", "n_embd=16", "block_size=16", "batch_size=4", "eval_interval=4", "eval_iters=1",
        "warmup_iters=1", "sample_interval=0", "device=cpu"]
CORPUS = "synthetic:stories=8,seed=0"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # end to end; conftest: tiny models, one thread


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    from model.cli import main as cli

    folder = tmp_path_factory.mktemp("loop")
    (folder / "start.axes").write_text(START)
    out = folder / "improve"
    assert cli.main(["improve", "--spec", str(folder / "start.axes"), "--corpus", CORPUS, "--rounds", "1",
                     "--seeds", "2", "--out", str(out), "--steps", "8", "--candidate-steps", "4", "--sample", "300",
                     "--clusters", "3", "--max-depth", "2", "--proposers", "clusters,lexemes", *TINY]) == 0
    return out


def test_equal_compute_trains_as_long_as_the_whole_loop(loop, capsys):
    state = improve_state.load(loop)
    candidates = len(state.rounds[0].candidates)
    assert candidates >= 1
    assert loop_steps(state) == [8, 8 + candidates * 2 * 2 * 4]  # every candidate and control, every seed
    code, out, err = run(capsys, "equal-compute", loop)
    assert code == 0, err
    total = loop_steps(state)[-1]
    curves = {}
    for name, axes in (("spec", "fed"), ("baseline", "none")):
        m = json.loads((loop / "equal_compute" / name / "metrics.json").read_text())
        assert m["step"] == total and m["config"]["axes"] == axes and m["config"]["eval_interval"] == 8  # gcd of 8 and 40
        curves[name] = {h["step"]: h["bpc_joint"] for h in m["history"]}
    first = json.loads((loop / "runs" / "round_0" / "metrics.json").read_text())["bpc_joint"]
    rows = [line for line in out.splitlines() if line.startswith("| 0 ") or line.startswith("| 1 ")]
    assert rows[0] == (f"| 0 | (first model) | 8 | 8: {first:.4f} | {curves['spec'][8]:.4f} | "
                       f"{curves['baseline'][8]:.4f} |")
    assert rows[1].endswith(f"| {total:,} | " + rows[1].split(" | ")[3] + f" | {curves['spec'][total]:.4f} | "
                            f"{curves['baseline'][total]:.4f} |")
    assert f"{state.rounds[0].bpc_joint:.4f}" in rows[1]
    assert (loop / "equal_compute" / "equal_compute.md").read_text() in out
    # run again: the finished runs are read back, not retrained
    before = (loop / "equal_compute" / "spec" / "ckpt.pt").stat().st_mtime_ns
    assert run(capsys, "equal-compute", loop)[1] == out
    assert (loop / "equal_compute" / "spec" / "ckpt.pt").stat().st_mtime_ns == before


def test_equal_compute_needs_a_loop_directory(tmp_path, capsys):
    code, _, err = run(capsys, "equal-compute", tmp_path)
    assert code == 2 and f"{tmp_path / 'improve.json'} not found: pass the --out directory of `multigrid improve`" in err


@pytest.mark.parametrize("edit, message", [
    (lambda state: {**state, "format": "multigrid-improve/2"},
     "not a loop this version of multigrid reads (format 'multigrid-improve/2', this version of multigrid reads "
     "'multigrid-improve/1'); run the loop again with this version into a new --out"),
    (lambda state: {**state, "rounds": [{**state["rounds"][0], "bpc_joint": "low"}]},
     "is damaged or was edited (rounds[0].bpc_joint: expected float, found str); mend the file, or run the loop "
     "again into a new --out"),
])
def test_a_damaged_or_foreign_loop_state_is_named_with_exit_2(loop, tmp_path, capsys, edit, message):
    import shutil

    copy = tmp_path / "improve"
    shutil.copytree(loop, copy, ignore=shutil.ignore_patterns("equal_compute"))
    file = copy / "improve.json"
    file.write_text(json.dumps(edit(json.loads(file.read_text()))))
    code, _, err = run(capsys, "equal-compute", copy)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{file}: {message}" in err or f"{file} {message}" in err


def test_expansion_cost_on_a_real_expansion(tmp_path, capsys):
    for name, text in (("start", START), ("grown", GROWN)):
        (tmp_path / f"{name}.axes").write_text(text)
        assert run(capsys, "compile", tmp_path / f"{name}.axes", CORPUS, "--out", tmp_path / f"data_{name}",
                   "--val-fraction", "0.25")[0] == 0
    assert run(capsys, "train", "--data", tmp_path / "data_start", "--out", tmp_path / "old", *TINY, "max_iters=8")[0] == 0
    assert run(capsys, "train", "--data", tmp_path / "data_grown", "--out", tmp_path / "scratch", *TINY,
               "max_iters=8")[0] == 0
    assert run(capsys, "expand", tmp_path / "old", "--spec", tmp_path / "grown.axes", "--data", tmp_path / "data_grown",
               "--out", tmp_path / "expanded", *TINY, "max_iters=16")[0] == 0
    code, out, err = run(capsys, "expansion-cost", tmp_path / "scratch", tmp_path / "expanded", "--old", tmp_path / "old")
    assert code == 0, err
    scratch = json.loads((tmp_path / "scratch" / "metrics.json").read_text())
    assert out.startswith(f"from scratch: 8 steps, {scratch['wall_time_s']:.0f} s, val bpc_joint {scratch['bpc_joint']:.4f}\n")
    assert "expanded: " in out
    # the old run is not the new spec's: refused with the fix
    code, _, err = run(capsys, "expansion-cost", tmp_path / "old", tmp_path / "expanded")
    assert code == 2 and "trained on different specs" in err


def metrics(bpcs, step_every=100, seconds_per_step=0.1, spec="a", eval_seed=0):
    history = [{"step": i * step_every, "wall_time_s": i * step_every * seconds_per_step, "bpc_joint": b}
               for i, b in enumerate(bpcs)]
    return run_metrics(history, spec_hash=spec,
                       eval=EvalSetup(batches=1, batch_size=1, block_size=1, seed=eval_seed, positions=1))


def test_the_first_evaluation_at_or_below_the_target_counts():
    scratch = metrics([6.0, 3.0, 2.5, 2.0, 1.9])  # 400 steps, 40 s
    expanded = metrics([2.4, 2.1, 1.9, 1.8], seconds_per_step=0.2)
    c = expansion_cost(scratch, expanded, old=metrics([6.0, 2.4], step_every=1000))
    assert (c["reached"], c["steps"], c["s"], c["target"]) == (True, 200, 40.0, 1.9)
    from model.experiments.costs import expansion_cost_lines

    lines = expansion_cost_lines(c)
    assert lines[1] == "expanded: reaches it at step 200 (40 s): 50% of the steps, 100% of the wall-clock"
    assert lines[2] == "with the old run's own 1,000 steps: 1,200 steps, 140 s (300% of the steps, 350% of the wall-clock)"
    never = expansion_cost(scratch, metrics([2.4, 2.0, 1.95]))
    assert not never["reached"] and "not reached in 200 steps (final val bpc_joint 1.9500)" in expansion_cost_lines(never)[1]


def test_runs_scored_differently_are_refused():
    from grid_dsl.language.diagnostics import UserError

    with pytest.raises(UserError, match="evaluated differently"):
        expansion_cost(metrics([2.0]), metrics([1.0], eval_seed=1))


def test_a_run_without_metrics_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "expansion-cost", tmp_path / "nothing", tmp_path / "nothing")
    assert code == 2 and "metrics.json not found: pass a run directory" in err


def test_a_loop_from_an_oracle_spec_is_labelled_leaky():
    from model.experiments.costs import equal_compute_table
    from model.training.evaluate import LEAKY_LABEL

    row = {"round": 0, "accepted": "(first model)", "loop_steps": 8, "model_steps": 8, "bpc_joint": 1.5,
           "spec_scratch": 1.4, "baseline_scratch": 2.0, "leaky": True}
    first = equal_compute_table([row]).splitlines()[2]
    assert first == f"| 0 | (first model) | 8 | 8: {LEAKY_LABEL}: 1.5000 | {LEAKY_LABEL}: 1.4000 | 2.0000 |"
    assert LEAKY_LABEL not in equal_compute_table([{**row, "leaky": False}])


def test_equal_compute_shows_which_run_it_trains(loop, tmp_path, capsys):
    from model.experiments.improve import run_state

    out = tmp_path / "eq_progress"
    equal_compute(loop, out)
    err = capsys.readouterr().err
    assert f"training {out / 'spec'} (" in err and f"training {out / 'baseline'} (" in err
    assert run_state(out / "spec") == "done"
