"""The empirical causality check: cut points, prefix comparison, verdicts."""

import attrs
import numpy as np
from conftest import need_nltk

from axes.base import CAUSAL
from grid_dsl import compile_text, loads_spec
from grid_dsl.data.causality import EXCERPT_CHARS, MAX_EXCERPTS, cut_points, excerpts, prefix_violations, verify

TEXT = (
    "Then the king said: \"Mr. Brown, bring me 12 apples.\" The queen laughed.\n"
    "Thereafter they lived happily; the end.\n\n"
    "A second paragraph, with   spaces and a tab\there. Another sentence follows it!"
)


def verdicts_by_axis(plan, text, **kw):
    return {v.axis: v for v in verify(plan, text, **kw)}


def assert_real(example, plan, text):
    """A counterexample must reproduce: compiling the prefix really changes the label."""
    document, prefix = example.reproduce(plan.main.prepare(text)[0])
    whole = compile_text(plan, document).labels(example.axis)
    cut = compile_text(plan, prefix).labels(example.axis)
    offset = example.window[0] if example.window else 0
    at = example.position - offset
    assert len(prefix) == example.cut - offset and at < len(prefix)
    assert (whole[at], cut[at]) == (example.full_label, example.prefix_label)
    assert example.full_label != example.prefix_label


def test_causal_kinds_are_confirmed():
    plan = loads_spec(
        "group words = words\ngroup tokens = tokens\ngroup lines = lines\ngroup digits = matches /[0-9]+/\n"
        "group stops = matches /[.!?]+/\nposition wpos = words (max=6)\nindex widx = words\n"
        "lag after_tokens = stops after tokens\nlag prev_word = words after words\nlag shifted = wpos by 2 chars\n"
    )
    verdicts = verify(plan, TEXT, cuts=80)
    assert [v.axis for v in verdicts] == list(plan.names)
    for v in verdicts:
        assert v.declared_causal and v.counterexample is None and v.ok, v
        assert v.status == "causal (confirmed)" and v.cuts == 80


def test_non_causal_kinds_are_caught_with_real_counterexamples():
    plan = loads_spec(
        "group paras = paragraphs\ngroup the = matches /the\\b/i\ngroup words = words\n"
        "lag the_soon = the by 1 chars\nposition in_para = paras\n"
    )
    verdicts = verdicts_by_axis(plan, TEXT, cuts=64)
    for name in ("paras", "the", "the_soon", "in_para"):
        v = verdicts[name]
        assert not v.declared_causal and v.counterexample is not None and v.ok
        assert v.status == "non-causal (confirmed)"
        assert_real(v.counterexample, plan, TEXT)
    assert verdicts["words"].status == "causal (confirmed)"


def test_sentences_are_caught():
    need_nltk("punkt_tab")
    plan = loads_spec("group sents = sentences\ngroup words = words within sents")
    verdicts = verdicts_by_axis(plan, TEXT)
    sents = verdicts["sents"]
    assert not sents.declared_causal and sents.status == "non-causal (confirmed)"
    assert_real(sents.counterexample, plan, TEXT)
    # Words inside sentences inherit punkt's look-ahead, but a sentence never
    # splits a word, so their labels never change: a conservative declaration.
    assert verdicts["words"].status == "non-causal (no counterexample in 64 cuts)"


def test_a_false_causal_declaration_fails():
    plan = loads_spec("group paras = paragraphs\ngroup words = words")
    liar = attrs.evolve(plan, axes=(attrs.evolve(plan.axis("paras"), lookahead=CAUSAL), plan.axis("words")))
    paras, words = verify(liar, TEXT)
    assert paras.declared_causal and not paras.ok and paras.status == "VIOLATION: looks ahead"
    assert words.ok
    example = paras.counterexample
    assert_real(example, plan, TEXT)
    described = example.describe()
    assert f"cut at {example.cut}" in described and f"position {example.position}" in described
    assert "‖" in example.context and "[" in example.context


def test_prefix_violations_at_chosen_cuts():
    plan = loads_spec("group the = matches /the\\b/\ngroup words = words")
    found = prefix_violations(plan, "then the", [1, 3, 8])
    assert set(found) == {"the"}
    example = found["the"]
    # "the" is a whole match in the prefix "the" but not in "then"
    assert (example.cut, example.position, example.full_label, example.prefix_label) == (3, 0, "_", "MATCH")
    assert example.context == "[t]he‖n the"
    assert prefix_violations(plan, "then the", [8]) == {}


def test_annotations_are_clipped_at_each_cut():
    plan = loads_spec("annotation roles (labels=[HERO])")
    spans = {"roles": [(4, 8, "HERO")]}
    v, = verify(plan, "the king came", annotations=spans, cuts=20)
    # clipped annotations agree with the whole document: non-causal by declaration only
    assert not v.declared_causal and v.counterexample is None and v.ok
    assert v.status == "non-causal (no counterexample in 12 cuts)"  # every cut of a 13-character text


def test_normalised_main_axis_is_checked_on_the_normalised_text():
    plan = loads_spec("main chars (newlines=lf, normalize=nfc)\ngroup words = words\ngroup lines = lines")
    text = "Cafe\u0301 au lait\r\nnext\r\nline\r\n"
    for v in verify(plan, text, cuts=100):
        assert v.counterexample is None


def test_cut_points_are_deterministic_and_aim_at_word_edges():
    text = TEXT * 4
    a, b, c = cut_points(text, 40, seed=1), cut_points(text, 40, seed=1), cut_points(text, 40, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(a) == 40 and np.all(np.diff(a) > 0) and a[0] > 0 and a[-1] < len(text)
    word_end = np.array([i for i in range(1, len(text)) if text[i - 1].isalnum() and not text[i].isalnum()])
    inside = np.array([i for i in range(1, len(text)) if text[i - 1].isalnum() and text[i].isalnum()])
    assert np.isin(a, word_end).sum() >= 5 and np.isin(a, inside).sum() >= 5
    assert np.array_equal(cut_points("abcdef", 64), np.arange(1, 6))  # short texts: every cut
    assert len(cut_points("", 10)) == 0 and len(cut_points("abc", 0)) == 0


def test_long_texts_are_checked_on_excerpts_from_paragraph_starts(grimm):
    windows = excerpts(grimm, seed=3)
    assert windows == excerpts(grimm, seed=3) and 1 < len(windows) <= MAX_EXCERPTS
    for start, end in windows:
        assert grimm[start - 2 : start].strip() == "" and not grimm[start].isspace()
        assert EXCERPT_CHARS <= end - start < EXCERPT_CHARS + 40
    assert excerpts("short text") == [(0, 10)]


def test_verify_on_a_book(grimm):
    need_nltk("punkt_tab")
    plan = loads_spec("group sents = sentences\ngroup words = words\nlag prev = words after words")
    verdicts = verdicts_by_axis(plan, grimm, cuts=24, seed=5)
    assert verdicts["words"].status == verdicts["prev"].status == "causal (confirmed)"
    example = verdicts["sents"].counterexample
    assert example is not None and example.window is not None
    assert_real(example, plan, grimm)


def test_the_taggers_look_ahead_survives_a_lag_but_prefix_tags_do_not(grimm):
    """docs/design.md's example: NLTK's tags lagged after their token still leak
    (the tagger read the next words); prefix tags lagged the same way do not."""
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")
    plan = loads_spec(
        "group tokens = tokens\npos upos (tagset=universal)\npos prefix_tags (tagset=universal, prefix)\n"
        "lag upos_lag = upos after tokens\nlag prefix_lag = prefix_tags after tokens"
    )
    verdicts = verdicts_by_axis(plan, grimm, cuts=96)
    assert verdicts["prefix_lag"].status == verdicts["tokens"].status == "causal (confirmed)"
    for name in ("upos", "prefix_tags", "upos_lag"):
        assert verdicts[name].status == "non-causal (confirmed)", name
        assert_real(verdicts[name].counterexample, plan, grimm)


def test_rules_that_look_back_are_causal_and_a_rule_that_peeks_is_caught():
    plan = loads_spec(
        "rules starts {\n"
        "    when char is upper and not char[-1] is letter -> CAP\n"
        "    when window(3) ~ /[.!?]\"? $/ -> AFTER_STOP\n"
        "    default -> OTHER\n"
        "}\n"
        "rules last_letter { when char is letter and not char[1] is letter -> LAST }\n"
    )
    verdicts = verdicts_by_axis(plan, TEXT)
    assert verdicts["starts"].status == "causal (confirmed)"
    peek = verdicts["last_letter"]
    assert peek.status == "non-causal (confirmed)"
    assert_real(peek.counterexample, plan, TEXT)
    assert peek.counterexample.prefix_label == "LAST"  # the prefix's last letter looks like a word end


def test_a_lexicon_painted_over_words_leaks_and_its_lag_after_words_does_not():
    plan = loads_spec(
        "group words = words\n"
        "lexicon royal (case=insensitive) { \"the\" | \"king\" | \"queen\" -> ROYAL }\n"
        "lexicon whole (whole_word) { \"the\" -> THE  \"Then\" -> THEN }\n"
        "lexicon after (whole_word, encoding=after) { \"the\" -> THE }\n"
        "lag whole_prev = whole after words\n"
    )
    verdicts = verdicts_by_axis(plan, TEXT)
    for name in ("royal", "whole"):  # "the" inside "Then"/"Thereafter"; a word that may go on
        assert verdicts[name].status == "non-causal (confirmed)", name
        assert_real(verdicts[name].counterexample, plan, TEXT)
    assert verdicts["whole_prev"].status == verdicts["after"].status == "causal (confirmed)"
