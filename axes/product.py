"""product A = X * Y: one label per pair of labels (the cross product)."""

from __future__ import annotations

import attrs
import numpy as np

from grid_dsl.language import nodes
from grid_dsl.language.kinds.product import ProductDecl

from axes.base import MAX_LABELS, NONE_LABEL, Axis, Stream, builds


@attrs.frozen(kw_only=True)
class ProductAxis(Axis):
    kind = "product"
    left: str
    right: str
    right_size: int  # vocabulary size of the right axis, id 0 included

    def compute(self, doc, inputs) -> Stream:
        left = inputs[self.left].ids.astype(np.int64)
        return Stream((left * self.right_size + inputs[self.right].ids).astype(np.int64))


@builds(ProductDecl)
def build_product(node: ProductDecl, ctx) -> ProductAxis | None:
    left, right = ctx.axis(node.left), ctx.axis(node.right)
    size = len(left.vocab) * len(right.vocab)
    if size - 1 > MAX_LABELS:  # refused before a label is built: a product of products grows as a square
        ctx.error(node.loc, f"product of {len(left.vocab):,} x {len(right.vocab):,} labels would have {size - 1:,} labels, "
                  f"more than an axis may have ({MAX_LABELS:,})", "relabel one side to fewer labels first")
        return None
    # id = i * |right| + j for labels (left[i], right[j]); (0, 0) is id 0.
    labels = tuple(
        f"{a}*{b}" for a in left.vocab for b in right.vocab if not (a == NONE_LABEL and b == NONE_LABEL)
    )
    return ProductAxis(
        name=node.name,
        labels=labels,
        lookahead=left.lookahead.combine(right.lookahead),
        inputs=(left.name, right.name),
        left=left.name,
        right=right.name,
        right_size=len(right.vocab),
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return bool(known.names(max_vocab=8))


def strategy(known, name: str, pieces):
    """Two axes with small vocabularies (the product's is theirs multiplied)."""
    from hypothesis import strategies as st

    small = known.names(max_vocab=8)
    return st.builds(ProductDecl, st.just(name), st.sampled_from(small).map(nodes.Ref),
                     st.sampled_from(small).map(nodes.Ref))
