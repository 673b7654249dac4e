"""relabel A = X { L1 | L2 -> M  default -> D }: many-to-one renaming.

Labels not listed map to the default (or to no label when there is none);
"no label" stays "no label". Spans of X are kept, relabelled.
"""

from __future__ import annotations

import attrs
import numpy as np

from grid_dsl.language import nodes
from grid_dsl.language.kinds.relabel import RelabelDecl, RelabelEntry

from axes.base import Axis, Spans, Stream, builds


@attrs.frozen(kw_only=True, eq=False)
class RelabelAxis(Axis):
    kind = "relabel"
    source: str
    table: np.ndarray  # source id -> new id

    def compute(self, doc, inputs) -> Stream:
        src = inputs[self.source]
        spans = None
        if src.spans is not None:
            label = self.table[src.spans.label]
            keep = label > 0
            s = src.spans
            spans = Spans(s.start[keep], s.end[keep], label[keep], s.depth[keep], s.parent[keep])
        return Stream(self.table[src.ids], spans)


@builds(RelabelDecl)
def build_relabel(node: RelabelDecl, ctx) -> RelabelAxis | None:
    source = ctx.axis(node.source)
    targets: list[str] = []
    mapping: dict[int, str] = {}
    ok = True
    for entry in node.entries:
        for label in entry.sources:
            sid = ctx.label(source, label)
            if sid is None:
                ok = False
            elif sid in mapping:
                ctx.error(label.loc, f"label {label.text!r} is mapped twice", "map each label once")
                ok = False
            else:
                mapping[sid] = entry.target.text
        targets.append(entry.target.text)
    default = node.default.label.text if node.default else None
    if default is not None:
        targets.append(default)
    if not ok:
        return None
    labels = tuple(dict.fromkeys(targets))
    ids = {label: i + 1 for i, label in enumerate(labels)}
    table = np.full(len(source.vocab), ids[default] if default else 0, dtype=np.int32)
    table[0] = 0
    for sid, target in mapping.items():
        table[sid] = ids[target]
    return RelabelAxis(
        name=node.name,
        labels=labels,
        lookahead=source.lookahead,
        inputs=(source.name,),
        has_spans=source.has_spans,
        level=source.level,
        segment=source.segment,
        span_start=source.span_start,
        span_end=source.span_end,
        source=source.name,
        table=table,
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return bool(known.names(labelled=True))


def strategy(known, name: str, pieces):
    """Some real labels of an axis declared before, in groups, each group to a new label."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        source = known.axes[draw(st.sampled_from(known.names(labelled=True)))]
        picked = draw(st.lists(st.sampled_from(source.labels), unique=True, max_size=min(6, len(source.labels))))
        cuts = sorted(draw(st.lists(st.integers(1, max(1, len(picked) - 1)), max_size=2, unique=True)))
        groups = [g for g in (picked[a:b] for a, b in zip([0] + cuts, cuts + [len(picked)])) if g]
        entries = tuple(RelabelEntry(tuple(nodes.Label(x) for x in group), nodes.Label(draw(pieces.label)))
                        for group in groups)
        default = draw(st.none() | pieces.label.map(lambda x: nodes.Default(nodes.Label(x))))
        if not entries and default is None:
            default = nodes.Default(nodes.Label("OTHER"))
        return RelabelDecl(name, nodes.Ref(source.name), entries, default)

    return build()
