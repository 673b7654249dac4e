"""Causality that cannot be fooled: the checker's span facts, and the
compile-time prefix check on the corpus (grid_dsl.data.prefix_check).

Lying plug-ins stand in for any axis the static algebra would wrongly call
causal: each claims causality and breaks it in its own way, and `compile`
must catch each one on the corpus it compiles.
"""

import json
import sys

import numpy as np
import pytest

from conftest import fake_distribution, run
from grid_dsl import SpecError, loads_spec
from grid_dsl.data.build import compile_corpus
from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.prefix_check import Cut, check_document, check_targets, choose_cuts
from test_dataset import ListCorpus

LIARS = r'''
import re

class Peeks:
    """Claims causality, labels each character with the next one's case."""
    labels = ["NEXT_UPPER"]
    causal = True

    def tag(self, text):
        return [(i, i + 1, "NEXT_UPPER") for i in range(len(text) - 1) if text[i + 1].isupper()]

class LateLength:
    """Claims causality; late in long documents, labels depend on how much
    text is left (the kind of leak a check on short excerpts misses)."""
    labels = ["FAR_FROM_END"]
    causal = True

    def tag(self, text):
        if len(text) < 3000:
            return []
        return [(i, i + 1, "FAR_FROM_END") for i in range(2500, len(text)) if len(text) - i > 100]

class AfterWords:
    """Causal labels (W on every word character), but spans that cut each
    word into pairs counted from its end: where a span starts is known only
    once the word is complete."""
    labels = ["W"]
    causal = True

    def tag(self, text):
        for m in re.finditer(r"\w+", text):
            start, end = m.span()
            cut = start + (end - start) % 2
            if cut > start:
                yield start, cut, "W"
            for s in range(cut, end, 2):
                yield s, s + 2, "W"

class ShortDocument:
    """Claims causality; labels every character of a document shorter than
    200 characters: what follows decides, even where the prefix ends."""
    labels = ["SHORT"]
    causal = True

    def tag(self, text):
        return [(0, len(text), "SHORT")] if 0 < len(text) < 200 else []

class AfterWordsHonest(AfterWords):
    causal_spans = False
'''

ENTRY_POINTS = """
[multigrid.taggers]
peeks = mg_liars:Peeks
late_length = mg_liars:LateLength
after_words = mg_liars:AfterWords
after_words_honest = mg_liars:AfterWordsHonest
short_document = mg_liars:ShortDocument
"""


@pytest.fixture(scope="module", autouse=True)
def liars(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    (folder / "mg_liars.py").write_text(LIARS)
    fake_distribution(folder, "mg-liars", ENTRY_POINTS)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        yield
        sys.modules.pop("mg_liars", None)


TALES = [
    "Once upon a time there was a King who had Three daughters. " * 3,
    "The Frog sat by the well and said: \"Let me in!\"\n\nAnd the Princess wept.",
    "Hans went to Town. " * 5,
    "A short one.",
    "In the old Days, when wishing still helped, there lived a King. " * 2,
]


def compile_error(spec: str, texts=TALES, **options) -> str:
    with pytest.raises(UserError) as info:
        compile_corpus(loads_spec(spec, "liar.axes"), ListCorpus(texts), options.pop("out"), **options)
    return str(info.value)


# ------------------------------------------------- the static algebra: spans


@pytest.mark.parametrize("consumer", [
    "depth in_w3 = w3",
    "position in_w3 = w3",
    "index in_w3 = w3",
    "group in_w3 = words within w3",
    "rules in_w3 { when depth(w3) >= 1 -> IN }",
    "rules in_w3 { when position(w3) == 0 -> FIRST }",
    "rules in_w3 { when index(w3) >= 1 -> LATER }",
    'chunks in_w3 over w3 """X: {<W3>}"""',
])
def test_spans_of_an_after_lexicon_are_not_causal(consumer):
    """The issue's spec: the lexicon's labels are causal, its spans are the
    matched words; every consumer of the spans looks ahead."""
    spec = f"lexicon w3 (whole_word, encoding=after) {{ /\\w\\w\\w/ -> W3 }}\n{consumer}\nfeed in_w3 as context\n"
    with pytest.raises(SpecError) as info:
        loads_spec(spec)
    assert "context mode needs a causal axis, and 'in_w3' looks ahead" in str(info.value)
    assert loads_spec(spec.replace("as context", "as context (force)")).leaky  # forced: labelled oracle


def test_labels_and_spans_are_separate_facts():
    plan = loads_spec("lexicon w3 (whole_word, encoding=after) { /\\w\\w\\w/ -> W3 }\ngroup words = words\nlag w3_prev = w3 after words")
    lexicon = plan.axis("w3")
    assert lexicon.causal and not lexicon.start_causal and lexicon.boundary_causal
    assert plan.axis("w3_prev").causal  # lagging the causal labels after words stays causal


def test_views_over_causal_spans_stay_causal():
    plan = loads_spec("group w = words\ngroup s = split /[.!?]/\nposition p = w\nindex i = w\nposition q = s")
    assert plan.axis("p").causal and plan.axis("i").causal
    assert not plan.axis("q").causal


def test_contraction_lexicon_is_causal_by_construction():
    """Literal strings of which none runs on past another: a match ending at
    e is decided by text[:e+1] (it used to be refused as unbounded)."""
    plan = loads_spec("lexicon neg (whole_word, encoding=after) { \"don't\" | \"can't\" | \"won't\" -> NEG }\n"
                      "feed neg as context")
    assert plan.axis("neg").causal
    # "can" runs on into "can't": the prefix "can'" takes "can", the whole text "can't"
    with pytest.raises(SpecError):
        loads_spec("lexicon neg (whole_word, encoding=after) { \"can't\" -> NEG  \"can\" -> CAN }\nfeed neg as context")
    with pytest.raises(SpecError):  # the same with case folded
        loads_spec("lexicon n (case=insensitive, encoding=after) { \"CAN'T\" -> NEG  \"can\" -> CAN }\nfeed n as context")


def test_contraction_lexicon_is_prefix_stable():
    from grid_dsl.data.causality import verify

    plan = loads_spec("lexicon neg (whole_word, encoding=after) { \"don't\" | \"can't\" -> NEG  \"n't\" -> NT }\n"
                      "feed neg as context")
    text = "I don't know; can't say, won't, isn't: don'tcan't can'tdon't don't. " * 4
    assert all(v.ok for v in verify(plan, text, cuts=400))


def test_plugin_span_claims():
    assert loads_spec("tagger a = after_words").axis("a").start_causal  # the liar claims it
    honest = loads_spec("tagger a = after_words_honest").axis("a")
    assert honest.causal and not honest.start_causal and not honest.boundary_causal
    with pytest.raises(SpecError):
        loads_spec("tagger a = after_words_honest\nposition p = a\nfeed p as context")


# ------------------------------------------------------ choosing the cuts


def test_cuts_cover_long_and_short_documents_within_budget():
    lengths = np.array([5000, 12, 800, 300, 40_000, 2000] * 5) + np.arange(30)
    cuts = choose_cuts(lengths, budget=100_000, seed=3)
    assert cuts == choose_cuts(lengths, budget=100_000, seed=3)  # deterministic
    longest = int(np.argmax(lengths))
    assert {c.category for c in cuts[longest]} >= {"late", "last"}
    assert any(c.at == lengths[longest] - 1 for c in cuts[longest])
    shortest = int(np.argmin(lengths))
    assert {c.category for c in cuts[shortest]} >= {"last"}
    spent = sum(c.at + (600 if c.continued else 0) for cs in cuts.values() for c in cs)
    assert spent <= 100_000
    assert len(cuts) > 10  # spread over documents, not spent on one
    assert any(c.continued for cs in cuts.values() for c in cs) and any(not c.continued for cs in cuts.values() for c in cs)
    for i, cs in cuts.items():
        assert all(0 < c.at < lengths[i] for c in cs)


def test_one_long_document_gets_cuts_within_reach():
    cuts = choose_cuts([1_000_000], budget=250_000, seed=0)[0]
    assert len(cuts) >= 32 and all(c.at <= 250_000 for c in cuts)


def test_a_larger_budget_checks_more():
    lengths = [3000] * 40
    few = sum(map(len, choose_cuts(lengths, budget=20_000).values()))
    many = sum(map(len, choose_cuts(lengths, budget=200_000).values()))
    assert many > 2 * few


# ---------------------------------------------------- the check on a corpus


@pytest.mark.parametrize("plugin, fact", [("peeks", "labels"), ("after_words", "span starts")])
def test_compile_catches_a_lying_plugin(tmp_path, plugin, fact):
    feed = "p" if plugin == "peeks" else "pos"
    spec = f"tagger p = {plugin}\nposition pos = p\nfeed {feed} as context\n"
    message = compile_error(spec, out=tmp_path / "ds")
    assert "prefix check failed" in message and f"axis 'p' ({fact})" in message
    assert "document " in message and "position " in message and "text: " in message and "‖" in message
    assert "--allow-leaks" in message
    assert not (tmp_path / "ds").exists() and not list(tmp_path.iterdir())  # nothing half-written


def test_compile_catches_a_leak_late_in_long_documents(tmp_path):
    texts = TALES + ["It was late in the long tale, and the King slept. " * 120]
    message = compile_error("tagger p = late_length\nfeed p as context\n", texts=texts, out=tmp_path / "ds")
    assert "axis 'p' (labels)" in message and "FAR_FROM_END" in message


def test_allow_leaks_compiles_and_labels_the_dataset(tmp_path, capsys):
    spec = "group w = words\nposition wp = w\ntagger p = peeks\nfeed p as context\nfeed wp as context\n"
    compile_corpus(loads_spec(spec, "liar.axes"), ListCorpus(TALES), tmp_path / "ds", allow_leaks=True)
    manifest = Dataset.open(tmp_path / "ds").manifest
    assert manifest.leaky and "p failed the prefix check" in manifest.leaky_reason
    assert manifest.prefix_check.allow_leaks and manifest.prefix_check.failed == ["p"]
    by_name = {a.name: a for a in manifest.axes}
    assert by_name["p"].prefix_check.mismatches == 1 and "NEXT_UPPER" in by_name["p"].prefix_check.example
    assert by_name["p"].prefix_failed and not by_name["wp"].prefix_failed
    assert by_name["wp"].prefix_check.to_dict() == {"cuts": manifest.prefix_check.cuts, "mismatches": 0, "example": None}
    # stats shows the check beside the estimate, and flags the failed axis
    from model.cli.main import main as cli_main
    assert cli_main(["stats", str(tmp_path / "ds")]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith(("p ", "wp "))}
    assert "FAILED (" in rows["p"] and rows["p"].endswith("LEAK") and "ok (" in rows["wp"]
    # compiling again without the opt-out is not "up to date": it checks and refuses
    with pytest.raises(UserError, match="prefix check failed"):
        compile_corpus(loads_spec(spec, "liar.axes"), ListCorpus(TALES), tmp_path / "ds")


def test_honest_spec_records_its_check(tmp_path):
    spec = ("group w = words\nposition wp = w\nlexicon neg (whole_word, encoding=after) { \"don't\" -> NEG }\n"
            "lexicon fam (whole_word) { \"King\" | \"Frog\" -> ROYAL }\nlag fam_prev = fam after w\n"
            "feed wp as context\nfeed neg as context\nfeed fam_prev as context\nfeed fam as predict\n")
    compile_corpus(loads_spec(spec, "honest.axes"), ListCorpus(TALES), tmp_path / "ds")
    manifest = Dataset.open(tmp_path / "ds").manifest
    assert not manifest.leaky and manifest.leaky_reason is None
    check = manifest.prefix_check
    assert check.cuts >= 2 * len(TALES) and check.documents == len(TALES) and not check.allow_leaks
    by_name = {a.name: a for a in manifest.axes}
    assert by_name["fam"].prefix_check is None  # predicted, not read as context
    assert all(by_name[n].prefix_check.mismatches == 0 for n in ("wp", "neg", "fam_prev"))


def test_targets_follow_what_context_axes_read():
    plan = loads_spec("group w = words\nlexicon fam (whole_word) { \"King\" -> K }\nlag fam_prev = fam after w\n"
                      "group s = split /[.]/\nfeed fam_prev as context\nfeed s as predict")
    targets = check_targets(plan)
    assert set(targets.fed) == {"fam_prev"} and set(targets.fed["fam_prev"]) == {"w", "fam", "fam_prev"}
    assert "s" not in targets.axes
    assert targets.labels["fam_prev"] == 0 and targets.span_ends["w"] == 1 and "fam" not in targets.labels


def test_continuation_catches_what_the_prefix_alone_misses():
    """A label that says the document is short: every prefix of a short
    document is short too, but not the prefix with another text after it."""
    plan = loads_spec("tagger p = short_document\nfeed p as context")
    targets = check_targets(plan)
    text = "The King slept."
    assert check_document(plan, text, [Cut(k, "middle", False) for k in range(1, len(text))], "", targets) == []
    found = check_document(plan, text, [Cut(8, "middle", True)], "y" * 600, targets)
    labels = next(m for m in found if m.fact == "labels")
    assert labels.continued and (labels.whole, labels.prefix, labels.position) == ("SHORT", "_", 0)
    assert "another document's text" in labels.describe()
    assert {m.fact for m in found} == {"labels", "span starts"}  # its spans are the same claim


def test_compile_command_exit_code(tmp_path, capsys):
    (tmp_path / "liar.axes").write_text("tagger p = peeks\nfeed p as context\n")
    corpus = tmp_path / "tales.txt"
    corpus.write_text("\n\n".join(TALES))
    code, out, err = run(capsys, "compile", tmp_path / "liar.axes", corpus, "--out", tmp_path / "ds")
    assert code == 2 and "prefix check failed" in err and not (tmp_path / "ds").exists()
    code, out, err = run(capsys, "compile", tmp_path / "liar.axes", corpus, "--out", tmp_path / "ds", "--allow-leaks")
    assert code == 0 and "LEAKY" in out
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text())["leaky"]


# ------------------------------------------------- the referee at scoring time


def test_referee_agrees_on_an_honest_dataset(tmp_path):
    from grid_dsl.data.referee import referee

    spec = "group w = words\nposition wp = w\ntagger c = char_class\nfeed wp as context\nfeed c as context\n"
    compile_corpus(loads_spec(spec, "honest.axes"), ListCorpus(TALES * 4), tmp_path / "ds", val_fraction=0.5)
    ds = Dataset.open(tmp_path / "ds")
    result = referee(ds, loads_spec(spec, "honest.axes"), ["wp", "c"], positions=300)
    assert result.ok and result.positions > 100 and result.to_dict()["mismatches"] == 0
    # labels changed after compiling (the manifest still says the check passed): the referee sees it
    stream = tmp_path / "ds" / "val" / "wp.bin"
    ids = np.fromfile(stream, dtype=np.uint8)
    np.where(ids > 0, np.minimum(ids + 1, len(loads_spec(spec).axis("wp").vocab) - 1), 0).astype(np.uint8).tofile(stream)
    tampered = referee(Dataset.open(tmp_path / "ds"), loads_spec(spec, "honest.axes"), ["wp", "c"], positions=300)
    assert tampered.mismatches > 0 and list(tampered.examples) == ["wp"]
    assert "dataset has" in tampered.example and "prefix gives" in tampered.example


def test_referee_on_one_document_split_contiguously(tmp_path):
    """The validation part of a one-document corpus goes on from the end of
    the training part: its prefixes start in the training split."""
    from grid_dsl.data.referee import referee

    spec = "group w = words\nindex wi = w (max=1000)\nfeed wi as context\n"
    compile_corpus(loads_spec(spec, "one.axes"), ListCorpus(["".join(TALES) * 3]), tmp_path / "ds", val_fraction=0.2)
    ds = Dataset.open(tmp_path / "ds")
    assert ds.manifest.split.method == "contiguous"
    result = referee(ds, loads_spec(spec, "one.axes"), ["wi"], positions=50)
    assert result.ok and result.positions >= 40


@pytest.mark.slow
def test_eval_referee_labels_a_run_on_an_opted_out_dataset_leaky(tmp_path, capsys):
    """The dataset was compiled with --allow-leaks: the referee finds the
    labels the prefix does not give, and eval labels every number LEAKY."""
    from grid_dsl.data.referee import referee

    spec = "tagger p = peeks\nfeed p as context\n"
    compile_corpus(loads_spec(spec, "liar.axes"), ListCorpus(TALES * 6), tmp_path / "ds", val_fraction=0.5,
                   allow_leaks=True)
    ds = Dataset.open(tmp_path / "ds")
    found = referee(ds, loads_spec(spec, "liar.axes"), ["p"], positions=400)
    assert found.mismatches > 0 and "axis 'p'" in found.example and "NEXT_UPPER" in found.example
    tiny = ["n_layer=1", "n_head=2", "n_embd=16", "block_size=16", "batch_size=4", "eval_iters=2", "warmup_iters=1",
            "sample_interval=0", "device=cpu", "max_iters=2", "eval_interval=2", "prefix_check=400"]
    code, out, err = run(capsys, "train", "--data", tmp_path / "ds", "--out", tmp_path / "run", *tiny)
    assert code == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["leaky"] and metrics["prefix_checked"]["mismatches"] > 0 and metrics["prefix_checked"]["axes"] == ["p"]
    code, out, err = run(capsys, "eval", tmp_path / "run", "--data", tmp_path / "ds", "--json")
    result = json.loads(out)
    assert code == 0 and result["leaky"] and result["label"] != "honest"
    assert result["prefix_checked"]["mismatches"] > 0 and result["prefix_checked"]["positions"] >= 500
    code, out, err = run(capsys, "eval", tmp_path / "run", "--data", tmp_path / "ds")
    assert "LEAKY" in out and "prefix check: " in out and "mismatches" in out
    # distill refuses to build on it: its spec would feed the leaky axis again
    code, out, err = run(capsys, "distill", tmp_path / "run", "--data", tmp_path / "ds", "--out", tmp_path / "new.axes")
    assert code == 2 and "distill: dataset" in err and "is leaky" in err and "failed the prefix check" in err
    assert not (tmp_path / "new.axes").exists()


@pytest.mark.slow
def test_improve_refuses_a_leaky_start(tmp_path, capsys):
    """improve compiles its start spec itself, so the prefix check stops it."""
    (tmp_path / "liar.axes").write_text("tagger p = peeks\nfeed p as context\n")
    corpus = tmp_path / "tales.txt"
    corpus.write_text("\n\n".join(TALES))
    code, out, err = run(capsys, "improve", "--spec", tmp_path / "liar.axes", "--corpus", corpus, "--rounds", "1",
                         "--seeds", "2", "--out", tmp_path / "loop")
    assert code == 2 and "prefix check failed" in err and "axis 'p'" in err


def test_distill_and_improve_refuse_a_dataset_the_referee_catches(tmp_path):
    """A dataset whose manifest says nothing (compiled before the check, or
    changed since): the referee decides."""
    from model.training.context import require_honest_context

    spec = "group w = words\nposition wp = w\nfeed wp as context\n"
    compile_corpus(loads_spec(spec, "honest.axes"), ListCorpus(TALES * 4), tmp_path / "ds", val_fraction=0.5)
    require_honest_context(Dataset.open(tmp_path / "ds"), "distill")  # honest: no error
    stream = tmp_path / "ds" / "val" / "wp.bin"
    ids = np.fromfile(stream, dtype=np.uint8)
    np.where(ids > 0, np.minimum(ids + 1, 30), 0).astype(np.uint8).tofile(stream)
    with pytest.raises(UserError, match=r"improve: dataset .* is leaky: prefix check FAILED"):
        require_honest_context(Dataset.open(tmp_path / "ds"), "improve")


def test_the_public_property_checks_span_claims_too():
    """grid_dsl.testing.assert_prefix_stable: a plug-in with causal labels
    and spans that depend on how the word ends fails it."""
    from grid_dsl.testing import assert_prefix_stable

    text = "The King and the Queen went home. " * 3
    assert_prefix_stable(loads_spec("tagger a = after_words_honest"), text)  # claims nothing of its spans
    with pytest.raises(AssertionError, match=r"axis 'a' \(span starts\)"):
        assert_prefix_stable(loads_spec("tagger a = after_words"), text)


def test_forced_context_is_leaky_end_to_end(tmp_path):
    spec = "lexicon w3 (whole_word, encoding=after) { /\\w\\w\\w/ -> W3 }\ndepth in_w3 = w3\nfeed in_w3 as context (force)\n"
    compile_corpus(loads_spec(spec, "forced.axes"), ListCorpus(TALES), tmp_path / "ds")
    manifest = Dataset.open(tmp_path / "ds").manifest
    assert manifest.leaky and manifest.leaky_reason == "in_w3 is fed as oracle (forced context)"
    assert manifest.prefix_check is None  # nothing read as honest context: nothing to check


def test_a_bytes_grid_is_checked_on_its_characters():
    plan = loads_spec("main bytes\ngroup w = words\nposition wp = w\nfeed wp as context")
    text = "Ünïcödé wörds, naïve Straße. " * 4
    cuts = [Cut(k, "any", k % 2 == 0) for k in range(1, len(text))]
    assert check_document(plan, text, cuts, "Ça va ?", check_targets(plan)) == []


def test_referee_on_a_bytes_dataset_cuts_at_whole_characters(tmp_path):
    from grid_dsl.data.referee import referee

    spec = "main bytes\ngroup w = words\nposition wp = w\nfeed wp as context\n"
    texts = ["Ünïcödé wörds and naïve Straße, ça va? " * 6, "Ελλάδα и Привет — 日本語の文. " * 6] * 3
    compile_corpus(loads_spec(spec, "bytes.axes"), ListCorpus(texts), tmp_path / "ds", val_fraction=0.5)
    ds = Dataset.open(tmp_path / "ds")
    result = referee(ds, loads_spec(spec, "bytes.axes"), ["wp"], positions=300)
    assert result.ok and result.positions > 50
