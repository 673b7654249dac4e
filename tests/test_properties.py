"""docs/design.md's seven alignment properties, over random Unicode text and random
valid specs (grid_dsl.testing), plus checks that the assertion helpers do
catch what they are meant to catch (a property helper that cannot fail
would prove nothing)."""

from __future__ import annotations

import random
import unicodedata
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axes.base import Spans, Stream
from grid_dsl import check, compile_documents, compile_text, loads_spec
from grid_dsl.language.formatter import format_spec
from grid_dsl.data.grid import Grid
from grid_dsl.testing import (
    assert_aligned,
    assert_chunk_invariant,
    assert_deterministic,
    assert_grid_properties,
    assert_nested,
    assert_prefix_stable,
    assert_roundtrip,
    assert_well_formed,
    long_texts,
    spec_asts,
    texts,
)

from conftest import need_nltk

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

small_texts = texts(max_pieces=12)


@FAST
@given(spec_asts(), small_texts)
def test_every_stream_is_aligned_well_formed_and_nested(spec, text):  # properties 1, 3, 4
    grid = compile_text(check(spec), text)
    assert_aligned(grid)
    assert_well_formed(grid)
    assert_nested(grid)


@FAST
@given(spec_asts(), small_texts)
def test_compilation_is_deterministic(spec, text):  # property 2
    assert_deterministic(loads_spec(format_spec(spec)), text)


@FAST
@given(spec_asts(), st.lists(small_texts, max_size=4), st.data())
def test_compiling_in_pieces_equals_compiling_whole(spec, documents, data):  # property 5
    cut = data.draw(st.integers(0, len(documents)))
    assert_chunk_invariant(check(spec), documents, cut)


@FAST
@given(spec_asts(), small_texts, st.data())
def test_causal_axes_are_prefix_stable(spec, text, data):  # property 6
    plan = check(spec)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(text))), max_size=8))
    assert_prefix_stable(plan, text, cuts)


@pytest.mark.slow
@SLOW
@given(spec_asts(max_axes=6, taggers=("char_class",)), long_texts(), st.data())
def test_what_check_declares_holds_at_late_cuts_of_long_texts(spec, text, data):  # property 6, state that lasts
    """Views, `within`, lags and rules over every kind (the plug-in
    included): whatever check claims of labels and spans holds at random
    cuts of long texts, late ones included, with and without a continuation."""
    plan = check(spec)
    n = max(len(text), 2)
    cuts = data.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=6))
    cuts += data.draw(st.lists(st.integers(max(1, n - 40), n - 1), min_size=1, max_size=3))  # late
    assert_prefix_stable(plan, text, cuts)


@FAST
@given(spec_asts())
def test_formatting_round_trips(spec):  # property 7
    assert_roundtrip(format_spec(spec))


@pytest.fixture(scope="module")
def nltk_data():
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")


@SLOW
@given(spec=spec_asts(max_axes=4, nltk=True, chunks=True, taggers=("char_class",)), text=small_texts)
def test_nltk_kinds_keep_every_property(nltk_data, spec, text):
    assert_grid_properties(loads_spec(format_spec(spec)), text)


@FAST
@given(small_texts)
def test_nfc_main_axis_keeps_every_property(text):
    plan = loads_spec('main chars (normalize=nfc, newlines=lf)\ngroup w = words\nlexicon l (encoding=end) { "e" -> E }')
    grid = assert_grid_properties(plan, text)
    assert grid.text == unicodedata.normalize("NFC", grid.text.replace("\r\n", "\n"))


# ------------------------------------------- the helpers catch what they should


PLAN = loads_spec("group s = lines\ngroup w = words within s\nlexicon l (encoding=bio) { \"ab\" -> X }")


def _broken(grid: Grid, name: str, stream: Stream) -> Grid:
    return Grid(grid.plan, grid.text, {**grid.char_streams, name: stream})


def test_assert_aligned_catches_a_short_stream():
    grid = compile_text(PLAN, "ab cd\nef")
    short = _broken(grid, "l", Stream(grid.char_streams["l"].ids[:-1]))
    with pytest.raises(AssertionError, match="axis 'l': 7 ids for 8 main positions"):
        assert_aligned(short)


def test_assert_well_formed_catches_an_inside_tag_without_a_beginning():
    grid = compile_text(PLAN, "ab cd")
    ids = grid.char_streams["l"].ids.copy()
    vocab = grid.vocab("l")
    ids[0] = vocab.index("I-X")
    with pytest.raises(AssertionError, match="I-X after _ at 0 .*, but no span labelled X holds it past its start"):
        assert_well_formed(_broken(grid, "l", Stream(ids, grid.spans("l"))))


def test_assert_well_formed_catches_a_beginning_where_no_span_starts():
    grid = compile_text(PLAN, "ab cd")
    ids = grid.char_streams["l"].ids.copy()
    ids[1] = grid.vocab("l").index("B-X")
    with pytest.raises(AssertionError, match="B-X after B-X at 1 .*, but no span labelled X starts there"):
        assert_well_formed(_broken(grid, "l", Stream(ids, grid.spans("l"))))


def test_nested_bio_chunks_resume_the_outer_label():
    """Found by hypothesis: chunk B holds chunk A; the inner A is painted over
    B's start, so B's I-B follows B-A — well formed for nested spans."""
    plan = loads_spec('tagger a = char_class\ngroup w = words\n'
                      'chunks c over a (encoding=bio) """\nA: {<UPPER>}\nB: {<.*>+}\n"""')
    grid = compile_text(plan, "A0")
    assert grid.labels("c") == ["B-A", "I-B"]
    assert_well_formed(grid)


def test_a_lag_of_a_bio_axis_carries_its_labels_not_its_encoding():
    """Found by hypothesis: the lag shows the label of a span's last
    character (I-A) after the span, where no B-A precedes it; that is the
    lag's meaning, not a malformed BIO stream."""
    plan = loads_spec("lexicon a (whole_word, encoding=bio) { /\\w+/ -> A }\nlag a_ = a after a")
    grid = compile_text(plan, "queen's")
    assert grid.labels("a") == ["B-A", "I-A", "I-A", "I-A", "I-A", "_", "B-A"]
    assert grid.labels("a_") == ["_"] * 5 + ["I-A", "I-A"]
    assert_well_formed(grid)


def test_assert_nested_catches_a_child_crossing_its_parent():
    grid = compile_text(PLAN, "ab cd\nef gh")
    spans = grid.spans("w")
    crossing = Spans(spans.start, np.where(spans.end == 5, 8, spans.end), spans.label, parent=spans.parent)
    with pytest.raises(AssertionError, match=r"axis 'w': span \(3, 8\) crosses its parent 's' span \(0, 5\)"):
        assert_nested(_broken(grid, "w", Stream(grid.char_streams["w"].ids, crossing)))


def test_assert_prefix_stable_catches_a_look_ahead_declared_causal():
    plan = loads_spec("group w = words\nlag prev = w after w")
    assert_prefix_stable(plan, "ab cd ef")  # honest: causal and stable
    leaky = loads_spec("lexicon l (encoding=span) { \"abc\" -> X }")
    assert not leaky.axis("l").causal
    assert_prefix_stable(leaky, "abc abc")  # not declared causal: nothing to assert
    import attrs

    lying = attrs.evolve(leaky, axes=tuple(attrs.evolve(a, lookahead=type(a.lookahead)()) for a in leaky.axes))
    with pytest.raises(AssertionError, match="declared causal but not prefix-stable"):
        assert_prefix_stable(lying, "abc abc")


def test_concatenated_grids_keep_parent_indices_pointing_at_their_parents():
    grids = compile_documents(PLAN, ["ab cd\nef", "gh\nij kl"])
    whole = Grid.concat(grids)
    assert_nested(whole)
    words, lines = whole.spans("w"), whole.spans("s")
    assert [whole.text[lines.start[p]:lines.end[p]] for p in words.parent] == [
        "ab cd", "ab cd", "ef", "gh", "ij kl", "ij kl"
    ]


def test_drawing_specs_leaves_the_global_random_state_alone(monkeypatch):
    """Checking a drawn axis may draw from the global `random` (the `regex`
    module evicts from its full pattern cache with random.sample); the
    strategy puts the state back, so hypothesis has nothing to warn about."""
    from hypothesis.errors import HypothesisDeprecationWarning

    from grid_dsl.testing import strategies as spec_strategies

    real = spec_strategies.check
    monkeypatch.setattr(spec_strategies, "check", lambda spec: (random.random(), real(spec))[1])

    @settings(max_examples=5, database=None, suppress_health_check=list(HealthCheck))
    @given(spec_asts())
    def draw(spec):
        pass

    with warnings.catch_warnings():
        warnings.simplefilter("error", HypothesisDeprecationWarning)
        draw()
