"""The long-range operators (axes/state.py, axes/nesting.py): exact streams
on hand-made texts, the causality the checker derives, prefix stability on
long texts, numeric rule conditions and located errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_dsl import SpecError, compile_text, loads_spec
from grid_dsl.testing import assert_prefix_stable, long_texts

TEXT = "The king spoke.\nThe witch ran.\n\nThe king slept. A wolf came."
LEXICON = 'lexicon who (case=insensitive, whole_word, encoding=after) { "king" -> KING  "witch" -> WITCH  "wolf" -> WOLF }\n'


def labels(spec: str, text: str, name: str) -> list[str]:
    return compile_text(loads_spec(spec), text).labels(name)


def runs(values: list[str]) -> list[tuple[str, int]]:
    """(label, run length) pairs: streams written compactly."""
    out = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return out


def test_latest_holds_the_last_label_and_starts_afresh_within_a_grouping():
    spec = LEXICON + "group lines = lines\nlatest last = who\nlatest last_in_line = who within lines\n"
    # who (encoding=after) labels the character after each name: "The king|_" -> KING at 8
    assert runs(labels(spec, TEXT, "last")) == [("_", 8), ("KING", 17), ("WITCH", 15), ("KING", 14), ("WOLF", 6)]
    # lines hold no newline and an empty line no span: "\n\n" keeps WITCH, the next line starts afresh
    assert runs(labels(spec, TEXT, "last_in_line")) == [("_", 8), ("KING", 8), ("_", 9), ("WITCH", 7), ("_", 8),
                                                          ("KING", 14), ("WOLF", 6)]


def test_first_holds_the_first_label_of_each_span():
    spec = LEXICON + "group paras = split /\\n\\n/\nfirst hero = who\nfirst para_hero = who within paras\n"
    assert runs(labels(spec, TEXT, "hero")) == [("_", 8), ("KING", 52)]
    # the separator between the paragraphs belongs to none: the first paragraph's hero holds until the next starts
    assert runs(labels(spec, TEXT, "para_hero")) == [("_", 8), ("KING", 24), ("_", 8), ("KING", 20)]


def test_within_an_axis_without_spans_starts_afresh_where_its_label_runs_start():
    spec = LEXICON + 'rules para { when char[-1] == "\\n" and char[-2] == "\\n" -> P }\n' \
                     "latest last = who within para\ncount n = para\n"
    got = labels(spec, TEXT, "last")
    assert got[31] == "WITCH" and got[32:40] == ["_"] * 8 and got[40] == "KING"  # the paragraph at 32 starts afresh
    assert labels(spec, TEXT, "n")[31:33] == ["0", "1"]
    assert loads_spec(spec).axis("last").causal


def test_count_numbers_spans_and_label_runs():
    spec = "group w = words\ngroup lines = lines\ncount word_no = w (max=4)\ncount words_in_line = w within lines\n" \
           "rules cap { when char is upper -> UP }\ncount caps = cap\n"
    text = "ab cd ef gh ij\nkl Mn"
    assert "".join(x[0] for x in labels(spec, text, "word_no")) == "11122233344444444444"
    assert "".join(labels(spec, text, "words_in_line")) == "11122233344455511122"
    assert "".join(labels(spec, text, "caps")) == "0" * 18 + "11"  # runs of one label count as spans ("M")


def test_since_counts_characters_from_a_start_or_after_an_end_in_buckets():
    spec = "group lines = lines\nsince from_start = lines (scale=linear, max=5)\nsince after_end = lines (from=end, scale=linear)\n" \
           "since log_start = lines\n"
    text = "abcdefg\nxy"
    assert labels(spec, text, "from_start") == ["0", "1", "2", "3", "4", "5+", "5+", "5+", "0", "1"]
    assert labels(spec, text, "after_end") == ["_"] * 7 + ["0", "1", "2"]  # 0 on the newline after the line
    assert labels(spec, text, "log_start") == ["0", "1", "2-3", "2-3", "4-7", "4-7", "4-7", "4-7", "0", "1"]


def test_nesting_counts_from_the_character_after_a_delimiter():
    spec = 'nesting q (max=2) { "(" .. ")"  "\\"" }\nnesting inside (inside) { "(" .. ")" }\n'
    text = 'a "b (c (d)) e" f)g'
    #       0123456789012345678
    q = labels(spec, text, "q")
    assert q[:3] == ["_", "_", "_"] and q[3:6] == ["1", "1", "1"]  # inside the quote from the character after it
    assert q[6:12] == ["2+"] * 6  # depths 2 and 3 share the cap's label "2+"
    assert q[12:15] == ["1"] * 3 and q[15:18] == ["_"] * 3
    assert q[18] == "unbalanced"  # after the stray ")"
    shown = {"IN": "I", "unbalanced": "u", "_": "."}
    assert "".join(shown[x] for x in labels(spec, text, "inside")) == "......IIIIII......u"


def test_a_closer_closes_what_was_opened_inside_its_opener():
    spec = 'nesting b { "(" .. ")"  "[" .. "]" }\n'
    assert labels(spec, "([x)y]z", "b") == ["_", "1", "2", "2", "_", "_", "unbalanced"]


@pytest.mark.parametrize("spec, axis, causal", [
    (LEXICON + "latest x = who\n", "x", True),
    ("group p = paragraphs\ncount x = p\n", "x", False),  # a paragraph's span is known only later
    ("group w = words\nsince x = w (from=end)\n", "x", True),  # a word's end shows at the character after it
    ("group w = words\nsince x = w\n", "x", True),
    ('lexicon l { "ab" -> X }\nsince x = l (from=end)\n', "x", False),  # the lexicon's spans are not causal
    ("group l = lines\ngroup p = paragraphs\nfirst x = l within p\n", "x", False),
    ('nesting x { "<" .. ">"  "<<" .. ">>" }\n', "x", False),
    ('nesting x { "(" .. ")"  "«" .. "»"  "\\"" }\n', "x", True),
    ("nesting x { /[(]/ .. /[)]/ }\n", "x", True),
    ("nesting x { /[(]+/ }\n", "x", False),
])
def test_causality_is_derived(spec, axis, causal):
    assert loads_spec(spec).axis(axis).causal is causal


LONG_SPEC = LEXICON + """group w = words
group lines = lines
latest last = who within lines
first hero = who
count word_no = w (max=500)
since after_word = w (from=end, scale=linear, max=50)
since line_age = lines
nesting q { "(" .. ")"  "\\"" }
rules late { when word_no >= 40 and q == 1 -> LATE_Q  when after_word > 2 -> GAP }
"""


@settings(max_examples=25, deadline=None)
@given(long_texts(), st.data())
def test_the_operators_are_prefix_stable_on_long_texts(text, data):
    plan = loads_spec(LONG_SPEC)
    assert all(a.causal for a in plan.axes)
    n = max(len(text), 2)
    cuts = data.draw(st.lists(st.integers(1, n - 1), min_size=2, max_size=6))
    assert_prefix_stable(plan, text, cuts + [n - 1])


def test_rules_compare_numeric_labels_as_numbers():
    spec = "group w = words\ncount word_no = w\nsince s = w (scale=log)\n" \
           "rules r { when word_no >= 3 and s == 4 -> X  when word_no == 1 -> FIRST }\n"
    text = "aa bb ccccccc dddddd"
    got = labels(spec, text, "r")
    assert got[:2] == ["FIRST", "FIRST"] and got[3:6] == ["_"] * 3
    assert got[6 + 4] == "X" and got[6 + 3] == "_" and got[6 + 8] == "_"  # the bucket "4-7" compares as 4


@pytest.mark.parametrize("spec, where, message", [
    ("group w = words\ncount c = w (scale=cubic)\n", (2, 20), "option 'scale': expected one of linear, log"),
    ("group w = words\nlatest c = w (max=3)\n", (2, 15), "unknown option 'max'"),
    ("group w = words\nsince c = w (from=middle)\n", (2, 19), "option 'from': expected one of start, end"),
    ("rules r { when char is upper -> U }\nfirst c = nope\n", (2, 11), "unknown axis 'nope'"),
    ("group w = words\nlatest c = w within nope\n", (2, 21), "unknown axis 'nope'"),
    ("nesting n { }\n", (1, 1), "nesting 'n' has no delimiters"),
    ('nesting n { "(" .. ")"  "(" }\n', (1, 25), "delimiter '(' is listed twice"),
    ('nesting n { "" }\n', (1, 13), "an empty delimiter never matches"),
    ("nesting n { /(/ }\n", (1, 15), "invalid regular expression"),
    ("group w = words\ncount c = w (max=70000)\n", (2, 18), "option 'max': must be at most 65535"),
    ("group w = words\ncount c = w\nrules r { when c >= x -> X }\n", (3, 21), "is compared with a whole number"),
])
def test_bad_uses_are_located_errors(spec, where, message):
    with pytest.raises(SpecError) as caught:
        loads_spec(spec)
    found = [(d.loc.line, d.loc.column, d.message) for d in caught.value.diagnostics]
    assert any((line, col) == where and message in text for line, col, text in found), found
