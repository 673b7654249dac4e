"""lag NAME = AXIS by N chars | after GROUP: the node and its writing (axes/lag.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Ref, axis_kind, loc_field
from grid_dsl.language.writing import statement_head


@axis_kind("lag")
class LagDecl(AxisDecl):
    """`by N chars` (amount is an int; negative: shown N chars early) or `after GROUP` (amount is a Ref)."""

    name: str
    source: Ref
    amount: int | Ref
    loc: Loc | None = loc_field()


@statement_head.register
def _lag(node: LagDecl) -> str:
    amount = f"after {node.amount.name}" if isinstance(node.amount, Ref) else f"by {node.amount} chars"
    return f"lag {node.name} = {node.source.name} {amount}"
