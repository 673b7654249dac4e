"""annotation NAME (layer=L, labels=[A, B], encoding=span|bio)

Labels from external annotations aligned with the text: character-offset
spans, one JSON object per line in a `.spans.jsonl` file beside the corpus:

    {"doc": 0, "layer": "role", "start": 10, "end": 16, "label": "HERO"}

`doc` (an index or a name) may be left out for a single-document corpus.
Offsets refer to the raw text; the compiler maps them through the main
axis's normalisation. Where spans nest, the innermost label is shown.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import attrs
import numpy as np

from grid_dsl.language.diagnostics import Diagnostic, SpecError
from grid_dsl.language import nodes
from grid_dsl.language.kinds.annotation import AnnotationDecl
from grid_dsl.language.nodes import Loc

from axes.base import Axis, Lookahead, Spans, Stream, bio_labels, builds, paint_bio, paint_nested

Layers = dict[str, list[tuple[int, int, str]]]


def read_spans_jsonl(path: str | Path) -> dict[object, Layers]:
    """{doc: {layer: [(start, end, label), ...]}} from a .spans.jsonl file."""
    path = Path(path)
    out: dict[object, Layers] = defaultdict(lambda: defaultdict(list))
    problems = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = Loc(str(path), number, 1, number, len(line.rstrip("\n")) + 1)
            try:
                record = json.loads(line)
                start, end, label, layer = record["start"], record["end"], record["label"], record["layer"]
                if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
                    raise ValueError(f"need integers 0 <= start <= end, got {start!r}, {end!r}")
                if not isinstance(label, str) or not isinstance(layer, str):
                    raise ValueError("layer and label must be strings")
            except (ValueError, KeyError, TypeError) as err:
                problems.append(Diagnostic(where, f"bad annotation record: {err}",
                                           'each line is {"doc": 0, "layer": "role", "start": 3, "end": 7, "label": "HERO"}'))
                continue
            out[record.get("doc", 0)][layer].append((start, end, label))
    if problems:
        raise SpecError(problems, {str(path): path.read_text(encoding="utf-8")})
    return {doc: dict(layers) for doc, layers in out.items()}


class CrossingSpans(ValueError):
    """Two spans of one layer overlap without one holding the other."""


def nesting_depth(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """1 + the number of spans enclosing each span (spans sorted outer-first);
    CrossingSpans when two spans overlap without nesting."""
    depth = np.ones(len(starts), dtype=np.int32)
    open_spans: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        while open_spans and open_spans[-1][1] <= s:
            open_spans.pop()
        if open_spans and e > open_spans[-1][1]:
            raise CrossingSpans(f"spans {open_spans[-1]} and {(s, e)} cross")
        depth[i] = len(open_spans) + 1
        open_spans.append((s, e))
    return depth


@attrs.frozen(kw_only=True)
class AnnotationAxis(Axis):
    kind = "annotation"
    layer: str
    encoding: str
    plain_labels: tuple[str, ...]  # the declared labels (labels is their BIO form for encoding=bio)
    loc: Loc | None = None

    def compute(self, doc, inputs) -> Stream:
        records = doc.annotations.get(self.layer, [])
        n = len(doc)
        ids = {label: i + 1 for i, label in enumerate(self.plain_labels)}
        unknown = sorted({label for _, _, label in records} - set(ids))
        if unknown:
            raise SpecError([Diagnostic(self.loc, f"annotation layer {self.layer!r} has undeclared labels: {', '.join(unknown)}",
                                        f"add them to `labels=[...]` of axis '{self.name}'")])
        outside = [(s, e) for s, e, _ in records if e > n]
        if outside:
            raise SpecError([Diagnostic(self.loc, f"annotation span {outside[0]} of layer {self.layer!r} ends past the "
                                                  f"document ({n} characters)", "offsets are characters of the raw text")])
        kept = [(s, e, ids[label]) for s, e, label in records if e > s]
        kept.sort(key=lambda r: (r[0], -r[1]))
        starts = np.array([r[0] for r in kept], dtype=np.int64)
        ends = np.array([r[1] for r in kept], dtype=np.int64)
        labels = np.array([r[2] for r in kept], dtype=np.int32)
        try:
            depth = nesting_depth(starts, ends)
        except CrossingSpans as err:
            raise SpecError([Diagnostic(self.loc, f"annotation layer {self.layer!r}: {err}",
                                        "spans of one layer are disjoint or nest (one inside the other)")]) from None
        if self.encoding != "bio":
            spans = Spans(starts, ends, labels, depth)
            return Stream(paint_nested(n, spans), spans)
        out = np.zeros(n, dtype=np.int32)
        for level in np.unique(depth):  # outer spans first, inner ones on top
            at = depth == level
            inner = paint_bio(n, starts[at], ends[at], labels[at])
            out[inner > 0] = inner[inner > 0]
        return Stream(out, Spans(starts, ends, 2 * labels - 1, depth))  # span labels are B- ids


@builds(AnnotationDecl)
def build_annotation(node: AnnotationDecl, ctx) -> AnnotationAxis | None:
    opts = ctx.options(
        node.options,
        {
            "layer": ctx.opt("name", node.name),
            "labels": ctx.opt("labels", None),
            "encoding": ctx.opt("name", "span", choices=("span", "bio")),
        },
    )
    if opts is None:
        return None
    if not opts["labels"]:
        ctx.error(node.loc, f"annotation '{node.name}' needs its labels declared",
                  f"write `annotation {node.name} (labels=[A, B, ...])`: the vocabulary must be known before any text is read")
        return None
    labels = tuple(dict.fromkeys(opts["labels"]))
    return AnnotationAxis(
        name=node.name,
        labels=bio_labels(labels) if opts["encoding"] == "bio" else labels,
        lookahead=Lookahead("unbounded", note="external annotations may depend on any part of the text"),
        has_spans=True,
        layer=opts["layer"],
        encoding=opts["encoding"],
        plain_labels=labels,
        loc=node.loc,
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return True


def strategy(known, name: str, pieces):
    """Its labels (often ones that must be quoted), and any other option."""
    from hypothesis import strategies as st

    label_values = st.lists(pieces.label, min_size=1, max_size=4, unique=True).map(
        lambda labels: nodes.ListValue(tuple(nodes.Ident(x) if pieces.plain(x) else nodes.Str(x) for x in labels)))

    @st.composite
    def build(draw):
        opts = draw(pieces.options(("layer", pieces.ident.map(nodes.Ident)), ("encoding", pieces.name_choice("span", "bio"))))
        items = (opts.items if opts else ()) + (nodes.Option("labels", draw(label_values)),)
        return AnnotationDecl(name, nodes.Options(tuple(draw(st.permutations(items)))))

    return build()
