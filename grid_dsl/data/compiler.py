"""Plan + text -> Grid: run every axis over a document, in dependency order.

Each document is compiled on its own, so compiling a corpus in pieces split
at document boundaries gives the same streams as compiling it whole (the
chunk-invariance property that parallel and sharded compilation rely on).
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np

from axes.base import Document, Stream

from grid_dsl.data.grid import Grid
from grid_dsl.data.plan import Plan

Annotations = Mapping[str, list]  # layer -> [(start, end, label), ...] in raw-text offsets


def normalise(plan: Plan, text: str, annotations: Annotations | None = None) -> tuple[str, Annotations | None]:
    """The text as the main axis sees it (normalised), with the annotation
    offsets mapped from the raw text onto it."""
    normalised, offsets = plan.main.prepare(text)
    if annotations and offsets is not None:
        annotations = {
            layer: [(int(offsets[s]), int(offsets[e]), label) for s, e, label in spans]
            for layer, spans in annotations.items()
        }
    return normalised, annotations


def compile_text(plan: Plan, text: str, annotations: Annotations | None = None, name: str | None = None,
                 on_axis: Callable[[], None] | None = None) -> Grid:
    """Compile one document. Annotation offsets refer to `text` as given
    (before the main axis's normalisation); they are mapped here. `on_axis`
    is called after each axis (a progress bar that moves within one long
    document)."""
    normalised, annotations = normalise(plan, text, annotations)
    doc = Document(normalised, annotations, name)
    streams: dict[str, Stream] = {}
    for axis in plan.axes:
        stream = axis.compute(doc, {dep: streams[dep] for dep in axis.inputs})
        if len(stream.ids) != len(doc):
            raise AssertionError(f"axis {axis.name!r} gave {len(stream.ids)} ids for {len(doc)} characters")
        streams[axis.name] = Stream(stream.ids.astype(np.int32, copy=False), stream.spans)
        if on_axis is not None:
            on_axis()
    return Grid(plan, normalised, streams)


def compile_documents(
    plan: Plan, documents: Iterable[str | tuple[str, Annotations | None]]
) -> list[Grid]:
    """Compile documents one by one (each a text, or a (text, annotations) pair)."""
    grids = []
    for i, doc in enumerate(documents):
        text, annotations = (doc, None) if isinstance(doc, str) else doc
        grids.append(compile_text(plan, text, annotations, name=str(i)))
    return grids
