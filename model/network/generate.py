"""Sampling from a grid transformer: the main stream and its predict axes
jointly, incrementally with a KV cache, optionally under fixed labels.

Ids in, ids out: turning main ids into text (and text into context labels)
is the caller's job, so this module knows nothing of specs.

The order is docs/design.md's factorisation p(m_{t+1}, a_{t+2} | m_<=t, a_<=t+1).
Position t reads m_t, every context/oracle axis's a_t and every predict
axis's a_{t+1}; from its output the next character m_{t+1} and every predict
axis's a_{t+2} are sampled (independently given the position's state: that
is the model's joint). So a predict axis's label for a character is chosen
one step before the character itself, and the character is written under
it. Labels come, in this order of precedence, from:

    fixed        {axis: id, or a sequence of ids}: forced labels of the
                 generated positions (a sequence: its i-th id is the label of
                 the i-th generated character; -1 leaves that one free).
                 A fixed predict label replaces the sampled one.
    prompt_axes  {axis: ids}: labels of the first positions (the prompt's;
                 a predict axis may give one more, the next character's).
    context_fn   context and oracle axes, and the boundary axis of a
                 hierarchical model: `context_fn(main_ids) -> {axis:
                 ids}` on the ids generated so far (a list of ints, one
                 sequence); the label of the last position is used. For a
                 causal axis this is exactly its value (prefix stability).
    the model    predict axes: sampled from the heads. A predict axis's label
                 at position 1 (read at position 0, never predicted) is 0,
                 "no label", unless given.

Context: at most block_size positions. With the cache, when the window is
full the oldest `window_shift` positions are dropped and the rest re-encoded
in one pass (positions are learned embeddings, so cached keys cannot slide);
window_shift=1 is the exact sliding window of full recomputation (nanoGPT's
cropping), larger shifts re-encode less often. `use_cache=False` recomputes
the whole window at every step. Every fusion (cross included) decodes
incrementally: its cross-attentions are causal over aligned positions too.
A hierarchical model's global blocks (model/network/hierarchy.py) take a
step only at a boundary, with their own cache; its boundary axis's labels
(computed like a context axis's, never sampled) are the last column of
the axis inputs, as the model takes them.
"""

from __future__ import annotations

import contextlib
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from model.network.transformer import AxisSpec, GridTransformer, KVCache


class Generation(NamedTuple):
    main: torch.Tensor  # [B, n_prompt + n_new] main ids
    axes: dict  # axis name -> [B, n_prompt + n_new] label of every position


def sample_ids(logits, temperature: float = 1.0, top_k: int | None = None, generator=None):
    """One id per row of logits [N, V] (rows may hold -inf); temperature 0 = argmax."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature if temperature != 1 else logits.float()
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    # argmax of p_i / E_i with E_i ~ Exp(1) draws i with probability p_i (the
    # exponential race); one kernel where torch.multinomial checks its input
    noise = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / noise).argmax(-1)


class _Window:
    """Logits at position t from positions <= t, cropped to block_size:
    incrementally (cache) or recomputed. `inputs(start, end)` gives the
    aligned model inputs of positions [start, end)."""

    def __init__(self, net: GridTransformer, inputs, use_cache: bool, window_shift: int):
        self.net, self.inputs, self.use_cache, self.shift = net, inputs, use_cache, window_shift
        self.block = net.config.block_size
        self.start = self.done = 0  # first position in the cache; positions encoded
        self.cache = KVCache(self.block)

    def logits(self, end: int):
        """Logits of position end-1, given inputs of positions [0, end)."""
        if not self.use_cache:
            return self.net.logits(*self.inputs(max(0, end - self.block), end), last=True)
        if end - self.start > self.block:  # full: drop the oldest positions, re-encode the rest
            self.start = end - (self.block - self.shift + 1)
            self.done, self.cache = self.start, KVCache(self.block)
        begin, self.done = self.done, end
        return self.net.logits(*self.inputs(begin, end), self.cache, last=True)


def _labels(value, batch: int, name: str, vocab: int, device) -> torch.Tensor:
    ids = torch.as_tensor(value, dtype=torch.long, device=device)
    if ids.dim() == 1:
        ids = ids.expand(batch, -1)
    if ids.dim() != 2 or ids.size(0) != batch:
        raise ValueError(f"labels of axis {name!r} must be [n] or [{batch}, n], got {tuple(ids.shape)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise ValueError(f"labels of axis {name!r} must be ids in [0, {vocab}), got {ids.min()}..{ids.max()}")
    return ids


@torch.inference_mode()  # less per-call bookkeeping than no_grad: decoding is latency-bound
def generate(
    net: GridTransformer,
    prompt,
    max_new_tokens: int,
    *,
    prompt_axes: dict | None = None,
    fixed: dict | None = None,
    context_fn: Callable[[list[int]], dict] | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    window_shift: int | None = None,
) -> Generation:
    """Continue `prompt` (main ids, [n] or [B, n], n >= 1) by max_new_tokens
    positions, sampling the main stream and the predict axes jointly (see the
    module docstring). `seed` (or a torch.Generator on the model's device)
    makes it reproducible. window_shift defaults to block_size // 4. The
    model samples in eval mode (no dropout) and is put back as it was."""
    config, device = net.config, next(net.parameters()).device
    prompt = torch.as_tensor(prompt, dtype=torch.long, device=device)
    prompt = prompt[None] if prompt.dim() == 1 else prompt
    B, n = prompt.shape
    if n < 1:
        raise ValueError("the prompt needs at least one main id")
    shift = window_shift or max(1, config.block_size // 4)
    if not 1 <= shift <= config.block_size:
        raise ValueError(f"window_shift must be in [1, block_size={config.block_size}], got {shift}")
    if generator is None:
        generator = torch.Generator(device=device)
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
    L = n + max_new_tokens
    main = torch.zeros(B, L, dtype=torch.long, device=device)
    main[:, :n] = prompt
    grid = _Labels(config.axes, B, L, device, _boundary_axis(config))
    grid.give(prompt_axes or {}, fixed or {}, n, max_new_tokens)
    unlabelled = grid.unlabelled()
    if unlabelled and context_fn is None:
        axis = unlabelled[0]
        raise ValueError(f"{axis.mode} axis {axis.name!r} needs labels: pass context_fn, prompt_axes or fixed")
    if grid.context:
        grid.fill_context(main, n, context_fn)  # the prompt's, from one call

    window = _Window(net, lambda start, end: (main[:, start:end], grid.inputs(start, end)), use_cache, shift)
    end = grid.ready(n)  # prompt positions whose inputs are all known: encoded in one pass
    with _eval_mode(net):
        while end < L:
            t = end - 1  # run position t; sample m_{t+1} and the predict axes' a_{t+2}
            main_logits, axis_logits = window.logits(end)
            if t + 1 >= n:
                main[:, t + 1] = sample_ids(main_logits[:, -1], temperature, top_k, generator)
            if axis_logits is not None and t + 2 < L:
                drawn = sample_ids(axis_logits[:, -1].flatten(0, 1), temperature, top_k, generator)
                grid.predicted(t + 2, drawn.view(B, -1))
            end += 1
            if grid.context:
                grid.fill_context(main, end, context_fn)
    return Generation(main, grid.by_axis(L))


def _boundary_axis(config) -> AxisSpec | None:
    """The boundary axis of a hierarchical model, as a context axis of its own."""
    name = config.boundary_axis
    return AxisSpec(name, len(config.boundary_vocab), "context") if name else None


@contextlib.contextmanager
def _eval_mode(net):
    training = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(training)


class _Labels:
    """Every axis's label at every position, labels[:, t, k], and which are
    known (given, or computed from the text) rather than left to sample.
    `known` is a numpy array: it is consulted in Python at every step. A
    boundary axis is the last column, after the model's axes."""

    def __init__(self, axes, batch: int, length: int, device, boundary: AxisSpec | None = None):
        self.model_axes = len(axes)
        axes = tuple(axes) + ((boundary,) if boundary is not None else ())
        self.axes, self.names = axes, [a.name for a in axes]
        self.B, self.L, self.device = batch, length, device
        K = len(axes)
        self.labels = torch.zeros(batch, length + 1, K, dtype=torch.long, device=device)  # + a_L, read last
        self.known = np.zeros((length + 1, K), dtype=bool)
        predict = np.array([a.mode == "predict" for a in axes], dtype=bool)
        self.lead = predict.astype(np.int64)  # a predict axis is read one step ahead
        # index[t, k]: the label position read at position t
        self.index = torch.as_tensor(np.arange(length)[:, None] + self.lead, device=device)
        self.predict_cols = np.flatnonzero(predict)
        self.predict_cols_on_device = torch.as_tensor(self.predict_cols, device=device)
        self.context = [k for k in range(K) if not predict[k]]  # context and oracle axes
        self.context_known = 0  # fill_context has filled the positions before this one
        self.known[:2, predict] = True  # a_0 is never read, a_1 never predicted: "no label" unless given

    def give(self, prompt_axes: dict, fixed: dict, n: int, new: int) -> None:
        for name, value in prompt_axes.items():
            k = self._axis(name)
            ids = _labels(value, self.B, name, self.axes[k].vocab_size, self.device)[:, : self.L + 1]
            self.labels[:, : ids.size(1), k], self.known[: ids.size(1), k] = ids, True
        for name, value in fixed.items():
            k = self._axis(name)
            ids = torch.as_tensor(value, dtype=torch.long).cpu()
            ids = (ids.expand(new) if ids.dim() == 0 else ids)[:new]
            forced = ids >= 0
            _labels(ids[forced], 1, name, self.axes[k].vocab_size, self.device)
            positions = n + forced.nonzero().flatten()
            self.labels[:, positions, k] = ids[forced].to(self.device)
            self.known[positions.numpy(), k] = True

    def _axis(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"the model reads no axis {name!r} (its axes: {', '.join(self.names) or 'none'})")
        return self.names.index(name)

    def unlabelled(self) -> list:
        """Context/oracle axes with positions that neither prompt_axes nor fixed label."""
        return [self.axes[k] for k in self.context if not self.known[: self.L, k].all()]

    def fill_context(self, main, end: int, context_fn) -> None:
        """Context/oracle labels of positions [0, end) not known yet, from
        context_fn on the main ids [0, end) (at a step: the last one only)."""
        start, self.context_known = self.context_known, end  # positions before `start` are filled
        todo = [(t, k) for t in range(start, end) for k in self.context if not self.known[t, k]]
        if not todo:
            return
        positions, cols = (list(x) for x in zip(*todo))
        for b in range(self.B):
            got = context_fn(main[b, :end].tolist())
            values = [int(got[self.names[k]][t]) for t, k in todo]
            for k, v in zip(cols, values):
                if not 0 <= v < self.axes[k].vocab_size:
                    raise ValueError(f"labels of axis {self.names[k]!r} must be ids in [0, {self.axes[k].vocab_size}), "
                                     f"context_fn gave {v}")
            if len(todo) == 1:  # a step's one label: a scalar write is a third of an indexed one
                self.labels[b, positions[0], cols[0]] = values[0]
            else:
                self.labels[b, positions, cols] = torch.tensor(values, device=self.device)
        self.known[positions, cols] = True

    def ready(self, n: int) -> int:
        """How many leading prompt positions have all their inputs (at least 1)."""
        read = self.known[np.arange(n)[:, None] + self.lead, np.arange(len(self.axes))].all(1)
        return max(1, int(np.cumprod(read).sum()))

    def inputs(self, start: int, end: int):
        """Axis inputs of positions [start, end): a_t, or a_{t+1} for predict
        axes (a boundary axis last, as the model takes it)."""
        if not self.axes:
            return None
        return self.labels.gather(1, self.index[start:end].expand(self.B, -1, -1))

    def predicted(self, t: int, drawn) -> None:
        """Sampled predict labels [B, K_predict] of position t, unless fixed."""
        keep, cols = self.known[t, self.predict_cols], self.predict_cols_on_device
        if not keep.any():
            self.labels[:, t, cols] = drawn
        elif not keep.all():
            keep = torch.as_tensor(keep, device=self.device)
            self.labels[:, t, cols] = torch.where(keep, self.labels[:, t, cols], drawn)

    def by_axis(self, length: int) -> dict:
        return {name: self.labels[:, :length, k] for k, name in enumerate(self.names[: self.model_axes])}
