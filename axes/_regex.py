"""User regular expressions: time-bounded matching and the static facts the
checker needs (can a pattern look ahead? does it stay inside a word? how
long can a match be?).

Patterns are compiled with the `regex` package, whose matching functions take
a timeout: a spec cannot hang compilation with a catastrophically
backtracking pattern; it fails with the pattern's location instead.
"""

from __future__ import annotations

import contextlib
import os
import re

try:  # the parser behind `re` (public as sre_parse before Python 3.11)
    from re import _constants as sre_constants, _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants
    import sre_parse

from grid_dsl.language.diagnostics import Diagnostic, SpecError

from axes.base import WORD_CHAR

DEFAULT_TIMEOUT = 5.0


def regex_timeout() -> float:
    """Seconds one matching call may take (MULTIGRID_REGEX_TIMEOUT overrides)."""
    return float(os.environ.get("MULTIGRID_REGEX_TIMEOUT", DEFAULT_TIMEOUT))


@contextlib.contextmanager
def timed(loc, axis_name: str):
    """Turn a regex timeout into a located user error."""
    try:
        yield
    except TimeoutError:
        raise SpecError(
            [
                Diagnostic(
                    loc,
                    f"a pattern of axis '{axis_name}' took more than {regex_timeout():g} s to match",
                    "it probably backtracks catastrophically (nested quantifiers like (a+)+ or (a|a)*); "
                    "simplify it, or raise MULTIGRID_REGEX_TIMEOUT",
                )
            ]
        ) from None


def _parsed(source: str, ignore_case: bool = False):
    """sre_parse's view of a pattern, or None when it uses `regex`-only syntax."""
    try:
        return sre_parse.parse(source, re.IGNORECASE if ignore_case else 0)
    except (sre_constants.error, re.error, TypeError, ValueError, OverflowError, RecursionError):
        return None


_WORD = WORD_CHAR  # the same "word character" as words, tokens and lexicons
_LOOKS_AHEAD = {sre_constants.ASSERT, sre_constants.ASSERT_NOT}
_AHEAD_ANCHORS = {sre_constants.AT_END, sre_constants.AT_END_STRING, sre_constants.AT_BOUNDARY, sre_constants.AT_NON_BOUNDARY,
                  sre_constants.AT_END_LINE}


def _items(parsed):
    """Every (op, arg) in a parsed pattern, recursively."""
    for op, arg in parsed:
        yield op, arg
        if op in (sre_constants.SUBPATTERN,):
            yield from _items(arg[-1])
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)):
            yield from _items(arg[2])
        elif op == sre_constants.BRANCH:
            for branch in arg[1]:
                yield from _items(branch)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            yield from _items(arg[1])
        elif op == getattr(sre_constants, "ATOMIC_GROUP", None):
            yield from _items(arg)


def looks_ahead(source: str) -> bool:
    """True unless the pattern surely never looks past the end of its match
    (lookahead assertions, \\b, \\B and $ all look at the next character)."""
    parsed = _parsed(source)
    if parsed is None:
        return True
    for op, arg in _items(parsed):
        if op == sre_constants.ASSERT and arg[0] >= 0 or op == sre_constants.ASSERT_NOT and arg[0] >= 0:
            return True  # lookahead (direction 1); lookbehinds have direction -1
        if op == sre_constants.AT and arg in _AHEAD_ANCHORS:
            return True
    return False


def word_confined(source: str, ignore_case: bool = False) -> bool:
    """True when every character the pattern can match is a word character
    (\\w), so no match can reach outside a \\w+ word. Unknown -> False."""
    parsed = _parsed(source, ignore_case)
    if parsed is None:
        return False
    for op, arg in _items(parsed):
        if op == sre_constants.LITERAL:
            if not _WORD.match(chr(arg)):
                return False
        elif op == sre_constants.NOT_LITERAL or op == sre_constants.ANY:
            return False
        elif op == sre_constants.IN:
            for item_op, item_arg in arg:
                if item_op == sre_constants.LITERAL and not _WORD.match(chr(item_arg)):
                    return False
                if item_op == sre_constants.RANGE and not all(_WORD.match(chr(c)) for c in range(item_arg[0], item_arg[1] + 1)):
                    return False
                if item_op == sre_constants.NEGATE:
                    return False
                if item_op == sre_constants.CATEGORY and item_arg not in (
                    sre_constants.CATEGORY_WORD, sre_constants.CATEGORY_DIGIT, sre_constants.CATEGORY_UNI_WORD, sre_constants.CATEGORY_UNI_DIGIT
                ):
                    return False
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT, sre_constants.GROUPREF, getattr(sre_constants, "GROUPREF_EXISTS", None)):
            return False
    return True


def max_width(source: str) -> int | None:
    """The longest match the pattern can make, or None if unbounded/unknown."""
    parsed = _parsed(source)
    if parsed is None:
        return None
    low, high = parsed.getwidth()
    return None if high >= sre_constants.MAXREPEAT or high >= 2**31 - 1 else high


def literals_never_extend(literals: list[str], ignore_case: bool) -> bool:
    """No literal occurs inside another one with text after it. Then a match
    ending at e is taken from text[:e+1] exactly as from the whole text: the
    only match that could pre-empt it from the left would have to contain it
    and run past e."""
    forms = [str.lower, str.casefold] if ignore_case else [str]
    return not any(a in b[:-1] for form in forms for a in map(form, literals) for b in map(form, literals))
