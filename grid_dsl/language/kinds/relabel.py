"""relabel NAME = AXIS { LABEL | LABEL -> LABEL ... default -> LABEL }: the node, its entries and their writing (axes/relabel.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Default, Label, Loc, Ref, axis_kind, loc_field, node
from grid_dsl.language.writing import block_entries, entry, label, statement_head


@node("relabel_entry")
class RelabelEntry:
    sources: tuple[Label, ...]
    target: Label
    loc: Loc | None = loc_field()


@axis_kind("relabel")
class RelabelDecl(AxisDecl):
    name: str
    source: Ref
    entries: tuple[RelabelEntry, ...]
    default: Default | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _relabel(node: RelabelDecl) -> str:
    return f"relabel {node.name} = {node.source.name} {{"


@block_entries.register
def _relabel_entries(node: RelabelDecl) -> tuple:
    return node.entries + ((node.default,) if node.default else ())


@entry.register
def _relabel_entry(node: RelabelEntry) -> str:
    return " | ".join(label(s.text) for s in node.sources) + f" -> {label(node.target.text)}"
