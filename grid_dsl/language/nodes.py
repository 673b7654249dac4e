"""The AST of the .axes language: frozen attrs classes, one per grammar rule.

Every node carries a `loc` (where it was written) that takes no part in
equality, so `parse(format(spec)) == spec` compares meaning, not layout.
A node is registered under the grammar rule that produces it; the parser
builds it from the rule's children in order (see parser.py). The node of a
kind of axis is registered with `@axis_kind(kind)`, under the rule
`<kind>_decl` (docs/adding-a-kind.md).
"""

from __future__ import annotations

from typing import ClassVar, Union

import attrs


@attrs.frozen
class Loc:
    """A place in a spec file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NODE_FOR_RULE: dict[str, type] = {}


def node(rule: str, variadic: bool = False):
    """Register an attrs class as the node built from grammar rule `rule`.

    A variadic node receives all the rule's children as one tuple.
    """

    def register(cls):
        cls = attrs.frozen(cls)
        cls.__variadic__ = variadic
        NODE_FOR_RULE[rule] = cls
        return cls

    return register


def _loc():
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)


# ------------------------------------------------------------------ values


@node("ref")
class Ref:
    """A reference to another axis by name."""

    name: str
    loc: Loc | None = _loc()


@node("label")
class Label:
    """A label of an axis's vocabulary (written bare or quoted)."""

    text: str
    loc: Loc | None = _loc()


@node("ident")
class Ident:
    name: str
    loc: Loc | None = _loc()


@node("string")
class Str:
    value: str
    loc: Loc | None = _loc()


@node("long_string")
class LongStr:
    value: str
    loc: Loc | None = _loc()


@node("number")
class Num:
    value: int | float
    loc: Loc | None = _loc()


@node("regex")
class Regex:
    """A /pattern/flags literal: `source` is the text between the slashes,
    exactly as written (so an error at position p of the pattern is at
    loc.column + 1 + p); `\\/` stands for a slash."""

    source: str
    flags: str = ""
    loc: Loc | None = _loc()


@node("value_list", variadic=True)
class ListValue:
    items: tuple
    loc: Loc | None = _loc()


Value = Union[Str, Num, Regex, Ident, ListValue]


@node("option")
class Option:
    key: str
    value: Value | None = None
    loc: Loc | None = _loc()


@node("options")
class Options:
    items: tuple[Option, ...] = ()
    loc: Loc | None = _loc()


# --------------------------------------------------------------- structure


@node("main_decl")
class MainDecl:
    unit: str
    options: Options | None = None
    loc: Loc | None = _loc()


@node("include_decl")
class Include:
    path: Str
    loc: Loc | None = _loc()


@node("feed_decl")
class Feed:
    axis: Ref
    mode: str
    options: Options | None = None
    loc: Loc | None = _loc()


# -------------------------------------------------------------- axis kinds


class AxisDecl:
    """Marker base of statements that declare an axis (they all have `name`)."""

    name: str
    kind: ClassVar[str]


def axis_kind(kind: str):
    """Register an AxisDecl subclass as the node of kind `kind`, built from
    the grammar rule `<kind>_decl`."""

    def register(cls):
        cls.kind = kind
        return node(f"{kind}_decl")(cls)

    return register


@node("segment")
class Segment:
    """A built-in segmentation: words, tokens, sentences, paragraphs, lines,
    or regex matches / regex-delimited spans."""

    kind: str
    pattern: Regex | None = None
    loc: Loc | None = _loc()


@axis_kind("group")
class GroupDecl(AxisDecl):
    name: str
    segment: Segment
    parent: Ref | None = None
    options: Options | None = None
    loc: Loc | None = _loc()


@axis_kind("chunks")
class ChunksDecl(AxisDecl):
    """A chunk cascade in nltk.RegexpParser grammar over another axis's
    labels, run within each span of a parent grouping (usually sentences)."""

    name: str
    over: Ref
    parent: Ref | None
    options: Options | None
    grammar: LongStr
    loc: Loc | None = _loc()


@node("lexicon_entry")
class LexiconEntry:
    patterns: tuple[Str | Regex, ...]
    label: Label
    loc: Loc | None = _loc()


@axis_kind("lexicon")
class LexiconDecl(AxisDecl):
    name: str
    options: Options | None
    entries: tuple[LexiconEntry, ...]
    loc: Loc | None = _loc()


@axis_kind("pos")
class PosDecl(AxisDecl):
    name: str
    options: Options | None = None
    loc: Loc | None = _loc()


@axis_kind("tagger")
class TaggerDecl(AxisDecl):
    name: str
    plugin: str
    options: Options | None = None
    loc: Loc | None = _loc()


# Rule conditions ----------------------------------------------------------


@node("offset")
class Offset:
    value: int
    loc: Loc | None = _loc()


@node("char_subject")
class CharSubject:
    offset: Offset | None = None
    loc: Loc | None = _loc()


@node("window_subject")
class WindowSubject:
    size: int
    loc: Loc | None = _loc()


@node("view_subject")
class ViewSubject:
    view: str
    group: Ref
    loc: Loc | None = _loc()


@node("axis_subject")
class AxisSubject:
    axis: Ref
    offset: Offset | None = None
    loc: Loc | None = _loc()


@node("test")
class Test:
    subject: CharSubject | WindowSubject | ViewSubject | AxisSubject
    op: str
    operand: Value
    loc: Loc | None = _loc()


@node("negation")
class Not:
    condition: object
    loc: Loc | None = _loc()


@node("all_of", variadic=True)
class AllOf:
    conditions: tuple
    loc: Loc | None = _loc()


@node("any_of", variadic=True)
class AnyOf:
    conditions: tuple
    loc: Loc | None = _loc()


Condition = Union[Test, Not, AllOf, AnyOf]


@node("rule")
class Rule:
    condition: Condition
    label: Label
    loc: Loc | None = _loc()


@node("default_label")
class Default:
    label: Label
    loc: Loc | None = _loc()


@axis_kind("rules")
class RulesDecl(AxisDecl):
    name: str
    options: Options | None
    rules: tuple[Rule, ...]
    default: Default | None = None
    loc: Loc | None = _loc()


@axis_kind("annotation")
class AnnotationDecl(AxisDecl):
    name: str
    options: Options | None = None
    loc: Loc | None = _loc()


@node("relabel_entry")
class RelabelEntry:
    sources: tuple[Label, ...]
    target: Label
    loc: Loc | None = _loc()


@axis_kind("relabel")
class RelabelDecl(AxisDecl):
    name: str
    source: Ref
    entries: tuple[RelabelEntry, ...]
    default: Default | None = None
    loc: Loc | None = _loc()


@axis_kind("product")
class ProductDecl(AxisDecl):
    name: str
    left: Ref
    right: Ref
    loc: Loc | None = _loc()


@axis_kind("lag")
class LagDecl(AxisDecl):
    """`by N chars` (amount is an int; negative: shown N chars early) or `after GROUP` (amount is a Ref)."""

    name: str
    source: Ref
    amount: int | Ref
    loc: Loc | None = _loc()


@axis_kind("view")
class ViewDecl(AxisDecl):
    """position / index / depth of the spans of a grouping."""

    view: str
    name: str
    group: Ref
    options: Options | None = None
    loc: Loc | None = _loc()


@axis_kind("state")
class StateDecl(AxisDecl):
    """latest / first / count / since over another axis, reset at each span of `within`."""

    operator: str
    name: str
    source: Ref
    within: Ref | None = None
    options: Options | None = None
    loc: Loc | None = _loc()


@node("delimiter")
class Delimiter:
    """An opening pattern and its closing one; with no closing, one pattern that toggles."""

    opening: Str | Regex
    closing: Str | Regex | None = None
    loc: Loc | None = _loc()


@axis_kind("nesting")
class NestingDecl(AxisDecl):
    """Depth inside delimiters read left to right (quotes, brackets, parentheses)."""

    name: str
    options: Options | None
    delimiters: tuple[Delimiter, ...]
    loc: Loc | None = _loc()


# ------------------------------------------------------------------- spec


@attrs.frozen
class Comment:
    text: str
    line: int
    column: int
    trailing: bool  # written after code on the same line


@node("statement_list", variadic=True)
class Spec:
    """A parsed file: its statements in order. Comments are kept for the
    formatter but are not part of the spec's meaning."""

    statements: tuple
    comments: tuple[Comment, ...] = attrs.field(default=(), eq=False, repr=False)
    source: str = attrs.field(default="", eq=False, repr=False)
    file: str = attrs.field(default="<spec>", eq=False, repr=False)
    loc: Loc | None = _loc()

    @property
    def axis_decls(self) -> tuple:
        return tuple(s for s in self.statements if isinstance(s, AxisDecl))


def option_dict(options: Options | None) -> dict[str, Option]:
    return {} if options is None else {o.key: o for o in options.items}


def walk(value):
    """Yield every node inside `value` (depth first, `value` included)."""
    if isinstance(value, tuple):
        for item in value:
            yield from walk(item)
    elif attrs.has(type(value)):
        yield value
        for field in attrs.fields(type(value)):
            if field.name != "loc":
                yield from walk(getattr(value, field.name))


def refs(value) -> list[Ref]:
    """All references to other axes inside a node."""
    return [n for n in walk(value) if isinstance(n, Ref)]
