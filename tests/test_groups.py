"""Groupings: segmentations, nesting, encodings and their declared causality."""

import numpy as np
import pytest
from conftest import need_nltk

from axes import _nltk
from grid_dsl import SpecError, compile_text, loads_spec

TEXT = "Once upon a time, 12 kings lived.\nThe end; really.\n\n  New para here. Yes"


def row(grid, name: str) -> str:
    """One character per position: the first letter of the label, '.' for none."""
    return "".join("." if label == "_" else label[0] for label in grid.labels(name))


def test_builtin_segmentations():
    grid = compile_text(loads_spec(
        "group w = words\ngroup t = tokens\ngroup l = lines\ngroup p = paragraphs\n"
        "group n = matches /\\d+/\ngroup c = split /[;,.]\\s*/"
    ), TEXT)
    assert row(grid, "w") == "WWWW.WWWW.W.WWWW..WW.WWWWW.WWWWW..WWW.WWW..WWWWWW.....WWW.WWWW.WWWW..WWW"
    assert row(grid, "t") == "TTTT.TTTT.T.TTTTT.TT.TTTTT.TTTTTT.TTT.TTTT.TTTTTTT....TTT.TTTT.TTTTT.TTT"
    assert row(grid, "l") == "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL.LLLLLLLLLLLLLLLL..LLLLLLLLLLLLLLLLLLLL"
    assert row(grid, "p") == "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP....PPPPPPPPPPPPPPPPPP"
    assert row(grid, "n") == "..................MM...................................................."
    assert row(grid, "c") == "SSSSSSSSSSSSSSSS..SSSSSSSSSSSSSS..SSSSSSS..SSSSSS.....SSSSSSSSSSSSS..SSS"


def test_words_follow_unicode_word_characters():
    # \w of the `regex` module: letters, marks, decimal digits, connectors (not "²", a No digit)
    grid = compile_text(loads_spec("group w = words"), "cafe\u0301 na\u00efve_x 3\u00b2 \u4e2d\u6587")
    spans = grid.spans("w")
    assert [grid.text[s:e] for s, e in zip(spans.start, spans.end)] == ["cafe\u0301", "na\u00efve_x", "3", "\u4e2d\u6587"]


def test_label_and_bio_encoding():
    grid = compile_text(loads_spec("group t = tokens (label=TOK, encoding=bio)"), "ab c  de")
    assert grid.labels("t") == ["B-TOK", "I-TOK", "_", "B-TOK", "_", "_", "B-TOK", "I-TOK"]
    assert grid.vocab("t") == ("_", "B-TOK", "I-TOK")


def test_children_are_segmented_within_their_parent():
    grid = compile_text(loads_spec("group l = lines\ngroup c = split /,/ within l\ngroup w = words within c"),
                        "a b,c\nd,e f\n,g")
    lines, clauses, words = grid.spans("l"), grid.spans("c"), grid.spans("w")
    for spans, outer in ((clauses, lines), (words, clauses)):
        for s, e, p in zip(spans.start, spans.end, spans.parent):
            assert outer.start[p] <= s < e <= outer.end[p]
    assert [grid.text[s:e] for s, e in zip(clauses.start, clauses.end)] == ["a b", "c", "d", "e f", "g"]
    assert list(clauses.parent) == [0, 0, 1, 1, 2]


def test_sentences_are_punkts(grimm):
    need_nltk("punkt_tab")
    text = grimm[:60000]
    grid = compile_text(loads_spec("group s = sentences"), text)
    expected = list(_nltk.punkt().span_tokenize(text))
    spans = grid.spans("s")
    assert list(zip(spans.start.tolist(), spans.end.tolist())) == expected
    inside = np.zeros(len(text), bool)
    for s, e in expected:
        inside[s:e] = True
    assert np.array_equal(grid.ids("s") > 0, inside)


def test_sentences_within_paragraphs_never_cross_a_paragraph():
    need_nltk("punkt_tab")
    text = "It rained\n\nall day. Then it stopped.\n\nThe end"
    grid = compile_text(loads_spec("group p = paragraphs\ngroup s = sentences within p"), text)
    spans = grid.spans("s")
    assert [text[s:e] for s, e in zip(spans.start, spans.end)] == ["It rained", "all day.", "Then it stopped.", "The end"]
    assert list(spans.parent) == [0, 1, 1, 2]


def test_declared_causality():
    need_nltk("punkt_tab")
    plan = loads_spec(
        "group w = words\ngroup t = tokens\ngroup l = lines\ngroup r = matches /[a-z]+/\n"
        "group s = sentences\ngroup p = paragraphs\ngroup m = matches /ab|c/\ngroup x = split /,/\n"
        "group lw = words within l\ngroup sw = words within s"
    )
    causal = {a.name: a.causal for a in plan.axes}
    assert causal == {"w": True, "t": True, "l": True, "r": True, "s": False, "p": False, "m": False,
                      "x": False, "lw": True, "sw": False}
    assert plan.axis("w").segment == "word" and plan.axis("t").segment == "token"
    assert plan.axis("w").boundary_causal and not plan.axis("s").boundary_causal
    assert "punkt decides" in str(plan.axis("s").lookahead)


def test_segmenter_pattern_errors():
    with pytest.raises(SpecError) as err:
        loads_spec("group m = matches\ngroup w = words /x/\ngroup s = split /,*/")
    assert [(d.loc.line, d.message) for d in err.value.diagnostics] == [
        (1, "`matches` needs /regex/"),
        (2, "`words` takes no /regex/"),
        (3, "a split pattern must not match the empty string"),
    ]
