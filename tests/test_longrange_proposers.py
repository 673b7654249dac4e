"""The long-range proposers (model/experiments/longrange.py, model/experiments/longrange_proposers.py).

A toy corpus plants a long-range signal: every line sets a key (`K=c: `) and
ends with `?c`, more than 16 characters later, so a model reading 16
characters cannot know it; in the control corpus the character after `?` is
drawn afresh, and nothing outside the window tells anything (the filler's
length is memoryless). The proposers must find the key (`latest` of the
spec's `key` lexicon) on the first and propose nothing on the second."""

import json
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import run
from grid_dsl import compile_text, loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.checker import check
from grid_dsl.data.corpora import open_corpus
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.language.parser import parse
from model.experiments.candidates import CandidateError, check_candidate
from model.experiments.distill import base_spec_text, doc_prefixes
from model.experiments.improve import Loop
from model.experiments.improve_state import Measured, Round, Settings as LoopSettings
from model.experiments.improve_summary import example_passage, new_declarations, summary_table
from model.experiments.longrange import (cross_fitted_bits, gain_over, halves, local_shuffle, long_range,
                                         recalibrated_bits, sample_positions, score)
from model.experiments.longrange_proposers import OperatorProposer, Ranked, ResidualProposer, TeacherProposer, by_information
from model.experiments.proposers import Settings, run_proposers
from model.network import checkpoint
from model.network.config import TrainConfig
from model.training.train import train

KEYS = "abcd"
SPEC = """main chars
lexicon key (encoding=after) {
    "K=a" -> A
    "K=b" -> B
    "K=c" -> C
    "K=d" -> D
}
feed key as context
"""
STUDENT = dict(n_layer=2, n_head=2, n_embd=32, block_size=16, batch_size=16, eval_iters=2, warmup_iters=5,
               log_interval=50, prefix_check=0, sample_interval=0, device="cpu", seed=1, max_iters=300,
               eval_interval=300, learning_rate=3e-3)
TEACHER = STUDENT | dict(n_layer=1, n_head=4, n_embd=64, block_size=64, max_iters=600, eval_interval=600)
SETTINGS = Settings(sample=4000, clusters=6, max_depth=5)

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


def key_lines(rng, n: int, planted: bool) -> str:
    """Lines `K=x: once upon a time, (and so on )*?y`: y is x where planted.
    The filler goes on with probability 0.6 at every step, so how far into
    the line a position is says nothing about when the line ends."""
    lines = []
    for _ in range(n):
        key = KEYS[rng.integers(len(KEYS))]
        reps = 0
        while rng.random() < 0.6:
            reps += 1
        answer = key if planted else KEYS[rng.integers(len(KEYS))]
        lines.append(f"K={key}: once upon a time, " + "and so on " * reps + f"?{answer}\n")
    return "".join(lines)


def toy_dataset(folder: Path, planted: bool) -> Dataset:
    rng = np.random.default_rng(0)
    (folder / "corpus").mkdir(parents=True)
    for d in range(8):
        (folder / "corpus" / f"doc{d}.txt").write_text(key_lines(rng, 40, planted))
    compile_corpus(loads_spec(SPEC, "key.axes"), open_corpus(folder / "corpus"), folder / "data", val_fraction=0.25)
    return Dataset.open(folder / "data")


def trained(ds: Dataset, out: Path, config: dict):
    train(ds, out, TrainConfig(**config), progress=False)
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    ds = toy_dataset(tmp_path_factory.mktemp("planted"), planted=True)
    return ds, trained(ds, ds.path.parent / "student", STUDENT)


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    ds = toy_dataset(tmp_path_factory.mktemp("control"), planted=False)
    return ds, trained(ds, ds.path.parent / "student", STUDENT)


@pytest.fixture(scope="module")
def teacher(planted):
    ds, _ = planted
    return trained(ds, ds.path.parent / "teacher", TEACHER)


def network(run_dir):
    return checkpoint.load(run_dir).network().eval()


def compiled_labels(text: str, name: str, ds, positions: np.ndarray) -> np.ndarray:
    plan = check(parse(text, "<candidate>"))
    out = np.empty(len(positions), dtype=object)
    for doc_text, offsets, rows in doc_prefixes(ds, "train", positions):
        out[rows] = np.array(compile_text(plan, doc_text).labels(name), dtype=object)[offsets]
    return out


# ------------------------------------------------------------ the features


def test_the_operators_are_the_causal_ones_the_spec_lacks():
    lr = long_range(SPEC)
    names = [d.name for d in lr.operators]
    assert {"latest_key", "first_key", "line_age", "para_no", "in_quote", "quote_age"} <= set(names)
    assert "since_key" not in names and "count_key" not in names  # the lexicon's spans are the words: not causal
    plan = check(parse(lr.text, "<operators>"))
    assert all(plan.axis(n).causal for n in names) and not plan.feeds[1:]  # declared, none fed but the spec's
    assert lr.declarations(["quote_age"]) == [lr.operator("in_quote").text, lr.operator("quote_age").text]
    assert lr.declarations(["line_age"]) == ["group lines = lines", "since line_age = lines (scale=log)"]
    # what the spec declares already is not declared again, and operators over it read the spec's own axis
    own = SPEC + 'latest last_key = key\nnesting quoted (inside) {\n    "\\""\n}\n'
    again = [d.name for d in long_range(own).operators]
    assert "latest_key" not in again and "in_quote" not in again
    assert long_range(own).operator("quote_age").text == "since quote_age = quoted (scale=log)"


def test_recalibration_measures_what_a_feature_tells_beyond_the_model():
    rng = np.random.default_rng(0)
    n, V = 4000, 4
    probs = np.full((n, V), 1 / V)  # a model that knows nothing
    feature = rng.integers(V, size=n)
    target = np.where(rng.random(n) < 0.9, feature, rng.integers(V, size=n))  # the feature says the next char
    folds = halves(n, 0)
    plain = cross_fitted_bits(probs, target, np.zeros(n, np.int64), folds)
    told = cross_fitted_bits(probs, target, feature, folds)
    shuffled = cross_fitted_bits(probs, target, rng.permutation(feature), folds)
    entropy = -(0.925 * np.log2(0.925) + 3 * 0.025 * np.log2(0.025))
    assert np.mean(plain) == pytest.approx(2.0, abs=0.01)
    assert np.mean(told) == pytest.approx(entropy, abs=0.05)
    assert abs(np.mean(plain - shuffled)) < 0.01
    gain = gain_over(shuffled, told)
    assert gain.lower > 1.0 and gain.positions == n
    # a model that already knows what the feature says gains nothing from it
    knows = np.full((n, V), 0.025)
    knows[np.arange(n), feature] = 0.925
    assert abs(np.mean(recalibrated_bits(knows, target, feature, *folds))
               - np.mean(recalibrated_bits(knows, target, np.zeros(n, np.int64), *folds))) < 0.01


class Text:
    """What local_shuffle reads of a dataset: its train split's ids."""

    def __init__(self, ids):
        self.ids = ids

    def main(self, split):
        return self.ids


@given(st.lists(st.integers(0, 3), min_size=1, max_size=200), st.integers(0, 2**32 - 1))
def test_the_control_moves_a_position_only_among_those_with_the_same_last_characters(ids, seed):
    ids, positions = np.array(ids), np.arange(len(ids))
    permutation = local_shuffle(Text(ids), positions, np.random.default_rng(seed), chars=2)
    assert sorted(permutation) == list(range(len(ids)))
    for k in range(2):
        before = ids[np.maximum(positions - k, 0)]
        assert np.array_equal(before[permutation], before)


def test_the_control_shuffles_what_the_last_characters_do_not_decide():
    ids = np.tile([0, 1, 2, 3], 50)  # every fourth position is alike in its last characters
    permutation = local_shuffle(Text(ids), np.arange(200), np.random.default_rng(0), chars=2)
    assert np.mean(permutation != np.arange(200)) > 0.9


def test_scores_are_the_model_s_predictions_with_the_most_context(planted):
    ds, student = planted
    net = network(student)
    positions = sample_positions(ds, 300, seed=0)
    scores = score(net, ds, positions, hidden=True)
    assert np.allclose(scores.probs.sum(axis=1), 1, atol=1e-5) and scores.hidden.shape == (300, 32)
    assert np.allclose(-np.log(scores.probs[np.arange(300), scores.target]), scores.nll, atol=1e-5)
    context = positions - scores.starts
    assert np.all((context == 15) | (positions < 15)) and np.all(context >= 0)
    assert list(scores.target) == list(np.asarray(ds.main("train"))[positions + 1])


# ----------------------------------------------------------- the proposers


def test_operators_rank_the_planted_operator_first_and_propose_it(planted):
    ds, student = planted
    candidates, failures = run_proposers([OperatorProposer(SETTINGS)], network(student), ds, base_spec_text(ds),
                                         np.random.default_rng(0), report=None)
    assert not failures and candidates[0].name == "latest_key"
    best = candidates[0]
    ranking = best.stats["ranking"]
    assert ranking[0]["name"] == "latest_key" and best.stats["rank"] == 1
    assert ranking[0]["gain"] > 0.005 > ranking[0]["control"] and best.stats["lower"] > 0
    assert "latest latest_key = key\n\nfeed latest_key as context\n" in best.text
    assert "ranked 1 of" in best.text and "(the latest label of `key`)" in best.text


def test_operators_propose_nothing_on_the_control_corpus(control):
    ds, student = control
    with pytest.raises(CandidateError, match="no long-range operator tells the next character more than its shuffled"):
        OperatorProposer(SETTINGS).propose(network(student), ds, base_spec_text(ds), np.random.default_rng(0))


def test_residual_rules_read_the_planted_state_and_reproduce_the_tree(planted):
    ds, student = planted
    (candidate,) = ResidualProposer(SETTINGS).propose(network(student), ds, base_spec_text(ds), np.random.default_rng(0))
    check_candidate(candidate, ds)
    assert "latest_key" in candidate.stats["reads"] and candidate.stats["lower"] > 0
    assert 'char == "?" and latest_key == ' in candidate.text and "-> NEXT_" in candidate.text
    assert "latest latest_key = key\n" in candidate.text and "feed residual as context" in candidate.text
    d = candidate.distillation
    expected = d.rules.labels(d.features.X)  # the tree's labels (distil_long_range asserts the rules are the tree)
    assert list(compiled_labels(candidate.text, "residual", ds, d.sample.positions)) == list(expected)
    assert all(label == "SAME" or label.startswith("NEXT_") for label in set(expected))


def test_residual_proposes_nothing_on_the_control_corpus(control):
    ds, student = control
    with pytest.raises(CandidateError, match="residual: (nothing long-range found|the rules read no long-range)"):
        ResidualProposer(SETTINGS).propose(network(student), ds, base_spec_text(ds), np.random.default_rng(0))


def test_the_teacher_s_clusters_become_rules_over_the_planted_state(planted, teacher):
    ds, student = planted
    settings = Settings(sample=4000, clusters=4, max_depth=4, teacher=str(teacher))
    candidates, failures = run_proposers([TeacherProposer(settings)], network(student), ds, base_spec_text(ds),
                                         np.random.default_rng(0), report=None)
    assert not failures
    (candidate,) = candidates
    assert candidate.name == "teacher" and candidate.stats["reads"] == ["latest_key"]
    assert 'when char == "?" and latest_key == ' in candidate.text and "default -> SAME" in candidate.text
    assert "of the teacher" in candidate.text and "(block 64)" in candidate.text


def test_the_teacher_proposes_nothing_on_the_control_corpus(control):
    """A teacher that sees the whole line learns that the key tells nothing here: whatever
    it knows beyond the student is local, or no more than the shuffled control gives."""
    ds, student = control
    teacher = trained(ds, ds.path.parent / "teacher", TEACHER)
    settings = Settings(sample=4000, clusters=4, max_depth=4, teacher=str(teacher))
    with pytest.raises(CandidateError, match="teacher: (nothing long-range found|the rules read no long-range|"
                                             "the teacher .* beats the student .* at only)"):
        TeacherProposer(settings).propose(network(student), ds, base_spec_text(ds), np.random.default_rng(0))


# ------------------------------------------------------------ the commands


def test_distill_writes_the_operators_and_the_summary_shows_them(planted, tmp_path, capsys):
    ds, student = planted
    out = tmp_path / "new.axes"
    code, printed, err = run(capsys, "distill", student, "--data", ds.path, "--out", out, "--proposer", "operators",
                             "--sample", "4000")
    assert code == 0, err
    text = out.read_text()
    assert "new axis 'latest_key' (operators)" in printed and "feed latest_key as context" in text
    assert new_declarations(SPEC, text) == "latest latest_key = key\n"
    example = example_passage(text, "latest_key", ds)
    rows = example.splitlines()
    assert rows[0].startswith("text ") and rows[1].startswith("key ") and rows[2].startswith("latest_key ")
    assert "K=" in rows[0] and any(k in rows[2] for k in "ABCD")
    measured = Measured(name="latest_key", proposer="operators", description="the latest label of `key`", spec=text,
                        data="d", runs=("r0", "r1"), bpc=(1.0, 1.1), control_bpc=(1.2, 1.3), accepted=True, gain=0.2,
                        lower=0.1, noise=0.07, reason="clear")
    entry = Round(round=1, candidates=(measured,), failures=(), accepted="latest_key", spec=text, data="d", run="r0",
                  bpc_joint=1.0, declarations="latest latest_key = key\n", example=example)
    summary = summary_table((entry,))
    assert "| 1 | `latest_key` | operators | 1.0500 | 1.2500 | +0.2000 | +0.1000 | - | **accepted** |" in summary
    assert "## What the loop learnt" in summary and "```axes\nlatest latest_key = key\n```" in summary
    assert example in summary


def test_a_missing_or_unfit_teacher_is_exit_2_naming_the_flag(planted, tmp_path, capsys):
    ds, student = planted
    out = tmp_path / "t.axes"
    base = ["distill", student, "--data", ds.path, "--out", out, "--proposer", "teacher"]
    code, _, err = run(capsys, *base)
    assert code == 2 and "the teacher proposer needs a teacher: pass --teacher RUN" in err
    code, _, err = run(capsys, *base, "--teacher", tmp_path / "nowhere")
    assert code == 2 and f"--teacher {tmp_path / 'nowhere'}: checkpoint not found" in err
    # the same text compiled without the `key` axis, and a student of it: the planted student reads `key`
    compile_corpus(loads_spec("main chars\n", "bare.axes"), open_corpus(ds.path.parent / "corpus"), tmp_path / "bare",
                   val_fraction=0.25)
    bare = Dataset.open(tmp_path / "bare")
    bare_student = trained(bare, tmp_path / "bare_student", STUDENT | dict(max_iters=2, eval_interval=2))
    code, _, err = run(capsys, "distill", bare_student, "--data", bare.path, "--out", out, "--proposer", "teacher",
                       "--teacher", student)
    assert code == 2 and f"--teacher {student}: {student / 'ckpt.pt'} reads axis 'key', which dataset" in err
    assert not out.exists()
    code, _, err = run(capsys, "improve", "--spec", tmp_path / "s.axes", "--corpus", "synthetic", "--rounds", "1",
                       "--seeds", "2", "--out", tmp_path / "loop", "--proposers", "operators,teacher")
    assert code == 2 and "--proposers teacher needs --teacher RUN" in err


def test_a_loop_begun_before_the_new_settings_resumes(tmp_path):
    settings = LoopSettings(spec="s.axes", corpus="synthetic", rounds=1, seeds=2)
    old = json.loads(json.dumps({k: v for k, v in attrs.asdict(settings).items() if k not in ("teacher", "min_gain")}))
    (tmp_path / "improve.json").write_text(json.dumps({"format": "multigrid-improve/1", "settings": old, "rounds": []}))
    Loop(settings, tmp_path)  # no error: the settings it lacks had their defaults then
    with pytest.raises(UserError, match="other settings \\(teacher\\)"):
        Loop(LoopSettings(spec="s.axes", corpus="synthetic", rounds=1, seeds=2, teacher="runs/t"), tmp_path)


def test_operators_rank_by_what_they_tell_beyond_their_control():
    """Recalibrating on a many-valued feature costs bits by itself (fewer positions
    per cell), so an informative operator can score below zero; its shuffled copy
    pays the same cost, and the difference is what ranks."""
    noisy_but_informative = Ranked("latest_who", gain=-0.011, control=-0.020, lower=0.001)
    constant = Ranked("in_curly_quote", gain=0.0, control=0.0, lower=0.0)
    uninformative = Ranked("word_in_line", gain=-0.023, control=-0.021, lower=-0.004)
    ranked = by_information([constant, uninformative, noisy_but_informative])
    assert [r.name for r in ranked] == ["latest_who", "in_curly_quote", "word_in_line"]
