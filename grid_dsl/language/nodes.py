"""The AST of the .axes language: frozen attrs classes, one per grammar rule.

Every node carries a `loc` (where it was written) that takes no part in
equality, so `parse(format(spec)) == spec` compares meaning, not layout.
A node is registered under the grammar rule that produces it; the parser
builds it from the rule's children in order (see parser.py).

This module holds the nodes every statement may use (values, options, rule
conditions, `default ->`), the statements that are no axis (main, include,
feed), and the registry. Each kind of axis has its own module in
grid_dsl/language/kinds/ with its node, registered with `@axis_kind(kind)`
under the rule `<kind>_decl`, and its formatting (docs/adding-a-kind.md).
Their nodes can be named from here too (`nodes.LexiconDecl`).
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


def loc_field():
    """The `loc` every node ends with: where it was written, no part of equality."""
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)


# ------------------------------------------------------------------ values


@node("ref")
class Ref:
    """A reference to another axis by name."""

    name: str
    loc: Loc | None = loc_field()


@node("label")
class Label:
    """A label of an axis's vocabulary (written bare or quoted)."""

    text: str
    loc: Loc | None = loc_field()


@node("ident")
class Ident:
    name: str
    loc: Loc | None = loc_field()


@node("string")
class Str:
    value: str
    loc: Loc | None = loc_field()


@node("long_string")
class LongStr:
    value: str
    loc: Loc | None = loc_field()


@node("number")
class Num:
    value: int | float
    loc: Loc | None = loc_field()


@node("regex")
class Regex:
    """A /pattern/flags literal: `source` is the text between the slashes,
    exactly as written (so an error at position p of the pattern is at
    loc.column + 1 + p); `\\/` stands for a slash."""

    source: str
    flags: str = ""
    loc: Loc | None = loc_field()


@node("value_list", variadic=True)
class ListValue:
    items: tuple
    loc: Loc | None = loc_field()


Value = Union[Str, Num, Regex, Ident, ListValue]


@node("option")
class Option:
    key: str
    value: Value | None = None
    loc: Loc | None = loc_field()


@node("options")
class Options:
    items: tuple[Option, ...] = ()
    loc: Loc | None = loc_field()


# --------------------------------------------------------------- structure


@node("main_decl")
class MainDecl:
    unit: str
    options: Options | None = None
    loc: Loc | None = loc_field()


@node("include_decl")
class Include:
    path: Str
    loc: Loc | None = loc_field()


@node("feed_decl")
class Feed:
    axis: Ref
    mode: str
    options: Options | None = None
    loc: Loc | None = loc_field()


# -------------------------------------------------------------- axis kinds
#
# The node of each kind is in its module of grid_dsl/language/kinds/.


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


# ---------------------------------------------------------- rule conditions


@node("offset")
class Offset:
    value: int
    loc: Loc | None = loc_field()


@node("char_subject")
class CharSubject:
    offset: Offset | None = None
    loc: Loc | None = loc_field()


@node("window_subject")
class WindowSubject:
    size: int
    loc: Loc | None = loc_field()


@node("view_subject")
class ViewSubject:
    view: str
    group: Ref
    loc: Loc | None = loc_field()


@node("axis_subject")
class AxisSubject:
    axis: Ref
    offset: Offset | None = None
    loc: Loc | None = loc_field()


@node("test")
class Test:
    subject: CharSubject | WindowSubject | ViewSubject | AxisSubject
    op: str
    operand: Value
    loc: Loc | None = loc_field()


@node("negation")
class Not:
    condition: object
    loc: Loc | None = loc_field()


@node("all_of", variadic=True)
class AllOf:
    conditions: tuple
    loc: Loc | None = loc_field()


@node("any_of", variadic=True)
class AnyOf:
    conditions: tuple
    loc: Loc | None = loc_field()


Condition = Union[Test, Not, AllOf, AnyOf]


@node("default_label")
class Default:
    """`default -> LABEL`, the last entry of a rules or relabel block."""

    label: Label
    loc: Loc | None = loc_field()


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
    loc: Loc | None = loc_field()

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


def __getattr__(name: str) -> type:
    """`nodes.LexiconDecl` and the other nodes of kinds, which live in their
    kind's module (grid_dsl/language/kinds/, all imported with the package)."""
    for cls in NODE_FOR_RULE.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
