"""pos NAME (options): the node and its writing (axes/pos.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Options, axis_kind, loc_field
from grid_dsl.language.writing import options, statement_head


@axis_kind("pos")
class PosDecl(AxisDecl):
    name: str
    options: Options | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _pos(node: PosDecl) -> str:
    return f"pos {node.name}{options(node.options)}"
