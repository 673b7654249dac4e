"""The registry of kinds (axes.base.kinds()) is the one list of kinds of axis:
every kind registered there must have its grammar rule `<kind>_decl`, its
language module grid_dsl/language/kinds/<kind>.py (the node built from the
rule, and its formatting), and in its axes module a spec strategy and a docs
entry (the module's docstring opens with its statement). A kind that lacks
any piece fails here, and the failure names the file to edit
(docs/adding-a-kind.md). The tests below also remove each piece in turn, to
show that they fail."""

import functools
import re
import subprocess
import sys
import types

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from conftest import ROOT

from axes.base import BUILDERS, kind_module, kinds
from grid_dsl import SpecError, parse
from grid_dsl.language import nodes, writing
from grid_dsl.language.kinds.lag import LagDecl
from grid_dsl.language.parser import _lark, literal_words, statement_keywords
from grid_dsl.testing import spec_asts


def statement_words(kind: type) -> list[str]:
    """The keywords a statement of `kind` starts with, from its grammar rule."""
    terminals = {t.name: t for t in _lark().terminals}
    rules = [r for r in _lark().rules if r.origin.name == f"{kind.kind}_decl"]
    return list(dict.fromkeys(word for r in rules for word in literal_words(terminals[r.expansion[0].name])))


def unfinished(kind: type) -> list[str]:
    """The pieces a registered kind lacks, each said as what to add where."""
    rule, name = f"{kind.kind}_decl", kind.__name__
    language = f"grid_dsl.language.kinds.{kind.kind}"
    problems = []
    words = statement_words(kind)
    if not words:
        problems.append(f"grid_dsl/language/grammar.lark: no rule {rule}")
    if nodes.NODE_FOR_RULE.get(rule) is not kind or kind.__module__ != language:
        problems.append(f"{path_of(language)}: no class {name} here that is the node of {rule} (@axis_kind({kind.kind!r}))")
    if writing.statement_head.dispatch(kind) is writing.statement_head.dispatch(object):
        problems.append(f"{path_of(language)}: no statement_head registered for {name}")
    module = kind_module(kind)
    if not (callable(getattr(module, "strategy", None)) and callable(getattr(module, "can_declare", None))):
        problems.append(f"{path_of(module.__name__)}: no strategy(known, name, pieces) and can_declare(known)")
    synopsis = (module.__doc__ or "").strip().partition("\n")[0]
    named = [w for w in words or [kind.kind] if re.search(rf"\b{w}\b", synopsis)]
    if not synopsis.startswith(tuple(named)) or len(named) < len(words):
        problems.append(f"{path_of(module.__name__)}: its docstring does not open with the statement "
                        f"({' / '.join(words or [kind.kind])} ...)")
    return problems


def path_of(module: str) -> str:
    return module.replace(".", "/") + ".py"


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


def test_the_language_alone_knows_every_kind():
    """The parser and `multigrid fmt` work without axes/: importing the
    parser registers every kind's node and formatting, and imports no axis."""
    script = ("import sys\n"
              "import grid_dsl.language.parser\n"
              "from grid_dsl.language import nodes, writing\n"
              "print(sorted(c.kind for c in nodes.NODE_FOR_RULE.values() if issubclass(c, nodes.AxisDecl)\n"
              "             and writing.statement_head.dispatch(c) is not writing.statement_head.dispatch(object)))\n"
              "print(sorted(m for m in sys.modules if m.partition('.')[0] in ('axes', 'torch')))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [str(sorted(kinds())), "[]"]


@pytest.mark.parametrize("keyword", statement_keywords())
def test_after_a_syntax_error_the_parser_resumes_at_every_statement_keyword(keyword):
    with pytest.raises(SpecError) as caught:
        parse(f"main = chars\n{keyword} ?\n")
    assert [d.loc.line for d in caught.value.diagnostics] == [1, 2]


# ------------------------------------------------- the check can fail


def _remove_strategy(monkeypatch):
    monkeypatch.delattr(sys.modules["axes.lag"], "strategy")


def _remove_formatting(monkeypatch):
    bare = functools.singledispatch(writing.statement_head.dispatch(object))
    for cls, fn in writing.statement_head.registry.items():
        if cls not in (object, LagDecl):
            bare.register(cls, fn)
    monkeypatch.setattr(writing, "statement_head", bare)


def _remove_node(monkeypatch):
    monkeypatch.delitem(nodes.NODE_FOR_RULE, "lag_decl")


def _move_node(monkeypatch):
    monkeypatch.setattr(LagDecl, "__module__", "grid_dsl.language.nodes")


def _remove_docs(monkeypatch):
    monkeypatch.setattr(sys.modules["axes.lag"], "__doc__", "Shows another axis's labels later.")


@pytest.mark.parametrize("remove, problem", [
    (_remove_strategy, "axes/lag.py: no strategy(known, name, pieces) and can_declare(known)"),
    (_remove_formatting, "grid_dsl/language/kinds/lag.py: no statement_head registered for LagDecl"),
    (_remove_node, "grid_dsl/language/kinds/lag.py: no class LagDecl here that is the node of lag_decl"),
    (_move_node, "grid_dsl/language/kinds/lag.py: no class LagDecl here that is the node of lag_decl"),
    (_remove_docs, "axes/lag.py: its docstring does not open with the statement (lag ...)"),
])
def test_a_kind_missing_one_piece_fails_naming_it(monkeypatch, remove, problem):
    remove(monkeypatch)
    [found] = unfinished(LagDecl)
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
        "grid_dsl/language/grammar.lark", "grid_dsl/language/kinds/widget.py", "grid_dsl/language/kinds/widget.py",
        "widget_kind.py", "widget_kind.py"]
    with pytest.raises(AssertionError, match="no rule widget_decl"):
        assert_every_kind_is_complete()


def test_specs_are_drawn_from_the_registered_kinds_only(monkeypatch):
    monkeypatch.delitem(BUILDERS, LagDecl)
    drawn = []

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(spec_asts(max_axes=5, feeds=False))
    def collect(spec):
        drawn.extend(type(s) for s in spec.statements)

    collect()
    assert nodes.GroupDecl in drawn and LagDecl not in drawn
