"""lag A = X by N chars | lag A = X after G: show X's labels later.

`by N chars` shifts the stream N characters to the right; a negative N shows
each label N characters early (a lead: it looks N characters ahead, which is
how the boundary leak of docs/design.md is written on purpose, e.g.
`lag early = upos_prev by -1 chars` shows each word's tag on its last
letter). `after G` shows,
from the first character after each span of grouping G, X's label at that
span's last character, until the next span of G completes. A lag is causal
only when it covers X's look-ahead (docs/design.md, "Leaks are subtler than they
look"): lagging a painted word label after words is causal; lagging NLTK's
full-sentence POS after tokens is not, because the tagger reads two tokens
ahead.
"""

from __future__ import annotations

import attrs
import numpy as np

from grid_dsl.language.kinds.lag import LagDecl
from grid_dsl.language.nodes import Ref

from axes.base import CAUSAL, MAX_SHIFT, Axis, Lookahead, Stream, builds, hold


@attrs.frozen(kw_only=True)
class LagAxis(Axis):
    kind = "lag"
    source: str
    chars: int = 0  # shift, for `by N chars`
    group: str | None = None  # grouping, for `after G`

    def compute(self, doc, inputs) -> Stream:
        ids = inputs[self.source].ids
        n = len(ids)
        if self.group is None:
            out = np.zeros(n, dtype=np.int32)
            k = self.chars
            if 0 < k < n:
                out[k:] = ids[: n - k]
            elif -n < k < 0:
                out[: n + k] = ids[-k:]
            return Stream(out)
        spans = inputs[self.group].spans
        ends = np.unique(spans.end[spans.end > spans.start])  # sorted; equal ends share a last character
        ends = ends[ends < n]
        return Stream(hold(n, ends, ids[ends - 1]))


@builds(LagDecl)
def build_lag(node: LagDecl, ctx) -> LagAxis | None:
    source = ctx.axis(node.source)
    common = dict(name=node.name, labels=source.labels, source=source.name)
    if isinstance(node.amount, Ref):
        group = ctx.axis(node.amount)
        if not group.has_spans:
            ctx.error(node.amount.loc, f"'{group.name}' has no spans to lag after",
                      "lag after a grouping (group/chunks), a tagger, a lexicon or an annotation axis")
            return None
        if source.lookahead.covered_by_span(group):
            lookahead = CAUSAL
        elif not group.boundary_causal:
            lookahead = Lookahead("unbounded", note=f"where a span of '{group.name}' ends is only known later")
        else:
            lookahead = Lookahead("unbounded", note=f"'{source.name}' looks ahead {source.lookahead}, "
                                                    f"beyond the end of a span of '{group.name}'")
        return LagAxis(lookahead=lookahead, inputs=(source.name, group.name), group=group.name, **common)
    if node.amount == 0:
        ctx.error(node.loc, "a lag of 0 chars changes nothing", "lag by at least 1 char (or by -N chars to lead)")
        return None
    if abs(node.amount) > MAX_SHIFT:
        ctx.error(node.loc, f"a lag of {node.amount} chars is beyond the {MAX_SHIFT:,} a lag may move a stream",
                  f"lag by -{MAX_SHIFT:,} to {MAX_SHIFT:,} chars")
        return None
    la = source.lookahead
    if node.amount < 0:  # a lead adds its characters to whatever the source looks ahead
        lead = -node.amount
        note = f"shown {lead} char{'s' if lead != 1 else ''} early"
        if la.causal:
            lookahead = Lookahead("chars", lead, note=note)
        elif la.kind == "chars":
            lookahead = Lookahead("chars", la.n + lead, note=note)
        else:  # to the end of a span: shown early, it may be the next span's
            lookahead = Lookahead("unbounded", note=f"'{source.name}' looks ahead {la}, {note}")
    elif la.covered_by_chars(node.amount):
        lookahead = CAUSAL
    elif la.kind == "chars":
        lookahead = Lookahead("chars", la.n - node.amount, note=la.note)
    else:
        lookahead = la
    return LagAxis(lookahead=lookahead, inputs=(source.name,), chars=node.amount, **common)


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return bool(known.axes)


def strategy(known, name: str, pieces):
    """Any axis by a few characters either way, or after a grouping."""
    from hypothesis import strategies as st

    amount = st.integers(-2, 4).filter(bool)
    spans = known.names(spans=True)
    if spans:
        amount = amount | st.sampled_from(spans).map(Ref)
    return st.builds(LagDecl, st.just(name), st.sampled_from(known.names()).map(Ref), amount)
