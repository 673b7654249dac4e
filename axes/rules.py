"""rules NAME { when CONDITION -> LABEL ... [default -> LABEL] }: decision lists.

    rules shape {
        when char is upper and not char[-1] is letter -> CAP_START
        when char in "aeiou" or char[-2] == "q" -> VOWELISH
        when window(4) ~ /the $/ -> AFTER_THE
        when upos == NOUN and position(words) >= 3 -> LATE_NOUN
        when upos[-1] in [DET, ADJ] -> AFTER_DET
        default -> OTHER
    }

At every position t the rules are tried in order; the first whose condition
holds gives t its label. When none holds, t gets the default label, or no
label (id 0) when there is no default. The label `_` (as a rule's or the
default's label) means "no label" too, so `when char is space -> _` stops the
later rules there. The vocabulary is the rule labels in order of first
appearance, then the default label.

Conditions are tests joined with `and`, `or`, `not` and parentheses (`not`
binds tightest, then `and`, then `or`). The tests:

    char OP x, char[k] OP x
        The character at t+k (k < 0 looks back, k > 0 ahead; `char` is
        char[0]). Where t+k is outside the text there is no character and
        every test on it is false, `!=` included (`not char[-1] is letter`
        holds at the start of the text). OP is one of
          == "x", != "x"      one character
          in "abc", in ["a", "b"]   any of a set of characters
          is CLASS            a character class:
            letter     Unicode letters, general category L*
            upper      category Lu (uppercase letters; titlecase Lt is neither upper nor lower)
            lower      category Ll
            digit      category Nd (decimal digits of every script)
            alnum      letter or digit
            word       \\w of the `regex` module, as words are defined everywhere:
                       Alphabetic (letters, letter numbers like Ⅻ), marks, Nd digits,
                       connector punctuation (_) and joiners; not ½ (No)
            space      Unicode White_Space: \\s of the `regex` module (tab, newlines,
                       space, no-break and other spaces)
            newline    a mandatory line break: \\n \\r \\v \\f U+0085 U+2028 U+2029
            punct      punctuation, category P*
            symbol     symbols, category S* (math, currency, modifier, other)
            vowel      one of aeiouAEIOU
            consonant  an ASCII letter that is not a vowel (y is a consonant)
          Categories are those of the `regex` module's Unicode database.

    window(n) ~ /re/
        The regex finds a match anywhere in the window text[max(0, t-n+1) : t+1],
        the last n characters up to and including t (fewer at the start of the
        text). The window is searched as a string of its own, so ^, $, \\A, \\Z
        and \\b see its edges as the edges of the text. 1 <= n <= 64.

    AXIS OP label, AXIS[k] OP label
        The label of another axis at t+k (false outside the text). OP is ==,
        != or in [A, B, ...]; labels are written bare or quoted ("PRP$"), and
        `_` is the "no label" of positions outside the axis's spans.

    position(G) OP i, index(G) OP i, depth(G) OP i
        The value the view of grouping G would show at t (see views.py),
        uncapped; OP is one of == != < <= > >=. Outside every span of G there
        is no value and the comparison is false.

Causality: a rule axis is causal when every condition only looks back. Each
test declares its look-ahead and the axis combines them (Lookahead.combine):
  - char[k] looks k characters ahead when k > 0, and is causal otherwise;
  - a window never looks ahead;
  - AXIS[k] looks ahead as AXIS does, moved by k: reading k characters back
    covers a look-ahead of up to k characters (as `lag AXIS by k chars`
    does); reading k ahead adds k characters to it, and makes a look-ahead
    "to the end of the span" unbounded (the label ahead may be a later span's);
  - position/index/depth(G) is causal when G's spans and their starts are
    known at their first character (words, tokens, lines, class runs), and
    otherwise looks ahead as G does, like the view axes.
`not` does not change what a condition reads, so it keeps its look-ahead.

Evaluation is vectorised: each test gives a boolean mask over the text
(character classes are decided once per distinct character, window regexes
once per distinct window, with the `regex` module's timeout), masks combine
with numpy logic, and the decision list is applied rule by rule, never
position by position. `RulesAxis.fired` tells which rule decided each
position, for measuring the rules against the model they were distilled from.
"""

from __future__ import annotations

from typing import Mapping

import attrs
import numpy as np
import regex

from grid_dsl.language import nodes
from grid_dsl.language.diagnostics import did_you_mean
from grid_dsl.language.kinds.rules import Rule, RulesDecl
from grid_dsl.language.kinds.view import ViewDecl
from grid_dsl.language.writing import value as spec_value

from axes import views
from axes._conditions import (
    CHAR_CLASSES,
    COMPARISONS,
    MAX_WINDOW,
    UNCAPPED,
    AxisTest,
    CharTest,
    Junction,
    Negation,
    NumberTest,
    ViewTest,
    WindowTest,
    combined,
    conditions_strategy,
    label_numbers,
)
from axes.base import CAUSAL, MAX_SHIFT, NONE_ID, NONE_LABEL, Axis, Document, Lookahead, Stream, builds

# ------------------------------------------------------------------ axis


@attrs.frozen(kw_only=True, eq=False)
class RulesAxis(Axis):
    kind = "rules"
    conditions: tuple  # compiled, one per rule
    targets: np.ndarray  # rule i -> label id; the last entry is the default's

    def fired(self, doc: Document, inputs: Mapping[str, Stream]) -> np.ndarray:
        """For each position, the index of the first rule whose condition
        holds there, or len(conditions) where none does (the default)."""
        first = np.full(len(doc), len(self.conditions), dtype=np.int32)
        for i in reversed(range(len(self.conditions))):  # earlier rules overwrite later ones
            first[self.conditions[i].mask(doc, inputs)] = i
        return first

    def compute(self, doc, inputs) -> Stream:
        return Stream(self.targets[self.fired(doc, inputs)])


@builds(RulesDecl)
def build_rules(node: RulesDecl, ctx) -> RulesAxis | None:
    options = ctx.options(node.options, {})
    compiler = _Compiler(ctx, node.name)
    conditions = [compiler.condition(rule.condition) for rule in node.rules]
    if options is None or any(c is None for c in conditions):
        return None
    written = [rule.label.text for rule in node.rules] + [node.default.label.text if node.default else NONE_LABEL]
    labels = tuple(dict.fromkeys(label for label in written if label != NONE_LABEL))
    ids = {NONE_LABEL: NONE_ID} | {label: i + 1 for i, label in enumerate(labels)}
    return RulesAxis(
        name=node.name,
        labels=labels,
        lookahead=combined(conditions),
        inputs=tuple(dict.fromkeys(ref.name for ref in nodes.refs(node.rules))),
        conditions=tuple(conditions),
        targets=np.array([ids[label] for label in written], dtype=np.int32),
    )


def _subject_text(subject) -> str:
    offset = f"[{subject.offset.value:+d}]" if getattr(subject, "offset", None) else ""
    if isinstance(subject, nodes.CharSubject):
        return "char" + offset
    if isinstance(subject, nodes.WindowSubject):
        return f"window({subject.size})"
    if isinstance(subject, nodes.ViewSubject):
        return f"{subject.view}({subject.group.name})"
    return subject.axis.name + offset


def _operand_text(operand) -> str:
    return "a [list]" if isinstance(operand, nodes.ListValue) else spec_value(operand)


class _Compiler:
    """Turns condition nodes into compiled conditions, reporting every error."""

    def __init__(self, ctx, axis_name: str):
        self.ctx = ctx
        self.axis_name = axis_name

    def condition(self, node):
        if isinstance(node, nodes.Test):
            return self.test(node)
        if isinstance(node, nodes.Not):
            part = self.condition(node.condition)
            return None if part is None else Negation(part)
        parts = [self.condition(c) for c in node.conditions]  # all of them, for all their errors
        return None if None in parts else Junction(tuple(parts), any=isinstance(node, nodes.AnyOf))

    def wrong_operator(self, test: nodes.Test, allowed: str, hint: str) -> None:
        self.ctx.error(test.loc, f"`{_subject_text(test.subject)}` takes {allowed}, not `{test.op}`", hint)

    def test(self, test: nodes.Test):
        subject = test.subject
        offset = getattr(subject, "offset", None)
        if offset is not None and abs(offset.value) > MAX_SHIFT:
            self.ctx.error(offset.loc, f"an offset of {offset.value} is beyond the {MAX_SHIFT:,} characters a condition may read",
                           f"read -{MAX_SHIFT:,} to {MAX_SHIFT:,} characters away")
            return None
        if isinstance(subject, nodes.CharSubject):
            return self.char_test(test, subject.offset.value if subject.offset else 0)
        if isinstance(subject, nodes.WindowSubject):
            return self.window_test(test, subject.size)
        if isinstance(subject, nodes.ViewSubject):
            return self.view_test(test, subject)
        return self.axis_test(test, subject)

    # ---- char
    def char_test(self, test: nodes.Test, offset: int) -> CharTest | None:
        op, operand = test.op, test.operand
        if op == "is":
            classes = ", ".join(CHAR_CLASSES)
            if not isinstance(operand, nodes.Ident):
                self.ctx.error(operand.loc, f"`is` takes a character class, not {_operand_text(operand)}", f"classes: {classes}")
            elif operand.name not in CHAR_CLASSES:
                self.ctx.error(operand.loc, f"unknown character class {operand.name!r}",
                               did_you_mean(operand.name, CHAR_CLASSES) or f"classes: {classes}")
            else:
                return CharTest(offset, char_class=operand.name)
            return None
        if op in ("==", "!="):
            chars = self.characters(operand, single=True)
            return None if chars is None else CharTest(offset, chars, negated=op == "!=")
        if op == "in":
            chars = self.characters(operand, single=False)
            return None if chars is None else CharTest(offset, chars)
        hint = (f"to match a pattern at one character, write `window(1) ~ {_operand_text(operand)}`" if op == "~"
                else 'characters have no order: test a class (`is digit`) or a set (`in "0123"`)')
        self.wrong_operator(test, "== \"x\", != \"x\", in \"xyz\" or is CLASS", hint)
        return None

    def characters(self, operand, single: bool) -> tuple[int, ...] | None:
        """The code points an operand of ==/!= (one character) or `in` names."""
        if single:
            if isinstance(operand, nodes.Str) and len(operand.value) == 1:
                return (ord(operand.value),)
            if isinstance(operand, nodes.Str):
                size = len(operand.value)
                sequence = f"`window({size}) ~ /{regex.escape(operand.value)}$/`" if 1 < size <= MAX_WINDOW else "window(n) ~ /…$/"
                self.ctx.error(operand.loc, f"a character is compared with one character, not {size}",
                               f"for any of them write `in {_operand_text(operand)}`; for the sequence, {sequence}")
            else:
                self.ctx.error(operand.loc, f"a character is compared with a quoted character, not {_operand_text(operand)}",
                               'write e.g. char == "a"')
            return None
        if isinstance(operand, nodes.Str):
            items = [nodes.Str(c, loc=operand.loc) for c in operand.value]
        elif isinstance(operand, nodes.ListValue):
            items = list(operand.items)
        else:
            self.ctx.error(operand.loc, f"`in` takes characters, not {_operand_text(operand)}", 'write in "aeiou" or in ["a", "e"]')
            return None
        bad = [item for item in items if not (isinstance(item, nodes.Str) and len(item.value) == 1)]
        for item in bad:
            self.ctx.error(item.loc, f"expected one quoted character, not {_operand_text(item)}", 'write in ["a", "e"]')
        if not items:
            self.ctx.error(operand.loc, "an empty set of characters never matches", "list at least one character")
        return None if bad or not items else tuple(sorted({ord(item.value) for item in items}))

    # ---- window
    def window_test(self, test: nodes.Test, size: int) -> WindowTest | None:
        ok = True
        if not 1 <= size <= MAX_WINDOW:
            self.ctx.error(test.subject.loc, f"a window is 1 to {MAX_WINDOW} characters, not {size}",
                           "window(n) is the last n characters up to and including the current one")
            ok = False
        if test.op != "~":
            example = f"/{regex.escape(test.operand.value)}$/" if isinstance(test.operand, nodes.Str) else "/…/"
            self.wrong_operator(test, "`~ /regex/`", f"write `window({size}) ~ {example}`")
            return None
        if not isinstance(test.operand, nodes.Regex):
            self.ctx.error(test.operand.loc, f"`~` takes a /regex/, not {_operand_text(test.operand)}", "write e.g. window(4) ~ /the $/")
            return None
        pattern = self.ctx.regex(test.operand)
        if pattern is None or not ok:
            return None
        return WindowTest(size, pattern, test.operand.loc, self.axis_name)

    # ---- another axis's labels
    def axis_test(self, test: nodes.Test, subject: nodes.AxisSubject) -> AxisTest | None:
        axis = self.ctx.axis(subject.axis)
        offset = subject.offset.value if subject.offset else 0
        op, operand = test.op, test.operand
        numbers = label_numbers(axis.labels)
        if numbers is not None and op in COMPARISONS and isinstance(operand, nodes.Num):
            if not isinstance(operand.value, int):
                self.ctx.error(operand.loc, f"`{_subject_text(subject)}` is compared with a whole number, not {_operand_text(operand)}")
                return None
            return NumberTest(axis.name, offset, numbers, op, operand.value, _shifted_lookahead(axis, offset))
        if op in ("==", "!="):
            items = [operand]
        elif op == "in" and isinstance(operand, nodes.ListValue):
            items = list(operand.items)
            if not items:
                self.ctx.error(operand.loc, "an empty list of labels never matches", "list at least one label")
                return None
        elif op == "in":
            self.ctx.error(operand.loc, f"`in` takes a [list] of labels of '{axis.name}', not {_operand_text(operand)}",
                           f"write {axis.name} in [{_operand_text(operand)}]")
            return None
        elif numbers is not None:
            self.ctx.error(operand.loc, f"`{_subject_text(subject)}` is compared with a whole number, not {_operand_text(operand)}",
                           f"its labels are numbers: write e.g. `{_subject_text(subject)} {op} 2`")
            return None
        else:
            self.wrong_operator(test, "==, != or in [labels]",
                                f"labels have no order or pattern: list the ones you mean, e.g. "
                                f"{axis.name} in [{', '.join(axis.labels[:2])}]")
            return None
        ids = []
        for item in items:
            if isinstance(item, nodes.Ident) and item.name == NONE_LABEL:
                ids.append(NONE_ID)
            elif isinstance(item, (nodes.Ident, nodes.Str)):
                ids.append(self.ctx.label(axis, item))
            else:
                self.ctx.error(item.loc, f"expected a label of '{axis.name}', not {_operand_text(item)}",
                               f"its labels are: {', '.join(axis.labels[:12])}, and _ for no label")
                ids.append(None)
        if None in ids:
            return None
        return AxisTest(axis.name, offset, tuple(sorted(set(ids))), op == "!=", _shifted_lookahead(axis, offset))

    # ---- position / index / depth of a grouping
    def view_test(self, test: nodes.Test, subject: nodes.ViewSubject) -> ViewTest | None:
        operand = test.operand
        if test.op not in COMPARISONS:
            self.wrong_operator(test, "== != < <= > >= and a whole number", f"write e.g. `{_subject_text(subject)} >= 2`")
            return None
        if not (isinstance(operand, nodes.Num) and isinstance(operand.value, int)):
            self.ctx.error(operand.loc, f"`{_subject_text(subject)}` is compared with a whole number, not {_operand_text(operand)}",
                           f"write e.g. `{_subject_text(subject)} {test.op} 2`")
            return None
        # The view axis itself: its checks (the group must have spans), its
        # look-ahead and its computation, with values left uncapped.
        decl = ViewDecl(subject.view, f"{self.axis_name}.{subject.view}", subject.group, loc=subject.loc)
        view = views.build_view(decl, self.ctx)
        if view is None:
            return None
        return ViewTest(attrs.evolve(view, labels=(), maximum=UNCAPPED), test.op, operand.value)


def _shifted_lookahead(axis: Axis, offset: int) -> Lookahead:
    """The look-ahead of axis[offset]: reading k characters back covers up to
    k characters of the axis's own look-ahead; reading ahead adds to it."""
    la = axis.lookahead
    if offset < 0:
        if la.covered_by_chars(-offset):
            return CAUSAL
        return Lookahead("chars", la.n + offset, note=la.note) if la.kind == "chars" else la
    if offset == 0 or la.kind == "unbounded":
        return la
    note = f"{axis.name}[+{offset}] reads a label {offset} character(s) ahead"
    if la.kind in ("none", "chars"):
        return Lookahead("chars", la.n + offset, note="; ".join(filter(None, (note, la.note))))
    # A span's end seen from a later position may belong to a later span.
    return Lookahead("unbounded", note="; ".join(filter(None, (note, la.note))))


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return True


def strategy(known, name: str, pieces):
    """1-3 rules over random conditions (axes/_conditions.py), maybe a default; `_` is no label."""
    from hypothesis import strategies as st

    label = pieces.label | st.just("_")
    rules = st.lists(st.builds(Rule, conditions_strategy(known, pieces), label.map(nodes.Label)), min_size=1, max_size=3)
    default = st.none() | label.map(lambda x: nodes.Default(nodes.Label(x)))
    return st.builds(RulesDecl, st.just(name), st.none(), rules.map(tuple), default)
