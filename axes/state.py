"""latest / first / count / since: state from anywhere earlier in the document.

    latest who_last = who within paras      # the last non-empty label of `who`, held until the next
    first hero = who within tales           # the first label of `who` in the current span of `tales`, held
    count para_no = paras (max=64)          # how many spans of `paras` have started so far
    since nl = lines (from=end, scale=log)  # characters since a span of `lines` last ended

A window-bound model cannot know what happened outside its window; a pass
over the whole document can. Each operator reads another axis X and, with
`within G`, starts afresh at every span start of G (for an axis without
spans, such as a rules axis marking paragraph starts, wherever a run of one
of its labels starts): before X's first label there, `latest` and `first`
show no label, `count` is 0 and `since` shows no label.

`latest` and `first` take X's vocabulary. `count` counts span starts of X
(for an axis without spans, starts of runs of one label), the span holding
a character included: inside the k-th span of X the count is k, so
`count sent_no = sents` numbers the sentences of a document. `since`
measures in characters from X's last span start (`from=start`, the
default: 0 on the starting character) or from the character after its last
span end (`from=end`: 0 on the first character after the span).

Options of `count` and `since`: `max=K` caps the value (values >= K share
the label "K+"; default 32 for count, 1024 for since), `scale=linear|log`
(linear: labels "0" .. "K-1", "K+"; log: "0", "1", "2-3", "4-7", ...; the
default is linear for count and log for since). In rules conditions the
labels compare as numbers (`para_no >= 3`; a log bucket compares by its
least value).

Causality is derived, never declared: `latest` and `first` are causal when
X's labels are; `count` and `since from=start` when X's span starts are;
`since from=end` when a span's end shows by the character after it; and
`within G` adds G's span starts. Each operator is one numpy pass over the
document (axes/_state.py).
"""

from __future__ import annotations

import attrs
import numpy as np

from grid_dsl.language import nodes
from grid_dsl.language.kinds.state import StateDecl

from axes import _state
from axes.base import CAUSAL, Axis, Lookahead, Stream, builds

DEFAULT_MAX = {"count": 32, "since": 1024}
DEFAULT_SCALE = {"count": "linear", "since": "log"}
MAX_CAP = 65_535  # the labels stay a uint16 stream
NUMERIC = ("count", "since")


@attrs.frozen(kw_only=True)
class StateAxis(Axis):
    kind = "state"
    operator: str
    source: str
    within: str | None = None
    source_spans: bool = False  # use the source's spans (else its label runs)
    maximum: int = 0
    scale: str = "linear"
    since_end: bool = False

    @property
    def numeric(self) -> bool:
        """Labels are numbers (rules conditions compare them as such)."""
        return self.operator in NUMERIC

    def _starts(self, stream: Stream) -> np.ndarray:
        """Where `within` starts afresh: its span starts, or the starts of its label runs."""
        return stream.spans.start if stream.spans is not None else _state.run_bounds(stream.ids)[0]

    def compute(self, doc, inputs) -> Stream:
        source = inputs[self.source]
        n = len(doc)
        resets = _state.reset_marks(n, self._starts(inputs[self.within]) if self.within else None)
        if self.operator == "latest":
            return Stream(_state.latest_ids(source.ids, resets))
        if self.operator == "first":
            return Stream(_state.first_ids(source.ids, resets))
        starts, ends = ((source.spans.start, source.spans.end) if self.source_spans
                        else _state.run_bounds(source.ids))
        events = np.zeros(n, dtype=bool)
        at = ends[ends > starts] if self.since_end else starts[ends > starts]
        events[at[at < n]] = True
        values = _state.count_events(events, resets) if self.operator == "count" else _state.distance_since(events, resets)
        return Stream(_state.bucket_ids(values, self.maximum, self.scale))


def _after_end(span_end: Lookahead) -> Lookahead:
    """The look-ahead of a value shown from the character after a span's
    last character, when knowing the span ended takes `span_end` from it."""
    if span_end.covered_by_chars(1):
        return CAUSAL
    return Lookahead("chars", span_end.n - 1, note=span_end.note) if span_end.kind == "chars" else span_end


@builds(StateDecl)
def build_state(node: StateDecl, ctx) -> StateAxis | None:
    op = node.operator
    source = ctx.axis(node.source)
    within = ctx.axis(node.within) if node.within else None
    schema = {}
    if op in NUMERIC:
        schema = {"max": ctx.opt("int", DEFAULT_MAX[op], minimum=1, maximum=MAX_CAP),
                  "scale": ctx.opt("name", DEFAULT_SCALE[op], choices=("linear", "log"))}
    if op == "since":
        schema["from"] = ctx.opt("name", "start", choices=("start", "end"))
    opts = ctx.options(node.options, schema)
    if opts is None or source is None or (node.within and within is None):
        return None
    since_end = opts.get("from") == "end"
    if op in ("latest", "first"):
        reads, labels = source.lookahead, source.labels
    else:
        if source.has_spans:
            reads = _after_end(source.span_end) if since_end else source.span_start
        else:
            reads = source.lookahead  # runs of a label: a run's start and end show in the labels themselves
        maker = _state.log_labels if opts["scale"] == "log" else _state.linear_labels
        labels = maker(opts["max"])
    if within is not None:  # starts afresh at its span starts, or where a run of one of its labels starts
        reads = reads.combine(within.span_start if within.has_spans else within.lookahead)
    lookahead = reads
    return StateAxis(
        name=node.name, labels=labels, lookahead=lookahead,
        inputs=(source.name,) + ((within.name,) if within is not None else ()),
        operator=op, source=source.name, within=within.name if within is not None else None,
        source_spans=source.has_spans, maximum=opts.get("max", 0), scale=opts.get("scale", "linear"),
        since_end=since_end,
    )


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return bool(known.axes)


def strategy(known, name: str, pieces):
    """latest/first of any axis, count/since of any axis, optionally within a grouping."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        op = draw(st.sampled_from(("latest", "first", "count", "since")))
        source = nodes.Ref(draw(st.sampled_from(known.names())))
        spans = known.names(spans=True)
        within = draw(st.none() | st.sampled_from(spans).map(nodes.Ref)) if spans else None
        pairs = []
        if op in ("count", "since"):
            pairs = [("max", st.integers(1, 40).map(nodes.Num)), ("scale", pieces.name_choice("linear", "log"))]
        if op == "since":
            pairs.append(("from", pieces.name_choice("start", "end")))
        return StateDecl(op, name, source, within, draw(pieces.options(*pairs)) if pairs else None)

    return build()
