"""rules NAME (options) { when CONDITION -> LABEL ... default -> LABEL }: the
node, its rules and their writing (axes/rules.py). The conditions are shared
nodes (nodes.py), written by writing.condition."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Condition, Default, Label, Loc, Options, axis_kind, loc_field, node
from grid_dsl.language.writing import block_entries, condition, entry, label, options, statement_head


@node("rule")
class Rule:
    condition: Condition
    label: Label
    loc: Loc | None = loc_field()


@axis_kind("rules")
class RulesDecl(AxisDecl):
    name: str
    options: Options | None
    rules: tuple[Rule, ...]
    default: Default | None = None
    loc: Loc | None = loc_field()


@statement_head.register
def _rules(node: RulesDecl) -> str:
    return f"rules {node.name}{options(node.options)} {{"


@block_entries.register
def _rules_entries(node: RulesDecl) -> tuple:
    return node.rules + ((node.default,) if node.default else ())


@entry.register
def _rule(node: Rule) -> str:
    return f"when {condition(node.condition)} -> {label(node.label.text)}"
