"""A compiled document: the main stream and every axis stream, aligned."""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from axes.base import NONE_LABEL, Spans, Stream

from grid_dsl.data.plan import Plan


class Grid:
    """The main stream of one text plus one id stream per axis, all the same
    length (characters, or bytes for `main bytes`), with the vocabularies to
    read them. `grid.ids(name)` is aligned with `grid.main`."""

    def __init__(self, plan: Plan, text: str, char_streams: dict[str, Stream]):
        self.plan = plan
        self.text = text
        self.char_streams = char_streams
        self._unit_cache: dict[str, np.ndarray] = {}

    # ---- the streams
    @functools.cached_property
    def main(self) -> np.ndarray:
        return self.plan.main.ids(self.text)

    @functools.cached_property
    def _codes(self) -> np.ndarray:
        return np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype="<u4")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.char_streams)

    def ids(self, name: str) -> np.ndarray:
        """The axis's ids, aligned with the main stream."""
        if name not in self._unit_cache:
            ids = self.char_streams[name].ids
            self._unit_cache[name] = self.plan.main.to_units(ids, self._codes, self.plan.axis(name).causal)
        return self._unit_cache[name]

    def vocab(self, name: str) -> tuple[str, ...]:
        return self.plan.axis(name).vocab

    def labels(self, name: str) -> list[str]:
        """One label per main position ("_" where there is none)."""
        vocab = self.vocab(name)
        return [vocab[i] for i in self.ids(name)]

    def spans(self, name: str) -> Spans | None:
        return self.char_streams[name].spans

    def __len__(self) -> int:
        return len(self.main)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return (
            self.text == other.text
            and self.names == other.names
            and all(self.vocab(n) == other.vocab(n) and np.array_equal(self.ids(n), other.ids(n)) for n in self.names)
        )

    __hash__ = None

    # ---- views
    def render(self, axes: Sequence[str] | None = None, width: int = 80, color: bool = False) -> str:
        from grid_dsl.data.render import render_text

        return render_text(self, axes, width, color)

    def _repr_html_(self) -> str:
        from grid_dsl.data.render import render_html

        return render_html(self)

    def __repr__(self) -> str:
        return f"<Grid {len(self)} {self.plan.main.unit}, axes: {', '.join(self.names) or 'none'}>"

    @classmethod
    def concat(cls, grids: Sequence["Grid"]) -> "Grid":
        """Documents one after another, as one grid: span offsets are shifted
        by the text before them, parent indices by the parent's spans before."""
        if not grids:
            raise ValueError("nothing to concatenate")
        plan = grids[0].plan
        offsets = np.cumsum([0] + [len(g.text) for g in grids])
        streams = {}
        for name in grids[0].names:
            parts = [g.char_streams[name] for g in grids]
            spans = None
            if all(p.spans is not None for p in parts):
                parent_name = getattr(plan.axis(name), "parent", None)
                before = [0] * len(grids)
                if parent_name is not None:
                    before = np.cumsum([0] + [len(g.spans(parent_name)) for g in grids])
                spans = Spans(
                    np.concatenate([p.spans.start + o for p, o in zip(parts, offsets)]),
                    np.concatenate([p.spans.end + o for p, o in zip(parts, offsets)]),
                    np.concatenate([p.spans.label for p in parts]),
                    np.concatenate([p.spans.depth for p in parts]),
                    np.concatenate(
                        [np.where(p.spans.parent >= 0, p.spans.parent + b, -1) for p, b in zip(parts, before)]
                    ),
                )
            streams[name] = Stream(np.concatenate([p.ids for p in parts]), spans)
        return cls(plan, "".join(g.text for g in grids), streams)

__all__ = ["Grid", "NONE_LABEL"]
