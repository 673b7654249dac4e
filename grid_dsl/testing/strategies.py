"""Hypothesis strategies for random valid .axes specs (public through
grid_dsl.testing: spec_asts, specs; see its docstring).

Each kind of axis has a small strategy here (`KIND_STRATEGIES`), drawn
against the axes declared so far so that every reference resolves and every
spec checks. Which kinds a spec may hold comes from the registry of kinds
(axes.base.kinds()); a new kind of axis adds one entry here, and
tests/test_kinds.py fails until it does.
"""

from __future__ import annotations

import random
import re

import attrs
from hypothesis import strategies as st

from axes.base import kinds

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
class _Declared:
    """What a kind's strategy may read about the axes declared so far."""

    axes: dict  # name -> checked Axis, in declaration order
    nltk: bool
    chunks: bool
    taggers: tuple

    def names(self, *, spans: bool = False, labelled: bool = False, max_vocab: int | None = None) -> list[str]:
        return [a.name for a in self.axes.values()
                if (not spans or a.has_spans) and (not labelled or a.labels)
                and (max_vocab is None or len(a.vocab) <= max_vocab)]


def _group(known: _Declared, name: str):
    segmenters = ["words", "tokens", "lines", "paragraphs", "matches", "split"] + (["sentences"] if known.nltk else [])

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(segmenters))
        pattern = None
        if kind == "matches":
            pattern = draw(_regex(_MATCH_PATTERNS))
        elif kind == "split":
            pattern = draw(_regex(_SPLIT_PATTERNS))
        parents = known.names(spans=True)
        parent = draw(st.none() | st.sampled_from(parents).map(nodes.Ref)) if parents else None
        opts = draw(_options(("label", _IDENT.map(nodes.Ident)), ("encoding", _name_choice("span", "bio"))))
        return nodes.GroupDecl(name, nodes.Segment(kind, pattern), parent, opts)

    return build()


def _annotation(known: _Declared, name: str):
    label_values = st.lists(_LABEL, min_size=1, max_size=4, unique=True).map(
        lambda labels: nodes.ListValue(tuple(nodes.Ident(x) if _plain(x) else nodes.Str(x) for x in labels)))

    @st.composite
    def build(draw):
        opts = draw(_options(("layer", _IDENT.map(nodes.Ident)), ("encoding", _name_choice("span", "bio"))))
        items = (opts.items if opts else ()) + (nodes.Option("labels", draw(label_values)),)
        return nodes.AnnotationDecl(name, nodes.Options(tuple(draw(st.permutations(items)))))

    return build()


def _plain(text: str) -> bool:
    """Can the label be written as a bare name?"""
    return label_text(text) == text


def _relabel(known: _Declared, name: str):
    @st.composite
    def build(draw):
        source = known.axes[draw(st.sampled_from(known.names(labelled=True)))]
        picked = draw(st.lists(st.sampled_from(source.labels), unique=True, max_size=min(6, len(source.labels))))
        cuts = sorted(draw(st.lists(st.integers(1, max(1, len(picked) - 1)), max_size=2, unique=True)))
        groups = [g for g in (picked[a:b] for a, b in zip([0] + cuts, cuts + [len(picked)])) if g]
        entries = tuple(nodes.RelabelEntry(tuple(nodes.Label(x) for x in group), nodes.Label(draw(_LABEL)))
                        for group in groups)
        default = draw(st.none() | _LABEL.map(lambda x: nodes.Default(nodes.Label(x))))
        if not entries and default is None:
            default = nodes.Default(nodes.Label("OTHER"))
        return nodes.RelabelDecl(name, nodes.Ref(source.name), entries, default)

    return build()


def _product(known: _Declared, name: str):
    small = known.names(max_vocab=8)
    return st.builds(nodes.ProductDecl, st.just(name), st.sampled_from(small).map(nodes.Ref),
                     st.sampled_from(small).map(nodes.Ref))


def _lag(known: _Declared, name: str):
    amount = st.integers(-2, 4).filter(bool)
    spans = known.names(spans=True)
    if spans:
        amount = amount | st.sampled_from(spans).map(nodes.Ref)
    return st.builds(nodes.LagDecl, st.just(name), st.sampled_from(known.names()).map(nodes.Ref), amount)


def _view(known: _Declared, name: str):
    return st.builds(nodes.ViewDecl, st.sampled_from(("position", "index", "depth")), st.just(name),
                     st.sampled_from(known.names(spans=True)).map(nodes.Ref),
                     _options(("max", st.integers(1, 12).map(nodes.Num))))


def _state(known: _Declared, name: str):
    """latest/first of any axis, count/since of any axis, optionally within a grouping."""

    @st.composite
    def build(draw):
        op = draw(st.sampled_from(("latest", "first", "count", "since")))
        source = nodes.Ref(draw(st.sampled_from(known.names())))
        spans = known.names(spans=True)
        within = draw(st.none() | st.sampled_from(spans).map(nodes.Ref)) if spans else None
        pairs = []
        if op in ("count", "since"):
            pairs = [("max", st.integers(1, 40).map(nodes.Num)), ("scale", _name_choice("linear", "log"))]
        if op == "since":
            pairs.append(("from", _name_choice("start", "end")))
        return nodes.StateDecl(op, name, source, within, draw(_options(*pairs)) if pairs else None)

    return build()


_DELIMITERS = ("(", ")", "[", "]", "\"", "“", "”", "«", "»", "<<", ">>", "'", "--")


def _nesting(known: _Declared, name: str):
    """Distinct literal delimiters (pairs and toggles), sometimes a regex one."""

    @st.composite
    def build(draw):
        strings = draw(st.lists(st.sampled_from(_DELIMITERS), min_size=1, max_size=6, unique=True))
        patterns = [nodes.Str(x) for x in strings]
        if draw(st.booleans()):
            patterns.append(nodes.Regex(draw(st.sampled_from((r"\{", r"\}", r"\.\.\.", r"[|]"))), ""))
        delimiters, i = [], 0
        while i < len(patterns):
            pair = i + 1 < len(patterns) and draw(st.booleans())
            delimiters.append(nodes.Delimiter(patterns[i], patterns[i + 1] if pair else None))
            i += 2 if pair else 1
        opts = draw(_options(("max", st.integers(1, 12).map(nodes.Num)), ("inside", _flag())))
        return nodes.NestingDecl(name, opts, tuple(delimiters))

    return build()


def _lexicon(known: _Declared, name: str):
    """Literal and regex patterns, each used once, mapped to labels, with
    any of the lexicon's options."""
    from axes.lexicon import ENCODINGS as LEXICON_ENCODINGS

    pattern = st.one_of(_LITERAL.map(nodes.Str), _regex(_MATCH_PATTERNS))

    @st.composite
    def build(draw):
        patterns = draw(st.lists(pattern, min_size=1, max_size=5, unique=True))
        cuts = sorted(draw(st.lists(st.integers(1, len(patterns)), max_size=2, unique=True)))
        entries = tuple(nodes.LexiconEntry(tuple(patterns[a:b]), nodes.Label(draw(_LABEL)))
                        for a, b in zip([0] + cuts, cuts + [len(patterns)]) if b > a)
        opts = draw(_options(
            ("case", _name_choice("sensitive", "insensitive")),
            ("whole_word", _flag()),
            ("overlap", _name_choice("priority", "longest")),
            ("encoding", _name_choice(*LEXICON_ENCODINGS)),
        ))
        return nodes.LexiconDecl(name, opts, entries)

    return build()


def _label_operand(text: str):
    """A label as a rule operand: a bare name when it can be one."""
    return nodes.Ident(text) if _plain(text) or text == "_" else nodes.Str(text)


def _conditions(known: _Declared):
    """Rule conditions over the characters, windows, declared axes (with
    their real labels) and views of declared groupings, joined by and/or/not."""
    from axes._conditions import CHAR_CLASSES  # the rules kind is optional: imported only when it is registered

    char = st.text(st.sampled_from("a.,\"\\ \né日"), min_size=1, max_size=1)
    char_tests = st.builds(
        lambda offset, op_operand: nodes.Test(nodes.CharSubject(offset), *op_operand),
        st.none() | st.integers(-3, 1).map(nodes.Offset),
        st.one_of(
            st.tuples(st.just("is"), _name_choice(*CHAR_CLASSES)),
            st.tuples(st.sampled_from(("==", "!=")), char.map(nodes.Str)),
            st.tuples(st.just("in"), st.one_of(
                st.lists(char, min_size=1, max_size=4).map(lambda cs: nodes.Str("".join(cs))),
                st.lists(char.map(nodes.Str), min_size=1, max_size=3).map(lambda cs: nodes.ListValue(tuple(cs))),
            )),
        ),
    )
    window_tests = st.builds(lambda size, pattern: nodes.Test(nodes.WindowSubject(size), "~", pattern),
                             st.integers(1, 8), _regex(_MATCH_PATTERNS + (r"th$", r"\.\s$", r"^\w")))
    tests = [char_tests, window_tests]
    if known.axes:
        @st.composite
        def axis_tests(draw):
            axis = known.axes[draw(st.sampled_from(list(known.axes)))]
            offset = draw(st.none() | st.integers(-2, 1).map(nodes.Offset))
            choices = st.sampled_from(("_",) + axis.labels).map(_label_operand)
            op = draw(st.sampled_from(("==", "!=", "in")))
            operand = (draw(st.lists(choices, min_size=1, max_size=3).map(lambda xs: nodes.ListValue(tuple(xs))))
                       if op == "in" else draw(choices))
            return nodes.Test(nodes.AxisSubject(nodes.Ref(axis.name), offset), op, operand)

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


def _rules(known: _Declared, name: str):
    label = _LABEL | st.just("_")  # `_`: no label
    rules = st.lists(st.builds(nodes.Rule, _conditions(known), label.map(nodes.Label)), min_size=1, max_size=3)
    default = st.none() | label.map(lambda x: nodes.Default(nodes.Label(x)))
    return st.builds(nodes.RulesDecl, st.just(name), st.none(), rules.map(tuple), default)


def _tags(axis) -> list[str]:
    """The tags a chunk grammar over `axis` can name (plain labels only)."""
    bio = getattr(axis, "encoding", "span") == "bio"
    tags = dict.fromkeys(label[2:] if bio else label for label in axis.labels)
    return [tag for tag in tags if _IDENTIFIER_TAG.fullmatch(tag)]


def _chunks(known: _Declared, name: str):
    @st.composite
    def build(draw):
        over = known.axes[draw(st.sampled_from(known.names(spans=True)))]
        tag = st.sampled_from(_tags(over) or [".*"]) | st.just(".*")
        tags = st.lists(tag, min_size=1, max_size=3).map(lambda ts: "".join(f"<{t}>" for t in ts))
        rule = st.one_of(tags.map(lambda t: "{%s}" % t), tags.map(lambda t: "{%s+}" % t), tags.map(lambda t: "}%s{" % t))
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            stage = draw(_IDENT)
            indent = " " * draw(st.integers(0, 8))
            lines.append(f"{indent}{stage}: {draw(rule)}")
            lines.extend(f"{indent}    {extra}" for extra in draw(st.lists(rule, max_size=1)))
        grammar = draw(st.sampled_from(("{}", "\n{}\n", "\n{}\n    "))).format("\n".join(lines))
        parents = known.names(spans=True)
        parent = draw(st.none() | st.sampled_from(parents).map(nodes.Ref))
        opts = draw(_options(("encoding", _name_choice("span", "bio"))))
        return nodes.ChunksDecl(name, nodes.Ref(over.name), parent, opts, nodes.LongStr(grammar))

    return build()


def _pos(known: _Declared, name: str):
    return st.builds(nodes.PosDecl, st.just(name),
                     _options(("tagset", _name_choice("penn", "universal")), ("prefix", _flag())))


def _tagger(known: _Declared, name: str):
    @st.composite
    def build(draw):
        plugin = draw(st.sampled_from(known.taggers))
        opts = None
        if plugin == "char_class":  # the built-in plug-in's one option
            from axes.tagger import CharClassTagger

            classes = st.lists(st.sampled_from(CharClassTagger.CLASSES), min_size=1, max_size=3, unique=True)
            opts = draw(_options(("labels", classes.map(lambda cs: nodes.ListValue(tuple(map(nodes.Ident, cs)))))))
        return nodes.TaggerDecl(name, plugin, opts)

    return build()


_IDENTIFIER_TAG = re.compile(r"[A-Za-z0-9_]+")

# node class of a kind -> (strategy factory, can it be declared given the axes so far?)
KIND_STRATEGIES = {
    nodes.GroupDecl: (_group, lambda known: True),
    nodes.AnnotationDecl: (_annotation, lambda known: True),
    nodes.LexiconDecl: (_lexicon, lambda known: True),
    nodes.RulesDecl: (_rules, lambda known: True),
    nodes.RelabelDecl: (_relabel, lambda known: bool(known.names(labelled=True))),
    nodes.ProductDecl: (_product, lambda known: bool(known.names(max_vocab=8))),
    nodes.LagDecl: (_lag, lambda known: bool(known.axes)),
    nodes.ViewDecl: (_view, lambda known: bool(known.names(spans=True))),
    nodes.StateDecl: (_state, lambda known: bool(known.axes)),
    nodes.NestingDecl: (_nesting, lambda known: True),
    nodes.ChunksDecl: (_chunks, lambda known: known.chunks and bool(known.names(spans=True))),
    nodes.PosDecl: (_pos, lambda known: known.nltk),
    nodes.TaggerDecl: (_tagger, lambda known: bool(known.taggers)),
}


def _feeds(known: _Declared):
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
    (axes.base.kinds(), each with its strategy here), each reading only
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
    known = _Declared({}, nltk, chunks, tuple(taggers))
    for _ in range(draw(st.integers(1, max_axes))):
        possible = [kind for kind in kinds().values()
                    if kind in KIND_STRATEGIES and KIND_STRATEGIES[kind][1](known)]
        kind = draw(st.sampled_from(possible))
        name = draw(_NAME)
        while name in known.axes:
            name += "_"
        statements.append(draw(KIND_STRATEGIES[kind][0](known, name)))
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
