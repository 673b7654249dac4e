"""Assertion helpers for the seven alignment properties of docs/design.md.

Each `assert_*` raises AssertionError with a message that names the axis,
the position and the labels involved, so a failing hypothesis example reads
as a bug report. Use them on your own specs (see grid_dsl.testing for
strategies):

    from grid_dsl import loads_spec
    from grid_dsl.testing import texts, assert_grid_properties
    from hypothesis import given

    PLAN = loads_spec(open("my.axes").read())

    @given(texts())
    def test_my_spec(text):
        assert_grid_properties(PLAN, text)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from axes.base import Spans

from grid_dsl.data.compiler import compile_documents, compile_text, normalise
from grid_dsl.data.grid import Grid
from grid_dsl.data.plan import Plan


def _context(text: str, pos: int) -> str:
    return repr(text[max(0, pos - 12) : pos + 12])


# 1 ------------------------------------------------------------------ length


def assert_aligned(grid: Grid) -> None:
    """Every stream has one id per main position, each within its vocabulary."""
    n = len(grid.main)
    for name in grid.names:
        ids = grid.ids(name)
        assert len(ids) == n, f"axis {name!r}: {len(ids)} ids for {n} main positions"
        vocab = len(grid.vocab(name))
        bad = np.flatnonzero((ids < 0) | (ids >= vocab))
        assert len(bad) == 0, f"axis {name!r}: id {ids[bad[0]]} at {bad[0]} outside its {vocab} labels"


# 2 ----------------------------------------------------------- determinism


def assert_deterministic(plan: Plan, text: str, annotations=None) -> None:
    """Compiling twice gives the same grid; when the plan carries its spec
    text, the second time with a plan checked afresh from that text."""
    from grid_dsl.data.checker import check
    from grid_dsl.language.parser import parse

    first = compile_text(plan, text, annotations)
    root, source = next(iter(plan.sources.items()), ("<spec>", ""))
    again = check(parse(source, root)) if source else plan
    second = compile_text(again, text, annotations)
    assert first.names == second.names, f"axes differ: {first.names} != {second.names}"
    for name in first.names:
        a, b = first.ids(name), second.ids(name)
        diff = np.flatnonzero(a != b)
        assert len(diff) == 0, f"axis {name!r} differs between two compilations at {diff[0]}"


# 3 ------------------------------------------------------------ well-formed


def assert_well_formed(grid: Grid) -> None:
    """Spans lie inside the text with start < end; an axis that paints its
    spans in BIO (encoding=bio) shows B-X exactly where a span labelled X
    starts and I-X only inside one. Nested spans paint the inner over the
    outer, so an outer span's I-X may follow an inner one's labels; an axis
    derived from a BIO axis (a lag) carries its labels, not its encoding."""
    n = len(grid.text)
    for name in grid.names:
        spans = grid.spans(name)
        if spans is not None and len(spans):
            assert np.all(spans.start >= 0) and np.all(spans.end <= n), f"axis {name!r}: span outside the text"
            assert np.all(spans.start < spans.end), f"axis {name!r}: empty span"
        if getattr(grid.plan.axis(name), "encoding", "span") == "bio":
            _assert_bio(grid, name, spans)


def _assert_bio(grid: Grid, name: str, spans) -> None:
    ids = grid.char_streams[name].ids
    n, vocab = len(ids), grid.vocab(name)
    if spans is None:
        spans = Spans.empty()
    bad = np.zeros(n, dtype=bool)
    painted = (ids[ids > 0] - 1) // 2 * 2 + 1  # B-X ids are odd, I-X = B-X + 1 (axes.base.bio_labels)
    for begin in np.union1d(painted, spans.label):
        at = spans.label == begin
        started = np.zeros(n, dtype=bool)
        started[spans.start[at]] = True
        depth = np.zeros(n + 1, dtype=np.int64)  # > 0: strictly inside a span labelled X
        np.add.at(depth, spans.start[at] + 1, 1)
        np.add.at(depth, spans.end[at], -1)
        inside = np.cumsum(depth)[:n] > 0
        bad |= ((ids == begin) & ~started) | ((ids == begin + 1) & ~inside)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        cur, prev = vocab[ids[pos]], (vocab[ids[pos - 1]] if pos else "_")
        where = "starts there" if cur.startswith("B-") else "holds it past its start"
        raise AssertionError(f"axis {name!r}: {cur} after {prev} at {pos} ({_context(grid.text, pos)}), "
                             f"but no span labelled {cur[2:]} {where}")


# 4 --------------------------------------------------------------- nesting


def assert_nested(grid: Grid) -> None:
    """A child span never crosses its parent's boundary: spans of a grouping
    declared `within` another lie inside their parent span, and nested spans
    of one axis (chunk cascades) lie inside the span one level up."""
    for axis in grid.plan.axes:
        spans = grid.spans(axis.name) if axis.name in grid.names else None
        if spans is None or not len(spans):
            continue
        parent_name = getattr(axis, "parent", None)
        if parent_name is not None:
            outer = grid.spans(parent_name)
            for s, e, p in zip(spans.start, spans.end, spans.parent):
                assert 0 <= p < len(outer), f"axis {axis.name!r}: span ({s}, {e}) has no parent span"
                assert outer.start[p] <= s and e <= outer.end[p], (
                    f"axis {axis.name!r}: span ({s}, {e}) crosses its parent "
                    f"{parent_name!r} span ({outer.start[p]}, {outer.end[p]})"
                )
        for depth in range(2, int(spans.depth.max(initial=1)) + 1):
            inner = np.flatnonzero(spans.depth == depth)
            up = np.flatnonzero(spans.depth == depth - 1)
            for i in inner:
                s, e = spans.start[i], spans.end[i]
                assert np.any((spans.start[up] <= s) & (spans.end[up] >= e)), (
                    f"axis {axis.name!r}: depth-{depth} span ({s}, {e}) is not inside a depth-{depth - 1} span"
                )


# 5 ------------------------------------------------------- chunk invariance


def assert_chunk_invariant(plan: Plan, documents: Sequence[str], cut: int | None = None) -> None:
    """Compiling documents in two batches, split at a document boundary,
    gives the same streams as compiling them all at once."""
    cut = len(documents) // 2 if cut is None else cut
    whole = Grid.concat(compile_documents(plan, documents)) if documents else None
    parts = compile_documents(plan, documents[:cut]) + compile_documents(plan, documents[cut:])
    if whole is None:
        assert not parts
        return
    pieces = Grid.concat(parts)
    for name in whole.names:
        diff = np.flatnonzero(whole.ids(name) != pieces.ids(name))
        assert len(diff) == 0, f"axis {name!r}: chunked compilation differs at {diff[0]}"


# 6 --------------------------------------------------------- prefix stability


CONTINUATION = "\n\nAnd then, 12 more Words: \"yes!\" said the King.\n"


def assert_prefix_stable(plan: Plan, text: str, cuts: Sequence[int] | None = None, annotations=None,
                         continuation: str = CONTINUATION) -> None:
    """Everything the checker claims of an axis holds on prefixes of the text
    (docs/design.md, "Causality"): a causal axis gives, on text[:k] and on
    text[:k] followed by another text, the same labels at every position
    before k as on the whole text; an axis that looks at most n characters
    ahead, the same labels before k - n; and the same for where its spans
    start and that they end (grid_dsl.data.prefix_check). Every other cut is
    followed by `continuation`."""
    from grid_dsl.data.prefix_check import Cut, check_document, claimed_targets

    text, annotations = normalise(plan, text, annotations)
    if cuts is None:
        cuts = range(1, len(text))
    points = [Cut(int(k), "any", i % 2 == 1) for i, k in enumerate(sorted(set(int(k) for k in cuts)))
              if 0 < k < len(text)]
    found = check_document(plan, text, points, continuation, claimed_targets(plan), annotations)
    assert not found, f"declared causal but not prefix-stable: {found[0].describe()}"


# 7 ------------------------------------------------------------ round trip


def assert_roundtrip(spec_text: str) -> None:
    """parse(format(spec)) == spec, and formatting is idempotent."""
    from grid_dsl.language.formatter import format_spec
    from grid_dsl.language.parser import parse

    spec = parse(spec_text)
    formatted = format_spec(spec)
    again = parse(formatted)
    assert again == spec, f"formatting changed the spec:\n{formatted}"
    assert format_spec(again) == formatted, "formatting is not idempotent"


def assert_grid_properties(plan: Plan, text: str, annotations=None) -> Grid:
    """Properties 1-4 and 6 on one text; returns the grid."""
    grid = compile_text(plan, text, annotations)
    assert_aligned(grid)
    assert_well_formed(grid)
    assert_nested(grid)
    assert_deterministic(plan, text, annotations)
    assert_prefix_stable(plan, text, annotations=annotations)
    return grid
