"""latest / first / count / since NAME = AXIS [within GROUP] (options): the node and its writing (axes/state.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Options, Ref, axis_kind, loc_field
from grid_dsl.language.writing import options, statement_head, within


@axis_kind("state")
class StateDecl(AxisDecl):
    """latest / first / count / since over another axis, reset at each span of `within`."""

    operator: str
    name: str
    source: Ref
    within: Ref | None = None
    options: Options | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _state(node: StateDecl) -> str:
    return f"{node.operator} {node.name} = {node.source.name}{within(node.within)}{options(node.options)}"
