"""Distillation and the proposers (model/experiments/distill*.py, model/experiments/proposers.py,
model/experiments/candidates.py, `multigrid distill`), on a tiny synthetic dataset and a
tiny model trained a few steps."""

import logging
from pathlib import Path

import attrs
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grid_dsl import compile_text, loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.causality import verify
from grid_dsl.data.checker import check
from model.cli.main import main
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.language.formatter import format_text
from grid_dsl.language.parser import parse
from grid_dsl.data.synthetic import synthetic_corpus
from model.network import checkpoint
from model.experiments import distill
from model.experiments.candidates import Candidate, CandidateError, check_candidate
from model.network.config import TrainConfig
from model.experiments.distill import Condition, Sample, base_spec_text, collect, doc_prefixes
from model.experiments.distill_tree import simplify
from model.network.transformer import GridTransformer
from model.experiments.proposers import (PROPOSERS, ClusterProposer, LexemeProposer, Proposer, Settings, SurprisalProposer,
                             distilled_rules, run_proposers)
from model.training.train import train

SPEC = """main chars
group words = words
tagger shape = char_class (labels=[UPPER, DIGIT, PUNCT])
lexicon who (case=insensitive, whole_word, encoding=after) {
    "king" | "queen" -> ROYAL
    "witch" | "wolf" -> VILLAIN
}
feed shape as context
feed who as context
feed words as predict (weight=0.5)
"""
TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=16, batch_size=8, eval_iters=2, warmup_iters=2, log_interval=1, prefix_check=200,
            sample_interval=0, device="cpu", seed=1, max_iters=30, eval_interval=30)
SETTINGS = Settings(clusters=4, max_depth=3, sample=800)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, one thread


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Dataset:
    out = tmp_path_factory.mktemp("data") / "tiny"
    compile_corpus(loads_spec(SPEC, "tiny.axes"), synthetic_corpus(stories=12, seed=0), out, val_fraction=0.25)
    return Dataset.open(out)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    train(data, out, TrainConfig(**TINY), progress=False)
    return out


@pytest.fixture(scope="module")
def net(run) -> GridTransformer:
    return checkpoint.load(run).network().eval()


def compiled_labels(text: str, name: str, ds, positions: np.ndarray) -> np.ndarray:
    """The new axis's labels at the sampled positions, compiled from the spec text."""
    plan = check(parse(text, "<candidate>"))
    out = np.empty(len(positions), dtype=object)
    for doc_text, offsets, rows in doc_prefixes(ds, "train", positions):
        out[rows] = np.array(compile_text(plan, doc_text).labels(name), dtype=object)[offsets]
    return out


def assert_rules_reproduce_the_tree(candidate: Candidate, ds) -> None:
    """The key exactness property: the compiled rules axis gives tree.predict's
    label at every sampled position."""
    d = candidate.distillation
    names = sorted(set(d.labels), key=lambda n: int(n[1:]))
    predicted = np.array(names, dtype=object)[d.tree.predict(d.features.X)]
    compiled = compiled_labels(candidate.text, candidate.name, ds, d.sample.positions)
    assert len(set(predicted)) >= 2
    assert list(compiled) == list(predicted)


# -------------------------------------------------------------- collection


def test_collected_states_are_the_model_s_own(net, data):
    sample = collect(net, data, layer=1, size=40, seed=3)
    assert sample.hidden.shape == (40, 32) and sample.hidden.dtype == np.float32 and sample.nll.shape == (40,)
    T = net.config.block_size
    assert np.all((sample.positions - sample.windows >= T // 2) & (sample.positions - sample.windows < T))
    main = torch.from_numpy(np.asarray(data.main("train"), dtype=np.int64))
    meta = torch.stack([torch.from_numpy(np.asarray(data.axis("train", a.name), dtype=np.int64))
                        for a in net.config.axes], -1)
    for i in (0, 17, 39):
        s, j = int(sample.windows[i]), int(sample.positions[i] - sample.windows[i])
        idx, axis_in, targets, _ = net.align(main[None, s : s + T + 2], meta[None, s : s + T + 2])
        with torch.no_grad():
            final = net.hidden(idx, axis_in)[0, j]
            nll = F.cross_entropy(net.lm_head(final)[None], targets[0, j : j + 1])
            # after the last block, before the final LayerNorm
            ours = net.transformer.ln_f(torch.from_numpy(sample.hidden[i]))
        assert torch.allclose(ours, final, atol=1e-5)
        assert sample.nll[i] == pytest.approx(float(nll), abs=1e-5)


def test_layer_out_of_range_is_a_user_error(net, data):
    with pytest.raises(UserError, match=r"--layer 2: the run has layers 0\.\.1"):
        collect(net, data, layer=2, size=10, seed=0)


# --------------------------------------------------------- the proposers


def test_clusters_rules_reproduce_the_tree_and_pass_every_check(net, data):
    (candidate,) = ClusterProposer(SETTINGS).propose(net, data, base_spec_text(data), np.random.default_rng(0))
    check_candidate(candidate, data)  # raises with the reason otherwise
    assert_rules_reproduce_the_tree(candidate, data)
    text = candidate.text
    assert format_text(text) == text
    plan = check(parse(text))
    assert candidate.name == "clusters_l1" and plan.axis("clusters_l1").causal
    assert plan.feed("clusters_l1").mode == "context"
    assert [f.axis for f in plan.feeds] == ["shape", "who", "words", "clusters_l1"]  # the spec's feeds kept
    assert all(v.ok for v in verify(plan, data.decode(data.main("val")[:3000]), cuts=32))
    s = candidate.stats
    assert 0 <= s["fidelity"] <= 1 and s["held_out"] == 160 and s["labels"] == 4
    assert f"at {s['fidelity']:.3f} of 160 held-out positions" in text
    assert "--proposer clusters` from the run" in text.splitlines()[0]
    assert "hidden states after block 1" in text and "max depth 3" in text and "Coverage:" in text


def test_the_fidelity_is_the_rules_accuracy_on_held_out_positions(net, data):
    (candidate,) = SurprisalProposer(SETTINGS).propose(net, data, base_spec_text(data), np.random.default_rng(1))
    d = candidate.distillation
    given = d.rules.labels(d.features.X)
    assert len(d.held_out) == candidate.stats["held_out"] == 160
    assert candidate.stats["fidelity"] == np.mean(given[d.held_out] == d.labels[d.held_out])
    assert candidate.stats["ruled_fraction"] == np.mean(given[d.held_out] != candidate.stats["default"])


def test_surprisal_buckets_are_ordered_quantiles_and_the_rules_reproduce_the_tree(net, data):
    (candidate,) = SurprisalProposer(SETTINGS).propose(net, data, base_spec_text(data), np.random.default_rng(0))
    check_candidate(candidate, data)
    assert_rules_reproduce_the_tree(candidate, data)
    d = candidate.distillation
    buckets = [d.sample.nll[d.labels == f"S{i}"] for i in range(candidate.stats["labels"])]
    assert candidate.stats["labels"] == 4 and all(len(b) >= 150 for b in buckets)  # quartiles of 800
    assert all(a.max() <= b.min() for a, b in zip(buckets, buckets[1:]))  # S0 the most predictable
    assert candidate.name == "surprisal" and "rules surprisal {" in candidate.text


def test_lexemes_are_the_highest_loss_words_in_a_causal_lexicon(net, data):
    proposer = LexemeProposer(Settings(sample=2000, max_lexemes=5))
    ranked = proposer.mine(net, data, seed=5)
    assert [x.bits for x in ranked] == sorted((x.bits for x in ranked), reverse=True)
    assert all(x.count >= 3 for x in ranked)
    candidate, *phrases = proposer.propose(net, data, base_spec_text(data), np.random.default_rng(0))
    assert [c.name for c in phrases] in ([], ["hard_phrases"])
    check_candidate(candidate, data)
    plan = check(parse(candidate.text))
    axis = plan.axis("hard_words")
    assert axis.kind == "lexicon" and axis.causal
    assert "lexicon hard_words (case=insensitive, whole_word, encoding=after) {" in candidate.text
    emitted = [x["text"] for x in candidate.stats["lexemes"]]
    assert len(emitted) == 5 and all(f'"{w}" -> ' in candidate.text for w in emitted)


def test_the_lexeme_miner_finds_the_words_where_the_loss_is_high(net, data, monkeypatch):
    """With a loss planted on the characters of two words, those two words
    (and the pairs that hold them) are the ones mined."""
    wide = GridTransformer(attrs.evolve(net.config, block_size=64))  # whole words fit in a window's second half
    T = wide.config.block_size
    half = T - T // 2
    text = data.decode(data.main("train"))
    starts = np.arange(0, len(text) - T - 2, half)  # windows whose second halves tile the text
    positions = (starts[:, None] + T // 2 + np.arange(half)).reshape(-1)
    hard = np.zeros(len(text), dtype=bool)
    import regex

    for m in regex.finditer(r"\b(?:witch|castle)\b", text, flags=regex.IGNORECASE):
        hard[m.start() : m.end()] = True
    nll = np.where(hard[np.minimum(positions + 1, len(text) - 1)], 6.0, 0.5).astype(np.float32)
    planted = Sample(positions, np.repeat(starts, half), nll, None, 1)
    monkeypatch.setattr("model.experiments.proposers.collect", lambda *a, **k: planted)
    ranked = LexemeProposer(Settings(ngram=2)).mine(wide, data, seed=0)
    assert {x.text for x in ranked[:2]} == {"witch", "castle"}
    assert ranked[0].bits == pytest.approx(6.0 / np.log(2), rel=1e-5)
    # next, the pairs that hold them: "the witch" is 5 hard characters of 9
    the_witch = next(x for x in ranked if x.text == "the witch")
    assert the_witch.bits == pytest.approx((5 * 6.0 + 4 * 0.5) / 9 / np.log(2), rel=1e-5)
    assert all(set(x.text.split()) & {"witch", "castle"} for x in ranked if x.bits > 0.5 / np.log(2) + 1e-6)

    words, phrases = LexemeProposer(Settings(max_lexemes=3)).propose(wide, data, base_spec_text(data),
                                                                     np.random.default_rng(0))
    for candidate in (words, phrases):
        check_candidate(candidate, data)
    assert [x["text"] for x in words.stats["lexemes"]] == [x.text for x in ranked if " " not in x.text][:3]
    assert [x["text"] for x in phrases.stats["lexemes"]] == [x.text for x in ranked if " " in x.text][:3]
    assert '    when window(11) ~ /(?:^|\\W)the\\ witch\\W$/i -> THE_WITCH\n' in phrases.text
    text = "The witch laughed. Bathe witch, the witches; the witch"
    got = compile_text(check(parse(phrases.text)), text).labels("hard_phrases")
    assert [(i, label) for i, label in enumerate(got) if label != "_"] == [(9, "THE_WITCH")]
    got = compile_text(check(parse(words.text)), text).labels("hard_words")
    assert [(i, label) for i, label in enumerate(got) if label != "_"] == [(9, "WITCH"), (30, "WITCH")]


# ----------------------------------------------------------- simplification


def test_simplify_drops_exactly_the_decided_conditions():
    c = [Condition('char == "a"', "char", "==", "a"), Condition("char is letter", "char", "is", "letter"),
         Condition("char is upper", "char", "is", "upper"), Condition('char == "1"', "char", "==", "1"),
         Condition("char[-1] is letter", "char[-1]", "is", "letter"), Condition("who == ROYAL", "who", "==", "ROYAL"),
         Condition("who == VILLAIN", "who", "==", "VILLAIN")]
    assert simplify(((0, True), (1, True), (2, False), (4, True)), c) == ((0, True), (4, True))
    assert simplify(((2, True), (1, True)), c) == ((2, True),)  # upper implies letter
    assert simplify(((1, False), (2, False)), c) == ((1, False),)  # not letter implies not upper
    assert simplify(((1, True), (3, False)), c) == ((1, True),)  # a letter is not "1"
    assert simplify(((1, True), (0, False)), c) == ((1, True), (0, False))  # "a" is a letter: both needed
    assert simplify(((6, False), (5, True)), c) == ((5, True),)
    assert simplify(((4, True), (1, False)), c) == ((4, True), (1, False))  # other subjects stay
    digit = Condition("char is digit", "char", "is", "digit")
    space = Condition("char is space", "char", "is", "space")
    punct = Condition("char is punct", "char", "is", "punct")
    word = Condition("char is word", "char", "is", "word")
    c += [digit, space, punct, word]  # 7 8 9 10
    assert simplify(((2, True), (7, False), (8, False)), c) == ((2, True),)  # an upper letter is no digit, no space
    assert simplify(((10, True), (8, False)), c) == ((10, True),)  # a word character is no space
    assert simplify(((10, True), (9, False)), c) == ((10, True), (9, False))  # "_" is word and punct


# -------------------------------------------------------------- the command


def test_distill_command_writes_the_checked_candidate(run, data, net, tmp_path, capsys):
    out = tmp_path / "new.axes"
    code = main(["distill", str(run), "--data", str(data.path), "--out", str(out), "--clusters", "4",
                 "--max-depth", "3", "--sample", "800", "--seed", "0"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    step = checkpoint.load(run).step
    settings = Settings(layer=1, clusters=4, max_depth=3, sample=800, origin=f"{run / 'ckpt.pt'} (step {step:,})")
    (expected,) = ClusterProposer(settings).propose(net, data, base_spec_text(data), np.random.default_rng(0))
    assert out.read_text(encoding="utf-8") == expected.text  # the same candidate, deterministically
    assert "new axis 'clusters_l1' (clusters), fed as context" in printed.out
    assert [p.name for p in tmp_path.iterdir()] == ["new.axes"]  # no temporary file left


@pytest.mark.parametrize("args, message", [
    (["--layer", "2"], "--layer 2: the run has layers 0..1"),
    (["--clusters", "30", "--sample", "20"], "--clusters 30 is larger than --sample 20"),
    (["--proposer", "cluster"], "unknown proposer 'cluster'; did you mean 'clusters'?"),
    (["--proposer", "surprisal", "--layer", "7"], "--layer 7: the run has layers 0..1"),
    (["--out", "{tmp}"], "--out {tmp} is a directory; name the .axes file to write"),
    (["--out", "{tmp}/no/new.axes"], "--out {tmp}/no/new.axes: the folder {tmp}/no does not exist"),
])
def test_bad_options_are_user_errors_and_write_nothing(run, data, tmp_path, capsys, args, message):
    out = tmp_path / "new.axes"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["distill", str(run), "--data", str(data.path), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert f"multigrid: error: {message.replace('{tmp}', str(tmp_path))}" in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_degenerate_clustering_is_reported_and_nothing_is_written(run, data, tmp_path, capsys):
    state = checkpoint.load(run)
    state = attrs.evolve(state, model={k: torch.zeros_like(v) for k, v in state.model.items()})  # every state the same
    (tmp_path / "flat").mkdir()
    checkpoint.save(state, tmp_path / "flat" / "ckpt.pt")
    out = tmp_path / "new.axes"
    assert main(["distill", str(tmp_path / "flat"), "--data", str(data.path), "--out", str(out),
                 "--sample", "100", "--clusters", "3"]) == 2
    err = capsys.readouterr().err
    assert "distill: candidate discarded: clusters: degenerate clustering: the hidden states after block 1 form " \
           "1 cluster at 100 positions" in err and "nothing written" in err
    assert not out.exists()


def test_a_tree_without_a_useful_split_is_a_discarded_candidate(net, data):
    sample = collect(net, data, layer=1, size=400, seed=0, hidden=False)
    y = (np.random.default_rng(0).random(400) < 0.04).astype(np.int64)  # a rare label no condition predicts
    with pytest.raises(CandidateError, match="no useful split: it gives every position the label C0"):
        distilled_rules("clusters", data, base_spec_text(data), sample, y, ["C0", "C1"], SETTINGS, 0, "x", "noise")


class Crashing(Proposer):
    name = "crashing"

    def propose(self, net, ds, spec_text, rng):
        raise RuntimeError("boom")


class Leaky(Proposer):
    name = "leaky"

    def propose(self, net, ds, spec_text, rng):
        ahead = spec_text + "\nrules peek {\n    when char[1] is space -> END\n}\n\nfeed peek as context\n"
        messy = format_text(spec_text + "\nrules ok {\n    when char is space -> SP\n}\n\nfeed ok as context\n") + "\n\n"
        return [Candidate("peek", format_text(ahead), self.name, "looks ahead"), Candidate("ok", messy, self.name, "x")]


def test_run_proposers_skips_crashes_and_failed_candidates_and_logs_why(net, data, caplog):
    proposers = [Crashing(), Leaky(), SurprisalProposer(SETTINGS)]
    with caplog.at_level(logging.WARNING, logger="model.experiments.proposers"):
        candidates, failures = run_proposers(proposers, net, data, base_spec_text(data), np.random.default_rng(0))
    assert [c.name for c in candidates] == ["surprisal"]
    assert [(f.proposer, f.candidate) for f in failures] == [("crashing", None), ("leaky", "peek"), ("leaky", "ok")]
    assert failures[0].reason == "the proposer crashed: RuntimeError: boom"
    assert failures[1].reason.startswith("the spec of 'peek' does not check:\n<candidate peek>:")
    assert "error: context mode needs a causal axis, and 'peek' looks ahead: 1 char" in failures[1].reason
    assert failures[2].reason == "the spec of 'ok' is not canonical (`multigrid fmt` would change it)"
    assert [r.getMessage() for r in caplog.records] == [f.describe() for f in failures]
    assert set(PROPOSERS) == {"clusters", "lexemes", "surprisal", "residual", "operators", "teacher"}


# ------------------------------------------------------------ spec sources


def test_the_base_spec_inlines_includes(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shape.axes").write_text("tagger shape = char_class (labels=[UPPER])\n")
    (tmp_path / "lib" / "words.axes").write_text("group w = words\n")
    # an include sharing its line with a statement, and one followed by a comment: both kept
    (tmp_path / "root.axes").write_text('main chars\ninclude "lib/shape.axes"  # the classes\n'
                                        'include "lib/words.axes" position p = w\nfeed shape as context\n')
    plan = check(parse((tmp_path / "root.axes").read_text(), str(tmp_path / "root.axes")))
    compile_corpus(plan, synthetic_corpus(stories=2, seed=0), tmp_path / "data", val_fraction=0.5)
    text = base_spec_text(Dataset.open(tmp_path / "data"))
    assert "include" not in text and check(parse(text)).names == ("shape", "w", "p")
    assert format_text(text) == ("main chars\n\ntagger shape = char_class (labels=[UPPER])  # the classes\n"
                                 "group w = words\nposition p = w\n\nfeed shape as context\n")


def test_features_are_the_rule_conditions_at_the_sampled_positions(net, data):
    sample = collect(net, data, layer=1, size=400, seed=2, hidden=False)
    table = distill.features(data, base_spec_text(data), sample.positions)
    texts = [c.text for c in table.conditions]
    assert {"char is space", "char[-1] is upper", "char[-2] is punct", "position(words) == 0",
            "position(words) >= 6", "who == _", "shape == UPPER"} <= set(texts)
    assert not any("[1]" in t or "[+" in t for t in texts)  # nothing looks ahead
    text = data.decode(data.main("train"))
    column = texts.index("char[-1] is space")
    starts = np.asarray(data.doc_starts("train"))
    at_doc_start = np.isin(sample.positions, starts)
    expected = np.array([(not first) and text[p - 1].isspace() for p, first in zip(sample.positions, at_doc_start)])
    assert list(table.X[:, column]) == list(expected)


def test_a_spec_without_words_gets_a_helper_grouping_when_the_rules_need_one(tmp_path):
    spec = "main chars\ntagger shape = char_class (labels=[UPPER, PUNCT])\nfeed shape as context\n"
    compile_corpus(loads_spec(spec, "nowords.axes"), synthetic_corpus(stories=3, seed=0), tmp_path / "d", val_fraction=0.34)
    ds = Dataset.open(tmp_path / "d")
    positions = np.sort(np.random.default_rng(0).choice(ds.tokens("train"), 600, replace=False))
    table = distill.features(ds, base_spec_text(ds), positions)
    column = [c.text for c in table.conditions].index("position(distill_words) == 0")
    assert table.needed_helpers({column}) == ["group distill_words = words"]
    sample = Sample(positions, positions, np.zeros(600, np.float32), None, 0)
    y = table.X[:, column].astype(np.int64)  # 1 at the first letter of a word: one condition says it
    candidate = distilled_rules("clusters", ds, base_spec_text(ds), sample, y, ["C0", "C1"], SETTINGS, 0, "firsts", "x")
    check_candidate(candidate, ds)
    assert "group distill_words = words\n\nrules firsts {\n    when position(distill_words) == 0 -> C1\n" \
           "    default -> C0\n}\n\nfeed firsts as context\n" in candidate.text
    assert candidate.stats["fidelity"] == 1.0 and candidate.stats["ruled_fraction"] > 0
