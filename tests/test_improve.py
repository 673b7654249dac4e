"""The self-improvement loop (model/experiments/improve.py): the acceptance rule, the
shuffled control, a whole tiny loop, resuming it, and bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run
from model.cli import main as cli
from grid_dsl import loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.dataset import Dataset
from grid_dsl.data.synthetic import synthetic_corpus
from model.experiments import proposers
from model.experiments.improve import decide, shuffled_control

SPEC = "main chars\ngroup words = words\nposition word_pos = words (max=8)\nfeed word_pos as context\n"
TINY = ["prefix_check=200", "n_layer=1", "n_head=2", "n_embd=16", "block_size=16", "batch_size=4", "eval_interval=4", "eval_iters=1",
        "warmup_iters=1", "sample_interval=0", "device=cpu"]


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # end to end; conftest: tiny models, one thread


def loop_args(spec, out, *extra):
    return ["improve", "--spec", spec, "--corpus", "synthetic:stories=8,seed=0", "--rounds", "1", "--seeds", "2",
            "--out", out, "--steps", "8", "--candidate-steps", "4", "--sample", "300", "--clusters", "3",
            "--max-depth", "2", "--proposers", "clusters,lexemes", *extra, *TINY]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "start.axes"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def finished(spec_file, tmp_path_factory):
    """One whole loop, shared by the tests that read its results."""
    out = tmp_path_factory.mktemp("loop") / "improve"
    code = cli.main([str(a) for a in loop_args(spec_file, out)])
    assert code == 0
    return out


# -------------------------------------------------------------- the rule


def test_a_consistent_gain_above_the_noise_is_accepted():
    d = decide([1.00, 1.10, 1.05], [1.20, 1.30, 1.25])
    assert d.accepted and d.gain == pytest.approx(0.2) and d.lower == pytest.approx(0.2)
    assert d.noise == pytest.approx(0.05)


def test_a_gain_that_seeds_disagree_on_is_rejected():
    d = decide([1.0, 1.3, 1.0], [1.2, 1.1, 1.2])  # gains +0.2, -0.2, +0.2: mean 0.067, not clearly > 0
    assert not d.accepted and "not clearly above 0" in d.reason and d.lower < 0


def test_a_steady_gain_smaller_than_the_seed_noise_is_rejected():
    d = decide([1.49, 1.19, 1.29], [1.50, 1.20, 1.30])  # gain 0.01 every time; the control's spread is 0.15
    assert d.lower > 0 and not d.accepted and "within the seed-to-seed noise" in d.reason


def test_the_rule_needs_two_paired_seeds():
    with pytest.raises(ValueError):
        decide([1.0], [1.1])
    with pytest.raises(ValueError):
        decide([1.0, 1.1], [1.1])


# ------------------------------------------------------------ the control


def test_the_control_shuffles_only_the_new_axis(tmp_path):
    compile_corpus(loads_spec(SPEC), synthetic_corpus(stories=4, seed=0), tmp_path / "data", val_fraction=0.25)
    ds = Dataset.open(tmp_path / "data")
    shuffled_control(ds, "word_pos", tmp_path / "control", seed=3)
    control = Dataset.open(tmp_path / "control")
    assert control.manifest == ds.manifest
    for split in ("train", "val"):
        ours, theirs = np.asarray(ds.axis(split, "word_pos")), np.asarray(control.axis(split, "word_pos"))
        assert np.array_equal(np.bincount(ours), np.bincount(theirs))  # the same labels, as often
        assert not np.array_equal(ours, theirs)  # no longer aligned with the text
        assert np.array_equal(ds.main(split), control.main(split))


# --------------------------------------------------------------- the loop


def test_a_loop_writes_every_round_its_decisions_and_the_summary(finished):
    state = json.loads((finished / "improve.json").read_text())
    (round_1,) = state["rounds"]
    assert {c["proposer"] for c in round_1["candidates"]} <= {"clusters", "lexemes"}
    for c in round_1["candidates"]:
        assert len(c["bpc"]) == len(c["control_bpc"]) == 2
        assert c["accepted"] == decide(c["bpc"], c["control_bpc"]).accepted
        for seed in range(2):
            metrics = json.loads((Path(c["runs"][seed]) / "metrics.json").read_text())
            assert metrics["bpc_joint"] == c["bpc"][seed] and metrics["step"] == 4 and not metrics["leaky"]
            lr = metrics["config"]
            assert (lr["learning_rate"], lr["warmup_iters"], lr["min_lr_fraction"]) == (1e-3 * 0.1, 0, 1.0)
            assert [a["name"] for a in metrics["axes"]] == ["word_pos", c["name"]]
    spec_1 = (finished / "round_1.axes").read_text()
    plan = loads_spec(spec_1)
    if round_1["accepted"]:
        assert plan.feed(round_1["accepted"]).mode == "context" and plan.axis(round_1["accepted"]).causal
    else:
        assert spec_1 == (finished / "round_0.axes").read_text()
    summary = (finished / "summary.md").read_text()
    assert summary.count("\n| 1 |") == max(1, len(round_1["candidates"]))
    assert list((finished / "tb").glob("events.out.tfevents.*"))


def test_rerunning_a_finished_loop_trains_nothing(finished, spec_file, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a finished loop trained again")

    monkeypatch.setattr("model.training.train.train", no_training)
    before = (finished / "summary.md").read_text()
    code, out, err = run(capsys, *loop_args(spec_file, finished))
    assert code == 0, err
    assert (finished / "summary.md").read_text() == before


def test_an_interrupted_loop_resumes_and_skips_finished_runs(spec_file, tmp_path, capsys, monkeypatch):
    import model.training.train as train_module

    real, calls = train_module.train, []

    def interrupted_at_the_fourth_run(*args, **kwargs):
        calls.append(kwargs.get("resume", False))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train", interrupted_at_the_fourth_run)
    assert cli.main([str(a) for a in loop_args(spec_file, tmp_path / "loop")]) == 130  # Ctrl-C
    done = sorted(p.parent for p in (tmp_path / "loop" / "runs").rglob("metrics.json"))
    assert len(done) == 3
    calls.clear()
    monkeypatch.setattr(train_module, "train", lambda *a, **k: (calls.append(k.get("resume", False)), real(*a, **k))[1])
    assert cli.main([str(a) for a in loop_args(spec_file, tmp_path / "loop")]) == 0
    state = json.loads((tmp_path / "loop" / "improve.json").read_text())
    runs = 1 + 4 * len(state["rounds"][0]["candidates"])  # round 0, then candidate and control per seed
    assert len(calls) == runs - 3  # the three finished runs were not trained again


def test_a_crashing_proposer_is_logged_and_the_round_goes_on(spec_file, tmp_path, capsys, monkeypatch):
    class Broken(proposers.Proposer):
        name = "broken"

        def propose(self, net, ds, spec_text, rng):
            raise RuntimeError("boom")

    monkeypatch.setitem(proposers.PROPOSERS, "broken", Broken)
    args = loop_args(spec_file, tmp_path / "loop")
    args[args.index("clusters,lexemes")] = "broken,lexemes"
    code, out, _ = run(capsys, *args)
    assert code == 0
    state = json.loads((tmp_path / "loop" / "improve.json").read_text())
    assert any("proposer broken: no candidate: the proposer crashed: RuntimeError: boom" in f
               for f in state["rounds"][0]["failures"])
    assert "skipped: proposer broken" in (tmp_path / "loop" / "summary.md").read_text()


# -------------------------------------------------------------- bad input


def test_other_settings_for_the_same_directory_are_refused(finished, spec_file, capsys):
    args = loop_args(spec_file, finished)
    args[args.index("--candidate-steps") + 1] = "5"
    code, _, err = run(capsys, *args)
    assert code == 2 and "holds a loop with other settings (candidate_steps)" in err


def test_bad_options_exit_2_with_a_message(spec_file, tmp_path, capsys):
    args = loop_args(spec_file, tmp_path / "a")
    args[args.index("clusters,lexemes")] = "clusterz"
    code, _, err = run(capsys, *args)
    assert code == 2 and "no proposer 'clusterz'" in err and "clusters" in err
    args = loop_args(spec_file, tmp_path / "b")
    args[args.index("--seeds") + 1] = "1"
    code, _, err = run(capsys, *args)
    assert code == 2 and "--seeds" in err and "at least 2" in err
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.txt").write_text("mine")
    code, _, err = run(capsys, *loop_args(spec_file, tmp_path / "c"))
    assert code == 2 and "is not empty and holds no improve.json" in err


def test_every_candidate_measured_is_a_checked_causal_spec(finished):
    for c in json.loads((finished / "improve.json").read_text())["rounds"][0]["candidates"]:
        plan = loads_spec(c["spec"])
        assert plan.axis(c["name"]).causal and plan.feed(c["name"]).mode == "context"


# ------------------------------------------------------------ rediscovery


def test_rediscovery_scores_the_planted_structure_one_and_unrelated_labels_near_zero():
    from model.experiments.rediscovery import recovery

    docs = list(synthetic_corpus(stories=6, seed=1).documents())
    copy = "main chars\nannotation stage_copy (layer=stage, labels=[OPENING, QUEST, TRIAL, RESOLUTION])\n"
    assert recovery(copy, "stage_copy", docs)["stage"] == pytest.approx(1.0)
    shape = "main chars\ntagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])\n"
    assert abs(recovery(shape, "shape", docs)["stage"]) < 0.02


def test_rediscovery_tabulates_every_candidate_of_a_loop(finished, capsys, tmp_path):
    from model.experiments.rediscovery import main as rediscovery

    assert rediscovery([str(finished), "--stories", "3"]) == 0
    out = capsys.readouterr().out
    candidates = json.loads((finished / "improve.json").read_text())["rounds"][0]["candidates"]
    assert out.count("\n| 1 |") == len(candidates)
    assert rediscovery([str(tmp_path)]) == 2 and "improve.json not found" in capsys.readouterr().err


def test_candidates_beyond_the_limit_are_listed_as_skipped(spec_file, tmp_path, capsys):
    code, out, _ = run(capsys, *loop_args(spec_file, tmp_path / "loop", "--max-candidates", "1"))
    assert code == 0
    state = json.loads((tmp_path / "loop" / "improve.json").read_text())
    [round_1] = state["rounds"]
    assert len(round_1["candidates"]) == 1
    beyond = [f for f in round_1["failures"] if "beyond --max-candidates 1" in f]
    assert beyond and all(f.startswith("proposer ") for f in beyond)
    assert "skipped: proposer" in out and "beyond --max-candidates 1" in (tmp_path / "loop" / "summary.md").read_text()
