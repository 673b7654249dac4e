"""Candidate axes and the checks every one must pass before anyone uses it.

    check_candidate(candidate, ds)     # CandidateError(reason) when a check fails

A candidate is a complete .axes spec: the dataset's spec plus one new axis
fed as context. The checks, in order:

1. the text parses and checks (grid_dsl.check);
2. it is canonical: `multigrid fmt` would not change it, and formatting
   round-trips (grid_dsl.data.properties.assert_roundtrip);
3. the new axis is declared causal by the checker and fed as context;
4. it is causal in fact: prefix-stable at sampled cut points of text of the
   dataset's validation split (grid_dsl.data.causality.verify);
5. it passes the alignment properties (grid_dsl.data.properties.assert_grid_properties:
   lengths, determinism, well-formed spans, nesting, prefix stability at
   every cut) on short excerpts of that text and on awkward texts (empty,
   whitespace, CRLF, combining marks).

Checks 4 and 5 compile only the new axis and the axes it reads.
"""

from __future__ import annotations

import attrs

from grid_dsl.data.causality import verify
from grid_dsl.data.checker import check
from grid_dsl.language.diagnostics import SpecError, UserError
from grid_dsl.language.formatter import format_text
from grid_dsl.language.parser import parse
from grid_dsl.data.properties import assert_grid_properties, assert_roundtrip

from model.experiments.distill import closure_plan

AWKWARD_TEXTS = ("", " \n\t ", "A\r\nb. \u00c9e\u0301 \u00bd? 12,3\n\n\"Oh!\" \u2014 x_y")
EXCERPT_CHARS = 120  # excerpts checked at every cut point (property 6 compiles each prefix)
VERIFY_CHARS = 6000


class CandidateError(UserError):
    """A candidate was not made, or failed a check; the message says why."""


@attrs.frozen
class Distillation:
    """How a distilled candidate was made (kept in memory for measuring it)."""

    sample: object  # distill.Sample
    labels: object  # str array [N]: the label the rules were fitted to at each sampled position
    features: object  # distill.Features
    tree: object  # the fitted sklearn DecisionTreeClassifier
    rules: object  # distill_tree.DecisionList
    held_out: object  # int array: the rows the tree was not fitted on (fidelity is measured there)


@attrs.frozen
class Candidate:
    name: str  # the new axis
    text: str  # the complete .axes spec, canonical
    proposer: str
    description: str  # one line: what it is, how well it fits
    stats: dict = attrs.field(factory=dict)
    distillation: Distillation | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Failure:
    proposer: str
    candidate: str | None  # None when the proposer made no candidate
    reason: str

    def describe(self) -> str:
        what = f"candidate {self.candidate!r}" if self.candidate else "no candidate"
        return f"proposer {self.proposer}: {what}: {self.reason}"


def sample_text(ds) -> str:
    """Text to check on: the start of the validation split (or of train)."""
    split = "val" if ds.tokens("val") else "train"
    return ds.decode(ds.main(split)[:VERIFY_CHARS])


def check_candidate(candidate: Candidate, ds, *, cuts: int = 64, seed: int = 0) -> None:
    """CandidateError naming the first check (module docstring) that fails."""
    name, text = candidate.name, candidate.text
    try:
        plan = check(parse(text, f"<candidate {name}>"))
    except SpecError as err:
        raise CandidateError(f"the spec of {name!r} does not check:\n{err.render()}") from None
    if format_text(text) != text:
        raise CandidateError(f"the spec of {name!r} is not canonical (`multigrid fmt` would change it)")
    try:
        assert_roundtrip(text)
    except AssertionError as err:
        raise CandidateError(f"the spec of {name!r} does not round-trip through the formatter: {err}") from None
    if name not in plan.names:
        raise CandidateError(f"the spec has no axis {name!r}")
    axis, feed = plan.axis(name), plan.feed(name)
    if not axis.causal:
        raise CandidateError(f"axis {name!r} is not causal (the checker finds it looks ahead: {axis.lookahead})")
    if feed is None or feed.mode != "context":
        raise CandidateError(f"axis {name!r} is not fed as context")
    own = closure_plan(plan, name)
    text_of_data = sample_text(ds)
    verdict = next(v for v in verify(own, text_of_data, cuts=cuts, seed=seed) if v.axis == name)
    if verdict.counterexample is not None:
        raise CandidateError(f"axis {name!r} looks ahead in fact: {verdict.counterexample.describe()}")
    excerpts = [text_of_data[i : i + EXCERPT_CHARS] for i in range(0, min(len(text_of_data), 3 * EXCERPT_CHARS), EXCERPT_CHARS)]
    for piece in excerpts + list(AWKWARD_TEXTS):
        try:
            assert_grid_properties(own, piece)
        except AssertionError as err:
            raise CandidateError(f"axis {name!r} fails an alignment property on {piece[:40]!r}: {err}") from None
