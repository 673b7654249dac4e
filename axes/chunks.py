'''chunks NAME over AXIS [within GROUP] [(encoding=span|bio)] """GRAMMAR"""

A chunk cascade: phrases found by NLTK's RegexpParser over another axis's
labels, e.g. noun, prepositional and verb phrases over universal POS tags:

    chunks phrases over upos within sentences """
        NP: {<DET>?<ADJ>*<NOUN>+}     # chunk rule
            }<DET>{                   # chink (strip) rule
        PP: {<ADP><NP>}               # a later stage reads earlier chunks as tags
        VP: {<VERB><NP|PP>*}
    """

The grammar is NLTK's, unchanged (chunk {...}, chink }...{, split ...}{...,
merge ...{}..., one stage per `LABEL:`; see nltk.RegexpParser). It is run on
each span of GROUP on its own (or on the whole document when there is no
`within`). The "tagged tokens" of a span are the spans of AXIS lying inside
it, in order, each tagged with its label (the plain label for a BIO axis:
"NOUN", not "B-NOUN"). AXIS must have spans: a POS, tagger, annotation,
lexicon, grouping or chunks axis; where its spans nest, the outermost ones
are the tokens. Where GROUP's spans nest, each outermost span is chunked.

Every chunk of NLTK's result becomes a span from its first token's first
character to its last token's last character, so the chunks are exactly
those nltk.RegexpParser finds. Cascades nest (a PP holding an NP): the
outermost chunks have depth 1, each level inside adds one. The stream shows
the innermost chunk's label (or B-/I- labels with encoding=bio); characters
outside every chunk have no label. The vocabulary is the grammar's chunk
labels in order of first appearance. A chunk rule can read any later tag of
its span, so chunks look ahead without bound.
'''

from __future__ import annotations

import contextlib
import re

import attrs
import numpy as np
import regex

from grid_dsl.language.diagnostics import Diagnostic, SpecError, did_you_mean
from grid_dsl.language.kinds.chunks import ChunksDecl
from grid_dsl.language.nodes import LongStr, Loc, Ref

from axes.base import Axis, Lookahead, Spans, Stream, bio_labels, builds, paint_bio, paint_nested

# How NLTK reads a grammar line (RegexpParser._read_grammar): an unescaped
# ':' starts a stage; '#' starts a comment. Used only to locate errors and
# to name the tags a rule mentions; NLTK itself parses the grammar.
_STAGE = re.compile(r"(?P<nonterminal>(\\.|[^:])*)(:(?P<rule>.*))")
_RULE = re.compile(r"(?P<rule>(\\.|[^#])*)")
# A tag pattern that is a literal tag or a list of them: <NOUN>, <NP|PP>.
_LITERAL_TAGS = re.compile(r"<([^<>{}.*+?()\[\]\\^$|]+(?:\|[^<>{}.*+?()\[\]\\^$|]+)*)>")
_TAG_BREAKERS = set("<>{}")  # characters NLTK's chunk strings use as markup
_POSITION = re.compile(r" at position \d+")


@attrs.frozen(kw_only=True)
class ChunksAxis(Axis):
    kind = "chunks"
    over: str
    parent: str | None
    encoding: str
    grammar: str
    parser: object = attrs.field(eq=False, repr=False)  # nltk.RegexpParser
    tags: tuple[str, ...]  # the tag the chunker reads for each id of the `over` axis
    chunk_labels: tuple[str, ...]  # the labels without B-/I-: chunk label i has span id i+1
    grammar_loc: Loc | None = None

    def compute(self, doc, inputs) -> Stream:
        tokens = _outermost(inputs[self.over].spans)
        n = len(doc)
        if self.parent is None:
            groups = [(-1, np.arange(len(tokens)))]
        else:
            groups = _tokens_by_parent(tokens, inputs[self.parent].spans)
        tag_of = np.array(self.tags, dtype=object)
        label_id = {label: i + 1 for i, label in enumerate(self.chunk_labels)}
        found = []  # (first token, last token, label, depth, parent) per chunk
        with _timed(self.grammar_loc, self.name):
            for parent, members in groups:
                if len(members) == 0:
                    continue  # NLTK warns on an empty sentence and finds nothing
                tagged = list(zip(members.tolist(), tag_of[tokens.label[members]].tolist()))
                for first, last, label, depth in _chunks(self.parser.parse(tagged)):
                    found.append((first, last, label_id[label], depth, parent))
        if not found:
            spans = Spans.empty()
            return Stream(np.zeros(n, dtype=np.int32), spans)
        first, last, labels, depth, parents = (np.array(column) for column in zip(*found))
        starts, ends = tokens.start[first], tokens.end[last]
        if self.encoding == "bio":
            return Stream(_paint_nested_bio(n, starts, ends, labels, depth),
                          Spans.from_lists(starts, ends, 2 * labels - 1, depth, parents))  # span labels are B- ids
        spans = Spans.from_lists(starts, ends, labels, depth, parents)
        return Stream(paint_nested(n, spans), spans)


def _chunks(tree):
    """(first token, last token, label, depth) of every subtree below the
    root, outer chunks before the chunks inside them. Leaves are (token
    index, tag) pairs."""
    import nltk

    stack = [(child, 1) for child in reversed(tree) if isinstance(child, nltk.Tree)]
    while stack:
        node, depth = stack.pop()
        leaves = node.leaves()
        yield leaves[0][0], leaves[-1][0], node.label(), depth
        stack.extend((child, depth + 1) for child in reversed(node) if isinstance(child, nltk.Tree))


def _outermost(spans: Spans) -> Spans:
    at = spans.depth == 1
    if at.all():
        return spans
    return Spans(spans.start[at], spans.end[at], spans.label[at], spans.depth[at], spans.parent[at])


def _tokens_by_parent(tokens: Spans, parents: Spans) -> list[tuple[int, np.ndarray]]:
    """For each outermost parent span, (its index, the indices of the tokens
    lying wholly inside it)."""
    index = np.flatnonzero(parents.depth == 1)
    if len(index) == 0:
        return []
    starts, ends = parents.start[index], parents.end[index]
    k = np.searchsorted(starts, tokens.start, side="right") - 1
    inside = (k >= 0) & (tokens.end <= ends[np.maximum(k, 0)])
    members = np.flatnonzero(inside)
    owner = k[members]
    cuts = np.flatnonzero(np.diff(owner)) + 1
    return [(int(index[owner[group[0]]]), members[group])
            for group in np.split(np.arange(len(members)), cuts) if len(group)]


def _paint_nested_bio(n: int, starts, ends, labels, depth) -> np.ndarray:
    """BIO ids with inner chunks painted over the outer ones."""
    out = np.zeros(n, dtype=np.int32)
    for level in np.unique(depth):
        at = depth == level
        inner = paint_bio(n, starts[at], ends[at], labels[at])
        out[inner > 0] = inner[inner > 0]
    return out


@contextlib.contextmanager
def _timed(loc, name: str):
    """Turn NLTK's time limit on a rule into a located user error."""
    try:
        yield
    except TimeoutError as err:
        from nltk import redos

        raise SpecError([Diagnostic(
            loc, f"a rule of the chunk grammar of '{name}' took more than {redos.DEFAULT_TIMEOUT:g} s on one span",
            "a tag pattern probably backtracks catastrophically (nested quantifiers like (<.*>+)*); simplify it",
        )]) from err


# ------------------------------------------------------------------ building


def _rule_lines(grammar: str):
    """(offset, rule text, stage label or None) for each rule line, the way
    NLTK reads the grammar; a stage label with no rule yet is yielded with
    an empty rule."""
    offset, stage = 0, None
    for line in grammar.split("\n"):
        lead = len(line) - len(line.lstrip())
        body, at = line.strip(), offset + lead
        m = _STAGE.match(body)
        if m:
            stage = m.group("nonterminal").strip()
            rule = m.group("rule")
            at += m.start("rule") + len(rule) - len(rule.lstrip())
            body = rule.strip()
        if body and not body.startswith("#"):
            yield at, body, stage
        offset += len(line) + 1


def _grammar_loc(node: LongStr, offset: int, width: int) -> Loc | None:
    """Where grammar[offset:offset+width] is in the spec, when the grammar is
    written verbatim (a long string, or a string without escapes)."""
    loc, value = node.loc, node.value
    if loc is None:
        return None
    lines = value.split("\n")
    if loc.end_line - loc.line != len(lines) - 1:
        return loc
    if len(lines) > 1:
        quote = 3 if loc.end_column - 1 == len(lines[-1]) + 3 else None
    else:
        quote = {len(value) + 6: 3, len(value) + 2: 1}.get(loc.end_column - loc.column)
    if quote is None:
        return loc
    row = value.count("\n", 0, offset)
    column = offset - (value.rfind("\n", 0, offset) + 1)
    column += loc.column + quote if row == 0 else 1
    return Loc(loc.file, loc.line + row, column, loc.line + row, column + max(width, 1))


def _grammar_problem(grammar: str) -> tuple[int, int]:
    """(offset, width) of the rule NLTK rejects (the whole grammar if no one
    line is at fault)."""
    from nltk.chunk.regexp import RegexpChunkRule

    for offset, rule, stage in _rule_lines(grammar):
        if not stage:
            return offset, len(rule)  # a rule before any `LABEL:`
        try:
            RegexpChunkRule.fromstring(rule)
        except (ValueError, re.error, regex.error):
            return offset, len(_RULE.match(rule).group("rule").rstrip())
    return 0, len(grammar)


def _warn_unknown_tags(ctx, node: LongStr, known: set[str]) -> None:
    """Warn about literal tags in rules that neither the `over` axis nor an
    earlier stage can produce (a rule that can never match)."""
    for offset, rule, stage in _rule_lines(node.value):
        for m in _LITERAL_TAGS.finditer(_RULE.match(rule).group("rule")):
            for tag in m.group(1).split("|"):
                if tag.strip() and tag.strip() not in known:
                    hint = did_you_mean(tag.strip(), known) or "tags here are the labels of the `over` axis and earlier chunk labels"
                    ctx.warning(_grammar_loc(node, offset + m.start(1), len(m.group(1))),
                                f"tag {tag.strip()!r} never occurs, so this rule cannot match it", hint)
        known.add(stage)


@builds(ChunksDecl)
def build_chunks(node: ChunksDecl, ctx) -> ChunksAxis | None:
    opts = ctx.options(node.options, {"encoding": ctx.opt("name", "span", choices=("span", "bio"))})
    over = ctx.axis(node.over)
    parent = ctx.axis(node.parent) if node.parent is not None else None
    if opts is None:
        return None
    if not over.has_spans:
        ctx.error(node.over.loc, f"'{over.name}' has no spans to chunk",
                  "chunks read the spans of a POS, tagger, annotation, lexicon, grouping or chunks axis")
        return None
    if parent is not None and not parent.has_spans:
        ctx.error(node.parent.loc, f"'{parent.name}' has no spans to chunk within", "chunk within a grouping, e.g. sentences")
        return None
    grammar = node.grammar.value
    import nltk  # only for specs with chunks: it pulls scikit-learn and SciPy

    try:
        parser = nltk.RegexpParser(grammar)
    except (ValueError, re.error, regex.error, RecursionError) as err:
        # NLTK's cause ("missing )", "Bad tag pattern") counts positions in its
        # internal regex, not in the grammar: keep the words, drop the position.
        cause = _POSITION.sub("", str(err.__cause__)) if err.__cause__ else ""
        cause = f" ({cause})" if cause and cause != str(err) else ""
        ctx.error(_grammar_loc(node.grammar, *_grammar_problem(grammar)), f"invalid chunk grammar: {err}{cause}",
                  "rules are {<TAG>...} (chunk), }<TAG>...{ (chink), <A>}{<B> (split), <A>{}<B> (merge), each stage "
                  "starting with `LABEL:`; see nltk.RegexpParser")
        return None
    chunk_labels = tuple(dict.fromkeys(stage._chunk_label for stage in parser._stages))
    if not chunk_labels:
        ctx.error(node.grammar.loc, "the chunk grammar has no rules", "write e.g. `NP: {<DET>?<ADJ>*<NOUN>+}`")
        return None
    encoding = getattr(over, "encoding", "span")
    tags = tuple(label[2:] if encoding == "bio" else label for label in over.vocab)
    unreadable = [tag for tag in tags[1:] if _TAG_BREAKERS & set(tag)]
    if unreadable:
        ctx.error(node.over.loc, f"labels of '{over.name}' contain characters NLTK's chunker reserves (< > {{ }}): "
                                 f"{', '.join(unreadable[:5])}", f"relabel '{over.name}' first")
        return None
    _warn_unknown_tags(ctx, node.grammar, set(tags[1:]))
    lookahead = over.lookahead.combine(over.span_start).combine(
        Lookahead("unbounded", note="a chunk rule can look at any later tag of the sentence"))
    if parent is not None:
        lookahead = lookahead.combine(parent.span_start)
    return ChunksAxis(
        name=node.name,
        labels=bio_labels(chunk_labels) if opts["encoding"] == "bio" else chunk_labels,
        lookahead=lookahead,
        inputs=(over.name,) + ((parent.name,) if parent else ()),
        has_spans=True,
        level=parent.level + 1 if parent else 1,
        over=over.name,
        parent=parent.name if parent else None,
        encoding=opts["encoding"],
        grammar=grammar,
        parser=parser,
        tags=tags,
        chunk_labels=chunk_labels,
        grammar_loc=node.grammar.loc,
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return known.chunks and bool(known.names(spans=True))  # slow to compile: only when asked for


_TAG = re.compile(r"[A-Za-z0-9_]+")


def _tags(axis) -> list[str]:
    """The tags a chunk grammar over `axis` can name (plain labels only)."""
    bio = getattr(axis, "encoding", "span") == "bio"
    tags = dict.fromkeys(label[2:] if bio else label for label in axis.labels)
    return [tag for tag in tags if _TAG.fullmatch(tag)]


def strategy(known, name: str, pieces):
    """A cascade of 1-3 stages of chunk, strip and `+` rules over the tags of an axis with spans."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        over = known.axes[draw(st.sampled_from(known.names(spans=True)))]
        tag = st.sampled_from(_tags(over) or [".*"]) | st.just(".*")
        tags = st.lists(tag, min_size=1, max_size=3).map(lambda ts: "".join(f"<{t}>" for t in ts))
        rule = st.one_of(tags.map(lambda t: "{%s}" % t), tags.map(lambda t: "{%s+}" % t), tags.map(lambda t: "}%s{" % t))
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            stage = draw(pieces.ident)
            indent = " " * draw(st.integers(0, 8))
            lines.append(f"{indent}{stage}: {draw(rule)}")
            lines.extend(f"{indent}    {extra}" for extra in draw(st.lists(rule, max_size=1)))
        grammar = draw(st.sampled_from(("{}", "\n{}\n", "\n{}\n    "))).format("\n".join(lines))
        parents = known.names(spans=True)
        parent = draw(st.none() | st.sampled_from(parents).map(Ref))
        opts = draw(pieces.options(("encoding", pieces.name_choice("span", "bio"))))
        return ChunksDecl(name, Ref(over.name), parent, opts, LongStr(grammar))

    return build()
