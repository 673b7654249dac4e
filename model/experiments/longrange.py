"""Long-range features, and how much a feature tells about the next
character beyond what a model already predicts.

    lr = long_range(spec_text)                      # operator axes over the spec, as spec text
    positions = sample_positions(ds, 4000, seed=0)
    scores = score(net, ds, positions)              # the model's next-character distribution there
    values = operator_values(ds, lr, positions)     # each operator's label id at each position
    table, long = long_range_features(ds, lr, positions)   # rule conditions, and which read state
    bits = recalibrated_bits(scores.probs, scores.target, values["latest_who"], fit, evaluate)

A model reading a window of block_size characters cannot know what happened
before it; the operators of axes/state.py and axes/nesting.py can. The
operators, declared as helper axes (not fed) beside the spec:

    latest latest_X = X                 the latest label of X        } for each causal axis X of
    first first_X = X                   its first in the document    } the spec that has labels (not
    count count_X = X within para       its spans in the paragraph   } a grouping, a number or an
    since since_X = X (scale=log)       characters since it started  } operator already)
    count para_no = para (max=64, scale=log)          paragraphs so far
    since para_age = para (scale=log)                 characters into the paragraph
    count line_in_para = lines within para (max=16)   lines into the paragraph
    since line_age = lines (scale=log)                characters into the line
    count word_in_line = words within lines (max=32, scale=log)
    nesting in_quote (inside) { "\\"" }, in_curly_quote ("“" .. "”"), paren_depth ("(" .. ")", max=4)
    since quote_age = in_quote (scale=log)            characters since the quote opened

`lines` and `words` are the spec's own groupings where it has them, `para`
a rules axis marking the first character of a paragraph. An operator the
checker does not find causal is dropped (a `since` over a lexicon's spans,
which end where the word does), and so is one the spec declares already.

The features of a distilled rules axis (`long_range_features`) are the
conditions of model/experiments/distill.py (characters, positions, labels of
every causal axis, now the operators' too) and `NAME >= k` for the operators
whose labels are numbers; `long` marks those that read state from before the
window: the operators and the spec's own latest/first/count/since/nesting axes.

Information beyond the model (`recalibrated_bits`). Where a model predicts
p(c) for the next character and a feature has value f, the plug-in
recalibration q(c) ∝ p(c)·r(c, f), with r(c, f) the characters seen after f
over the model's expectation of them (the sum of p(c) where f), smoothed
towards 1, is estimated on one set of positions and scored on another. What
it saves over the same recalibration with a constant feature (the model's
plain miscalibration) is information about the next character that the
model lacked. The control (`local_shuffle`) shuffles the feature among the
positions whose last LOCAL_CHARS characters are the same: its copy keeps
what the feature says about the text the model sees (which an undertrained
model may not have learnt yet) and loses what it says beyond, so a gain over
the control is long-range. `gain_over` turns paired per-position bits into
a mean and a one-sided lower confidence bound.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from axes._conditions import label_numbers
from axes.base import Axis
from grid_dsl.data.checker import check
from grid_dsl.language.parser import parse

from model.experiments.distill import (Condition, Features, _closure, _compile, doc_prefixes, features, model_columns,
                                      unique_name)

SOURCE_KINDS_SKIPPED = ("group", "state", "nesting", "view")  # groupings, numbers, or state already
MAX_SOURCE_LABELS = 64
LONG_KINDS = ("state", "nesting")  # a spec's own axes of these kinds read state from before the window
LOCAL_CHARS = 4  # the control keeps what a feature says about this many characters before the next
PARAGRAPH_START = 'when char[-1] == "\\n" and char[-2] == "\\n" and not char is space -> PARA'


# ------------------------------------------------------------ the operators


@attrs.frozen
class Declared:
    name: str
    text: str  # the statement
    what: str  # in words
    reads: tuple[str, ...] = ()  # declarations of this module it needs (helpers, operators)


@attrs.frozen
class LongRange:
    base_text: str
    helpers: tuple[Declared, ...]  # the groupings the operators read
    operators: tuple[Declared, ...]
    numeric: frozenset  # operators whose labels are numbers
    long: frozenset  # every axis that reads state from before the window: operators, the spec's own

    @property
    def text(self) -> str:
        """The spec with every helper and operator declared (none fed)."""
        return "\n".join([self.base_text.rstrip(), *(d.text for d in self.helpers + self.operators)]) + "\n"

    def operator(self, name: str) -> Declared:
        return next(d for d in self.operators if d.name == name)

    def declarations(self, names) -> list[str]:
        """The statements that declare `names` (those of the base spec need
        none) and what they read, in order."""
        ordered = self.helpers + self.operators
        needed = set(names)
        for d in reversed(ordered):  # readers come after what they read
            if d.name in needed:
                needed.update(d.reads)
        return [d.text for d in ordered if d.name in needed]


def long_range(base_text: str) -> LongRange:
    """The operators over the spec `base_text` (module docstring)."""
    plan = check(parse(base_text, "<spec>"))
    taken = set(plan.names)

    def fresh(base: str) -> str:
        name = unique_name(base, taken)
        taken.add(name)
        return name

    helpers: list[Declared] = []

    def grouping(segment: str, kind: str) -> str:
        own = [a.name for a in plan.axes if a.kind == "group" and a.segment == segment and a.start_causal
               and a.parent is None]
        if own:
            return own[0]
        name = fresh(kind)
        helpers.append(Declared(name, f"group {name} = {kind}", f"the {kind}"))
        return name

    lines, words = grouping("line", "lines"), grouping("word", "words")
    para = fresh("para_start")
    helpers.append(Declared(para, f"rules {para} {{\n    {PARAGRAPH_START}\n}}", "the first character of a paragraph"))
    ops: list[Declared] = []

    def op(base: str, statement: str, what: str, reads=()) -> str:
        name = fresh(base)
        ops.append(Declared(name, statement.format(name=name), what, tuple(reads)))
        return name

    for a in plan.axes:
        if (a.causal and a.kind not in SOURCE_KINDS_SKIPPED and 0 < len(a.labels) <= MAX_SOURCE_LABELS
                and label_numbers(a.labels) is None):
            x = a.name
            op(f"latest_{x}", f"latest {{name}} = {x}", f"the latest label of `{x}`")
            op(f"first_{x}", f"first {{name}} = {x}", f"the first label of `{x}` in the document")
            op(f"count_{x}", f"count {{name}} = {x} within {para} (max=16)",
               f"how many spans of `{x}` the paragraph has had", (para,))
            op(f"since_{x}", f"since {{name}} = {x} (scale=log)", f"characters since `{x}` last started")
    op("para_no", f"count {{name}} = {para} (max=64, scale=log)", "paragraphs so far", (para,))
    op("para_age", f"since {{name}} = {para} (scale=log)", "characters into the paragraph", (para,))
    op("line_in_para", f"count {{name}} = {lines} within {para} (max=16)", "lines into the paragraph", (lines, para))
    op("line_age", f"since {{name}} = {lines} (scale=log)", "characters into the line", (lines,))
    op("word_in_line", f"count {{name}} = {words} within {lines} (max=32, scale=log)", "words into the line",
       (words, lines))
    quote_statement = 'nesting {name} (inside) {{\n    "\\""\n}}'
    quote = _declared(plan, quote_statement) or op("in_quote", quote_statement, 'inside "double quotes"')
    op("in_curly_quote", 'nesting {name} (inside) {{\n    "“" .. "”"\n}}', "inside “curly quotes”")
    op("paren_depth", 'nesting {name} (max=4) {{\n    "(" .. ")"\n}}', "depth inside (parentheses)")
    op("quote_age", f"since {{name}} = {quote} (scale=log)", "characters since the quote opened", (quote,))

    full = check(parse(LongRange(base_text, tuple(helpers), tuple(ops), frozenset(), frozenset()).text, "<operators>"))
    kept = [d for d in ops if full.axis(d.name).causal and not any(_same(full.axis(d.name), a) for a in plan.axes)]
    known = {d.name for d in kept + helpers} | set(plan.names)
    kept = [d for d in kept if set(d.reads) <= known]  # e.g. quote_age without in_quote, dropped as the spec's own
    read = {r for d in kept for r in d.reads}
    numeric = frozenset(d.name for d in kept if label_numbers(full.axis(d.name).labels) is not None)
    long = frozenset({d.name for d in kept} | {a.name for a in plan.axes if a.kind in LONG_KINDS})
    return LongRange(base_text, tuple(h for h in helpers if h.name in read), tuple(kept), numeric, long)


def _declared(plan, statement: str) -> str | None:
    """The axis of `plan` that gives what `statement` (reading no other axis) would."""
    own = check(parse(statement.format(name="probe") + "\n", "<probe>")).axis("probe")
    return next((a.name for a in plan.axes if _same(a, own)), None)


def _same(a, b) -> bool:
    """Do axes a and b give the same labels (the same kind, inputs and options)?"""
    if type(a) is not type(b):
        return False
    shared = {f.name for f in attrs.fields(Axis)} - {"labels", "inputs"}  # names and notes differ, not meaning
    return all(getattr(a, f.name) == getattr(b, f.name) for f in attrs.fields(type(a)) if f.name not in shared | {"loc"})


# ------------------------------------------------------- features and values


def long_range_features(ds, lr: LongRange, positions: np.ndarray) -> tuple[Features, np.ndarray]:
    """The rule conditions at `positions` (distill.features over the spec
    and the operators, with `>=` thresholds instead of `==` tests for the
    operators whose labels are numbers), and which of them read state."""
    plan = check(parse(lr.text, "<operators>"))
    thresholds = []
    for name in sorted(lr.numeric):
        values = sorted({n for n in label_numbers(plan.axis(name).labels) if n})
        thresholds += [Condition(f"{name} >= {v}", name, ">=", v) for v in values]
    table = features(ds, lr.text, positions, extra=tuple(thresholds))
    keep = [i for i, c in enumerate(table.conditions) if not (c.subject in lr.numeric and c.op == "==")]
    table = Features(tuple(table.conditions[i] for i in keep), table.X[:, keep], table.helpers)
    return table, np.array([c.subject in lr.long for c in table.conditions], dtype=bool)


def operator_values(ds, lr: LongRange, positions: np.ndarray) -> dict[str, np.ndarray]:
    """Each operator's label id at each of `positions` of the train split."""
    plan = check(parse(lr.text, "<operators>"))
    names = [d.name for d in lr.operators]
    needed = _closure(plan, set(names))
    out = {name: np.zeros(len(positions), dtype=np.int64) for name in names}
    for text, offsets, rows in doc_prefixes(ds, "train", positions):
        _, streams = _compile(plan, needed, text)
        for name in names:
            out[name][rows] = streams[name].ids[offsets]
    return out


# ------------------------------------------------------------ the model side


@attrs.frozen
class Scores:
    positions: np.ndarray  # int64 [N]: positions p of the train split; the model has read m_<=p
    starts: np.ndarray  # int64 [N]: where the window each was read in starts
    target: np.ndarray  # int64 [N]: the id of m_{p+1}
    nll: np.ndarray  # float32 [N]: nats of the model's prediction of it
    probs: np.ndarray  # float32 [N, V]: the model's next-character distribution
    hidden: np.ndarray | None  # float32 [N, n_embd]: its final hidden state (after the last block's LayerNorm)


def sample_positions(ds, size: int, seed: int) -> np.ndarray:
    """`size` distinct positions of the train split (sorted), each with a next character."""
    n = ds.tokens("train") - 2
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(size, n), replace=False)).astype(np.int64)


def read_columns(net, ds) -> list[int]:
    """The dataset columns a model reads, its loss mask last (GridTransformer.align)."""
    mask = net.config.loss_mask
    return model_columns(net, ds) + ([ds.axis_names.index(mask)] if mask is not None else [])


def score(net, ds, positions: np.ndarray, *, columns: list[int] | None = None, hidden: bool = False,
          batch_size: int = 64) -> Scores:
    """The model's prediction of m_{p+1} at each position p, each read at the
    end of the window that ends there (the most context the model can
    have: block_size characters), as long as the split allows."""
    import torch
    import torch.nn.functional as F

    from model.training.batches import Batches
    from model.training.evaluate import select

    T = net.config.block_size
    batches = Batches(ds, "train", T, batch_size)
    columns = read_columns(net, ds) if columns is None else columns
    starts = np.clip(positions - (T - 1), 0, batches.positions - 1)
    at = positions - starts
    target = np.asarray(ds.main("train")[positions + 1], dtype=np.int64)
    device = next(net.parameters()).device
    nll, probs, states = [], [], []
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            for first in range(0, len(positions), batch_size):
                rows = slice(first, first + batch_size)
                main, meta = batches.at(starts[rows])
                idx, axis_in, _, _ = net.align(main.to(device), select(meta, columns).to(device))
                x = net.hidden(idx, axis_in)[torch.arange(len(idx), device=device), torch.from_numpy(at[rows]).to(device)]
                logp = F.log_softmax(net.lm_head(x).float(), dim=-1)
                picked = torch.from_numpy(target[rows]).to(device)
                nll.append((-logp.gather(1, picked[:, None])[:, 0]).cpu().numpy())
                probs.append(logp.exp().cpu().numpy())
                if hidden:
                    states.append(x.float().cpu().numpy())
    finally:
        net.train(was_training)
    return Scores(positions, starts, target, np.concatenate(nll), np.concatenate(probs),
                  np.concatenate(states) if hidden else None)


# --------------------------------------------------- information beyond it


def local_shuffle(ds, positions: np.ndarray, rng: np.random.Generator, chars: int = LOCAL_CHARS) -> np.ndarray:
    """A permutation of range(len(positions)) that moves each position only
    among those whose last `chars` characters are the same: a feature
    shuffled by it keeps all it says about the text just before, and loses
    what it says beyond (the control's copy of a feature)."""
    main = np.asarray(ds.main("train"))
    context = np.stack([main[np.maximum(positions - k, 0)] for k in range(chars)], axis=1)
    strata = np.unique(context, axis=0, return_inverse=True)[1].reshape(-1)
    grouped = np.argsort(strata, kind="stable")
    shuffled = np.lexsort((rng.random(len(positions)), strata))  # the same groups, a random order in each
    permutation = np.empty(len(positions), dtype=np.int64)
    permutation[grouped] = shuffled
    return permutation


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of range(n) into two sorted halves."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def recalibrated_bits(probs: np.ndarray, target: np.ndarray, feature: np.ndarray, fit: np.ndarray,
                      evaluate: np.ndarray, prior: float = 30.0) -> np.ndarray:
    """Bits of q(c) ∝ p(c)·r(c, f) at the rows `evaluate`, r estimated on the
    rows `fit` (module docstring): r = (observed + prior·p̄) / (expected +
    prior·p̄) per feature value f and character c, p̄ the mean prediction,
    so a value seen rarely moves little and one never seen not at all."""
    values, V = int(feature.max()) + 1, probs.shape[1]
    observed = np.zeros((values, V))
    np.add.at(observed, (feature[fit], target[fit]), 1.0)
    expected = np.zeros((values, V))
    np.add.at(expected, feature[fit], probs[fit])
    smooth = prior * probs[fit].mean(axis=0)
    ratio = (observed + smooth) / (expected + smooth)
    p, weights, t = probs[evaluate], ratio[feature[evaluate]], target[evaluate]
    rows = np.arange(len(evaluate))
    q = p[rows, t] * weights[rows, t] / np.einsum("nv,nv->n", p, weights)
    return -np.log2(np.maximum(q, 1e-30))


def cross_fitted_bits(probs, target, feature, folds) -> np.ndarray:
    """recalibrated_bits at every row, each half scored by an r fitted on the other."""
    a, b = folds
    out = np.empty(len(target))
    out[b] = recalibrated_bits(probs, target, feature, a, b)
    out[a] = recalibrated_bits(probs, target, feature, b, a)
    return out


@attrs.frozen
class Gain:
    mean: float  # bits per character saved, on average
    lower: float  # its one-sided lower confidence bound
    positions: int


def gain_over(control_bits: np.ndarray, bits: np.ndarray, alpha: float = 0.01) -> Gain:
    """The mean of control_bits - bits (paired, per position) with a
    one-sided (1 - alpha) lower bound (normal approximation)."""
    from scipy.stats import norm

    d = np.asarray(control_bits, float) - np.asarray(bits, float)
    se = float(d.std(ddof=1)) / math.sqrt(len(d)) if len(d) > 1 else math.inf
    return Gain(float(d.mean()), float(d.mean()) - float(norm.isf(alpha)) * se, len(d))
