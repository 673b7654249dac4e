"""Property-test your own .axes specs: hypothesis strategies for texts and
for random valid specs.

Strategies
----------
texts()
    Any Unicode text (no lone surrogates), weighted so that the hard cases
    come up often: the empty text, whitespace only, CRLF and lone CR,
    combining marks, mixed scripts, emoji sequences, sentence punctuation.
long_texts(min_pieces=300, max_pieces=1200)
    Long texts (thousands of characters) of the same pieces, mostly words,
    spaces and punctuation in paragraphs: where state from far back matters
    and late cuts of a document must still agree.
spec_asts(max_axes=5, feeds=True, nltk=False, chunks=False, taggers=())
    Random *valid* spec ASTs (grid_dsl.language.nodes.Spec): every one passes
    grid_dsl.check. Small on purpose (a handful of axes with small
    vocabularies) so property tests stay fast. Kinds that need NLTK data or
    are slow come only when asked for (see spec_asts).
specs(...)
    The same specs as canonical text (grid_dsl.language.formatter.format_spec).
mutated_specs(seeds=None, max_mutations=3)
    A fuzzer: valid specs (yours, or specs()) broken by 1-3 random mutations
    (deleted and duplicated tokens, junk, truncation, bytes that are not
    UTF-8, huge numbers, broken and catastrophic regexes, unknown references,
    cycles, bad options), as bytes; see grid_dsl.testing.mutations.

Assertions (the seven properties of docs/design.md; each failure names the axis,
the position and the labels)
----------
assert_aligned(grid)                       1. one id per main position, in vocabulary
assert_deterministic(plan, text)           2. same grid from a freshly checked plan
assert_well_formed(grid)                   3. spans inside the text, BIO well formed
assert_nested(grid)                        4. children inside their parent spans
assert_chunk_invariant(plan, documents)    5. compiling in pieces == compiling whole
assert_prefix_stable(plan, text)           6. what the checker claims (labels, span starts and
                                              ends) holds on every prefix, and on a
                                              prefix followed by another text
assert_roundtrip(spec_text)                7. parse(format(spec)) == spec, idempotent
assert_grid_properties(plan, text)         1-4 and 6 at once; returns the grid

Example: every axis of your spec lines up with every text,

    from hypothesis import given
    from grid_dsl import compile_text, load_spec
    from grid_dsl.testing import texts

    PLAN = load_spec("my.axes")

    @given(texts())
    def test_my_spec_is_aligned(text):
        grid = compile_text(PLAN, text)
        assert all(len(grid.ids(name)) == len(grid.main) for name in grid.names)

and any valid spec compiles any text, and round-trips through the formatter:

    from grid_dsl import check, parse
    from grid_dsl.language.formatter import format_spec
    from grid_dsl.testing import spec_asts

    @given(spec_asts(), texts())
    def test_any_spec_any_text(spec, text):
        grid = compile_text(check(spec), text)
        assert all(len(grid.ids(name)) == len(grid.main) for name in grid.names)
        assert parse(format_spec(spec)) == spec
"""

from __future__ import annotations

from hypothesis import strategies as st

from grid_dsl.data.properties import (
    assert_aligned,
    assert_chunk_invariant,
    assert_deterministic,
    assert_grid_properties,
    assert_nested,
    assert_prefix_stable,
    assert_roundtrip,
    assert_well_formed,
)
from grid_dsl.testing.mutations import mutated_specs
from grid_dsl.testing.strategies import spec_asts, specs

__all__ = [
    "texts", "long_texts", "spec_asts", "specs", "mutated_specs",
    "assert_aligned", "assert_deterministic", "assert_well_formed", "assert_nested",
    "assert_chunk_invariant", "assert_prefix_stable", "assert_roundtrip", "assert_grid_properties",
]

# =================================================================== strategies

# ------------------------------------------------------------------- texts

_WORDS = ("the", "King", "queen's", "don't", "Mr.", "e.g.", "U.S.A.", "3.14", "1,000", "e-mail",
          "naïve", "Straße", "ÉCOLE", "o'clock", "x", "I", "ah")
_SCRIPTS = ("Привет", "γειά", "日本語", "中文字", "مرحبا", "नमस्ते", "שלום", "한국어", "ไทย", "Ελλάδα")
_COMBINING = ("e\u0301", "a\u0308\u0323", "\u0301", "n\u0303", "\u0915\u094d\u0937", "\u0644\u064e", "Z\u0351\u0333")
_EMOJI = ("😀", "👍🏽", "👨\u200d👩\u200d👧", "🇩🇪", "❤\ufe0f", "🏳\ufe0f\u200d🌈", "🙂🙂")
_SPACES = (" ", " ", "  ", "\n", "\r\n", "\r", "\t", "\n\n", "\r\n\r\n", "\u00a0", "\u2028", "\u3000", " \n \n", "\x0b")
_PUNCT = (".", ",", "!", "?", "...", ";", ":", "'", '"', "\u201c", "\u201d", "\u2014", "-", "(", ")", "?!", "\u2026",
          "\u00bf", "\u3002", ". ", "! ", "? ")


def _any_chars(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def _weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """Draw from the strategies with the given relative weights."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def texts(max_pieces: int = 30) -> st.SearchStrategy[str]:
    """Any Unicode text, built mostly from pieces that break naive code
    (see the module docstring); at most `max_pieces` pieces long."""
    piece = _weighted(
        (5, st.sampled_from(_WORDS)),
        (4, st.sampled_from(_SPACES)),
        (3, st.sampled_from(_PUNCT)),
        (1, st.sampled_from(_SCRIPTS)),
        (1, st.sampled_from(_COMBINING)),
        (1, st.sampled_from(_EMOJI)),
        (1, _any_chars(3)),
    )
    return _weighted(
        (1, st.just("")),
        (1, st.lists(st.sampled_from(_SPACES), min_size=1, max_size=6).map("".join)),
        (6, st.lists(piece, max_size=max_pieces).map("".join)),
        (1, _any_chars(max_pieces)),
    )


def long_texts(min_pieces: int = 300, max_pieces: int = 1200) -> st.SearchStrategy[str]:
    """Long texts: min_pieces..max_pieces pieces, mostly words, spaces and
    punctuation, some paragraph breaks and other scripts (see the module
    docstring)."""
    piece = _weighted(
        (8, st.sampled_from(_WORDS)),
        (6, st.just(" ")),
        (2, st.sampled_from(_SPACES)),
        (3, st.sampled_from(_PUNCT)),
        (1, st.sampled_from(_SCRIPTS + _COMBINING + _EMOJI)),
    )
    return st.lists(piece, min_size=min_pieces, max_size=max_pieces).map("".join)
