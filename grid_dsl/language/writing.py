"""How each node is written as spec text: the values, options and rule
conditions every statement may hold, and the three functions a statement
registers its own writing with (`statement_head`, and for a block
`block_entries` and `entry`). The formatter (formatter.py) lays the
statements out; each kind of axis registers its writing in its module of
grid_dsl/language/kinds/.
"""

from __future__ import annotations

import functools
import math
import re

from grid_dsl.language import nodes

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LONG_STRING_BODY = re.compile(r'(?:[^"\\]|\\.|"(?!""))*')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JOINERS = "\u200c\u200d"  # printable in practice: inside emoji and Indic words


# ------------------------------------------------------------------ values


def quote(text: str) -> str:
    """A "string" literal that the parser (ast.literal_eval) reads back as `text`."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch in _JOINERS:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def label(text: str) -> str:
    """A label bare when the grammar reads it as a name, else quoted."""
    from grid_dsl.language.parser import keywords  # the grammar loads when a label is first written

    return text if _IDENTIFIER.fullmatch(text) and text not in keywords() else quote(text)


def number(value: int | float) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        raise ValueError("NaN cannot be written in a spec")
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"  # what the parser reads as infinity
    return repr(value)


def long_string(text: str) -> str:
    """A chunk grammar verbatim in triple quotes, or as a "string" when it
    cannot be written that way (a stray backslash, or a final quote)."""
    if _LONG_STRING_BODY.fullmatch(text) and not text.endswith('"'):
        return f'"""{text}"""'
    return quote(text)


@functools.singledispatch
def value(node) -> str:
    """An option value, rule operand or pattern as written."""
    raise TypeError(f"not a value node: {node!r}")


value.register(nodes.Str, lambda node: quote(node.value))
value.register(nodes.Num, lambda node: number(node.value))
value.register(nodes.Regex, lambda node: f"/{node.source}/{node.flags}")
value.register(nodes.Ident, lambda node: node.name)
value.register(nodes.ListValue, lambda node: "[" + ", ".join(value(item) for item in node.items) + "]")
value.register(nodes.Label, lambda node: label(node.text))


def options(node: nodes.Options | None) -> str:
    """` (key=value, flag)` with its leading space, or "" when absent."""
    if node is None:
        return ""
    items = (o.key if o.value is None else f"{o.key}={value(o.value)}" for o in node.items)
    return " (" + ", ".join(items) + ")"


def within(ref: nodes.Ref | None) -> str:
    """` within GROUP` with its leading space, or "" when absent."""
    return "" if ref is None else f" within {ref.name}"


# -------------------------------------------------------------- conditions


@functools.singledispatch
def condition(node, inside: str = "") -> str:
    """A rule condition; `inside` is the operator around it ("or", "and",
    "not" or "" at the top), which decides whether it needs parentheses."""
    raise TypeError(f"not a condition node: {node!r}")


@condition.register
def _test(node: nodes.Test, inside: str = "") -> str:
    return f"{_subject(node.subject)} {node.op} {value(node.operand)}"


@condition.register
def _not(node: nodes.Not, inside: str = "") -> str:
    return "not " + condition(node.condition, "not")


@condition.register(nodes.AllOf)
@condition.register(nodes.AnyOf)
def _junction(node, inside: str = "") -> str:
    word = "and" if type(node) is nodes.AllOf else "or"
    if len(node.conditions) < 2:
        raise ValueError(f"an `{word}` needs at least two conditions: {node!r}")
    text = f" {word} ".join(condition(c, word) for c in node.conditions)
    # `and` binds tighter than `or`, `not` tighter than both; a nested
    # node of the same kind needs parentheses to stay nested.
    needs = inside == "not" or inside == "and" or (inside == "or" and word == "or")
    return f"({text})" if needs else text


def _offset(node: nodes.Offset | None) -> str:
    return "" if node is None else f"[{node.value}]"


@functools.singledispatch
def _subject(node) -> str:
    raise TypeError(f"not a condition subject: {node!r}")


_subject.register(nodes.CharSubject, lambda node: "char" + _offset(node.offset))
_subject.register(nodes.WindowSubject, lambda node: f"window({node.size})")
_subject.register(nodes.ViewSubject, lambda node: f"{node.view}({node.group.name})")
_subject.register(nodes.AxisSubject, lambda node: node.axis.name + _offset(node.offset))


# -------------------------------------------------------------- statements
#
# Each statement node registers how it is written: `statement_head` gives its
# text (for a block statement, its header up to `{`), `block_entries` the
# entries of a block, `entry` the text of one entry.


@functools.singledispatch
def statement_head(node) -> str:
    """A statement's text, or for a block statement its header up to `{`."""
    raise TypeError(f"not a statement node: {node!r}")


@functools.singledispatch
def block_entries(node) -> tuple | None:
    """The entries of a block statement, in order (None for other statements)."""
    return None


@functools.singledispatch
def entry(node) -> str:
    """One entry of a block, on its own line."""
    raise TypeError(f"not a block entry: {node!r}")


@entry.register
def _default(node: nodes.Default) -> str:
    return f"default -> {label(node.label.text)}"
