"""The conditions of rule axes: each test of a `when` clause as a small
frozen object that declares its look-ahead and evaluates to a boolean mask
over a document, vectorised (see axes/rules.py for the language)."""

from __future__ import annotations

import functools
import operator
import attrs
import numpy as np
import regex
from numpy.lib.stride_tricks import sliding_window_view

from grid_dsl.language import nodes

from axes import views
from axes._regex import regex_timeout, timed
from axes.base import CAUSAL, NONE_ID, WORD_CHAR, Document, Lookahead

CHAR_CLASSES: dict[str, regex.Pattern] = {
    "letter": regex.compile(r"\p{L}"),
    "upper": regex.compile(r"\p{Lu}"),
    "lower": regex.compile(r"\p{Ll}"),
    "digit": regex.compile(r"\p{Nd}"),
    "alnum": regex.compile(r"[\p{L}\p{Nd}]"),
    "word": WORD_CHAR,
    "space": regex.compile(r"\s"),
    "newline": regex.compile(r"[\n\r\x0b\x0c\x85\u2028\u2029]"),
    "punct": regex.compile(r"\p{P}"),
    "symbol": regex.compile(r"\p{S}"),
    "vowel": regex.compile(r"[aeiouAEIOU]"),
    "consonant": regex.compile(r"[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]"),
}
MAX_WINDOW = 64
COMPARISONS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
UNCAPPED = np.iinfo(np.int32).max - 1  # a view's `max` for raw integer values

# -------------------------------------------------------- shared analyses


def distinct_codes(doc: Document) -> tuple[np.ndarray, np.ndarray]:
    """The document's distinct code points and, per position, the index of its own."""
    return doc.memo(("codes", "distinct"), lambda: np.unique(doc.codes, return_inverse=True))


def class_mask(doc: Document, name: str) -> np.ndarray:
    """Which characters belong to CHAR_CLASSES[name] (decided once per distinct character)."""

    def compute():
        uniques, inverse = distinct_codes(doc)
        member = np.fromiter((CHAR_CLASSES[name].fullmatch(chr(c)) is not None for c in uniques.tolist()), bool, len(uniques))
        return member[inverse.reshape(-1)]

    return doc.memo(("rules", "class", name), compute)


def windows(doc: Document, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct windows of `size` characters ending at each position (at
    the start of the text, the shorter prefixes), as `starts` and `ends` of
    one occurrence of each in the text, and for each position the index of
    its window among them."""

    def compute():
        n = len(doc)
        head = min(size - 1, n)  # positions whose window is cut by the start of the text
        starts, ends, which = [np.zeros(head, np.int64)], [np.arange(1, head + 1)], [np.arange(head)]
        if n >= size:
            uniques, inverse = distinct_codes(doc)
            # Rows of small character ranks, each row one opaque value, so
            # that np.unique compares whole windows at once.
            ranks = inverse.reshape(-1).astype(np.min_scalar_type(len(uniques)))
            rows = np.ascontiguousarray(sliding_window_view(ranks, size))
            keys = rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).reshape(-1)
            _, first, row_of = np.unique(keys, return_index=True, return_inverse=True)
            starts.append(first)
            ends.append(first + size)
            which.append(head + row_of.reshape(-1))
        return tuple(np.concatenate(parts).astype(np.int64) for parts in (starts, ends, which))

    return doc.memo(("rules", "windows", size), compute)


def shifted(values: np.ndarray, offset: int) -> np.ndarray:
    """out[t] = values[t + offset], False where t + offset is outside the text."""
    n = len(values)
    out = np.zeros(n, dtype=bool)
    k = abs(offset)
    if k < n:
        if offset >= 0:
            out[: n - k] = values[k:]
        else:
            out[k:] = values[: n - k]
    return out


# ------------------------------------------------------------ conditions
# A compiled condition has a `lookahead` and `mask(doc, inputs)`: a boolean
# array saying where it holds.


@attrs.frozen(eq=False)
class CharTest:
    """char[offset] is one of `codes` (or is not, when `negated`), or belongs to `char_class`."""

    offset: int
    codes: tuple[int, ...] = ()
    negated: bool = False
    char_class: str | None = None

    @property
    def lookahead(self) -> Lookahead:
        k = self.offset
        return Lookahead("chars", k, note=f"char[+{k}] reads {k} character(s) ahead") if k > 0 else CAUSAL

    def mask(self, doc, inputs) -> np.ndarray:
        if self.char_class is not None:
            here = class_mask(doc, self.char_class)
        else:
            uniques, inverse = distinct_codes(doc)
            here = (np.isin(uniques, self.codes) != self.negated)[inverse.reshape(-1)]
        return shifted(here, self.offset)


@attrs.frozen(eq=False)
class WindowTest:
    """`pattern` finds a match in the window of `size` characters ending at t."""

    size: int
    pattern: regex.Pattern
    loc: nodes.Loc | None  # of the pattern, for timeouts
    axis_name: str
    lookahead = CAUSAL

    def mask(self, doc, inputs) -> np.ndarray:
        def compute():
            starts, ends, which = windows(doc, self.size)
            text, search, timeout = doc.text, self.pattern.search, regex_timeout()
            with timed(self.loc, self.axis_name):
                found = np.fromiter((search(text[s:e], timeout=timeout) is not None
                                     for s, e in zip(starts.tolist(), ends.tolist())), bool, len(starts))
            return found[which]

        return doc.memo(("rules", "window", self.size, self.pattern.pattern, self.pattern.flags), compute)


@attrs.frozen(eq=False)
class AxisTest:
    """axis[offset]'s label id is one of `ids` (or is not, when `negated`)."""

    axis: str
    offset: int
    ids: tuple[int, ...]
    negated: bool
    lookahead: Lookahead

    def mask(self, doc, inputs) -> np.ndarray:
        return shifted(np.isin(inputs[self.axis].ids, self.ids) != self.negated, self.offset)


NUMBER_LABEL = regex.compile(r"\d+(?:-\d+|\+)?")  # "3", "4-7", "16+": the labels of views, count, since


def label_numbers(labels: tuple[str, ...]) -> tuple[int | None, ...] | None:
    """Each label's least value (None for a label that is not a number), when
    the labels are numbers or buckets of numbers, as those of position,
    count, since and nesting are (nesting's `unbalanced` is not a number)."""
    numbers = tuple(int(label.split("-")[0].rstrip("+")) if NUMBER_LABEL.fullmatch(label) else None for label in labels)
    return numbers if sum(n is not None for n in numbers) > len(numbers) // 2 else None


@attrs.frozen(eq=False)
class NumberTest:
    """axis[offset]'s label read as a number (a bucket by its least value) OP
    value; false where the axis has no label."""

    axis: str
    offset: int
    numbers: tuple[int | None, ...]  # label_numbers of the axis's labels
    op: str
    value: int
    lookahead: Lookahead

    def mask(self, doc, inputs) -> np.ndarray:
        ids = inputs[self.axis].ids
        has_number = np.array((False,) + tuple(n is not None for n in self.numbers))
        table = np.array((0,) + tuple(n or 0 for n in self.numbers), dtype=np.int64)
        return shifted(has_number[ids] & COMPARISONS[self.op](table[ids], self.value), self.offset)


@attrs.frozen(eq=False)
class ViewTest:
    """view(group) OP value, false outside the group's spans."""

    view: views.ViewAxis  # with an uncapped maximum
    op: str
    value: int

    @property
    def lookahead(self) -> Lookahead:
        return self.view.lookahead

    def mask(self, doc, inputs) -> np.ndarray:
        ids = self.view.compute(doc, inputs).ids.astype(np.int64)
        return (ids > NONE_ID) & COMPARISONS[self.op](ids - 1, self.value)


@attrs.frozen(eq=False)
class Junction:
    """All of `parts` hold (`and`), or any of them does (`or`)."""

    parts: tuple
    any: bool

    @property
    def lookahead(self) -> Lookahead:
        return combined(self.parts)

    def mask(self, doc, inputs) -> np.ndarray:
        join = np.logical_or if self.any else np.logical_and
        return join.reduce([part.mask(doc, inputs) for part in self.parts])


@attrs.frozen(eq=False)
class Negation:
    part: object

    @property
    def lookahead(self) -> Lookahead:
        return self.part.lookahead

    def mask(self, doc, inputs) -> np.ndarray:
        return ~self.part.mask(doc, inputs)


def combined(conditions) -> Lookahead:
    return functools.reduce(Lookahead.combine, (c.lookahead for c in conditions), CAUSAL)


# ------------------------------------------- random declarations (grid_dsl.testing)


def conditions_strategy(known, pieces):
    """Random rule conditions over the characters, windows, declared axes
    (with their real labels) and views of declared groupings, joined by
    and/or/not (the rules kind's strategy, axes/rules.py)."""
    from hypothesis import strategies as st

    def operand(text: str):  # a label as a rule operand: a bare name when it can be one
        return nodes.Ident(text) if pieces.plain(text) or text == "_" else nodes.Str(text)

    char = st.text(st.sampled_from("a.,\"\\ \né日"), min_size=1, max_size=1)
    char_tests = st.builds(
        lambda offset, op_operand: nodes.Test(nodes.CharSubject(offset), *op_operand),
        st.none() | st.integers(-3, 1).map(nodes.Offset),
        st.one_of(
            st.tuples(st.just("is"), pieces.name_choice(*CHAR_CLASSES)),
            st.tuples(st.sampled_from(("==", "!=")), char.map(nodes.Str)),
            st.tuples(st.just("in"), st.one_of(
                st.lists(char, min_size=1, max_size=4).map(lambda cs: nodes.Str("".join(cs))),
                st.lists(char.map(nodes.Str), min_size=1, max_size=3).map(lambda cs: nodes.ListValue(tuple(cs))),
            )),
        ),
    )
    window_tests = st.builds(lambda size, pattern: nodes.Test(nodes.WindowSubject(size), "~", pattern),
                             st.integers(1, 8), pieces.regex(pieces.match_patterns + (r"th$", r"\.\s$", r"^\w")))
    tests = [char_tests, window_tests]
    if known.axes:
        @st.composite
        def axis_tests(draw):
            axis = known.axes[draw(st.sampled_from(list(known.axes)))]
            offset = draw(st.none() | st.integers(-2, 1).map(nodes.Offset))
            choices = st.sampled_from(("_",) + axis.labels).map(operand)
            op = draw(st.sampled_from(("==", "!=", "in")))
            value = (draw(st.lists(choices, min_size=1, max_size=3).map(lambda xs: nodes.ListValue(tuple(xs))))
                     if op == "in" else draw(choices))
            return nodes.Test(nodes.AxisSubject(nodes.Ref(axis.name), offset), op, value)

        tests.append(axis_tests())
    if known.names(spans=True):
        tests.append(st.builds(
            nodes.Test,
            st.builds(nodes.ViewSubject, st.sampled_from(("position", "index", "depth")),
                      st.sampled_from(known.names(spans=True)).map(nodes.Ref)),
            st.sampled_from(("==", "!=", "<", "<=", ">", ">=")),
            st.integers(0, 5).map(nodes.Num),
        ))
    return st.recursive(st.one_of(tests), lambda inner: st.one_of(
        st.builds(nodes.Not, inner),
        st.builds(nodes.AllOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(nodes.AnyOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    ), max_leaves=4)
