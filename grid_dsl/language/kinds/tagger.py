"""tagger NAME = PLUGIN (options): the node and its writing (axes/tagger.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Options, axis_kind, loc_field
from grid_dsl.language.writing import options, statement_head


@axis_kind("tagger")
class TaggerDecl(AxisDecl):
    name: str
    plugin: str
    options: Options | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _tagger(node: TaggerDecl) -> str:
    return f"tagger {node.name} = {node.plugin}{options(node.options)}"
