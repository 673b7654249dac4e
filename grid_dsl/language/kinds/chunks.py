"""chunks NAME over AXIS [within GROUP] (options) \"\"\"grammar\"\"\": the node and its writing (axes/chunks.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, LongStr, Options, Ref, axis_kind, loc_field
from grid_dsl.language.writing import long_string, options, statement_head, within


@axis_kind("chunks")
class ChunksDecl(AxisDecl):
    """A chunk cascade in nltk.RegexpParser grammar over another axis's
    labels, run within each span of a parent grouping (usually sentences)."""

    name: str
    over: Ref
    parent: Ref | None
    options: Options | None
    grammar: LongStr
    loc: Loc | None = loc_field()


@statement_head.register
def _chunks(node: ChunksDecl) -> str:
    return (f"chunks {node.name} over {node.over.name}{within(node.parent)}{options(node.options)} "
            f"{long_string(node.grammar.value)}")
