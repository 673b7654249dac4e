"""nesting: depth inside delimiters, read left to right.

    nesting quoted (max=4) {
        "“" .. "”"          # an opening and its closing
        "(" .. ")"
        "\\""               # one delimiter alone toggles: it opens, or closes when it is the innermost open one
    }
    nesting in_quote (inside) { "\\"" }

Each character is labelled with the depth of open delimiters before it:
"1", "2", ... and "K+" from the cap `max=K` on (default 8); outside every
delimiter, no label. With `inside` the labels are just IN. A delimiter
counts from the character after it: the opening quote itself is outside,
the character after it inside; the closing quote is inside, the character
after it outside (the same convention as a lexicon's `encoding=after`: the
label at a character never depends on the characters after it).

Unbalanced text has a defined meaning: a closing delimiter whose opening is
open deeper in the stack closes it and everything opened inside it; one
with no opening open is a stray, and from the character after it to the
next delimiter the label is `unbalanced`.

Delimiters are "strings" or /regexes/, matched by one leftmost scan (at one
position the delimiter listed first wins). Causality is derived: literal
delimiters none of which occurs inside another with text after it are
causal; otherwise, and for regexes of bounded width without look-ahead
assertions, the depth may depend on as many characters ahead as the
longest delimiter minus one (lag it by that many chars to use it as
context); a regex of unbounded width makes it non-causal. One regex scan
finds every delimiter; the stack runs over the delimiters found, not over
characters.
"""

from __future__ import annotations

import attrs
import numpy as np
import regex

from grid_dsl.language import nodes
from grid_dsl.language.kinds.nesting import Delimiter, NestingDecl

from axes._regex import literals_never_extend, looks_ahead, max_width, regex_timeout, timed
from axes.base import CAUSAL, Axis, Lookahead, Stream, builds, hold

DEFAULT_MAX = 8
MAX_CAP = 4096
UNBALANCED = "unbalanced"
OPEN, CLOSE, TOGGLE = 0, 1, 2


@attrs.frozen(kw_only=True)
class NestingAxis(Axis):
    kind = "nesting"
    pattern: regex.Pattern  # one named group d<k> per delimiter pattern
    roles: tuple[tuple[int, int], ...]  # per group: (OPEN | CLOSE | TOGGLE, pair index)
    maximum: int
    inside: bool
    loc: nodes.Loc | None = None

    def compute(self, doc, inputs) -> Stream:
        positions, values = [], []
        stack: list[int] = []  # pair indexes of the open delimiters, innermost last
        unbalanced = len(self.labels)
        with timed(self.loc, self.name):
            for m in self.pattern.finditer(doc.text, timeout=regex_timeout()):
                if m.end() == m.start():
                    continue
                role, pair = self.roles[int(m.lastgroup[1:])]
                if role == OPEN or (role == TOGGLE and (not stack or stack[-1] != pair)):
                    stack.append(pair)
                elif pair in stack:
                    del stack[len(stack) - 1 - stack[::-1].index(pair):]
                else:  # a stray closer
                    positions.append(m.end())
                    values.append(unbalanced)
                    continue
                positions.append(m.end())
                values.append(self._id(len(stack)))
        return Stream(hold(len(doc), np.array(positions, dtype=np.int64), np.array(values, dtype=np.int32)))

    def _id(self, depth: int) -> int:
        if depth == 0:
            return 0
        return 1 if self.inside else min(depth, self.maximum)


def _source(pattern: nodes.Str | nodes.Regex) -> str:
    if isinstance(pattern, nodes.Str):
        return regex.escape(pattern.value)
    flags = "".join(f for f in pattern.flags if f in "imsx")
    return f"(?{flags}:{pattern.source})" if flags else pattern.source


def _lookahead(patterns: list) -> Lookahead:
    literals = [p.value for p in patterns if isinstance(p, nodes.Str)]
    regexes = [p for p in patterns if isinstance(p, nodes.Regex)]
    if not regexes and literals_never_extend(literals, ignore_case=False):
        return CAUSAL
    widths = [len(x) for x in literals] + [max_width(p.source) for p in regexes]
    if any(w is None for w in widths) or any(looks_ahead(p.source) for p in regexes):
        return Lookahead("unbounded", note="a delimiter pattern of unbounded width can depend on any later text")
    ahead = max(widths) - 1
    if ahead == 0:
        return CAUSAL
    return Lookahead("chars", ahead, note=f"which delimiter matches can depend on up to {ahead} later character(s)")


@builds(NestingDecl)
def build_nesting(node: NestingDecl, ctx) -> NestingAxis | None:
    opts = ctx.options(node.options, {"max": ctx.opt("int", DEFAULT_MAX, minimum=1, maximum=MAX_CAP),
                                      "inside": ctx.opt("flag", False)})
    if opts is None:
        return None
    if not node.delimiters:
        ctx.error(node.loc, f"nesting '{node.name}' has no delimiters", 'write e.g. { "(" .. ")" } or { "\\"" }')
        return None
    parts, roles, patterns, seen, ok = [], [], [], {}, True
    for pair, delimiter in enumerate(node.delimiters):
        sides = [(TOGGLE, delimiter.opening)] if delimiter.closing is None else [(OPEN, delimiter.opening), (CLOSE, delimiter.closing)]
        for role, pattern in sides:
            key = (type(pattern).__name__, getattr(pattern, "value", None) or getattr(pattern, "source", None))
            if key in seen:
                ctx.error(pattern.loc, f"delimiter {key[1]!r} is listed twice", f"first at line {seen[key]}")
                ok = False
                continue
            seen[key] = pattern.loc.line if pattern.loc else "?"
            if isinstance(pattern, nodes.Regex) and ctx.regex(pattern) is None:
                ok = False
                continue
            if isinstance(pattern, nodes.Str) and not pattern.value:
                ctx.error(pattern.loc, "an empty delimiter never matches", "write at least one character")
                ok = False
                continue
            parts.append(f"(?P<d{len(roles)}>{_source(pattern)})")
            roles.append((role, pair))
            patterns.append(pattern)
    if not ok:
        return None
    labels = ("IN",) if opts["inside"] else tuple(str(d) for d in range(1, opts["max"])) + (f"{opts['max']}+",)
    return NestingAxis(
        name=node.name,
        labels=labels + (UNBALANCED,),
        lookahead=_lookahead(patterns),
        pattern=regex.compile("|".join(parts)),
        roles=tuple(roles),
        maximum=opts["max"],
        inside=opts["inside"],
        loc=node.loc,
    )


# ------------------------------------------- random declarations (grid_dsl.testing)

_DELIMITERS = ("(", ")", "[", "]", "\"", "“", "”", "«", "»", "<<", ">>", "'", "--")


def can_declare(known) -> bool:
    return True


def strategy(known, name: str, pieces):
    """Distinct literal delimiters (pairs and toggles), sometimes a regex one."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        strings = draw(st.lists(st.sampled_from(_DELIMITERS), min_size=1, max_size=6, unique=True))
        patterns = [nodes.Str(x) for x in strings]
        if draw(st.booleans()):
            patterns.append(nodes.Regex(draw(st.sampled_from((r"\{", r"\}", r"\.\.\.", r"[|]"))), ""))
        delimiters, i = [], 0
        while i < len(patterns):
            pair = i + 1 < len(patterns) and draw(st.booleans())
            delimiters.append(Delimiter(patterns[i], patterns[i + 1] if pair else None))
            i += 2 if pair else 1
        opts = draw(pieces.options(("max", st.integers(1, 12).map(nodes.Num)), ("inside", pieces.flag())))
        return NestingDecl(name, opts, tuple(delimiters))

    return build()
