"""position / index / depth of a grouping's spans, as bounded integer labels.

    position word_pos = words (max=12)   # offset of the character in its span
    index sent_no = sentences (max=32)   # the span's index within its parent span
    depth nesting = phrases (max=8)      # spans containing the character, ancestors included

Values at or above `max` share the label "max+"; characters outside every
span have no label. For nested spans the innermost one counts.

    position digit = num (max=40, train_offset=30)   # Abacus-style digit positions, trained up to 39

`train_offset=K` is a training-time augmentation (McLeish et al. 2024's
random offset): each training window adds one random 0..K to every label of
the axis (capped at "max+"), so positions longer than any training text's
still get trained; evaluation and sampling see the labels as they are. It
applies to context and oracle feeds (a predicted axis's targets would move).
"""

from __future__ import annotations

import attrs
import numpy as np

from grid_dsl.language import nodes
from grid_dsl.language.kinds.view import ViewDecl

from axes.base import Axis, Spans, Stream, builds, cap_labels, capped_ids, paint_nested, position_in_spans

DEFAULT_MAX = {"position": 32, "index": 32, "depth": 8}
MAX_CAP = 65_535  # labels "0" .. "max+": the vocabulary stays a uint16 stream


def sibling_index(spans: Spans) -> np.ndarray:
    """Each span's index among the spans with the same parent and depth, by start."""
    if len(spans) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((spans.start, spans.depth, spans.parent))
    keys = np.stack([spans.parent[order], spans.depth[order]])
    first = np.r_[True, np.any(keys[:, 1:] != keys[:, :-1], axis=0)]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    index = np.empty(len(order), dtype=np.int64)
    index[order] = np.arange(len(order)) - group_start
    return index


@attrs.frozen(kw_only=True)
class ViewAxis(Axis):
    kind = "view"
    view: str
    group: str
    maximum: int
    group_level: int

    def compute(self, doc, inputs) -> Stream:
        spans = inputs[self.group].spans
        n = len(doc)
        values = np.full(n, -1, dtype=np.int64)
        for depth in np.unique(spans.depth):  # outermost first, inner spans overwrite
            at = spans.depth == depth
            starts, ends = spans.start[at], spans.end[at]
            if self.view == "position":
                pos = position_in_spans(n, starts, ends)
                values[pos >= 0] = pos[pos >= 0]
        if self.view == "index":
            as_labels = Spans(spans.start, spans.end, sibling_index(spans) + 1, spans.depth, spans.parent)
            values = paint_nested(n, as_labels).astype(np.int64) - 1
        elif self.view == "depth":
            as_labels = Spans(spans.start, spans.end, spans.depth + self.group_level - 1, spans.depth, spans.parent)
            values = paint_nested(n, as_labels).astype(np.int64)
            values[values == 0] = -1
        return Stream(capped_ids(values, self.maximum))


@builds(ViewDecl)
def build_view(node: ViewDecl, ctx) -> ViewAxis | None:
    group = ctx.axis(node.group)
    opts = ctx.options(node.options, {"max": ctx.opt("int", DEFAULT_MAX[node.view], minimum=1, maximum=MAX_CAP),
                                      "train_offset": ctx.opt("int", 0, minimum=0, maximum=MAX_CAP)})
    if opts is None:
        return None
    if not group.has_spans:
        ctx.error(node.group.loc, f"'{group.name}' has no spans", "views apply to groupings, chunks, taggers, lexicons and annotations")
        return None
    return ViewAxis(
        name=node.name,
        labels=cap_labels(opts["max"]),
        # Offsets, indexes and depths need which spans hold a character and
        # where they started: the grouping's span_start, never its label
        # stream's look-ahead (an `encoding=after` lexicon's labels are causal,
        # its spans are not).
        lookahead=group.span_start,
        inputs=(group.name,),
        view=node.view,
        group=group.name,
        maximum=opts["max"],
        group_level=group.level,
        train_offset=opts["train_offset"],
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return bool(known.names(spans=True))


def strategy(known, name: str, pieces):
    """position / index / depth of a grouping declared before."""
    from hypothesis import strategies as st

    return st.builds(ViewDecl, st.sampled_from(("position", "index", "depth")), st.just(name),
                     st.sampled_from(known.names(spans=True)).map(nodes.Ref),
                     pieces.options(("max", st.integers(1, 12).map(nodes.Num))))
