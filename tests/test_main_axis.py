"""The main axis: normalisation with offset maps, and byte mode."""

import unicodedata

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from axes.main import MainAxis
from grid_dsl import compile_text, loads_spec

MARKS = st.text(alphabet=st.sampled_from("aeoAE\u0301\u0308\u0327\u0323\r\n \u1100\u1161\u11a8\u0b47\u0b3e\u00e9\u0130"), max_size=40)


def test_default_keeps_the_text():
    assert MainAxis().prepare("A\r\nb\u0301") == ("A\r\nb\u0301", None)


def test_newlines_become_lf_with_an_offset_map():
    text, offsets = MainAxis(newlines="lf").prepare("a\r\nb\rc\n")
    assert text == "a\nb\nc\n"
    assert offsets.tolist() == [0, 1, 1, 2, 3, 4, 5, 6]


@given(MARKS)
def test_nfc_per_grapheme_cluster_is_nfc(raw):
    text, offsets = MainAxis(normalize="nfc", newlines="lf").prepare(raw)
    assert text == unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    if offsets is not None:
        assert len(offsets) == len(raw) + 1 and offsets[-1] == len(text)
        assert np.all(np.diff(offsets) >= 0)


def test_lowercase_only_when_asked_and_offsets_survive_expansion():
    assert MainAxis().prepare("ABC")[0] == "ABC"
    text, offsets = MainAxis(lowercase=True).prepare("\u0130x")  # dotted capital I lowercases to 2 chars
    assert text == "i\u0307x" and offsets.tolist() == [0, 2, 3]


def test_byte_mode_aligns_causal_labels_on_a_characters_last_byte():
    plan = loads_spec("main bytes\ngroup w = words\nannotation a (labels=[X])")
    grid = compile_text(plan, "\u00e9t\u00e9 x", {"a": [(0, 3, "X")]})
    assert grid.main.tolist() == list("\u00e9t\u00e9 x".encode("utf-8"))
    assert len(grid.ids("w")) == len(grid.main) == 7
    # words are causal: the first byte of "é" cannot know it is a letter yet
    assert grid.labels("w") == ["_", "WORD", "WORD", "WORD", "WORD", "_", "WORD"]
    # annotations are not causal: every byte of a character carries its label
    assert grid.labels("a") == ["X"] * 5 + ["_", "_"]


def test_main_options_are_checked():
    plan = loads_spec("main chars (normalize=nfkc, newlines=lf, lowercase)")
    assert plan.main == MainAxis("chars", "nfkc", "lf", True)
