"""Canonical formatting of .axes specs (`multigrid fmt`), keeping comments.

The layout depends only on the AST and the comments, never on the original
whitespace, so `format_spec(parse(format_spec(spec))) == format_spec(spec)`
and `parse(format_spec(spec)) == spec`. The rules:

* One statement per line. Blocks (lexicon, rules, relabel) put `{` on the
  header line, one entry per line indented 4 spaces, and `}` alone on its
  line; an empty block is written `{}`.
* Options `(key=value, flag)`, lists `[A, B]`, strings in double quotes with
  canonical escapes, regexes `/source/flags` exactly as written, chunk
  grammars `\"\"\"verbatim\"\"\"` (multi-line, keeping their own indentation).
  A label is bare when it is a name and not a keyword, else quoted.
  Conditions get the fewest parentheses that keep their and/or/not shape.
* Blank lines: none inside blocks. Between statements, one blank line when
  either statement spans several lines, when the statement has comments on
  the lines before it (a comment opens a section), or when the section
  changes: `main`/`include` first, then axes, then `feed`s. Consecutive
  one-line statements of a section stay together.
* Comments: a comment on its own line stays right before the statement or
  block entry that followed it, or before `}` when it ended a block, or at
  the end of the file (after a blank line) when it ended the file. A trailing
  comment stays at the end of the line of the statement or entry it
  followed, two spaces after the code. A comment written inside a construct
  that the layout puts on one line (e.g. between the options of a statement
  split over several lines) moves to its own line just before that
  construct; only the last of them can stay trailing.
"""

from __future__ import annotations

import bisect

import attrs
from lark.exceptions import LexError

from grid_dsl.language import nodes
from grid_dsl.language.parser import _lark, keywords, parse
from grid_dsl.language.writing import (  # noqa: F401  (label, long_string, number, quote, value: part of this module's API)
    block_entries,
    entry,
    label,
    long_string,
    number,
    options,
    quote,
    statement_head,
    value,
)

INDENT = "    "
KEYWORDS = keywords()  # a label that is one of these is quoted


# -------------------------------------------------------------- statements
#
# How each statement is written is registered with writing.statement_head
# (and block_entries / entry for a block): main, include and feed here, each
# kind of axis in its module of grid_dsl/language/kinds/.


@statement_head.register
def _main(node: nodes.MainDecl) -> str:
    return f"main {node.unit}{options(node.options)}"


@statement_head.register
def _include(node: nodes.Include) -> str:
    return f"include {quote(node.path.value)}"


@statement_head.register
def _feed(node: nodes.Feed) -> str:
    return f"feed {node.axis.name} as {node.mode}{options(node.options)}"


# `main`/`include` first, then axes, then `feed`s (a blank line between sections).
_SECTIONS = {nodes.MainDecl: "head", nodes.Include: "head", nodes.Feed: "feed"}


def _section(node) -> str:
    return _SECTIONS.get(type(node), "axes")


# ---------------------------------------------------------------- comments
#
# Each comment is attached to a slot of an "anchor": a statement (its header,
# for a block), a block entry, or a block's closing brace. Where a comment
# goes is decided from the code token right after it (own-line comments) or
# right before it (trailing comments).


@attrs.define
class _Slots:
    before: dict = attrs.Factory(dict)  # anchor -> own-line comments before it
    line: dict = attrs.Factory(dict)  # anchor -> comments inside or after it on its line
    block_end: dict = attrs.Factory(dict)  # statement index -> comments before its `}`
    end: list = attrs.Factory(list)  # comments after the last statement

    def add(self, table: dict, key, comment: nodes.Comment) -> None:
        table.setdefault(key, []).append(comment)


def _start(loc: nodes.Loc) -> tuple[int, int]:
    return (loc.line, loc.column)


def _end(loc: nodes.Loc) -> tuple[int, int]:
    return (loc.end_line, loc.end_column)


def _anchors(spec: nodes.Spec) -> list[tuple[tuple, tuple, tuple]]:
    """(key, start, end) of every anchor with a location, innermost last
    among those that contain one another."""
    out = []
    for i, stmt in enumerate(spec.statements):
        if stmt.loc is None:
            continue
        out.append((("stmt", i), _start(stmt.loc), _end(stmt.loc)))
        entries = block_entries(stmt)
        if entries is None:
            continue
        out.append((("close", i), (stmt.loc.end_line, stmt.loc.end_column - 1), _end(stmt.loc)))
        out.extend((("entry", i, j), _start(e.loc), _end(e.loc)) for j, e in enumerate(entries) if e.loc)
    return out


def _code_tokens(spec: nodes.Spec, anchors) -> list[tuple[tuple, tuple]]:
    """(start, end) of each code token, from the source when there is one."""
    if spec.source:
        try:
            return [((t.line, t.column), (t.end_line, t.end_column))
                    for t in _lark().lex(spec.source, dont_ignore=True) if t.type not in ("WS", "COMMENT")]
        except LexError:  # a source that is not this spec's: fall back on the nodes' locations
            pass
    edges = {(start, start) for _, start, _ in anchors} | {(end, end) for _, _, end in anchors}
    return sorted(edges)


def _place_comments(spec: nodes.Spec) -> _Slots:
    slots = _Slots()
    if not spec.comments:
        return slots
    anchors = _anchors(spec)
    tokens = _code_tokens(spec, anchors)
    stmt_starts = {start: key for key, start, _ in anchors if key[0] == "stmt"}
    entry_starts = {start: key for key, start, _ in anchors if key[0] == "entry"}
    closes = {start: key[1] for key, start, _ in anchors if key[0] == "close"}

    def innermost(token) -> tuple | None:
        found = None
        for key, start, end in anchors:
            if start <= token[0] and token[1] <= end:
                if found is None or key[0] != "stmt":
                    found = key
        return found

    starts = [start for start, _ in tokens]  # tokens do not overlap: sorted by start and by end
    for comment in spec.comments:
        at = (comment.line, comment.column)
        after = bisect.bisect_left(starts, at)  # index of the first token after the comment
        if comment.trailing and after > 0:
            key = innermost(tokens[after - 1])
            if key is not None:
                slots.add(slots.line, key, comment)
                continue
        following = tokens[after] if after < len(tokens) else None
        key = innermost(following) if following else None
        if following is None or key is None:
            slots.end.append(comment)
        elif following[0] in stmt_starts:
            slots.add(slots.before, stmt_starts[following[0]], comment)
        elif following[0] in entry_starts:
            slots.add(slots.before, entry_starts[following[0]], comment)
        elif following[0] in closes:
            slots.add(slots.block_end, closes[following[0]], comment)
        else:  # inside a construct that is written on one line
            slots.add(slots.line, key, comment)
    return slots


def _split_line_comments(found: list) -> tuple[list, nodes.Comment | None]:
    """(comments for their own lines, the trailing comment): only the last
    comment of a line can trail it, and only if it trailed in the source."""
    if found and found[-1].trailing:
        return found[:-1], found[-1]
    return found, None


# ---------------------------------------------------------------- emission


def _emit(out: list[str], indent: str, own: list, code: str, trailing) -> None:
    out.extend(indent + c.text for c in own)
    out.append(indent + code + (f"  {trailing.text}" if trailing else ""))


def _statement_lines(i: int, stmt, slots: _Slots) -> tuple[list[str], int]:
    """A statement's lines, comments included, and how many of them are
    comments on their own lines before its code."""
    own, trailing = _split_line_comments(slots.line.get(("stmt", i), []))
    own = slots.before.get(("stmt", i), []) + own
    out: list[str] = []
    entries = block_entries(stmt)
    head = statement_head(stmt)
    close_own, close_trailing = _split_line_comments(slots.line.get(("close", i), []))
    inner_end = slots.block_end.get(i, [])
    if entries is not None and not entries and not inner_end and not close_own and trailing is None:
        _emit(out, "", own, head + "}", close_trailing)  # an empty block on one line
        return out, len(own)
    _emit(out, "", own, head, trailing)
    for j, node in enumerate(entries or ()):
        entry_own, entry_trailing = _split_line_comments(slots.line.get(("entry", i, j), []))
        _emit(out, INDENT, slots.before.get(("entry", i, j), []) + entry_own, entry(node), entry_trailing)
    if entries is not None:
        out.extend(INDENT + c.text for c in inner_end)
        _emit(out, "", close_own, "}", close_trailing)
    return out, len(own)


def format_spec(spec: nodes.Spec) -> str:
    """The canonical text of a spec, with its comments (see the module
    docstring for the layout). Comments are placed by the nodes' locations,
    so pass a spec as parsed; a spec built in code has none to place."""
    slots = _place_comments(spec)
    out: list[str] = []
    previous = None  # (section, spans several lines) of the previous statement
    for i, stmt in enumerate(spec.statements):
        lines, leading_comments = _statement_lines(i, stmt, slots)
        several = "\n".join(lines[leading_comments:]).count("\n") > 0
        if previous is not None and (leading_comments or several or previous[1] or previous[0] != _section(stmt)):
            out.append("")
        out.extend(lines)
        previous = (_section(stmt), several)
    if slots.end:
        if out:
            out.append("")
        out.extend(c.text for c in slots.end)
    return "\n".join(out) + "\n" if out else ""


def format_text(text: str, file: str = "<spec>") -> str:
    """Parse spec text and format it (raises SpecError on a syntax error)."""
    return format_spec(parse(text, file))
