"""Derived axes (relabel, product, lag, views), annotations, and the
look-ahead algebra that decides whether a lag is causal."""

import json

import pytest

from axes.annotation import read_spans_jsonl
from axes.base import CAUSAL, Lookahead
from grid_dsl import SpecError, compile_text, loads_spec

TEXT = "The wolf met Hans, the boy."
SPANS = {"role": [(4, 8, "VILLAIN"), (13, 17, "HERO"), (23, 26, "HERO")]}
ROLES = "annotation role (labels=[HERO, VILLAIN])\n"


def compile_(spec: str, text: str = TEXT, annotations=SPANS):
    return compile_text(loads_spec(ROLES + spec), text, annotations)


def test_annotation_paints_spans_innermost_last():
    grid = compile_(
        "", "abcdefgh", {"role": [(0, 6, "HERO"), (2, 4, "VILLAIN")]}
    )
    assert grid.labels("role") == ["HERO", "HERO", "VILLAIN", "VILLAIN", "HERO", "HERO", "_", "_"]
    assert list(grid.spans("role").depth) == [1, 2]


def test_annotation_offsets_follow_newline_normalisation():
    plan = loads_spec("main chars (newlines=lf)\n" + ROLES)
    grid = compile_text(plan, "a\r\nwolf", {"role": [(3, 7, "VILLAIN")]})
    assert grid.text == "a\nwolf" and grid.labels("role") == ["_", "_", "VILLAIN", "VILLAIN", "VILLAIN", "VILLAIN"]


def test_annotation_errors():
    with pytest.raises(SpecError, match="annotation 'r' needs its labels declared"):
        loads_spec("annotation r")
    with pytest.raises(SpecError, match="undeclared labels: KING"):
        compile_("", annotations={"role": [(0, 3, "KING")]})
    with pytest.raises(SpecError, match="ends past the document"):
        compile_("", annotations={"role": [(0, 300, "HERO")]})


def test_spans_jsonl_is_read_and_bad_records_are_located(tmp_path):
    good = tmp_path / "c.spans.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in [
        {"layer": "role", "start": 4, "end": 8, "label": "VILLAIN"},
        {"doc": 2, "layer": "stage", "start": 0, "end": 3, "label": "OPENING"},
    ]) + "\n")
    assert read_spans_jsonl(good) == {0: {"role": [(4, 8, "VILLAIN")]}, 2: {"stage": [(0, 3, "OPENING")]}}
    bad = tmp_path / "bad.spans.jsonl"
    bad.write_text('{"layer": "role", "start": 1, "end": 2, "label": "X"}\n{"layer": "role", "start": 5, "end": 2, "label": "X"}\n')
    with pytest.raises(SpecError) as err:
        read_spans_jsonl(bad)
    d = err.value.diagnostics[0]
    assert (d.loc.file, d.loc.line) == (str(bad), 2) and "0 <= start <= end" in d.message


def test_relabel_maps_many_to_one_with_a_default():
    grid = compile_("relabel good = role { HERO -> GOOD }\nrelabel any = role { HERO | VILLAIN -> SOMEONE default -> X }")
    assert grid.vocab("good") == ("_", "GOOD")
    assert grid.labels("good")[4:8] == ["_"] * 4 and grid.labels("good")[13] == "GOOD"
    assert set(grid.labels("any")) == {"_", "SOMEONE"}
    assert len(grid.spans("good")) == 2  # the VILLAIN span maps to no label and is dropped


def test_relabel_errors():
    with pytest.raises(SpecError) as err:
        compile_("relabel r = role { HERO | HRO -> A  HERO -> B }")
    assert [(d.loc.column, d.message, d.hint) for d in err.value.diagnostics] == [
        (27, "axis 'role' has no label 'HRO'", "did you mean 'HERO'?"),
        (37, "label 'HERO' is mapped twice", "map each label once"),
    ]


def test_product_pairs_labels():
    grid = compile_("group w = words\nproduct p = role * w")
    assert grid.vocab("p") == ("_", "_*WORD", "HERO", "HERO*WORD", "VILLAIN", "VILLAIN*WORD")[:1] + (
        "_*WORD", "HERO*_", "HERO*WORD", "VILLAIN*_", "VILLAIN*WORD")
    assert grid.labels("p")[:9] == ["_*WORD"] * 3 + ["_"] + ["VILLAIN*WORD"] * 4 + ["_"]


def test_lag_by_chars_and_after_spans():
    grid = compile_("group t = tokens\nlag l2 = role by 2 chars\nlag after = role after t")
    labels = grid.labels("role")
    assert grid.labels("l2") == ["_", "_"] + labels[:-2]
    # "wolf" ends at 8: from there until "met" ends, the label of its last letter;
    # "Hans," ends on a comma, which has no role.
    assert grid.labels("after") == ["_"] * 8 + ["VILLAIN"] * 4 + ["_"] * 15


def test_lag_causality_covers_the_look_ahead():
    plan = loads_spec(
        ROLES + "group t = tokens\ngroup w = words\ngroup s = paragraphs\n"
        "lag a = w by 1 chars\nlag b = role after t\nlag c = w after s\nlag d = w after t"
    )
    assert plan.axis("a").causal and plan.axis("d").causal
    assert not plan.axis("b").causal and "looks ahead unbounded" in str(plan.axis("b").lookahead)
    assert not plan.axis("c").causal and "only known later" in str(plan.axis("c").lookahead)
    with pytest.raises(SpecError, match="has no spans to lag after"):
        loads_spec("group w = words\nposition p = w\nlag x = w after p")


def test_a_negative_lag_leads_and_looks_ahead_by_as_much():
    """The boundary leak written on purpose: a causal word label shown one
    character early lands on the word's last letter (docs/design.md)."""
    grid = compile_("group t = tokens\nlag after = role after t\nlag early = after by -1 chars\n"
                    "lag back = early by 1 chars")
    after = grid.labels("after")
    assert grid.labels("early") == after[1:] + ["_"]
    assert grid.labels("early")[7] == "VILLAIN"  # the "f" of "wolf": the tag is known before the space
    assert grid.labels("back")[1:] == after[1:]
    plan = loads_spec(ROLES + "group t = tokens\ngroup w = words\nlag after = role after t\n"
                      "lag a = w by -2 chars\nlag b = a by 1 chars\nlag c = a by 2 chars\nlag d = w after t\n"
                      "lag e = d by -1 chars")
    assert str(plan.axis("a").lookahead) == "2 chars (shown 2 chars early)"
    assert plan.axis("b").lookahead == Lookahead("chars", 1, note="shown 2 chars early")
    assert plan.axis("c").causal
    assert str(plan.axis("e").lookahead).startswith("1 char")
    with pytest.raises(SpecError, match="a lag of 0 chars changes nothing"):
        loads_spec("group w = words\nlag x = w by 0 chars")


def test_lookahead_algebra():
    word = Lookahead("span", segment="word")
    token = Lookahead("span", segment="token")
    assert word.combine(token) == token and token.combine(word) == token
    assert Lookahead("chars", 1).combine(word) == word
    assert Lookahead("chars", 3).combine(word).kind == "unbounded"
    assert CAUSAL.combine(word) == word
    assert Lookahead("chars", 2).covered_by_chars(2) and not Lookahead("chars", 3).covered_by_chars(2)
    tokens = loads_spec("group t = tokens").axis("t")
    assert word.covered_by_span(tokens) and token.covered_by_span(tokens)
    assert not Lookahead("span", segment="line").covered_by_span(tokens)


def test_views_position_index_depth():
    grid = compile_text(loads_spec(
        "group l = lines\ngroup w = words within l\nposition p = w (max=3)\nindex i = w\ndepth d = w"
    ), "ab cdef\ng hi")
    assert grid.labels("p") == ["0", "1", "_", "0", "1", "2", "3+", "_", "0", "_", "0", "1"]
    assert grid.labels("i") == ["0", "0", "_", "1", "1", "1", "1", "_", "0", "_", "1", "1"]
    assert set(grid.labels("d")) - {"_"} == {"2"}
    assert grid.vocab("p") == ("_", "0", "1", "2", "3+")


def test_view_causality_follows_span_starts():
    plan = loads_spec("group w = words\ngroup s = paragraphs\nposition a = w\nposition b = s\nindex c = w")
    assert plan.axis("a").causal and plan.axis("c").causal and not plan.axis("b").causal
