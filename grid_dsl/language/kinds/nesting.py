"""nesting NAME (options) { "(" .. ")"  "\"" ... }: the node, its delimiters and their writing (axes/nesting.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Options, Regex, Str, axis_kind, loc_field, node
from grid_dsl.language.writing import block_entries, entry, options, statement_head, value


@node("delimiter")
class Delimiter:
    """An opening pattern and its closing one; with no closing, one pattern that toggles."""

    opening: Str | Regex
    closing: Str | Regex | None = None
    loc: Loc | None = loc_field()


@axis_kind("nesting")
class NestingDecl(AxisDecl):
    """Depth inside delimiters read left to right (quotes, brackets, parentheses)."""

    name: str
    options: Options | None
    delimiters: tuple[Delimiter, ...]
    loc: Loc | None = loc_field()


@statement_head.register
def _nesting(node: NestingDecl) -> str:
    return f"nesting {node.name}{options(node.options)} {{"


@block_entries.register
def _nesting_entries(node: NestingDecl) -> tuple:
    return node.delimiters


@entry.register
def _delimiter(node: Delimiter) -> str:
    return value(node.opening) + ("" if node.closing is None else f" .. {value(node.closing)}")
