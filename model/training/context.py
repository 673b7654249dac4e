"""Labels of generated text: what `multigrid sample` and the TEXT-tab samples
of training share.

A model that reads context (or oracle) axes needs their labels for every
character it writes; the spec computes them from the text. `spec_plan`
rebuilds the run's spec from the sources stored in its checkpoint (or its
dataset's manifest), `context_labels` turns it into generate()'s
context_fn, and `SampleGrid` lets grid_dsl.data.render draw generated ids as a
grid.
"""

from __future__ import annotations

from grid_dsl.language.diagnostics import UserError

from model.network.checkpoint import DataEntry


class SampleGrid:
    """What grid_dsl.data.render.render_text reads of a Grid, for generated ids."""

    def __init__(self, text: str, streams: dict, vocabs: dict):
        self.text, self.names, self._vocabs = text, tuple(streams), vocabs
        self.char_streams = {name: Ids(ids) for name, ids in streams.items()}

    def vocab(self, name: str):
        return self._vocabs[name]


class Ids:
    def __init__(self, ids):
        self.ids = ids


def decode(ids: list[int], data: DataEntry) -> str:
    vocab = data.main_vocab
    if data.unit == "bytes":
        return bytes(vocab[i] for i in ids).decode("utf-8", errors="replace")
    return "".join(vocab[i] for i in ids)


def generation_context(data: DataEntry, config, file):
    """generate()'s context_fn for a run's model (`config`: its GridConfig):
    the labels of every context and oracle axis it reads and of the
    boundary axis of a hierarchical model, compiled by the run's spec; None
    when the model needs none."""
    names = [a.name for a in data.axes if a.mode != "predict"]
    vocabs = {}
    if config.boundary_axis is not None and config.boundary_axis not in names:
        names.append(config.boundary_axis)
        vocabs[config.boundary_axis] = config.boundary_vocab
    return context_labels(spec_plan(data, file), data, names, vocabs) if names else None


def context_labels(plan, data: DataEntry, names: list[str], vocabs: dict | None = None):
    """generate()'s context_fn: the ids of the axes `names` on the main ids
    generated so far, from compiling the spec (only those axes and what they
    read) on the decoded text; labels mapped to the model's ids by name (the
    vocabularies of the model's axes, and `vocabs` {axis: labels} for others)."""
    import numpy as np

    from grid_dsl.data.compiler import compile_text

    sub = plan.restricted_to(names)
    vocabs = {a.name: a.vocab for a in data.axes} | (vocabs or {})
    to_model = {}
    for name in names:  # spec id -> model id; 0 for a label the model never saw
        index = {label: i for i, label in enumerate(vocabs[name])}
        to_model[name] = np.array([index.get(label, 0) for label in plan.axis(name).vocab], dtype=np.int64)

    def context_fn(ids: list[int]) -> dict:
        grid = compile_text(sub, decode(ids, data))
        out = {}
        for name in names:
            labels = to_model[name][grid.ids(name)][-len(ids):]  # aligned from the end if lengths differ
            out[name] = np.concatenate([np.zeros(len(ids) - len(labels), np.int64), labels])
        return out

    return context_fn


def referee_context(ds, axes, positions: int, split: str = "val", boundary: str | None = None):
    """The scoring-time referee (grid_dsl.data.referee) on the context axes among
    `axes` (ModelAxis or the manifest's AxisEntry) and on a hierarchical
    model's `boundary` axis (where its global blocks read: as causal as a
    context axis must be), with the dataset's own spec; None when there is
    nothing to check."""
    names = [a.name for a in axes if a.mode == "context"]
    names += [boundary] if boundary and boundary not in names else []
    if not names or positions <= 0:
        return None
    from grid_dsl.data.referee import referee

    spec = ds.manifest.spec
    return referee(ds, stored_plan(spec.sources, spec.hash, ds.path), names, split, positions)


def require_honest_context(ds, what: str, positions: int = 2000) -> None:
    """UserError unless every context axis of `ds` passed the compile-time
    prefix check and the referee agrees with its validation labels: `what`
    (distill, improve) would otherwise write specs and numbers from axes
    that reveal upcoming characters."""

    context = [a for a in ds.axes if a.mode == "context"]
    failed = [a.name for a in context if a.prefix_failed]
    referee = None if failed else referee_context(ds, context, positions)
    if failed or (referee is not None and not referee.ok):
        detail = (f"the context axes {', '.join(failed)} failed the prefix check when it was compiled "
                  f"(--allow-leaks)" if failed else referee.describe())
        raise UserError(f"{what}: dataset {ds.path} is leaky: {detail}. Fix the spec (feed those axes as predict, or "
                        "a causal lag of them), compile it again without --allow-leaks, and train on that")


def spec_plan(data: DataEntry, file):
    """The run's spec, checked again from the text the checkpoint stores (or,
    for a checkpoint without it, its dataset's manifest when that is still
    there with the same spec hash)."""
    from grid_dsl.data.manifest import read_manifest

    sources = data.spec_sources
    if sources is None:
        try:
            spec = read_manifest(data.path).spec
        except UserError:
            spec = None
        sources = spec.sources if spec and spec.hash == data.spec_hash else None
    if not sources:
        raise UserError(f"{file} stores no spec text and its dataset {data.path} is gone or recompiled, so the "
                        "context axes of generated text cannot be computed; train the run again")
    return stored_plan(sources, data.spec_hash, file)


def stored_plan(sources: dict[str, str], spec_hash: str, file):
    """The plan of a spec stored as its sources ({file: text}, root first),
    checked to be the one with `spec_hash`."""
    from grid_dsl.data.checker import check, stored_sources
    from grid_dsl.language.parser import parse

    root, text = next(iter(sources.items()))
    plan = check(parse(text, root), load=stored_sources(sources))
    if plan.spec_hash != spec_hash:
        raise UserError(f"the spec stored in {file} reads files that are missing or changed (hash "
                        f"{plan.spec_hash[:12]}, the run's {spec_hash[:12]}); train the run again")
    return plan
