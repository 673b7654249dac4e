"""Distillation, part 1: what a trained model does at sampled positions, and
the causal conditions of the spec language that describe those positions.

    sample = collect(net, ds, layer=1, size=4000, seed=0)   # hidden states after block 1, per-position loss
    table = features(ds, base_spec_text(ds), sample.positions)
    table.X[i, j]       # does condition table.conditions[j].text hold at sample.positions[i]?

`collect` runs the model over random windows of the dataset's train split
and keeps only the sampled rows (float32 [N, n_embd]), so memory grows with
the sample, not the corpus. Positions are drawn from the second half of each
window, where the model has seen at least block_size/2 characters. Row i
describes the model at split position p = positions[i]: it has read m_<=p and
predicts m_{p+1} (`nll` is that prediction's loss in nats).

`features` builds boolean columns that are tests of a rule condition, each
exactly as the compiled rules evaluate it (they ARE the compiled conditions,
evaluated on the documents that hold the sampled positions):

    char[k] == "x", char[k] is CLASS     k = 0, -1, -2; the frequent characters, every class
    position(G) == i, position(G) >= 6   for each grouping whose span starts are causal (words, ...)
    AXIS == LABEL                        for each causal axis of the spec (its frequent labels)

All of them only look back, so a decision list over them is a causal axis.
A document is compiled only up to its last sampled position: the conditions
are causal, so a prefix gives the same values there as the whole document.
The tree over these columns and its translation into rules live in
model/experiments/distill_tree.py; model/experiments/proposers.py puts the pieces together.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from axes.base import Document
from axes._conditions import CHAR_CLASSES
from grid_dsl.language import nodes
from grid_dsl.data.checker import StoredSources, check
from grid_dsl.language.diagnostics import UserError
from grid_dsl.language.formatter import format_text, label, quote
from grid_dsl.language.parser import parse

CHAR_OFFSETS = (0, -1, -2)
MAX_POSITION = 6  # position(G) == 0 .. 5, then position(G) >= 6
PROBE = "distill_probe"  # the rules axis whose conditions are the features


# ------------------------------------------------------------ the model side


@attrs.frozen
class Sample:
    positions: np.ndarray  # int64 [N]: positions in the train split
    windows: np.ndarray  # int64 [N]: the start of the window each row was read in
    nll: np.ndarray  # float32 [N]: nats of the model's prediction of m_{p+1}
    hidden: np.ndarray | None  # float32 [N, n_embd]: the residual stream after block `layer`
    layer: int


def check_layer(net, layer: int | None) -> int:
    """The block to read (default: the last); UserError when out of range."""
    n = net.config.n_layer
    layer = n - 1 if layer is None else layer
    if not 0 <= layer < n:
        raise UserError(f"--layer {layer}: the run has layers 0..{n - 1} (hidden states exist after each of "
                        f"its {n} blocks)")
    return layer


def model_columns(net, ds) -> list[int]:
    """The column in the dataset's meta of each axis the model reads."""
    names = ds.axis_names
    missing = [a.name for a in net.config.axes if a.name not in names]
    if missing:
        raise UserError(f"the model reads axis {missing[0]!r}, which dataset {ds.path} does not store; "
                        "distill with the dataset the run was trained on")
    return [names.index(a.name) for a in net.config.axes]


@torch.no_grad()
def collect(net, ds, *, layer: int | None, size: int, seed: int, batch_size: int = 32,
            contiguous: bool = False, hidden: bool = True) -> Sample:
    """Hidden states after block `layer` and per-position losses at `size`
    positions of the train split. Random windows; from each, block_size/4
    random positions of its second half, or with `contiguous` the whole
    second half in order (lexeme mining reads words from it)."""
    from model.training.batches import Batches
    from model.training.evaluate import select

    layer = check_layer(net, layer)
    T = net.config.block_size
    half = T - T // 2
    per_window = half if contiguous else max(1, T // 4)
    windows = -(-size // per_window)
    batches = Batches(ds, "train", T, batch_size)
    columns = model_columns(net, ds)
    rng = np.random.default_rng(seed)
    device = next(net.parameters()).device
    block = net.transformer.h[layer]
    seen = {}
    # The residual stream after a block is (input of its ln_2) + (output of its MLP),
    # for every fusion (cross fusion calls the block's parts, not the block).
    hooks = [block.ln_2.register_forward_hook(lambda m, args, out: seen.__setitem__("mid", args[0])),
             block.mlp.register_forward_hook(lambda m, args, out: seen.__setitem__("mlp", out))]
    positions, window_starts, losses, states = [], [], [], []
    was_training = net.training
    net.eval()
    try:
        for first in range(0, windows, batch_size):
            b = min(batch_size, windows - first)
            starts = rng.integers(0, batches.positions, size=b)
            main, meta = batches.at(starts)
            idx, axis_in, targets, _ = net.align(main.to(device), select(meta, columns).to(device))
            logits = net.lm_head(net.hidden(idx, axis_in))
            nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [b, T]
            if contiguous:
                js = np.broadcast_to(np.arange(T // 2, T), (b, half))
            else:
                js = np.argsort(rng.random((b, half)), axis=1)[:, :per_window] + T // 2
            rows = torch.from_numpy(np.repeat(np.arange(b), js.shape[1])), torch.from_numpy(js.reshape(-1).copy())
            positions.append((starts[:, None] + js).reshape(-1))
            window_starts.append(np.repeat(starts, js.shape[1]))
            losses.append(nll[rows].float().cpu().numpy())
            if hidden:
                states.append((seen["mid"] + seen["mlp"])[rows].float().cpu().numpy())
    finally:
        for hook in hooks:
            hook.remove()
        net.train(was_training)
    keep = slice(None) if contiguous else slice(size)  # contiguous: whole windows
    return Sample(np.concatenate(positions)[keep].astype(np.int64), np.concatenate(window_starts)[keep].astype(np.int64),
                  np.concatenate(losses)[keep], np.concatenate(states)[keep] if hidden else None, layer)


# ------------------------------------------------------------- documents


def doc_prefixes(ds, split: str, positions: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """For each document holding sampled positions: its text up to the last
    of them, their offsets in it, and their rows in `positions`."""
    if ds.unit != "chars":
        raise UserError(f"dataset {ds.path} is a `main bytes` dataset; distillation into rules works on "
                        "characters (compile the spec with `main chars`)")
    starts = np.asarray(ds.doc_starts(split), dtype=np.int64)
    doc = np.searchsorted(starts, positions, side="right") - 1
    main = ds.main(split)
    out = []
    for d in np.unique(doc):
        rows = np.flatnonzero(doc == d)
        offsets = positions[rows] - starts[d]
        text = ds.decode(main[starts[d] : starts[d] + offsets.max() + 1])
        out.append((text, offsets, rows))
    return out


# ------------------------------------------------------------- conditions


@attrs.frozen
class Condition:
    """One feature: a test of the rules language, and what it tests (for
    simplifying conjunctions: an `==` pins `subject` to `value`)."""

    text: str  # e.g. 'char[-1] is space'
    subject: str  # 'char[-1]', 'position(words)', an axis name
    op: str  # '==', 'is' (a character class) or '>='
    value: object


@attrs.frozen
class Features:
    conditions: tuple[Condition, ...]
    X: np.ndarray  # bool [N, len(conditions)]
    helpers: tuple[str, ...]  # declarations the conditions need beyond the base spec (e.g. a words grouping)

    def needed_helpers(self, used: set[int]) -> list[str]:
        """The helper declarations the conditions numbered `used` refer to."""
        texts = [self.conditions[i].text for i in used]
        return [h for h in self.helpers if any(f"({h.split()[1]})" in t for t in texts)]


def _frequent(values: list, limit: int, minimum: int) -> list:
    counts = Counter(v for v in values if v is not None)
    return [v for v, c in counts.most_common(limit) if c >= minimum]


def _char_subject(k: int) -> str:
    return "char" if k == 0 else f"char[{k}]"


def features(ds, base_text: str, positions: np.ndarray, *, max_values: int = 24, extra: tuple = ()) -> Features:
    """The causal conditions over the sampled positions (module docstring):
    each character and label seen at least max(2, N/500) times, the
    `max_values` most frequent of each; then the `extra` Conditions."""
    plan = check(parse(base_text, "<spec>"))
    helpers = ()
    if not any(a.kind == "group" and a.segment == "word" and a.start_causal for a in plan.axes):
        helpers = (f"group {unique_name('distill_words', plan.names)} = words",)
        plan = check(parse(base_text + "\n" + "\n".join(helpers) + "\n", "<spec>"))
    groups = [a.name for a in plan.axes if a.has_spans and a.start_causal and a.kind == "group"]
    labelled = [a for a in plan.axes if a.causal and len(a.labels) > 0]
    docs = doc_prefixes(ds, "train", positions)
    needed = _closure(plan, {a.name for a in labelled} | set(groups))
    compiled = [_compile(plan, needed, text) for text, _, _ in docs]

    minimum = max(2, len(positions) // 500)
    conditions = []
    for k in CHAR_OFFSETS:
        subject = _char_subject(k)
        seen = [text[o + k] if o + k >= 0 else None for text, offsets, _ in docs for o in offsets.tolist()]
        conditions += [Condition(f"{subject} is {c}", subject, "is", c) for c in CHAR_CLASSES]
        conditions += [Condition(f"{subject} == {quote(c)}", subject, "==", c) for c in _frequent(seen, max_values, minimum)]
    for g in groups:
        subject = f"position({g})"
        conditions += [Condition(f"{subject} == {i}", subject, "==", i) for i in range(MAX_POSITION)]
        conditions.append(Condition(f"{subject} >= {MAX_POSITION}", subject, ">=", MAX_POSITION))
    for a in labelled:
        vocab = ("_",) + tuple(a.labels)
        seen = [i for (_, streams), (_, offsets, _) in zip(compiled, docs) for i in streams[a.name].ids[offsets].tolist()]
        conditions += [Condition(f"{a.name} == {label(vocab[i])}", a.name, "==", vocab[i])
                       for i in _frequent(seen, max_values, minimum)]
    conditions += list(extra)

    # The same conditions, compiled by the rules axis, evaluated on the documents.
    probe = unique_name(PROBE, plan.names)
    rules = "\n".join(f"    when {c.text} -> F" for c in conditions)
    probe_plan = check(parse(f"{base_text}\n{chr(10).join(helpers)}\nrules {probe} {{\n{rules}\n}}\n", "<probe>"))
    X = np.zeros((len(positions), len(conditions)), dtype=bool)
    for (doc, streams), (_, offsets, rows) in zip(compiled, docs):
        for j, condition in enumerate(probe_plan.axis(probe).conditions):
            X[rows, j] = condition.mask(doc, streams)[offsets]
    return Features(tuple(conditions), X, helpers)


def _compile(plan, needed: set[str], text: str) -> tuple[Document, dict]:
    """A document and the streams of the `needed` axes over it."""
    doc, streams = Document(text), {}
    for axis in plan.axes:
        if axis.name in needed:
            streams[axis.name] = axis.compute(doc, {dep: streams[dep] for dep in axis.inputs})
    return doc, streams


def _closure(plan, names: set[str]) -> set[str]:
    """`names` and every axis they read, directly or not."""
    needed = set(names)
    for axis in reversed(plan.axes):  # dependency order: readers come after what they read
        if axis.name in needed:
            needed.update(axis.inputs)
    return needed


def closure_plan(plan, name: str):
    """A plan of axis `name` and what it reads, fed as in `plan` (the
    alignment and causality checks of one new axis need nothing else)."""
    from grid_dsl.data.plan import Plan

    needed = _closure(plan, {name})
    return Plan(plan.main, tuple(a for a in plan.axes if a.name in needed), tuple(f for f in plan.feeds if f.axis == name))


# ------------------------------------------------------------- spec text


def unique_name(base: str, taken) -> str:
    taken, name, i = set(taken), base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def base_spec_text(ds) -> str:
    """The spec a dataset was compiled from (its manifest keeps the text),
    with includes replaced by the included files' text, so that the spec
    stands alone wherever the new file is written."""
    sources = dict(ds.manifest.spec.sources)
    root, text = next(iter(sources.items()))
    return _inline(root, text, sources, (root,))


def _inline(file: str, text: str, sources: dict, chain: tuple) -> str:
    """`text` with each include statement replaced, over its exact extent
    (a statement sharing its line stays), by the included file's text, found
    through the stored sources as `check` finds it (StoredSources)."""
    spec = parse(text, file)
    includes = [s for s in spec.statements if isinstance(s, nodes.Include)]
    if not includes:
        return text
    here = Path(file).resolve().parent if not file.startswith("<") else Path.cwd()
    line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    for include in reversed(includes):  # from the end, so earlier offsets stay valid
        path = StoredSources(sources).name_of((here / include.path.value).resolve())  # compiled elsewhere too
        if path is None or path in chain:
            raise UserError(f"the dataset's spec includes {include.path.value!r}, whose text its manifest "
                            "does not keep; compile the dataset again")
        body = _inline(path, sources[path], sources, chain + (path,))
        loc = include.loc
        start = line_starts[loc.line - 1] + loc.column - 1
        end = line_starts[loc.end_line - 1] + loc.end_column - 1
        text = f"{text[:start]}\n{body.rstrip()}{text[end:]}"  # what followed the include follows the body
    return text


def assemble(base_text: str, header: list[str], declarations: list[str], comment: list[str], name: str) -> str:
    """The complete candidate spec, canonical: a header comment, the base
    spec, the new axis's declarations (helpers first) under a comment, and
    `feed NAME as context`."""
    top = "".join(f"# {line}\n" for line in header)
    above = "".join(f"# {line}\n" for line in comment)
    body = "\n\n".join(declarations)
    return format_text(f"{top}\n{base_text.rstrip()}\n\n{above}{body}\n\nfeed {name} as context\n", "<candidate>")
