"""position / index / depth NAME = GROUP (options): the node and its writing (axes/views.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Options, Ref, axis_kind, loc_field
from grid_dsl.language.writing import options, statement_head


@axis_kind("view")
class ViewDecl(AxisDecl):
    """position / index / depth of the spans of a grouping."""

    view: str
    name: str
    group: Ref
    options: Options | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _view(node: ViewDecl) -> str:
    return f"{node.view} {node.name} = {node.group.name}{options(node.options)}"
