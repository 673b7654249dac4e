"""The registry of kinds (axes.base.kinds()) is the one list of kinds of axis:
every kind registered there must have its grammar rule `<kind>_decl` (built
into its node class), a formatting, a spec strategy and a docs entry (its
module's docstring opens with its statement). A kind that lacks any piece
fails here, and the failure names the piece to add (docs/adding-a-kind.md).
The tests below also remove each piece in turn, to show that they fail."""

import functools
import re
import sys
import types

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from axes.base import BUILDERS, kinds
from grid_dsl import SpecError, parse
from grid_dsl.language import formatter, nodes
from grid_dsl.language.parser import _lark, literal_words, statement_keywords
from grid_dsl.testing import spec_asts
from grid_dsl.testing.strategies import KIND_STRATEGIES


def statement_words(kind: type) -> list[str]:
    """The keywords a statement of `kind` starts with, from its grammar rule."""
    terminals = {t.name: t for t in _lark().terminals}
    rules = [r for r in _lark().rules if r.origin.name == f"{kind.kind}_decl"]
    return list(dict.fromkeys(word for r in rules for word in literal_words(terminals[r.expansion[0].name])))


def unfinished(kind: type) -> list[str]:
    """The pieces a registered kind lacks, each said as what to add."""
    rule, name = f"{kind.kind}_decl", kind.__name__
    problems = []
    words = statement_words(kind)
    if not words:
        problems.append(f"grid_dsl/language/grammar.lark: no rule {rule}")
    if nodes.NODE_FOR_RULE.get(rule) is not kind:
        problems.append(f"grid_dsl/language/nodes.py: {name} is not the node of {rule} (@axis_kind({kind.kind!r}))")
    if formatter.statement_head.dispatch(kind) is formatter.statement_head.dispatch(object):
        problems.append(f"grid_dsl/language/formatter.py: no statement_head registered for {name}")
    if kind not in KIND_STRATEGIES:
        problems.append(f"grid_dsl/testing/strategies.py: no entry for {name} in KIND_STRATEGIES")
    module = BUILDERS[kind].__module__
    synopsis = (sys.modules[module].__doc__ or "").strip().partition("\n")[0]
    named = [w for w in words or [kind.kind] if re.search(rf"\b{w}\b", synopsis)]
    if not synopsis.startswith(tuple(named)) or len(named) < len(words):
        problems.append(f"{module}: its docstring does not open with the statement ({' / '.join(words or [kind.kind])} ...)")
    return problems


def assert_every_kind_is_complete():
    missing = [problem for kind in kinds().values() for problem in unfinished(kind)]
    assert not missing, "\n".join(missing)


def test_every_registered_kind_is_complete():
    assert len(kinds()) >= 11
    assert_every_kind_is_complete()


def test_every_kind_of_statement_the_grammar_builds_has_a_builder():
    declared = {cls for cls in nodes.NODE_FOR_RULE.values() if issubclass(cls, nodes.AxisDecl)}
    assert declared == set(kinds().values())


def test_statement_keywords_are_the_first_words_of_the_statement_rules():
    expected = {"main", "include", "feed"} | {word for kind in kinds().values() for word in statement_words(kind)}
    assert set(statement_keywords()) == expected
    assert {"position", "index", "depth", "lexicon"} <= expected  # a named terminal's words, and literals


@pytest.mark.parametrize("keyword", statement_keywords())
def test_after_a_syntax_error_the_parser_resumes_at_every_statement_keyword(keyword):
    with pytest.raises(SpecError) as caught:
        parse(f"main = chars\n{keyword} ?\n")
    assert [d.loc.line for d in caught.value.diagnostics] == [1, 2]


# ------------------------------------------------- the check can fail


def _remove_strategy(monkeypatch):
    monkeypatch.delitem(KIND_STRATEGIES, nodes.LagDecl)


def _remove_formatting(monkeypatch):
    bare = functools.singledispatch(formatter.statement_head.dispatch(object))
    for cls, fn in formatter.statement_head.registry.items():
        if cls not in (object, nodes.LagDecl):
            bare.register(cls, fn)
    monkeypatch.setattr(formatter, "statement_head", bare)


def _remove_node(monkeypatch):
    monkeypatch.delitem(nodes.NODE_FOR_RULE, "lag_decl")


def _remove_docs(monkeypatch):
    monkeypatch.setattr(sys.modules["axes.lag"], "__doc__", "Shows another axis's labels later.")


@pytest.mark.parametrize("remove, problem", [
    (_remove_strategy, "strategies.py: no entry for LagDecl"),
    (_remove_formatting, "formatter.py: no statement_head registered for LagDecl"),
    (_remove_node, "nodes.py: LagDecl is not the node of lag_decl"),
    (_remove_docs, "axes.lag: its docstring does not open with the statement (lag ...)"),
])
def test_a_kind_missing_one_piece_fails_naming_it(monkeypatch, remove, problem):
    remove(monkeypatch)
    [found] = unfinished(nodes.LagDecl)
    assert problem in found
    with pytest.raises(AssertionError, match=re.escape(problem)):
        assert_every_kind_is_complete()


@attrs.frozen
class WidgetDecl(nodes.AxisDecl):
    kind = "widget"
    name: str


def test_a_registered_kind_with_nothing_else_fails_on_every_piece(monkeypatch):
    """Registered (a builder), but no rule, node, formatting, strategy or docs."""
    module = types.ModuleType("widget_kind")  # no docstring

    def build(node, ctx):
        return None

    build.__module__ = module.__name__
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(BUILDERS, WidgetDecl, build)
    assert kinds()["widget"] is WidgetDecl
    assert [p.partition(":")[0] for p in unfinished(WidgetDecl)] == [
        "grid_dsl/language/grammar.lark", "grid_dsl/language/nodes.py", "grid_dsl/language/formatter.py",
        "grid_dsl/testing/strategies.py", "widget_kind"]
    with pytest.raises(AssertionError, match="no rule widget_decl"):
        assert_every_kind_is_complete()


def test_specs_are_drawn_from_the_registered_kinds_only(monkeypatch):
    monkeypatch.delitem(BUILDERS, nodes.LagDecl)
    drawn = []

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(spec_asts(max_axes=5, feeds=False))
    def collect(spec):
        drawn.extend(type(s) for s in spec.statements)

    collect()
    assert nodes.GroupDecl in drawn and nodes.LagDecl not in drawn
