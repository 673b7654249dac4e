"""group NAME = SEGMENTER [/regex/] [within GROUP] (options): the node and its writing (axes/groups.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Options, Ref, Regex, axis_kind, loc_field, node
from grid_dsl.language.writing import options, statement_head, value, within


@node("segment")
class Segment:
    """A built-in segmentation: words, tokens, sentences, paragraphs, lines,
    or regex matches / regex-delimited spans."""

    kind: str
    pattern: Regex | None = None
    loc: Loc | None = loc_field()


@axis_kind("group")
class GroupDecl(AxisDecl):
    name: str
    segment: Segment
    parent: Ref | None = None
    options: Options | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _group(node: GroupDecl) -> str:
    pattern = "" if node.segment.pattern is None else " " + value(node.segment.pattern)
    return f"group {node.name} = {node.segment.kind}{pattern}{within(node.parent)}{options(node.options)}"
