"""The checked plan: what the compiler runs and what a trainer feeds.

A Plan is the output of the checker: the main axis, every axis in dependency
order (helpers included), and the role of each fed axis in the grid.
"""

from __future__ import annotations

import hashlib

import attrs

from axes.base import Axis
from axes.main import MainAxis

# context: free input (causal axes only); predict: fed one step ahead and
# predicted, its bits counted; oracle: ground truth, every number leaky;
# mask: not read by the model: the loss and every score count only the
# characters this axis labels (e.g. the answers of a task corpus).
MODES = ("context", "predict", "oracle", "mask")
DTYPES = {"uint8": 2**8, "uint16": 2**16, "uint32": 2**32}


def dtype_for(vocab_size: int) -> str:
    """The smallest stream dtype that holds ids 0 .. vocab_size-1."""
    for name, limit in DTYPES.items():
        if vocab_size <= limit:
            return name
    raise ValueError(f"vocabulary of {vocab_size} labels does not fit uint32")


@attrs.frozen
class FeedSpec:
    """How one axis enters the grid (docs/design.md, "Causality")."""

    axis: str
    mode: str  # one of MODES
    weight: float = 1.0  # loss weight in training only; evaluation is unweighted
    dim: int | None = None  # embedding size; None = the model's default
    dtype: str = "uint8"
    forced: bool = False  # `context (force)` on a non-causal axis, which makes it oracle

    @property
    def leaky(self) -> bool:
        return self.mode == "oracle"


@attrs.frozen
class Plan:
    main: MainAxis
    axes: tuple[Axis, ...]  # every axis, each after the axes it reads
    feeds: tuple[FeedSpec, ...]
    sources: dict[str, str] = attrs.field(factory=dict, eq=False, repr=False)  # file -> text, root first
    warnings: tuple = attrs.field(default=(), eq=False, repr=False)

    def axis(self, name: str) -> Axis:
        for axis in self.axes:
            if axis.name == name:
                return axis
        raise KeyError(name)

    def needs(self, names) -> tuple[str, ...]:
        """`names` and every axis they read, directly or not, in plan order."""
        needed, todo = set(names), list(names)
        while todo:
            for dep in self.axis(todo.pop()).inputs:
                if dep not in needed:
                    needed.add(dep)
                    todo.append(dep)
        return tuple(a.name for a in self.axes if a.name in needed)

    def restricted_to(self, names) -> "Plan":
        """The plan that computes only `names` and what they read (to compile
        a few axes of a text cheaply)."""
        keep = set(self.needs(names))
        return attrs.evolve(self, axes=tuple(a for a in self.axes if a.name in keep),
                            feeds=tuple(f for f in self.feeds if f.axis in keep))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def feed(self, name: str) -> FeedSpec | None:
        return next((f for f in self.feeds if f.axis == name), None)

    @property
    def leaky(self) -> bool:
        """True when any fed axis is oracle: no number from such a run is an LM score."""
        return any(f.leaky for f in self.feeds)

    @property
    def spec_hash(self) -> str:
        """Hash of the spec's text, included files in order (not their paths,
        so the same spec hashes the same on every machine)."""
        digest = hashlib.sha256()
        for text in self.sources.values():
            digest.update(text.encode() + b"\0")
        return digest.hexdigest()
