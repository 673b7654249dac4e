"""Hypothesis strategies for random valid .axes specs (public through
grid_dsl.testing: spec_asts, specs; see its docstring).

Each kind of axis draws its own declarations: its module in axes/ has a
`strategy(known, name, pieces)`, drawn against the axes declared so far so
that every reference resolves and every spec checks, and a
`can_declare(known)`. Which kinds a spec may hold comes from the registry of
kinds (axes.base.kinds()); tests/test_kinds.py fails for a kind whose module
lacks them. This module lends them the pieces of spec text they draw with
(`PIECES`), since axes/ may not import grid_dsl.testing.
"""

from __future__ import annotations

import random
from typing import Callable

import attrs
from hypothesis import strategies as st

from axes.base import kind_module, kinds

from grid_dsl.language import nodes
from grid_dsl.data.checker import check
from grid_dsl.language.formatter import KEYWORDS, format_spec
from grid_dsl.language.formatter import label as label_text


# ------------------------------------------------------------ spec pieces

_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
_IDENT = st.from_regex(r"[A-Z][A-Z0-9_]{0,4}", fullmatch=True)
# Labels that must be quoted: punctuation tags, spaces, keywords, escapes, other scripts.
_ODD_LABELS = ("PRP$", ".", ",", "-LRB-", "B c", "default", "or", "1st", "Ä", "名詞", 'say "hi"', "back\\slash", "tab\there")
_LABEL = st.one_of(_IDENT, st.sampled_from(_ODD_LABELS))
_LITERAL = st.text(st.sampled_from("abcdeKQ .,'\"\\é日-"), min_size=1, max_size=6).filter(lambda s: s.strip())
_FLAGS = st.sampled_from(("", "", "i", "s", "m", "im", "x"))
# Simple patterns that cannot backtrack badly; `\/` is how a slash is written.
_MATCH_PATTERNS = (r"\w+", r"[A-Za-z]+", r"\d+", r"[.!?]+", r"\S+", r"[aeiou]", r"th|sh", r"[\/-]+", r"\p{Lu}\p{Ll}*",
                   r"(?:ab)+", r"[^\s.]+", r"\/\/")
_SPLIT_PATTERNS = (r"[.!?]", r"\s+", r"[;:,]", r"\n", r"\/", r"[\/|]+", r"\r?\n")


def _regex(patterns) -> st.SearchStrategy[nodes.Regex]:
    return st.builds(nodes.Regex, st.sampled_from(patterns), _FLAGS)


def _options(*pairs: tuple[str, st.SearchStrategy]) -> st.SearchStrategy[nodes.Options | None]:
    """None, or Options with a random subset of the given (key, value) options
    in random order; a value strategy may give None for a bare flag."""

    @st.composite
    def build(draw):
        if draw(st.integers(0, 3)) == 0:
            return None
        chosen = draw(st.lists(st.sampled_from(pairs), unique_by=lambda p: p[0], max_size=len(pairs)))
        return nodes.Options(tuple(nodes.Option(key, draw(values)) for key, values in chosen))

    return build()


def _name_choice(*names: str) -> st.SearchStrategy[nodes.Ident]:
    return st.sampled_from(names).map(nodes.Ident)


def _flag() -> st.SearchStrategy[nodes.Ident | None]:
    return st.one_of(st.none(), _name_choice("true", "false"))


def _main() -> st.SearchStrategy[nodes.MainDecl]:
    return st.builds(
        nodes.MainDecl,
        st.sampled_from(("chars", "bytes")),
        _options(("normalize", _name_choice("none", "nfc", "nfkc")), ("newlines", _name_choice("keep", "lf")),
                 ("lowercase", _flag())),
    )


@attrs.frozen
class Declared:
    """What a kind's `strategy` and `can_declare` may read about the axes
    declared so far (their `known`): each checked Axis (its labels, vocab,
    spans, causality), and which of spec_asts' optional kinds were asked for."""

    axes: dict  # name -> checked Axis, in declaration order
    nltk: bool
    chunks: bool
    taggers: tuple

    def names(self, *, spans: bool = False, labelled: bool = False, max_vocab: int | None = None) -> list[str]:
        return [a.name for a in self.axes.values()
                if (not spans or a.has_spans) and (not labelled or a.labels)
                and (max_vocab is None or len(a.vocab) <= max_vocab)]


def _plain(text: str) -> bool:
    """Can the label be written as a bare name?"""
    return label_text(text) == text


@attrs.frozen
class SpecPieces:
    """The pieces of spec text lent to each kind's `strategy(known, name,
    pieces)` in axes/<kind>.py (which may not import grid_dsl.testing)."""

    ident: st.SearchStrategy[str]  # an upper-case name: a label, or an option's value
    label: st.SearchStrategy[str]  # a label, often one that must be quoted
    literal: st.SearchStrategy[str]  # a short literal pattern: quotes, backslashes, other scripts
    match_patterns: tuple[str, ...]  # simple regexes to match with
    split_patterns: tuple[str, ...]  # simple regexes to split at
    regex: Callable  # regex(patterns) -> Regex nodes of these patterns, with random flags
    options: Callable  # options((key, values), ...) -> None, or Options with some of these
    name_choice: Callable  # name_choice("a", "b") -> an Ident of one of these names
    flag: Callable  # flag() -> None, or the Ident true or false
    plain: Callable  # plain(text) -> can the label be written as a bare name?


PIECES = SpecPieces(ident=_IDENT, label=_LABEL, literal=_LITERAL, match_patterns=_MATCH_PATTERNS,
                    split_patterns=_SPLIT_PATTERNS, regex=_regex, options=_options, name_choice=_name_choice,
                    flag=_flag, plain=_plain)


def _can_draw(kind: type, known: Declared) -> bool:
    """Has the kind a strategy (tests/test_kinds.py asks for one), and can it be declared now?"""
    module = kind_module(kind)
    return hasattr(module, "strategy") and module.can_declare(known)


def _feeds(known: Declared):
    """Feeds of some declared axes, in modes the checker accepts: context
    only for causal axes (or forced, which makes the run oracle)."""

    @st.composite
    def build(draw):
        fed = draw(st.lists(st.sampled_from(list(known.axes)), unique=True, max_size=3)) if known.axes else []
        out = []
        for name in fed:
            axis = known.axes[name]
            modes = ["context", "predict", "oracle"] if axis.causal else ["predict", "oracle", "force"]
            mode = draw(st.sampled_from(modes))
            dtypes = [d for d, limit in (("uint8", 256), ("uint16", 2**16), ("uint32", 2**32)) if len(axis.vocab) <= limit]
            opts = draw(_options(
                ("weight", st.one_of(st.integers(0, 3), st.floats(0, 4, allow_nan=False)).map(nodes.Num)),
                ("dim", st.integers(1, 64).map(nodes.Num)),
                ("dtype", _name_choice(*dtypes)),
            ))
            if mode == "force":
                items = (opts.items if opts else ()) + (nodes.Option("force"),)
                mode, opts = "context", nodes.Options(items)
            out.append(nodes.Feed(nodes.Ref(name), mode, opts))
        return out

    return build()


@st.composite
def spec_asts(draw, max_axes: int = 5, feeds: bool = True, nltk: bool = False, chunks: bool = False,
              taggers: tuple[str, ...] = ()):
    """A random valid spec AST (grid_dsl.language.nodes.Spec).

    An optional `main`, then 1..max_axes axes of the registered kinds
    (axes.base.kinds(), each drawn by its module's strategy), each reading only
    axes declared before it, then (if `feeds`) feeds of some of them in
    modes their causality allows (`context` only
    for causal axes, or forced). Labels named by relabel entries and rule
    conditions are real labels of their axis: each axis is checked as it is
    added, so later axes see its true vocabulary, spans and causality.

    Always: groups (words, tokens, lines, paragraphs, matches/split with
    simple regexes), lexicons, rules, relabel, product (small
    vocabularies), lag, position/index/depth views, annotations.
    Behind flags, because they need NLTK data or are slow to compile:
    `nltk` adds sentence groups and pos axes, `chunks` chunk cascades, and
    `taggers` the tagger plug-ins with these names (e.g. ("char_class",)).
    """
    statements: list = []
    if draw(st.booleans()):
        statements.append(draw(_main()))
    known = Declared({}, nltk, chunks, tuple(taggers))
    for _ in range(draw(st.integers(1, max_axes))):
        possible = [kind for kind in kinds().values() if _can_draw(kind, known)]
        kind = draw(st.sampled_from(possible))
        name = draw(_NAME)
        while name in known.axes:
            name += "_"
        statements.append(draw(kind_module(kind).strategy(known, name, PIECES)))
        # The checked axis tells later axes its real labels, spans and causality.
        known.axes[name] = _checked(nodes.Spec(tuple(statements))).axis(name)
    if feeds:
        statements.extend(draw(_feeds(known)))
    return nodes.Spec(tuple(statements))


def _checked(spec: nodes.Spec):
    """check(spec), leaving the global `random` state as it was: the `regex`
    module (our patterns' and NLTK's) evicts from its full pattern cache with
    `random.sample`, and a strategy must not move that state (hypothesis
    warns, and a seeded test's later draws would shift)."""
    state = random.getstate()
    try:
        return check(spec)
    finally:
        random.setstate(state)


def specs(**kwargs) -> st.SearchStrategy[str]:
    """Random valid specs as canonical text (the arguments of spec_asts)."""
    return spec_asts(**kwargs).map(format_spec)
