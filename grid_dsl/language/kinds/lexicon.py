"""lexicon NAME (options) { "pattern" | /regex/ -> LABEL ... }: the node, its entries and their writing (axes/lexicon.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Label, Loc, Options, Regex, Str, axis_kind, loc_field, node
from grid_dsl.language.writing import block_entries, entry, label, options, statement_head, value


@node("lexicon_entry")
class LexiconEntry:
    patterns: tuple[Str | Regex, ...]
    label: Label
    loc: Loc | None = loc_field()


@axis_kind("lexicon")
class LexiconDecl(AxisDecl):
    name: str
    options: Options | None
    entries: tuple[LexiconEntry, ...]
    loc: Loc | None = loc_field()


@statement_head.register
def _lexicon(node: LexiconDecl) -> str:
    return f"lexicon {node.name}{options(node.options)} {{"


@block_entries.register
def _lexicon_entries(node: LexiconDecl) -> tuple:
    return node.entries


@entry.register
def _lexicon_entry(node: LexiconEntry) -> str:
    return " | ".join(value(p) for p in node.patterns) + f" -> {label(node.label.text)}"
